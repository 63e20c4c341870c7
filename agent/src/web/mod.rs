//! The commissioning page (`[web]`): what the gateway sees, live, for the person standing at
//! the line — and the few actions they need, through the same command router as MQTT.
//!
//! ```text
//!  bind listen (TLS when a certificate is given) ──▶ accept ── at most MAX_CONNECTIONS
//!     │ one task per connection: HTTP/1.1 (hyper), headers within HEADER_TIMEOUT,
//!     │ at most MAX_HEADER_BYTES; bodies at most MAX_BODY_BYTES
//!     ▼
//!  routes: /  /app.js  /app.css            the page (files in the binary)
//!          GET  /api/session  /api/status  /api/events  /api/live (server-sent events)
//!          POST /api/sign-in  /api/sign-out  /api/command/{name}  /api/preview
//!                 └── auth: session + CSRF token + same origin ([`auth`])
//! ```
//!
//! Nobody watching costs nothing: the pipeline writes the live feed only while a
//! `/api/live` stream is open, and the stream's task exists only while it is.

pub mod auth;
mod live;
pub mod page;
mod routes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::commands::Router;
use crate::config::WebConfig;
use crate::ops::status::StatusCollector;
use crate::print::queue::PrintQueue;
use crate::telemetry::live::LiveFeed;
use crate::telemetry::{PageStats, SharedThrottle};

/// Connections served at once; more are closed at accept (a slowloris holds no more).
pub const MAX_CONNECTIONS: usize = 64;

/// A request's headers must arrive within this.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The read buffer, which bounds a request's headers.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// The largest request body (a command, a sign-in, a preview's variables).
pub const MAX_BODY_BYTES: usize = crate::commands::MAX_COMMAND_BYTES;

/// What the page's handlers use.
pub struct WebState {
    /// The status report.
    pub status: Arc<StatusCollector>,
    /// Commands go where MQTT's and `tracegate cmd`'s go.
    pub router: Router,
    /// Reads and tags while someone watches.
    pub live: Arc<LiveFeed>,
    /// Sign-in and CSRF checks.
    pub auth: auth::Auth,
    /// The print queue, for the test print's preview (none: no printer).
    pub print: Option<PrintQueue>,
    /// Sign-ins, refusals, actions and open streams, for status and metrics.
    pub stats: Arc<PageStats>,
    /// Refusals logged a few per window (someone guessing passwords does not fill the card).
    pub log: SharedThrottle,
}

/// Why the page cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The address is taken or not ours.
    #[error(
        "cannot serve the page on {addr} (web.listen): {source}; is another program using the port? Choose another port or remove [web]"
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The certificate or key could not be used.
    #[error(transparent)]
    Tls(#[from] crate::uplink::tls::TlsError),
}

/// The bound page, ready to serve.
pub struct WebServer {
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl WebServer {
    /// Binds `config.listen` (with TLS when configured).
    pub async fn bind(config: &WebConfig, addr: SocketAddr) -> Result<WebServer, WebError> {
        let tls = match &config.tls {
            None => None,
            Some(tls) => Some(tokio_rustls::TlsAcceptor::from(Arc::new(
                crate::uplink::tls::server_config(&tls.certificate, &tls.private_key)?,
            ))),
        };
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| WebError::Bind { addr, source })?;
        Ok(WebServer { listener, tls })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Whether it serves HTTPS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Serves the page until `cancel`.
    pub async fn serve(self, state: Arc<WebState>, cancel: CancellationToken) {
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        loop {
            let (stream, peer) = tokio::select! {
                _ = cancel.cancelled() => return,
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!("web page: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                },
            };
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                state.stats.connection_refused();
                tracing::debug!(%peer, "web page: {MAX_CONNECTIONS} connections open; one more closed");
                continue;
            };
            let state = state.clone();
            let cancel = cancel.clone();
            let tls = self.tls.clone();
            tokio::spawn(async move {
                let _slot = slot;
                match tls {
                    None => serve_connection(stream, peer, state, cancel).await,
                    Some(acceptor) => {
                        match tokio::time::timeout(HEADER_TIMEOUT, acceptor.accept(stream)).await {
                            Ok(Ok(stream)) => serve_connection(stream, peer, state, cancel).await,
                            Ok(Err(e)) => {
                                tracing::debug!(%peer, "web page: TLS handshake failed: {e}")
                            }
                            Err(_) => tracing::debug!(%peer, "web page: TLS handshake timed out"),
                        }
                    }
                }
            });
        }
    }
}

async fn serve_connection<S>(
    stream: S,
    peer: SocketAddr,
    state: Arc<WebState>,
    cancel: CancellationToken,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| {
        routes::respond(req, state.clone(), peer.ip(), cancel.clone())
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(MAX_HEADER_BYTES)
        .serve_connection(TokioIo::new(stream), service);
    if let Err(e) = connection.await {
        tracing::debug!(%peer, "web page: connection ended: {e}");
    }
}
