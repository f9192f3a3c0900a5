//! The LDAP v3 face: TCP listeners (plain with StartTLS, and LDAPS), BER
//! framing by `ldap3_proto`, and a [`session::Session`] per connection that
//! translates requests into calls on the [`Directory`].

mod codec;
mod controls;
pub mod dn;
mod entries;
mod filter;
mod schema;
mod search;
mod session;
pub mod tree;

/// An attribute's values as entries show them (for LDIF exports).
pub(crate) use entries::ldap_values;

use std::net::SocketAddr;
use std::sync::Arc;

use futures::{SinkExt, StreamExt};
use ldap3_proto::proto::{LdapExtendedResponse, LdapMsg, LdapOp, LdapResult, LdapResultCode};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tokio_util::codec::Framed;

use crate::config::LdapConfig;
use crate::directory::Directory;
use codec::{Codec, Frame};
use session::{Outcome, Session};
use tree::Tree;

/// What every LDAP connection shares.
pub struct LdapState {
    pub directory: Directory,
    pub tree: Tree,
    pub config: LdapConfig,
    /// The TLS acceptor for LDAPS and StartTLS, when a certificate is set.
    pub tls: Option<TlsAcceptor>,
}

impl LdapState {
    /// Whether simple binds need a TLS connection.
    pub fn binds_need_tls(&self) -> bool {
        self.config
            .require_tls_for_bind
            .unwrap_or(self.tls.is_some())
    }
}

/// RFC 4511 §4.4.1: the unsolicited notice sent before the server drops a
/// connection it cannot go on with.
const OID_NOTICE_OF_DISCONNECTION: &str = "1.3.6.1.4.1.1466.20036";
/// RFC 4511 §4.14: StartTLS.
pub const OID_STARTTLS: &str = "1.3.6.1.4.1.1466.20037";

/// Serves LDAP on `listener` until `shutdown` turns true; with `implicit`,
/// every connection starts with a TLS handshake (LDAPS).
pub async fn serve(
    listener: TcpListener,
    state: Arc<LdapState>,
    implicit: bool,
    mut shutdown: watch::Receiver<bool>,
) {
    let what = if implicit { "LDAPS" } else { "LDAP" };
    while let Some((stream, peer)) = crate::net::accept(&listener, &mut shutdown, what).await {
        let state = state.clone();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            tracing::debug!(%peer, what, "connection opened");
            connection(stream, peer, state, implicit, stop).await;
            tracing::debug!(%peer, what, "connection closed");
        });
    }
}

/// How a connection's message loop ended.
enum Ending<S> {
    Closed,
    /// The client asked for TLS and was told yes: the handshake follows on
    /// this stream.
    StartTls(Framed<S, Codec>),
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    state: Arc<LdapState>,
    implicit: bool,
    stop: watch::Receiver<bool>,
) {
    let mut session = Session::new(state.clone(), Some(peer.ip().to_string()));
    let handshake = |stream: TcpStream| {
        let acceptor = state.tls.clone();
        let timeout = state.config.idle_timeout;
        async move {
            let acceptor = acceptor?;
            match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => Some(tls),
                Ok(Err(e)) => {
                    tracing::info!(error = %e, %peer, "TLS handshake failed");
                    None
                }
                Err(_) => None,
            }
        }
    };
    if implicit {
        if let Some(tls) = handshake(stream).await {
            session.secure = true;
            messages(tls, &state, &mut session, stop).await;
        }
        return;
    }
    if let Ending::StartTls(framed) = messages(stream, &state, &mut session, stop.clone()).await {
        let parts = framed.into_parts();
        // RFC 4511 §4.14.1: nothing may follow the request before the
        // response; bytes already read would be plaintext smuggled past it.
        if !parts.read_buf.is_empty() {
            tracing::info!(%peer, "closing: data followed a StartTLS request");
            return;
        }
        if let Some(tls) = handshake(parts.io).await {
            session.secure = true;
            messages(tls, &state, &mut session, stop).await;
        }
    }
}

/// Reads and answers requests until the client leaves, the connection is
/// idle too long, the server stops, or StartTLS begins.
async fn messages<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    state: &LdapState,
    session: &mut Session,
    mut stop: watch::Receiver<bool>,
) -> Ending<S> {
    let idle = state.config.idle_timeout;
    let mut framed = Framed::new(stream, Codec::new(state.config.max_pdu_bytes));
    loop {
        let next = tokio::select! {
            next = tokio::time::timeout(idle, framed.next()) => next,
            _ = stop.changed() => return Ending::Closed,
        };
        let msg = match next {
            Err(_) => {
                tracing::debug!("closing an idle LDAP connection");
                let _ = framed
                    .send(notice(LdapResultCode::Unavailable, "idle timeout"))
                    .await;
                return Ending::Closed;
            }
            Ok(None) => return Ending::Closed,
            Ok(Some(Ok(Frame::Invalid { msgid, op }))) => {
                // Valid BER, not a valid request: answer it and go on.
                tracing::info!(
                    msgid,
                    "answering an invalid LDAP request with protocolError"
                );
                let Some(answer) = codec::protocol_error(msgid, op) else {
                    // Not an operation that can be answered in kind.
                    let _ = framed
                        .send(notice(
                            LdapResultCode::ProtocolError,
                            "unrecognised request",
                        ))
                        .await;
                    return Ending::Closed;
                };
                if framed.send(answer).await.is_err() {
                    return Ending::Closed;
                }
                continue;
            }
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
                return Ending::Closed;
            }
            Ok(Some(Ok(Frame::Request(msg)))) => msg,
        };
        match session.handle(msg).await {
            Outcome::Reply(msgs) => {
                for m in msgs {
                    if framed.feed(m).await.is_err() {
                        return Ending::Closed;
                    }
                }
                if framed.flush().await.is_err() {
                    return Ending::Closed;
                }
            }
            Outcome::StartTls(id) => {
                let yes = LdapMsg::new(
                    id,
                    LdapOp::ExtendedResponse(LdapExtendedResponse {
                        res: LdapResult {
                            code: LdapResultCode::Success,
                            matcheddn: String::new(),
                            message: String::new(),
                            referral: Vec::new(),
                        },
                        name: Some(OID_STARTTLS.to_string()),
                        value: None,
                    }),
                );
                if framed.send(yes).await.is_err() {
                    return Ending::Closed;
                }
                return Ending::StartTls(framed);
            }
            Outcome::Close => return Ending::Closed,
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
