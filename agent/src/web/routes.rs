//! The page's requests: one function per route, every answer with the same security headers.
//! A handler never panics on what a browser (or anyone) sends: a bad request is a 4xx that says
//! what was wrong.

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::auth::Refusal;
use super::{MAX_BODY_BYTES, WebState, live, page};
use crate::telemetry::Throttled;

/// Every response's body: whole, or a stream (the live feed).
pub(super) type Body = BoxBody<Bytes, Infallible>;

/// A request body must arrive within this (a slow body holds a connection slot).
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// The most events `/api/events` returns.
const MAX_EVENTS: usize = 100;

/// Request ids of the page's commands (`web-1`, `web-2`, …): their replies come back here.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub(super) fn full(body: impl Into<Bytes>) -> Body {
    Full::new(body.into()).boxed()
}

fn reply(code: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(full(body));
    *response.status_mut() = code;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

pub(super) fn json_reply(code: StatusCode, value: &Value) -> Response<Body> {
    reply(
        code,
        "application/json",
        serde_json::to_vec(value).unwrap_or_default(),
    )
}

fn error(code: StatusCode, message: impl Into<String>) -> Response<Body> {
    json_reply(code, &json!({ "ok": false, "error": message.into() }))
}

/// A refusal: counted, logged a few times per window, answered.
fn refused_by(state: &WebState, peer: Option<IpAddr>, refusal: Refusal) -> Response<Body> {
    state.stats.refused();
    let log = state.log.check();
    if log != Throttled::Quiet {
        match peer {
            Some(peer) => {
                tracing::warn!(%peer, "web page: refused: {}{}", refusal.message(), log.note())
            }
            None => tracing::warn!("web page: refused: {}{}", refusal.message(), log.note()),
        }
    }
    refused(refusal)
}

fn refused(refusal: Refusal) -> Response<Body> {
    let code = match refusal {
        Refusal::SignIn | Refusal::WrongPassword => StatusCode::UNAUTHORIZED,
        Refusal::CrossSite(_) => StatusCode::FORBIDDEN,
        Refusal::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
    };
    let mut response = error(code, refusal.message());
    if let Refusal::TooMany(wait) = refusal
        && let Ok(value) = HeaderValue::from_str(&wait.as_secs().max(1).to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// Headers on every answer: no caching of live data, no framing by other sites, no sniffing,
/// scripts and styles from this page only.
fn secured(mut response: Response<Body>) -> Response<Body> {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data: blob:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    response
}

/// Answers one request.
pub(super) async fn respond(
    req: Request<Incoming>,
    state: Arc<WebState>,
    peer: IpAddr,
    cancel: CancellationToken,
) -> Result<Response<Body>, Infallible> {
    Ok(secured(route(req, &state, peer, cancel).await))
}

async fn route(
    req: Request<Incoming>,
    state: &Arc<WebState>,
    peer: IpAddr,
    cancel: CancellationToken,
) -> Response<Body> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let read = method == Method::GET || method == Method::HEAD;
    match (read, method == Method::POST, path.as_str()) {
        (true, _, "/") => page::index(req.headers()),
        (true, _, "/app.js" | "/app.css" | "/favicon.svg") => page::asset(&path),
        (true, _, "/api/session") => session(state, req.headers()),
        (true, _, "/api/status") => guarded_read(state, req.headers(), status(state)).await,
        (true, _, "/api/events") => {
            let query = req.uri().query().unwrap_or("").to_string();
            guarded_read(state, req.headers(), events(state, &query)).await
        }
        (true, _, "/api/live") => match state.auth.may_read(req.headers()) {
            Ok(()) => live::stream(state.clone(), cancel),
            Err(refusal) => refused_by(state, Some(peer), refusal),
        },
        (_, true, "/api/sign-in") => sign_in(req, state, peer).await,
        (_, true, "/api/sign-out") => {
            if let Err(refusal) = state.auth.may_act(req.headers()) {
                return refused_by(state, Some(peer), refusal);
            }
            let cookie = state.auth.sign_out(req.headers());
            with_cookie(json_reply(StatusCode::OK, &json!({ "ok": true })), &cookie)
        }
        (_, true, "/api/preview") => acting(req, state, preview).await,
        (_, true, p) if p.starts_with("/api/command/") => {
            let name = p["/api/command/".len()..].to_string();
            acting(req, state, move |state, body| command(state, name, body)).await
        }
        (
            _,
            _,
            "/" | "/app.js" | "/app.css" | "/favicon.svg" | "/api/session" | "/api/status"
            | "/api/events" | "/api/live" | "/api/sign-in" | "/api/sign-out" | "/api/preview",
        ) => error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
        (_, _, p) if p.starts_with("/api/command/") => {
            error(StatusCode::METHOD_NOT_ALLOWED, "commands are POSTed")
        }
        _ => error(StatusCode::NOT_FOUND, format!("no page {path:?}")),
    }
}

fn with_cookie(mut response: Response<Body>, cookie: &str) -> Response<Body> {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

async fn guarded_read(
    state: &WebState,
    headers: &HeaderMap,
    answer: impl Future<Output = Response<Body>>,
) -> Response<Body> {
    match state.auth.may_read(headers) {
        Ok(()) => answer.await,
        Err(refusal) => refused_by(state, None, refusal),
    }
}

/// The JSON body of a state-changing request, once the request may act.
async fn acting<F, Fut>(req: Request<Incoming>, state: &Arc<WebState>, then: F) -> Response<Body>
where
    F: FnOnce(Arc<WebState>, Value) -> Fut,
    Fut: Future<Output = Response<Body>>,
{
    if let Err(refusal) = state.auth.may_act(req.headers()) {
        return refused_by(state, None, refusal);
    }
    match json_body(req).await {
        Ok(body) => then(state.clone(), body).await,
        Err(response) => {
            state.stats.refused();
            response
        }
    }
}

/// Reads a JSON object body: bounded in size and time, `Content-Type: application/json`
/// (which a cross-site form cannot send).
async fn json_body(req: Request<Incoming>) -> Result<Value, Response<Body>> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return Err(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the body as Content-Type: application/json",
        ));
    }
    let body = Limited::new(req.into_body(), MAX_BODY_BYTES);
    let bytes = match tokio::time::timeout(BODY_TIMEOUT, body.collect()).await {
        Err(_) => {
            return Err(error(
                StatusCode::REQUEST_TIMEOUT,
                "the body came too slowly",
            ));
        }
        Ok(Err(_)) => {
            return Err(error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is larger than {MAX_BODY_BYTES} bytes"),
            ));
        }
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    parse_object(&bytes).map_err(|e| error(StatusCode::BAD_REQUEST, e))
}

