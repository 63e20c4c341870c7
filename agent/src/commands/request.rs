//! What the platform may ask: one serde-tagged enum, parsed from the command's topic name and
//! its JSON payload, with every bound checked before anything is done.

use serde::Deserialize;
use serde_json::{Map, Value};
use tracegate_drivers::output::MAX_PULSE_MS;

use crate::config::check_topic_level;

/// Largest command payload taken. A command is a few hundred bytes; anything near this is a
/// mistake or an attack, and is refused with a reply (the session stays up).
pub const MAX_COMMAND_BYTES: usize = 64 * 1024;

/// A command, by its name (the last topic level, or the CLI's first argument).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Command {
    /// Is the gateway there? Answers with its clock.
    Ping {},
    /// The status report, as `tracegate status --json` shows it.
    Status {},
    /// Read (no `set`/`reset`), change (`set`) or reset (`reset: true`) a device's business
    /// context; without `device`, every device's.
    Context {
        /// Which device.
        #[serde(default)]
        device: Option<String>,
        /// Context keys as in the config file; `null` clears one.
        #[serde(default)]
        set: Option<Map<String, Value>>,
        /// Back to the config file's context.
        #[serde(default)]
        reset: bool,
    },
    /// Load the config file again and apply what changed.
    Reload {},
    /// Switch an output line, or show a pattern on it.
    Output {
        /// The output device.
        device: String,
        /// Its line.
        line: String,
        /// `on` (default) or `off`; ignored when `pattern` is given.
        #[serde(default)]
        state: Level,
        /// A pattern instead (`blink 250ms`, `pulses 3x100ms`, …).
        #[serde(default)]
        pattern: Option<String>,
        /// Shown over feedback rules of lower priority (default 0: under every rule).
        #[serde(default)]
        priority: u8,
        /// Back to what the line showed before after this many milliseconds (a pulse).
        #[serde(default)]
        for_ms: Option<u64>,
    },
    /// The current levels of a device's input lines.
    Inputs {
        /// The input device.
        device: String,
    },
    /// Open or close a reader's read window.
    ReadWindow {
        /// The reader.
        device: String,
        /// `start` or `stop`.
        action: WindowAction,
    },
    /// Write bytes to a device as they are (a scanner's host commands).
    Send {
        /// The device.
        device: String,
        /// The bytes, as text (JSON escapes such as `\u0007` work).
        data: String,
    },
    /// Print a label from a template through the durable print queue.
    Print {
        /// The printer.
        device: String,
        /// The template's name (its file stem in `printing.templates`).
        template: String,
        /// The template's variables.
        #[serde(default)]
        vars: Map<String, Value>,
        /// Copies (1 to 1000).
        #[serde(default = "one")]
        copies: u32,
        /// The requester's idempotency key: the same on every retry, so that a retried
        /// request is never printed twice.
        key: String,
    },
    /// The state of the print job with `key`; without a key, the queue's counts.
    PrintStatus {
        /// The idempotency key.
        #[serde(default)]
        key: Option<String>,
    },
    /// An operator's decision on a job whose outcome is unknown: `reprint`, `printed` or `void`.
    PrintDecide {
        /// The idempotency key.
        key: String,
        /// `reprint` (marked as a reprint), `printed` (it came out intact) or `void`.
        decision: crate::print::queue::Decision,
    },
}

fn one() -> u32 {
    1
}

/// An output level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// On.
    #[default]
    On,
    /// Off.
    Off,
}

/// What to do with a read window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WindowAction {
    /// Open it.
    Start,
    /// Close it.
    Stop,
}

/// A parsed request: the id to answer on and the command, or why it cannot be carried out.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The request id (an MQTT topic level); `None` when the payload has no usable one.
    pub id: Option<String>,
    /// The command, or the error to answer with.
    pub command: Result<Command, String>,
}

/// Names of the commands, for error messages.
pub const NAMES: &str = "ping, status, context, reload, output, inputs, read-window, send, print, print-status, print-decide";

