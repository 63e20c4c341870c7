//! Commands from the platform: `{prefix}/{gateway}/cmd/{name}` in, a reply on
//! `{prefix}/{gateway}/reply/{id}` out.
//!
//! A command payload is a JSON object with a request `id` (any string without `/`, `+`, `#`)
//! and the command's arguments. The reply is `{"id": …, "ok": true, "result": …}` or
//! `{"id": …, "ok": false, "error": "…"}`. A command without a usable id cannot be answered and
//! is logged and dropped.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::contexts::ContextRegistry;
use crate::status::StatusCollector;
use crate::sync::{IncomingCommand, Reply};

/// What a command handler produced.
type Outcome = Result<Value, String>;

#[derive(Debug, Serialize)]
struct ReplyBody<'a> {
    id: &'a str,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Handles commands until the sync task drops its sender.
pub async fn run(
    mut commands: mpsc::Receiver<IncomingCommand>,
    replies: mpsc::Sender<Reply>,
    status: Arc<StatusCollector>,
    contexts: ContextRegistry,
) {
    while let Some(command) = commands.recv().await {
        let request: Value = match serde_json::from_slice(&command.payload) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                tracing::warn!(command = %command.name, "command ignored: the payload is not a JSON object");
                continue;
            }
        };
        let Some(id) = request_id(&request) else {
            tracing::warn!(command = %command.name, "command ignored: no usable \"id\" to reply to");
            continue;
        };
        let outcome = handle(&command.name, &request, &status, &contexts).await;
        if let Err(e) = &outcome {
            tracing::warn!(command = %command.name, id, "command failed: {e}");
        }
        let body = match outcome {
            Ok(result) => ReplyBody {
                id,
                ok: true,
                result: Some(result),
                error: None,
            },
            Err(error) => ReplyBody {
                id,
                ok: false,
                result: None,
                error: Some(error),
            },
        };
        let payload = serde_json::to_vec(&body).expect("reply serialises");
        if replies
            .send(Reply {
                id: id.to_string(),
                payload,
            })
            .await
            .is_err()
        {
            break;
        }
    }
}

/// The request id, if it can be a topic level.
fn request_id(request: &Value) -> Option<&str> {
    let id = request.get("id")?.as_str()?;
    crate::config::check_topic_level(id, "id").ok()?;
    Some(id)
}

async fn handle(
    name: &str,
    request: &Value,
    status: &Arc<StatusCollector>,
    contexts: &ContextRegistry,
) -> Outcome {
    match name {
        "ping" => Ok(serde_json::json!({ "pong": jiff::Timestamp::now().to_string() })),
        "status" => {
            let status = status.clone();
            let report = tokio::task::spawn_blocking(move || status.report())
                .await
                .map_err(|e| format!("status failed: {e}"))?;
            serde_json::to_value(report).map_err(|e| e.to_string())
        }
        "context" => context(request, contexts).await,
        other => Err(format!(
            "unknown command {other:?}; known commands: ping, status, context"
        )),
    }
}

/// `context`: read, change or reset a device's business context.
pub async fn context(request: &Value, contexts: &ContextRegistry) -> Outcome {
    let Some(device) = request.get("device") else {
        let mut all: Vec<_> = contexts.all();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        let map: serde_json::Map<String, Value> = all
            .into_iter()
            .map(|(id, c)| {
                (
                    id.to_string(),
                    serde_json::to_value(&*c).expect("context serialises"),
                )
            })
            .collect();
        return Ok(Value::Object(map));
    };
    let device = device
        .as_str()
        .ok_or("\"device\" must be a device id (a string)")?;
    let set = request.get("set");
    let reset = request
        .get("reset")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let context = match (set, reset) {
        (Some(_), true) => return Err("give either \"set\" or \"reset\", not both".into()),
        (Some(Value::Object(changes)), false) => contexts.change(device, changes).await?,
        (Some(_), false) => {
            return Err(
                "\"set\" must be an object of context keys, e.g. {\"biz_step\": \"shipping\"}"
                    .into(),
            );
        }
        (None, true) => contexts.reset(device).await?,
        (None, false) => contexts
            .get(device)
            .ok_or_else(|| format!("no device {device:?}"))?,
    };
    Ok(serde_json::json!({
        "device": device,
        "context": serde_json::to_value(&*context).expect("context serialises"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_must_be_topic_levels() {
        assert_eq!(request_id(&serde_json::json!({"id": "r-1"})), Some("r-1"));
        assert_eq!(request_id(&serde_json::json!({"id": "a/b"})), None);
        assert_eq!(request_id(&serde_json::json!({"id": 7})), None);
        assert_eq!(request_id(&serde_json::json!({})), None);
    }
}
