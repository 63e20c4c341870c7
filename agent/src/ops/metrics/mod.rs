//! The Prometheus endpoint: `GET /metrics` on a loopback address (`[metrics] listen`),
//! off unless configured. Each scrape builds a fresh status report — the same one the
//! retained status message and `tracegate status` show — and encodes it ([`encode`]).
//!
//! ```text
//!  bind listen ──▶ accept ──▶ HTTP/1.1 (hyper) ──▶ GET /metrics → 200 text/plain; version=0.0.4
//!                    ▲   one task per connection    other paths → 404, other methods → 405
//!                    └──────── until shutdown ───────┘
//! ```

pub mod encode;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::ops::status::StatusCollector;

/// The bound endpoint, ready to serve.
pub struct MetricsServer {
    listener: TcpListener,
}

impl MetricsServer {
    /// Binds `addr` (validated as loopback by the config).
    pub async fn bind(addr: SocketAddr) -> std::io::Result<MetricsServer> {
        Ok(MetricsServer {
            listener: TcpListener::bind(addr).await?,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves scrapes until `cancel`.
    pub async fn serve(self, status: Arc<StatusCollector>, cancel: CancellationToken) {
        loop {
            let stream = tokio::select! {
                _ = cancel.cancelled() => return,
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!("metrics endpoint: accept failed: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                        continue;
                    }
                },
            };
            let status = status.clone();
            let cancel = cancel.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| respond(req, status.clone()));
                let connection = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service);
                tokio::select! {
                    _ = cancel.cancelled() => {}
                    result = connection => {
                        if let Err(e) = result {
                            tracing::debug!("metrics endpoint: connection ended: {e}");
                        }
                    }
                }
            });
        }
    }
}

async fn respond(
    req: Request<Incoming>,
    status: Arc<StatusCollector>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let reply = |code: StatusCode, content_type: &str, body: String| {
        Response::builder()
            .status(code)
            .header(hyper::header::CONTENT_TYPE, content_type)
            .body(Full::new(Bytes::from(body)))
            .expect("static response parts are valid")
    };
    if req.uri().path() != "/metrics" {
        return Ok(reply(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found: metrics are at /metrics\n".into(),
        ));
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Ok(reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "use GET\n".into(),
        ));
    }
    // The report reads the outbox file (oldest event, size): blocking work.
    let text = match tokio::task::spawn_blocking(move || status.report()).await {
        Ok(report) => encode::render(report),
        Err(e) => {
            return Ok(reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain; charset=utf-8",
                format!("status report failed: {e}\n"),
            ));
        }
    };
    Ok(reply(StatusCode::OK, encode::CONTENT_TYPE, text))
}
