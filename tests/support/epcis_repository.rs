//! An EPCIS 2.0 repository's capture interface for the tests (and the demo), written from
//! GS1's REST bindings (`tests/fixtures/epcis/openapi.json`): `OPTIONS /capture` with the
//! capture limits, `POST /capture` → 202 Accepted with the `Location` of a capture job,
//! `GET /capture/{captureID}` → the job (`running`, `success`, `errors` as RFC 7807 problems).
//!
//! Every request is checked against the OpenAPI document (the operation exists; every header
//! parameter it defines is valid against its schema) and every document against GS1's EPCIS
//! 2.0 JSON schema; what fails is answered 400 and recorded in `State::violations`, which the
//! tests assert empty. Faults are switched on in `State::faults`: the answers a real
//! repository gives when it refuses, is overloaded, or goes away.
#![allow(dead_code)] // the demo binary uses part of it

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

static OPENAPI: LazyLock<Value> = LazyLock::new(|| {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/epcis/openapi.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("openapi.json")).unwrap()
});

/// What a repository does with an eventID it already holds (the REST bindings leave it open).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Duplicates {
    /// Captures it again as a no-op: the job succeeds (one copy kept).
    #[default]
    Ignore,
    /// Fails the job (rollback) with a problem saying the eventID is a duplicate.
    Refuse,
}

/// Faults the tests switch on.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// `GS1-EPCIS-Capture-Limit` announced by OPTIONS (and enforced with 413).
    pub capture_limit: Option<usize>,
    /// `GS1-EPCIS-Capture-File-Size-Limit` announced by OPTIONS (and enforced with 413).
    pub file_size_limit: Option<usize>,
    /// Most events per POST enforced with 413 without announcing it beforehand.
    pub hidden_event_limit: Option<usize>,
    /// The `Authorization` (or API key) header value every request must carry.
    pub credential: Option<(String, String)>,
    /// Answer every request 403.
    pub forbid: bool,
    /// Content types taken (default: `application/json` and `application/ld+json`).
    pub content_types: Option<Vec<String>>,
    /// The next this-many POSTs are answered 503.
    pub server_errors: usize,
    /// The next this-many POSTs are captured, then the connection is closed unanswered.
    pub close_after_capture: usize,
    /// The next this-many POSTs are answered only after this long (a repository slower
    /// than the gateway's request timeout; it still captures).
    pub stall: Option<(usize, std::time::Duration)>,
    /// A POST whose document contains one of these strings is refused at receipt (400).
    pub reject_at_receipt: Vec<String>,
    /// A job whose document contains one of these strings fails (rollback: nothing kept).
    pub refuse_in_job: Vec<String>,
    /// Each job answers `running` this many times before it finishes.
    pub running_polls: usize,
    /// Duplicate eventIDs.
    pub duplicates: Duplicates,
    /// GET on a job answers 404 (the repository forgot its jobs).
    pub forget_jobs: bool,
    /// Keep eventIDs only, not the events (a benchmark's million events).
    pub count_only: bool,
}

/// One capture job.
#[derive(Debug, Clone)]
pub struct Job {
    /// Polls left before it finishes.
    pub running_polls: usize,
    /// `None`: success; else the problems.
    pub errors: Option<Vec<Value>>,
    /// Events it carried.
    pub events: usize,
}

/// Everything the repository saw and holds.
#[derive(Debug, Default)]
pub struct State {
    /// Events captured, in capture order (one copy per eventID).
    pub events: Vec<Value>,
    /// eventIDs held.
    pub ids: HashSet<String>,
    /// Jobs by captureID.
    pub jobs: HashMap<String, Job>,
    /// Every request as `METHOD path → status`.
    pub requests: Vec<String>,
    /// POSTs received (documents), accepted or not.
    pub posts: usize,
    /// When each POST arrived (a test of the gateway's pace between attempts).
    pub posted_at: Vec<std::time::Instant>,
    /// Events posted (all POSTs that were read as documents).
    pub events_posted: usize,
    /// What broke the OpenAPI document or the schema: must stay empty.
    pub violations: Vec<String>,
    /// When the first request arrived (a drain is timed from it, not from a client's
    /// backoff).
    pub first_request: Option<std::time::Instant>,
    /// Events captured (new eventIDs), whether kept or only counted.
    pub captured_total: usize,
    /// When `Some`, every document that was captured is recorded here (a benchmark posts
    /// the same documents again with a bare HTTP client).
    pub documents: Option<Vec<Vec<u8>>>,
    /// Faults in force.
    pub faults: Faults,
    next_job: u64,
}