/// A request body as a JSON object, or why not.
pub(super) fn parse_object(bytes: &[u8]) -> Result<Value, String> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err("the body must be a JSON object".into()),
        Err(e) => Err(format!("the body is not JSON: {e}")),
    }
}

fn session(state: &WebState, headers: &HeaderMap) -> Response<Body> {
    let (cookie, csrf) = state.auth.session(headers);
    let body = json!({
        "password_required": state.auth.password_required(),
        "signed_in": csrf.is_some(),
        "csrf": csrf,
        "gateway": state.status.gateway(),
        "version": env!("CARGO_PKG_VERSION"),
    });
    let response = json_reply(StatusCode::OK, &body);
    match cookie {
        Some(cookie) => with_cookie(response, &cookie),
        None => response,
    }
}

#[derive(Deserialize)]
struct SignIn {
    password: String,
}

async fn sign_in(req: Request<Incoming>, state: &WebState, peer: IpAddr) -> Response<Body> {
    let headers = req.headers().clone();
    let body = match json_body(req).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let Ok(SignIn { password }) = serde_json::from_value::<SignIn>(body) else {
        return error(StatusCode::BAD_REQUEST, "give {\"password\": \"…\"}");
    };
    match state.auth.sign_in(&headers, peer, &password) {
        Ok((cookie, csrf)) => {
            state.stats.signed_in();
            tracing::info!(%peer, "web page: operator signed in");
            with_cookie(
                json_reply(StatusCode::OK, &json!({ "ok": true, "csrf": csrf })),
                &cookie,
            )
        }
        Err(refusal) => refused_by(state, Some(peer), refusal),
    }
}

