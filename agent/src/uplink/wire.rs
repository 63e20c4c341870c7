//! The command wire, as every uplink carries it: a command in (`{prefix}/{gateway}/cmd/{name}`
//! over MQTT), its replies out (`{prefix}/{gateway}/reply/{id}`), and the JSON of a reply —
//! `received`, `progress`, then `done` or `failed` — built in one place.

use serde::Serialize;
use serde_json::Value;

use bytes::Bytes;

use crate::config::check_topic_level;

/// The reply id used when a request has no usable `id` (an MQTT topic level).
pub const NO_ID: &str = "_";

/// A command received on `{prefix}/{gateway}/cmd/{name}`.
#[derive(Debug, Clone)]
pub struct IncomingCommand {
    /// The last topic level.
    pub name: String,
    /// The message payload (JSON by convention).
    pub payload: Bytes,
}

/// A reply to publish on `{prefix}/{gateway}/reply/{id}`.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The request id the reply answers (a topic level).
    pub id: String,
    /// JSON payload.
    pub payload: Vec<u8>,
    /// Whether it is the command's final reply (done or failed).
    pub last: bool,
}

/// Progress of a command, as its replies say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReplyState {
    /// Taken; the work has started and a final reply follows.
    Received,
    /// Not final: what the work has come to so far (a print job's state as it changes).
    Progress,
    /// Carried out (final).
    Done,
    /// Not carried out (final); `error` says why.
    Failed,
}

#[derive(Debug, Serialize)]
struct ReplyBody<'a> {
    id: Option<&'a str>,
    state: ReplyState,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// A reply to request `id` (none: unreadable) for `command`.
pub fn reply(id: Option<&str>, command: &str, outcome: Result<Option<Value>, String>) -> Reply {
    let (state, result, error) = match outcome {
        Ok(Some(result)) => (ReplyState::Done, Some(result), None),
        Ok(None) => (ReplyState::Received, None, None),
        Err(error) => (ReplyState::Failed, None, Some(error)),
    };
    let body = ReplyBody {
        id,
        state,
        ok: state != ReplyState::Failed,
        command: Some(command),
        result,
        error,
    };
    Reply {
        id: id.unwrap_or(NO_ID).to_string(),
        payload: serde_json::to_vec(&body).expect("replies serialise"),
        last: state != ReplyState::Received,
    }
}

/// A progress reply to request `id`: not final, `result` says how far the work is.
pub fn progress(id: Option<&str>, command: &str, result: Value) -> Reply {
    let body = ReplyBody {
        id,
        state: ReplyState::Progress,
        ok: true,
        command: Some(command),
        result: Some(result),
        error: None,
    };
    Reply {
        id: id.unwrap_or(NO_ID).to_string(),
        payload: serde_json::to_vec(&body).expect("replies serialise"),
        last: false,
    }
}

/// The busy reply for a command that could not even be queued (the uplink sends it itself):
/// answered on the request's `id` when it has a usable one.
pub fn busy(name: &str, payload: &[u8]) -> Reply {
    let id = serde_json::from_slice::<Value>(payload)
        .ok()
        .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_string))
        .filter(|id| check_topic_level(id, "id").is_ok());
    reply(
        id.as_deref(),
        name,
        Err("busy: too many commands at once; try again".into()),
    )
}
