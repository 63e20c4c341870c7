//! The config loader on arbitrary text: an error with a line, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracegate::config::{Config, ConfigError};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let kinds = tracegate::capture::devices::builtin();
    match Config::parse(std::path::Path::new("/fuzz/tracegate.toml"), text, &kinds) {
        Ok(_) => {}
        Err(ConfigError::Invalid { line, .. }) => assert!(line >= 1 && line <= text.lines().count() + 1),
        Err(ConfigError::Read { .. }) => unreachable!("nothing is read"),
    }
});
