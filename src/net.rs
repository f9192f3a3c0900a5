//! What both listeners share: accepting connections until shutdown.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Waits for the next connection; `None` once `shutdown` changes. Failed
/// accepts (such as running out of file descriptors) are logged and
/// retried after a short pause instead of ending the listener.
pub async fn accept(
    listener: &TcpListener,
    shutdown: &mut watch::Receiver<bool>,
    what: &str,
) -> Option<(TcpStream, SocketAddr)> {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    // Answers go out as soon as they are written: with
                    // Nagle's algorithm a multi-segment reply (a page of
                    // search entries) waits for the client's delayed ACK.
                    if let Err(e) = stream.set_nodelay(true) {
                        tracing::debug!(error = %e, "could not set TCP_NODELAY");
                    }
                    return Some((stream, peer));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accepting an {what} connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = shutdown.changed() => return None,
        }
    }
}