impl State {
    /// The `raw` reads captured (each event's first `epcList` entry or its read's raw text),
    /// in capture order — what a test compares with what was scanned.
    pub fn event_ids(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| e["eventID"].as_str().map(str::to_string))
            .collect()
    }
}

/// A running repository on a loopback port.
pub struct Repository {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Over TLS.
    pub secure: bool,
    /// What it saw and holds, and its faults.
    pub state: Arc<Mutex<State>>,
    task: Option<JoinHandle<()>>,
}

impl Repository {
    /// A repository on a free port.
    pub async fn start() -> Repository {
        Repository::start_on(0, Arc::new(Mutex::new(State::default()))).await
    }

    /// A repository on `port` (0: a free one) keeping `state` (a restart keeps what it held).
    pub async fn start_on(port: u16, state: Arc<Mutex<State>>) -> Repository {
        Repository::serve(port, state, None).await
    }

    /// A repository over TLS with the certificate chain and key in the PEM files `cert` and
    /// `key`, asking for a client certificate signed by the CA in `client_ca` when given.
    pub async fn start_tls(
        state: Arc<Mutex<State>>,
        cert: &std::path::Path,
        key: &std::path::Path,
        client_ca: Option<&std::path::Path>,
    ) -> Repository {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(key).unwrap();
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap();
        let config = match client_ca {
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for ca in CertificateDer::pem_file_iter(ca).unwrap() {
                    roots.add(ca.unwrap()).unwrap();
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .unwrap();
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        }
        .with_single_cert(chain, key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        Repository::serve(0, state, Some(acceptor)).await
    }

    async fn serve(
        port: u16,
        state: Arc<Mutex<State>>,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> Repository {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
            .await
            .expect("bind the test repository");
        let port = listener.local_addr().unwrap().port();
        let shared = state.clone();
        let secure = tls.is_some();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = shared.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let state = state.clone();
                        async move { handle(req, state).await }
                    });
                    let http = hyper::server::conn::http1::Builder::new();
                    match tls {
                        None => {
                            let _ = http.serve_connection(TokioIo::new(stream), service).await;
                        }
                        Some(tls) => {
                            // A handshake that fails (an unknown client) is the client's news.
                            if let Ok(stream) = tls.accept(stream).await {
                                let _ = http.serve_connection(TokioIo::new(stream), service).await;
                            }
                        }
                    }
                });
            }
        });
        Repository {
            port,
            secure,
            state,
            task: Some(task),
        }
    }

    /// Its base URL (`epcis.url`).
    pub fn url(&self) -> String {
        let scheme = if self.secure { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}/", self.port)
    }

    /// Stops listening (the repository goes away; what it held is kept in `state`).
    pub fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    /// Changes its faults.
    pub fn faults(&self, change: impl FnOnce(&mut Faults)) {
        change(&mut self.state.lock().unwrap().faults);
    }

    /// A look at its state.
    pub fn with<T>(&self, look: impl FnOnce(&State) -> T) -> T {
        look(&self.state.lock().unwrap())
    }
}

impl Drop for Repository {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Why the connection is closed without an answer (hyper drops it on a service error).
#[derive(Debug)]
struct CloseUnanswered;

impl std::fmt::Display for CloseUnanswered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("closed after capture, before answering (a fault the test asked for)")
    }
}

impl std::error::Error for CloseUnanswered {}

