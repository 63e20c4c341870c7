//! Log output: readable on a terminal, one line per event under systemd/journald.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. The level comes from `TRACEGATE_LOG` (then `RUST_LOG`),
/// in `tracing`'s filter syntax, default `info`.
pub fn init() {
    let filter = EnvFilter::try_from_env("TRACEGATE_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    if std::io::stderr().is_terminal() {
        builder.compact().init();
    } else if std::env::var_os("JOURNAL_STREAM").is_some() {
        // journald stamps each line itself.
        builder.with_ansi(false).without_time().init();
    } else {
        builder.with_ansi(false).init();
    }
}
