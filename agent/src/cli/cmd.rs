//! `tracegate cmd NAME [ARGS…]`: send a command to the running daemon through its control
//! socket; it goes through the same router as the platform's MQTT commands.
//!
//! Arguments are positional where a command has an obvious order, or `key=value` (a value
//! that parses as JSON is taken as JSON, anything else as a string):
//!
//! ```text
//! tracegate cmd ping
//! tracegate cmd output light-1 red            # on
//! tracegate cmd output light-1 buzzer on for_ms=300
//! tracegate cmd read-window reader-1 start
//! tracegate cmd context scanner-1 'set={"biz_step":"shipping"}'
//! tracegate cmd reload
//! tracegate cmd print line-printer case order-881-case-1 var.lot=A17 var.count=12 copies=2
//! tracegate cmd print-status order-881-case-1
//! tracegate cmd print-decide order-881-case-1 reprint
//! ```
//!
//! `var.NAME=VALUE` sets one of a print job's template variables (`vars`).

use serde_json::{Map, Value};

/// `tracegate cmd` arguments.
#[derive(Debug, clap::Args)]
pub struct CmdArgs {
    /// The config file: where the daemon's control socket is.
    #[command(flatten)]
    pub config: super::ConfigArg,
    /// The command: ping, status, context, reload, output, inputs, read-window, send, print,
    /// print-status, print-decide.
    pub name: String,
    /// Its arguments: positional (see the list above) or key=value.
    pub args: Vec<String>,
}

/// The positional argument names of each command, in order.
fn positional(name: &str) -> &'static [&'static str] {
    match name {
        "output" => &["device", "line", "state"],
        "read-window" => &["device", "action"],
        "inputs" => &["device"],
        "context" => &["device"],
        "send" => &["device", "data"],
        "print" => &["device", "template", "key"],
        "print-status" => &["key"],
        "print-decide" => &["key", "decision"],
        _ => &[],
    }
}

/// The command's arguments as the JSON object the router takes.
pub fn arguments(name: &str, args: &[String]) -> Result<Map<String, Value>, String> {
    let mut object = Map::new();
    let mut names = positional(name).iter();
    for arg in args {
        let (key, value) = match arg.split_once('=') {
            Some((key, value)) if !key.is_empty() && !key.contains(' ') => {
                let value = serde_json::from_str(value).unwrap_or(Value::String(value.into()));
                if let Some(var) = key.strip_prefix("var.") {
                    let vars = object
                        .entry("vars")
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(vars) = vars {
                        vars.insert(var.to_string(), value);
                    }
                    continue;
                }
                (key.to_string(), value)
            }
            _ => {
                let Some(key) = names.next() else {
                    return Err(format!(
                        "{arg:?}: `{name}` takes no more positional arguments; give key=value"
                    ));
                };
                (key.to_string(), Value::String(arg.clone()))
            }
        };
        object.insert(key, value);
    }
    Ok(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positional_and_key_value_arguments_make_the_request() {
        let args: Vec<String> = ["light-1", "buzzer", "off", "for_ms=300"]
            .map(String::from)
            .to_vec();
        let object = arguments("output", &args).unwrap();
        assert_eq!(
            Value::Object(object),
            serde_json::json!({"device": "light-1", "line": "buzzer", "state": "off", "for_ms": 300})
        );
        let object =
            arguments("context", &["s1".into(), r#"set={"biz_step":"x"}"#.into()]).unwrap();
        assert_eq!(object["set"]["biz_step"], "x");
        assert!(arguments("ping", &["extra".into()]).is_err());
        let object = arguments(
            "print",
            &[
                "p1",
                "case",
                "k-1",
                "var.lot=A17",
                "var.count=12",
                "copies=2",
            ]
            .map(String::from),
        )
        .unwrap();
        assert_eq!(
            Value::Object(object),
            serde_json::json!({"device": "p1", "template": "case", "key": "k-1",
                "vars": {"lot": "A17", "count": 12}, "copies": 2})
        );
    }
}