async fn status(state: &Arc<WebState>) -> Response<Body> {
    match live::status_json(state).await {
        Ok(value) => json_reply(StatusCode::OK, &value),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// `limit=N` of a query string (default 20, at most MAX_EVENTS).
fn limit(query: &str) -> usize {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == "limit")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(20)
        .clamp(1, MAX_EVENTS)
}

async fn events(state: &Arc<WebState>, query: &str) -> Response<Body> {
    let n = limit(query);
    let status = state.status.clone();
    let rows = tokio::task::spawn_blocking(move || {
        status
            .store()
            .reader()
            .and_then(|mut reader| reader.tail(n, false))
    })
    .await;
    let rows = match rows {
        Ok(Ok(rows)) => rows,
        Ok(Err(e)) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot read the outbox: {e}"),
            );
        }
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let events: Vec<Value> = rows
        .into_iter()
        .rev()
        .map(|row| {
            json!({
                "seq": row.seq,
                "event_id": row.event_id,
                "device": row.device,
                "captured_at_ms": row.captured_at_ms,
                "delivered_at_ms": row.delivered_at_ms,
                "event": serde_json::from_str::<Value>(&row.body).unwrap_or(Value::String(row.body)),
            })
        })
        .collect();
    json_reply(StatusCode::OK, &json!({ "events": events }))
}

/// A command from the page, through the router: its final reply.
async fn command(state: Arc<WebState>, name: String, mut body: Value) -> Response<Body> {
    state.stats.action();
    let id = format!("web-{}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
    if let Some(object) = body.as_object_mut() {
        object.insert("id".into(), Value::String(id));
    }
    let payload = serde_json::to_vec(&body).unwrap_or_default();
    let answer = state.router.final_reply(&name, &payload).await;
    let ok = serde_json::from_slice::<Value>(&answer)
        .ok()
        .and_then(|v| v.get("ok").and_then(Value::as_bool))
        .unwrap_or(false);
    // The router logs what it refuses (a few per window); this is the page's trace of it.
    tracing::debug!(command = %name, ok, "web page: command");
    reply(StatusCode::OK, "application/json", answer)
}

#[derive(Deserialize)]
struct PreviewRequest {
    printer: String,
    template: String,
    #[serde(default)]
    vars: serde_json::Map<String, Value>,
}

/// A test print's label drawn as PNG (builds with the `preview` feature).
async fn preview(state: Arc<WebState>, body: Value) -> Response<Body> {
    let Some(queue) = state.print.clone() else {
        return error(
            StatusCode::CONFLICT,
            "no print queue: this gateway has no label printer or no [printing] templates",
        );
    };
    let request = match serde_json::from_value::<PreviewRequest>(body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("give printer, template and vars: {e}"),
            );
        }
    };
    let drawn = tokio::task::spawn_blocking(move || {
        queue.preview(&request.printer, &request.template, &request.vars)
    })
    .await;
    match drawn {
        Ok(Ok(png)) => reply(StatusCode::OK, "image/png", png),
        Ok(Err(e)) => error(StatusCode::UNPROCESSABLE_ENTITY, e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn limits_are_bounded() {
        assert_eq!(limit(""), 20);
        assert_eq!(limit("limit=5"), 5);
        assert_eq!(limit("x=1&limit=100000"), MAX_EVENTS);
        assert_eq!(limit("limit=0"), 1);
        assert_eq!(limit("limit=-3"), 20);
    }

    #[test]
    fn bodies_must_be_objects() {
        assert!(parse_object(br#"{"a":1}"#).is_ok());
        assert!(parse_object(b"[1]").is_err());
        assert!(parse_object(b"\"x\"").is_err());
        assert!(parse_object(b"{").is_err());
    }

    proptest! {
        #[test]
        fn hostile_bodies_and_queries_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512), query in ".{0,200}") {
            let _ = parse_object(&bytes);
            let n = limit(&query);
            prop_assert!((1..=MAX_EVENTS).contains(&n));
        }
    }
}
