//! The LDAP v3 face: a TCP listener, BER framing by `ldap3_proto`, and a
//! [`session::Session`] per connection that translates requests into calls
//! on the [`Directory`].

mod controls;
pub mod dn;
mod entries;
mod filter;
mod schema;
mod search;
mod session;
pub mod tree;

use std::sync::Arc;

use futures::{SinkExt, StreamExt};
use ldap3_proto::proto::{LdapExtendedResponse, LdapMsg, LdapOp, LdapResult, LdapResultCode};
use ldap3_proto::LdapCodec;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::codec::Framed;

use crate::config::LdapConfig;
use crate::directory::Directory;
use session::{Outcome, Session};
use tree::Tree;

/// What every LDAP connection shares.
pub struct LdapState {
    pub directory: Directory,
    pub tree: Tree,
    pub config: LdapConfig,
}

/// RFC 4511 §4.4.1: the unsolicited notice sent before the server drops a
/// connection it cannot go on with.
const OID_NOTICE_OF_DISCONNECTION: &str = "1.3.6.1.4.1.1466.20036";

/// Serves LDAP on `listener` until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    state: Arc<LdapState>,
    mut shutdown: watch::Receiver<bool>,
) {
    while let Some((stream, peer)) = crate::net::accept(&listener, &mut shutdown, "LDAP").await {
        let state = state.clone();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            tracing::debug!(%peer, "LDAP connection opened");
            connection(stream, peer, state, stop).await;
            tracing::debug!(%peer, "LDAP connection closed");
        });
    }
}

async fn connection(
    stream: TcpStream,
    peer: std::net::SocketAddr,
    state: Arc<LdapState>,
    mut stop: watch::Receiver<bool>,
) {
    let idle = state.config.idle_timeout;
    let mut framed = Framed::new(
        stream,
        LdapCodec::new(Some(state.config.max_pdu_bytes), None),
    );
    let mut session = Session::new(state, Some(peer.ip().to_string()));
    loop {
        let next = tokio::select! {
            next = tokio::time::timeout(idle, framed.next()) => next,
            _ = stop.changed() => break,
        };
        let msg = match next {
            Err(_) => {
                tracing::debug!("closing an idle LDAP connection");
                let _ = framed
                    .send(notice(LdapResultCode::Unavailable, "idle timeout"))
                    .await;
                break;
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                // Malformed or oversized PDU: the message id is lost, so the
                // connection cannot be answered in step; tell it and close.
                tracing::info!(error = %e, "closing an LDAP connection after a malformed request");
                let _ = framed
                    .send(notice(
                        LdapResultCode::ProtocolError,
                        "malformed or oversized request",
                    ))
                    .await;
                break;
            }
            Ok(Some(Ok(msg))) => msg,
        };
        match session.handle(msg).await {
            Outcome::Reply(msgs) => {
                for m in msgs {
                    if framed.feed(m).await.is_err() {
                        return;
                    }
                }
                if framed.flush().await.is_err() {
                    return;
                }
            }
            Outcome::Close => break,
        }
    }
}

fn notice(code: LdapResultCode, message: &str) -> LdapMsg {
    LdapMsg::new(
        0,
        LdapOp::ExtendedResponse(LdapExtendedResponse {
            res: LdapResult {
                code,
                matcheddn: String::new(),
                message: message.to_string(),
                referral: Vec::new(),
            },
            name: Some(OID_NOTICE_OF_DISCONNECTION.to_string()),
            value: None,
        }),
    )
}
