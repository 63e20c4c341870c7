//! `/api/live`: the page's server-sent events.
//!
//! ```text
//!  open ──▶ watch the feed (the pipeline starts writing it) ──▶ status now
//!    every BATCH_EVERY: `reads` {reads: [≤ MAX_BATCH, the latest], missed: N}  (only if any)
//!    every STATUS_EVERY: `status` {report, tags per reader}
//!  the browser goes (a send fails or stalls SEND_TIMEOUT) or shutdown ──▶ stop watching
//! ```
//!
//! At 10,000 reads/s the page gets at most MAX_BATCH reads per batch and the count it
//! missed: its cost is bounded by the batch rate, not by the read rate.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Frame;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracegate_identifiers as identify;

use super::WebState;
use super::routes::Body;
use crate::telemetry::live::{LiveRead, TagRow};

/// How often a batch of reads is sent.
pub const BATCH_EVERY: Duration = Duration::from_millis(250);

/// Reads per batch at most (the latest).
pub const MAX_BATCH: usize = 100;

/// How often the status (devices, outbox, uplink, tags) is sent.
pub const STATUS_EVERY: Duration = Duration::from_secs(1);

/// A browser that takes no data for this long is let go.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Tags per reader sent at most.
const MAX_TAGS: usize = 200;

/// The longest payload text shown (a garbage frame can be 1 MiB).
const MAX_SHOWN: usize = 200;

/// A body fed by a channel: the stream's task writes, hyper reads.
struct Channel(mpsc::Receiver<Bytes>);

impl hyper::body::Body for Channel {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}

/// One server-sent event.
fn event(name: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

/// Opens the stream.
pub(super) fn stream(state: Arc<WebState>, cancel: CancellationToken) -> Response<Body> {
    let (tx, rx) = mpsc::channel::<Bytes>(4);
    tokio::spawn(feed(state, tx, cancel));
    let mut response = Response::new(Channel(rx).boxed());
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    response
}

async fn send(tx: &mpsc::Sender<Bytes>, bytes: Bytes) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, tx.send(bytes)).await,
        Ok(Ok(()))
    )
}

/// Counts a stream open for as long as it lives.
struct Open(Arc<WebState>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.stats.stream(false);
    }
}

async fn feed(state: Arc<WebState>, tx: mpsc::Sender<Bytes>, cancel: CancellationToken) {
    let _watch = state.live.watch();
    state.stats.stream(true);
    let _open = Open(state.clone());
    // Reads from before the page opened are not news.
    let mut seen = state.live.last_seq();
    let mut batches = tokio::time::interval(BATCH_EVERY);
    batches.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut statuses = tokio::time::interval(STATUS_EVERY);
    statuses.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tx.closed() => return,
            _ = statuses.tick() => {
                let value = match status_json(&state).await {
                    Ok(value) => value,
                    Err(e) => json!({ "error": e }),
                };
                if !send(&tx, event("status", &value)).await {
                    return;
                }
            }
            _ = batches.tick() => {
                let (reads, missed) = state.live.reads_since(seen, MAX_BATCH);
                let Some(last) = reads.last() else {
                    continue;
                };
                seen = last.seq;
                let reads: Vec<Value> = reads.iter().map(read_json).collect();
                if !send(&tx, event("reads", &json!({ "reads": reads, "missed": missed }))).await {
                    return;
                }
            }
        }
    }
}

/// A payload as text for the page: printable ASCII as is, the rest escaped, bounded.
fn shown(payload: &[u8]) -> String {
    let text: String = payload.escape_ascii().to_string();
    if text.chars().count() > MAX_SHOWN {
        let mut cut: String = text.chars().take(MAX_SHOWN).collect();
        cut.push('…');
        cut
    } else {
        text
    }
}

/// What a read meant, as `tracegate decode` shows it.
fn decoded(read: &LiveRead) -> Value {
    let decoding = identify::decode(&read.payload, read.mode, read.rules);
    crate::capture::meaning::json_value(&read.payload, &decoding)
}

fn read_json(read: &LiveRead) -> Value {
    json!({
        "seq": read.seq,
        "at": read.at.to_string(),
        "device": &*read.device,
        "payload": shown(&read.payload),
        "outcome": read.outcome,
        "reason": read.reason,
        "events": read.events,
        "decoded": decoded(read),
    })
}

fn tag_json(row: &TagRow) -> Value {
    let decoding = identify::decode(&row.epc, identify::Mode::Auto, identify::Rules::default());
    // The EPC pure-identity URI, when the tag decodes to one.
    let uri = decoding
        .result
        .as_ref()
        .ok()
        .and_then(|id| id.epc.as_ref())
        .map(|epc| epc.pure_uri());
    let mut value = serde_json::to_value(row).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.insert("epc".into(), Value::String(shown(&row.epc)));
        map.insert("uri".into(), uri.map(Value::String).unwrap_or(Value::Null));
    }
    value
}

/// The status report and the readers' tag tables.
pub(super) async fn status_json(state: &Arc<WebState>) -> Result<Value, String> {
    let status = state.status.clone();
    let report = tokio::task::spawn_blocking(move || status.report())
        .await
        .map_err(|e| format!("status report failed: {e}"))?;
    let mut value = serde_json::to_value(&report).map_err(|e| e.to_string())?;
    let tags: serde_json::Map<String, Value> = state
        .live
        .tag_devices()
        .into_iter()
        .map(|device| {
            let rows: Vec<Value> = state
                .live
                .tags(&device, MAX_TAGS)
                .iter()
                .map(tag_json)
                .collect();
            (device.to_string(), Value::Array(rows))
        })
        .collect();
    if let Value::Object(map) = &mut value {
        map.insert("tags".into(), Value::Object(tags));
        if let Some(queue) = &state.print {
            map.insert("print_templates".into(), json!(queue.template_names()));
        }
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_shown_escaped_and_bounded() {
        assert_eq!(shown(b"]d2\x1d01"), "]d2\\x1d01");
        let long = vec![b'A'; 5000];
        assert_eq!(shown(&long).chars().count(), MAX_SHOWN + 1);
    }

    #[test]
    fn events_are_server_sent_event_frames() {
        let e = event("reads", &json!({"a": 1}));
        assert_eq!(&e[..], b"event: reads\ndata: {\"a\":1}\n\n");
    }
}