/// Parses command `name` with `payload`: a JSON object with an `id` and the command's
/// arguments. Never panics; every problem becomes an error naming it.
pub fn parse(name: &str, payload: &[u8]) -> Request {
    let object = match serde_json::from_slice::<Value>(payload) {
        Ok(Value::Object(object)) => object,
        Ok(_) => {
            return Request {
                id: None,
                command: Err("the payload must be a JSON object with an \"id\"".into()),
            };
        }
        Err(e) => {
            return Request {
                id: None,
                command: Err(format!("the payload is not JSON: {e}")),
            };
        }
    };
    let (id, id_error) = match object.get("id") {
        None => (
            None,
            Some("the payload has no \"id\" to reply to".to_string()),
        ),
        Some(Value::String(id)) => match check_topic_level(id, "id") {
            Ok(()) => (Some(id.clone()), None),
            Err(e) => (None, Some(e)),
        },
        Some(_) => (None, Some("\"id\" must be a string".to_string())),
    };
    if payload.len() > MAX_COMMAND_BYTES {
        return Request {
            id,
            command: Err(format!(
                "the payload has {} bytes; commands are limited to {MAX_COMMAND_BYTES} bytes",
                payload.len()
            )),
        };
    }
    if let Some(e) = id_error {
        return Request {
            id,
            command: Err(e),
        };
    }
    let mut args = object;
    args.remove("id");
    args.insert("command".into(), Value::String(name.to_string()));
    let command = serde_json::from_value::<Command>(Value::Object(args))
        .map_err(|e| describe(name, &e.to_string()))
        .and_then(check);
    Request { id, command }
}

/// serde's message, with the command named and the list of commands for an unknown one.
fn describe(name: &str, error: &str) -> String {
    if error.starts_with(&format!("unknown variant `{name}`")) {
        format!("unknown command {name:?}; known commands: {NAMES}")
    } else {
        format!("command {name:?}: {error}")
    }
}

