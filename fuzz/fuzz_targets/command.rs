//! Platform commands on arbitrary payloads, and their replies: never a panic, every request
//! answered (an id that cannot be read gets the `_` reply topic), a reply always JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracegate::commands::request;
use tracegate::uplink::wire::reply;

const NAMES: [&str; 9] = [
    "ping", "status", "context", "reload", "output", "read-window", "send", "", "x/y",
];

fuzz_target!(|data: &[u8]| {
    let Some((&which, payload)) = data.split_first() else {
        return;
    };
    let name = NAMES[which as usize % NAMES.len()];
    let parsed = request::parse(name, payload);
    let outcome = match &parsed.command {
        Ok(_) => Ok(Some(serde_json::json!({}))),
        Err(e) => Err(e.clone()),
    };
    let answer = reply(parsed.id.as_deref(), name, outcome);
    assert!(!answer.id.is_empty());
    assert!(!answer.id.contains(['/', '+', '#']), "{}", answer.id);
    serde_json::from_slice::<serde_json::Value>(&answer.payload).expect("a reply is JSON");
});
