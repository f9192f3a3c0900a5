//! The HTTP listener: SCIM plus `/healthz`, served through hyper with a
//! header-read timeout (plain `axum::serve` has none, so a slow client
//! could hold a connection forever), a body limit and a request timeout.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::Service;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::directory::declared::{Declared, Kind};

use crate::config::HttpConfig;
use crate::directory::Directory;
use crate::scim::{self, ScimState};

/// The peer address of the connection a request came on.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

async fn healthz(State(directory): State<Directory>) -> (StatusCode, &'static str) {
    if directory.healthy().await {
        (StatusCode::OK, "ok\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "store unreachable\n")
    }
}

/// The largest request body: `http.max_body_bytes`, or room for the
/// largest binary value a declared attribute takes (base64, plus the rest
/// of the resource) when that is more.
fn body_limit(config: &HttpConfig, declared: &Declared) -> usize {
    let binary = declared
        .users
        .iter()
        .chain(&declared.groups)
        .any(|d| d.kind == Kind::Binary);
    match binary {
        true => config
            .max_body_bytes
            .max(declared.max_binary_bytes.div_ceil(3) * 4 + 64 * 1024),
        false => config.max_body_bytes,
    }
}

/// The whole HTTP application.
pub fn app(directory: Directory, config: &HttpConfig) -> Router {
    let body_limit = body_limit(config, directory.declared());
    let scim = scim::router(ScimState {
        directory: directory.clone(),
        max_results: config.max_results,
        bulk_max_operations: config.bulk_max_operations,
        max_payload_bytes: body_limit,
    });
    Router::new()
        .route("/healthz", get(healthz))
        .with_state(directory.clone())
        .merge(scim)
        .merge(crate::selfservice::router(directory))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            config.request_timeout,
        ))
        .layer(TraceLayer::new_for_http())
}

/// Serves `app` on `listener` until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    header_timeout: Duration,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut shutdown: watch::Receiver<bool>,
) {
    while let Some((stream, peer)) = crate::net::accept(&listener, &mut shutdown, "HTTP").await {
        let app = app.clone();
        let stop = shutdown.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => connection(stream, app, header_timeout, peer, stop).await,
                Some(acceptor) => {
                    // The handshake gets the same time as the headers.
                    match tokio::time::timeout(header_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => connection(stream, app, header_timeout, peer, stop).await,
                        Ok(Err(e)) => tracing::debug!(error = %e, %peer, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
}

/// Serves one HTTP/1.1 connection (plain or TLS) until it ends or the
/// server stops.
async fn connection<S>(
    stream: S,
    app: Router,
    header_timeout: Duration,
    peer: SocketAddr,
    mut stop: watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = tower::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ClientAddr(peer));
        let mut app = app.clone();
        async move { app.call(request).await }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let connection =
        builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, %peer, "HTTP connection ended with an error");
            }
        }
        _ = stop.changed() => connection.as_mut().graceful_shutdown(),
    }
}