/// Bounds serde cannot express.
fn check(command: Command) -> Result<Command, String> {
    match &command {
        Command::Output {
            device,
            line,
            for_ms,
            pattern,
            ..
        } => {
            check_topic_level(device, "device")?;
            check_topic_level(line, "line")?;
            if let Some(pattern) = pattern {
                pattern
                    .parse::<tracegate_drivers::output::pattern::Pattern>()
                    .map_err(|e| e.to_string())?;
            }
            if for_ms.is_some_and(|ms| ms == 0 || ms > MAX_PULSE_MS) {
                return Err(format!(
                    "for_ms must be between 1 and {MAX_PULSE_MS} (a day); leave it out for a steady level"
                ));
            }
        }
        Command::ReadWindow { device, .. } | Command::Inputs { device } => {
            check_topic_level(device, "device")?
        }
        Command::Send { device, data } => {
            check_topic_level(device, "device")?;
            if data.is_empty() || data.len() > 256 {
                return Err("data must be 1 to 256 bytes".into());
            }
        }
        Command::Context {
            device: Some(device),
            ..
        } => check_topic_level(device, "device")?,
        Command::Print {
            device,
            copies,
            key,
            ..
        } => {
            check_topic_level(device, "device")?;
            if !(1..=crate::labels::templates::MAX_COPIES).contains(copies) {
                return Err(format!(
                    "copies must be 1 to {}",
                    crate::labels::templates::MAX_COPIES
                ));
            }
            if key.is_empty() || key.len() > crate::print::queue::MAX_KEY_LEN {
                return Err(format!(
                    "key must be 1 to {} characters: the requester's idempotency key",
                    crate::print::queue::MAX_KEY_LEN
                ));
            }
        }
        _ => {}
    }
    Ok(command)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(name: &str, payload: &str) -> Command {
        let request = parse(name, payload.as_bytes());
        assert_eq!(request.id.as_deref(), Some("r1"), "{payload}");
        request.command.unwrap()
    }

    fn err(name: &str, payload: &str) -> (Option<String>, String) {
        let request = parse(name, payload.as_bytes());
        (request.id, request.command.unwrap_err())
    }

    #[test]
    fn commands_parse_with_their_arguments() {
        assert_eq!(ok("ping", r#"{"id":"r1"}"#), Command::Ping {});
        assert_eq!(
            ok(
                "output",
                r#"{"id":"r1","device":"light-1","line":"red","for_ms":500}"#
            ),
            Command::Output {
                device: "light-1".into(),
                line: "red".into(),
                state: Level::On,
                pattern: None,
                priority: 0,
                for_ms: Some(500)
            }
        );
        assert_eq!(
            ok(
                "output",
                r#"{"id":"r1","device":"l","line":"red","pattern":"blink 250ms","priority":50}"#
            ),
            Command::Output {
                device: "l".into(),
                line: "red".into(),
                state: Level::On,
                pattern: Some("blink 250ms".into()),
                priority: 50,
                for_ms: None
            }
        );
        assert_eq!(
            ok("inputs", r#"{"id":"r1","device":"eye"}"#),
            Command::Inputs {
                device: "eye".into()
            }
        );
        let (_, e) = err(
            "output",
            r#"{"id":"r1","device":"l","line":"red","pattern":"strobe"}"#,
        );
        assert!(e.contains("not an output pattern"), "{e}");
        assert_eq!(
            ok(
                "read-window",
                r#"{"id":"r1","device":"gate","action":"stop"}"#
            ),
            Command::ReadWindow {
                device: "gate".into(),
                action: WindowAction::Stop
            }
        );
        assert!(matches!(
            ok("context", r#"{"id":"r1","device":"s1","reset":true}"#),
            Command::Context { reset: true, .. }
        ));
    }

    #[test]
    fn every_malformed_request_names_its_problem() {
        assert!(err("ping", "not json").1.contains("not JSON"));
        assert!(err("ping", "[1]").1.contains("JSON object"));
        assert!(err("ping", "{}").1.contains("no \"id\""));
        assert!(err("ping", r#"{"id":7}"#).1.contains("must be a string"));
        assert!(err("ping", r#"{"id":"a/b"}"#).1.contains("'/'"));
        let (id, e) = err("launch", r#"{"id":"r1"}"#);
        assert_eq!(id.as_deref(), Some("r1"), "the error is answered");
        assert!(
            e.contains("unknown command \"launch\"") && e.contains("read-window"),
            "{e}"
        );
        let e = err("output", r#"{"id":"r1","device":"l","line":5}"#).1;
        assert!(
            e.contains("command \"output\"") && e.contains("invalid type"),
            "{e}"
        );
        let e = err("output", r#"{"id":"r1","device":"l"}"#).1;
        assert!(e.contains("missing field `line`"), "{e}");
        let e = err("ping", r#"{"id":"r1","extra":1}"#).1;
        assert!(e.contains("unknown field `extra`"), "{e}");
        let e = err(
            "output",
            r#"{"id":"r1","device":"l","line":"x","for_ms":0}"#,
        )
        .1;
        assert!(e.contains("for_ms"), "{e}");
        let e = err(
            "output",
            r#"{"id":"r1","device":"l","line":"x","state":"blue"}"#,
        )
        .1;
        assert!(e.contains("unknown variant `blue`"), "{e}");
    }

    #[test]
    fn an_oversized_payload_is_refused_but_still_answered() {
        let big = format!(r#"{{"id":"r1","pad":"{}"}}"#, "x".repeat(MAX_COMMAND_BYTES));
        let (id, e) = err("ping", &big);
        assert_eq!(id.as_deref(), Some("r1"));
        assert!(e.contains("limited to 65536 bytes"), "{e}");
    }

    proptest! {
        #[test]
        fn any_payload_parses_or_errors_without_panicking(
            name in "[a-z-]{0,12}",
            payload in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let _ = parse(&name, &payload);
        }

        #[test]
        fn any_json_object_parses_or_errors_without_panicking(
            name in prop::sample::select(vec!["ping", "status", "context", "reload", "output", "read-window", "send", "x"]),
            keys in proptest::collection::btree_map("[a-z_]{1,8}", any::<i64>(), 0..5),
        ) {
            let mut object = serde_json::Map::new();
            object.insert("id".into(), Value::String("r".into()));
            for (k, v) in keys {
                object.insert(k, Value::from(v));
            }
            let _ = parse(name, &serde_json::to_vec(&object).unwrap());
        }
    }
}