fn problem(status: StatusCode, kind: &str, title: &str, detail: &str) -> Response<Full<Bytes>> {
    let body = json!({
        "type": kind,
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
    });
    Response::builder()
        .status(status)
        .header("Content-Type", "application/problem+json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

async fn handle(
    req: Request<Incoming>,
    state: Arc<Mutex<State>>,
) -> Result<Response<Full<Bytes>>, CloseUnanswered> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let headers = req.headers().clone();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    // The lock is held in this block only: never across the stall's await.
    let (response, stall) = {
        let mut state = state.lock().unwrap();
        state
            .first_request
            .get_or_insert_with(std::time::Instant::now);
        // A slow repository: it captures at once, but its answer comes late.
        let stall = match &mut state.faults.stall {
            Some((n, wait)) if *n > 0 && method == Method::POST => {
                *n -= 1;
                Some(*wait)
            }
            _ => None,
        };
        let response = answer(&mut state, &method, &path, &headers, &body);
        let line = match &response {
            Ok(response) => format!("{method} {path} → {}", response.status().as_u16()),
            Err(_) => format!("{method} {path} → closed"),
        };
        state.requests.push(line);
        (response, stall)
    };
    if let Some(wait) = stall {
        tokio::time::sleep(wait).await;
    }
    response
}

/// The OpenAPI operation for `method` on `template`, or a violation.
fn check_request(
    method: &Method,
    template: &str,
    headers: &hyper::HeaderMap,
) -> Result<(), String> {
    let item = &OPENAPI["paths"][template];
    let op = &item[method.as_str().to_ascii_lowercase()];
    if op.is_null() {
        return Err(format!("{method} {template} is not in the REST bindings"));
    }
    let params = item["parameters"]
        .as_array()
        .into_iter()
        .chain(op["parameters"].as_array())
        .flatten();
    for param in params {
        let param = resolve(param);
        if param["in"] != "header" {
            continue;
        }
        let name = param["name"].as_str().unwrap_or_default();
        let Some(value) = headers.get(name) else {
            if param["required"] == true {
                return Err(format!("{method} {template}: header {name} is required"));
            }
            continue;
        };
        let value = value
            .to_str()
            .map_err(|_| format!("header {name} is not text"))?;
        let schema = &param["schema"];
        if schema.is_null() || schema["type"] == "object" {
            continue;
        }
        let root = json!({ "components": OPENAPI["components"], "allOf": [schema] });
        let validator = jsonschema::options()
            .build(&root)
            .map_err(|e| format!("header {name}'s schema: {e}"))?;
        if let Err(e) = validator.validate(&Value::String(value.to_string())) {
            return Err(format!(
                "{method} {template}: header {name} = {value:?}: {e}"
            ));
        }
    }
    Ok(())
}

fn resolve(value: &Value) -> &Value {
    match value["$ref"].as_str() {
        Some(reference) => {
            let mut node = &*OPENAPI;
            for part in reference.trim_start_matches("#/").split('/') {
                node = &node[part];
            }
            node
        }
        None => value,
    }
}

fn answer(
    state: &mut State,
    method: &Method,
    path: &str,
    headers: &hyper::HeaderMap,
    body: &[u8],
) -> Result<Response<Full<Bytes>>, CloseUnanswered> {
    let template = if path == "/capture" {
        "/capture"
    } else if path.starts_with("/capture/") {
        "/capture/{captureID}"
    } else {
        return Ok(problem(
            StatusCode::NOT_FOUND,
            "epcisException:NoSuchResourceException",
            "Not found",
            path,
        ));
    };
    if let Err(violation) = check_request(method, template, headers) {
        state.violations.push(violation.clone());
        return Ok(problem(
            StatusCode::BAD_REQUEST,
            "epcisException:ValidationException",
            "Request not valid",
            &violation,
        ));
    }
    let faults = state.faults.clone();
    if faults.forbid {
        return Ok(problem(
            StatusCode::FORBIDDEN,
            "epcisException:SecurityException",
            "Forbidden",
            "this client may not capture",
        ));
    }
    if let Some((name, expected)) = &faults.credential {
        let given = headers.get(name.as_str()).and_then(|v| v.to_str().ok());
        if given != Some(expected.as_str()) {
            return Ok(problem(
                StatusCode::UNAUTHORIZED,
                "epcisException:SecurityException",
                "Unauthorized",
                "missing or wrong credential",
            ));
        }
    }
    match (method.clone(), template) {
        (Method::OPTIONS, "/capture") => {
            let mut response = Response::builder()
                .status(StatusCode::NO_CONTENT)
                .header("Allow", "OPTIONS, GET, POST")
                .header("GS1-EPCIS-Version", "2.0.0")
                .header("GS1-CBV-Version", "2.0.0")
                .header("GS1-Capture-Error-Behaviour", "rollback, proceed");
            if let Some(limit) = faults.capture_limit {
                response = response.header("GS1-EPCIS-Capture-Limit", limit.to_string());
            }
            if let Some(limit) = faults.file_size_limit {
                response = response.header("GS1-EPCIS-Capture-File-Size-Limit", limit.to_string());
            }
            Ok(response.body(Full::new(Bytes::new())).unwrap())
        }
        (Method::POST, "/capture") => capture(state, headers, body),
        (Method::GET, "/capture/{captureID}") => {
            let id = path.trim_start_matches("/capture/").to_string();
            if faults.forget_jobs {
                return Ok(problem(
                    StatusCode::NOT_FOUND,
                    "epcisException:NoSuchResourceException",
                    "No such capture job",
                    &id,
                ));
            }
            let Some(job) = state.jobs.get_mut(&id) else {
                return Ok(problem(
                    StatusCode::NOT_FOUND,
                    "epcisException:NoSuchResourceException",
                    "No such capture job",
                    &id,
                ));
            };
            let running = job.running_polls > 0;
            job.running_polls = job.running_polls.saturating_sub(1);
            let errors = job.errors.clone();
            let body = json!({
                "captureID": id,
                "createdAt": "2026-12-07T00:00:00Z",
                "running": running,
                "success": running || errors.is_none(),
                "captureErrorBehaviour": "rollback",
                "errors": if running { Vec::new() } else { errors.unwrap_or_default() },
            });
            Ok(Response::builder()
                .status(StatusCode::OK)
                .header("Content-Type", "application/json")
                .header("GS1-EPCIS-Version", "2.0.0")
                .body(Full::new(Bytes::from(body.to_string())))
                .unwrap())
        }
        _ => Ok(problem(
            StatusCode::METHOD_NOT_ALLOWED,
            "epcisException:ImplementationException",
            "Method not allowed",
            path,
        )),
    }
}

fn capture(
    state: &mut State,
    headers: &hyper::HeaderMap,
    body: &[u8],
) -> Result<Response<Full<Bytes>>, CloseUnanswered> {
    let faults = state.faults.clone();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    // The OpenAPI lists application/json; repositories also take application/ld+json.
    if !["application/json", "application/ld+json"].contains(&content_type.as_str()) {
        state
            .violations
            .push(format!("POST /capture with Content-Type {content_type:?}"));
    }
    let taken = faults
        .content_types
        .clone()
        .unwrap_or_else(|| vec!["application/json".into(), "application/ld+json".into()]);
    if !taken.contains(&content_type) {
        return Ok(problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "epcisException:UnsupportedMediaTypeException",
            "Unsupported media type",
            &content_type,
        ));
    }
    if state.faults.server_errors > 0 {
        state.faults.server_errors -= 1;
        return Ok(problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "epcisException:ImplementationException",
            "Service unavailable",
            "try again later",
        ));
    }
    let document: Value = match serde_json::from_slice(body) {
        Ok(d) => d,
        Err(e) => {
            state
                .violations
                .push(format!("POST /capture: not JSON: {e}"));
            return Ok(problem(
                StatusCode::BAD_REQUEST,
                "epcisException:ValidationException",
                "Not JSON",
                &e.to_string(),
            ));
        }
    };
    // GS1's EPCIS 2.0 schema, as every published document is checked in the tests.
    let errors = super::epcis_schema::schema_errors(&document);
    if !errors.is_empty() {
        state.violations.push(format!(
            "POST /capture: not a valid EPCISDocument: {}",
            errors.join("; ")
        ));
        return Ok(problem(
            StatusCode::BAD_REQUEST,
            "epcisException:ValidationException",
            "Not a valid EPCISDocument",
            &errors.join("; "),
        ));
    }
    let events: Vec<Value> = document["epcisBody"]["eventList"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    state.posts += 1;
    state.posted_at.push(std::time::Instant::now());
    state.events_posted += events.len();
    let too_many = [faults.capture_limit, faults.hidden_event_limit]
        .into_iter()
        .flatten()
        .any(|limit| events.len() > limit);
    let too_big = faults
        .file_size_limit
        .is_some_and(|limit| body.len() > limit);
    if too_many || too_big {
        let mut response = problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "epcisException:CaptureLimitExceededException",
            "Capture limit exceeded",
            &format!("{} events, {} octets", events.len(), body.len()),
        );
        let limit = faults.capture_limit.or(faults.hidden_event_limit);
        if let Some(limit) = limit {
            response
                .headers_mut()
                .insert("GS1-EPCIS-Capture-Limit", limit.into());
        }
        if let Some(limit) = faults.file_size_limit {
            response
                .headers_mut()
                .insert("GS1-EPCIS-Capture-File-Size-Limit", limit.into());
        }
        return Ok(response);
    }
    let text = String::from_utf8_lossy(body);
    if let Some(bad) = faults
        .reject_at_receipt
        .iter()
        .find(|s| text.contains(s.as_str()))
    {
        return Ok(problem(
            StatusCode::BAD_REQUEST,
            "epcisException:ValidationException",
            "Event refused",
            &format!("an event holds {bad}, which this repository does not take"),
        ));
    }
    // The job: under rollback, all or nothing.
    let mut job_errors: Vec<Value> = Vec::new();
    for event in &events {
        let event_text = event.to_string();
        if let Some(bad) = faults
            .refuse_in_job
            .iter()
            .find(|s| event_text.contains(s.as_str()))
        {
            job_errors.push(json!({
                "type": "epcisException:ValidationException",
                "title": "Event refused",
                "detail": format!("an event holds {bad}"),
            }));
        }
        if faults.duplicates == Duplicates::Refuse
            && let Some(id) = event["eventID"].as_str()
            && state.ids.contains(id)
        {
            job_errors.push(json!({
                "type": "epcisException:ValidationException",
                "title": "Duplicate eventID",
                "detail": format!("{id} is already captured"),
            }));
        }
    }
    if job_errors.is_empty() {
        for event in events.iter() {
            let id = event["eventID"].as_str().unwrap_or_default().to_string();
            if state.ids.insert(id) {
                state.captured_total += 1;
                if !faults.count_only {
                    state.events.push(event.clone());
                }
            }
        }
        if let Some(documents) = &mut state.documents {
            documents.push(body.to_vec());
        }
    }
    state.next_job += 1;
    let id = format!("job{}", state.next_job);
    state.jobs.insert(
        id.clone(),
        Job {
            running_polls: faults.running_polls,
            errors: (!job_errors.is_empty()).then_some(job_errors),
            events: events.len(),
        },
    );
    if state.faults.close_after_capture > 0 {
        state.faults.close_after_capture -= 1;
        return Err(CloseUnanswered);
    }
    // Relative, as many repositories answer: resolved against the request's URL.
    Ok(Response::builder()
        .status(StatusCode::ACCEPTED)
        .header("Location", format!("capture/{id}"))
        .header("GS1-EPCIS-Version", "2.0.0")
        .header("GS1-CBV-Version", "2.0.0")
        .body(Full::new(Bytes::new()))
        .unwrap())
}
