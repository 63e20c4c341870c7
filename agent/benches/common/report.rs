//! One way for every benchmark to report a figure: a line for the reader, and (when
//! `TRACEGATE_BENCH_JSONL` names a file, as `./scripts/bench` does) a JSON line appended to
//! it, from which the script builds the markdown and JSON tables the README is pasted from.
//!
//! Each figure carries the limit it was measured against in the same run (these machines are
//! shared and noisy: a ratio holds, an absolute rate does not) and, where the project set
//! one, its target.
#![allow(dead_code)] // each bench uses part of it

use std::io::Write;

/// One measured figure.
pub struct Figure<'a> {
    /// The benchmark (`capture`, `drain`, …).
    pub bench: &'a str,
    /// What was measured, in words.
    pub what: &'a str,
    /// The value.
    pub value: f64,
    /// Its unit (`events/s`, `MiB`, `ms`, `% of a core`).
    pub unit: &'a str,
    /// The limit measured in the same run: what, and its value in the same unit.
    pub limit: Option<(&'a str, f64)>,
    /// The target, in words (`ratio ≥ 0.8`, `< 16 MiB`), and whether this run met it.
    pub target: Option<(&'a str, bool)>,
}

impl Figure<'_> {
    /// `value / limit`, when there is a limit.
    pub fn ratio(&self) -> Option<f64> {
        self.limit
            .and_then(|(_, l)| (l > 0.0).then(|| self.value / l))
    }
}

/// Prints `figure` and appends it to `$TRACEGATE_BENCH_JSONL` when set.
pub fn record(figure: Figure<'_>) {
    let mut line = format!(
        "  {:<58} {:>12} {}",
        figure.what,
        format_value(figure.value),
        figure.unit
    );
    if let Some((what, limit)) = figure.limit {
        line.push_str(&format!(
            "\n  {:<58} {:>12} {}",
            format!("  limit: {what}"),
            format_value(limit),
            figure.unit,
        ));
        if let Some(ratio) = figure.ratio() {
            line.push_str(&format!("  → ratio {ratio:.2}"));
        }
    }
    if let Some((target, met)) = figure.target {
        line.push_str(&format!(
            "  [target {target}: {}]",
            if met { "met" } else { "NOT met" }
        ));
    }
    println!("{line}");
    let Some(path) = std::env::var_os("TRACEGATE_BENCH_JSONL") else {
        return;
    };
    let json = serde_json::json!({
        "bench": figure.bench,
        "what": figure.what,
        "value": figure.value,
        "unit": figure.unit,
        "limit": figure.limit.map(|(what, _)| what),
        "limit_value": figure.limit.map(|(_, v)| v),
        "ratio": figure.ratio(),
        "target": figure.target.map(|(t, _)| t),
        "met": figure.target.map(|(_, m)| m),
    });
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .expect("TRACEGATE_BENCH_JSONL is writable");
    writeln!(file, "{json}").expect("TRACEGATE_BENCH_JSONL is writable");
}

/// A figure with sensible precision: 146800, 0.74, 12.5.
fn format_value(v: f64) -> String {
    if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Whether this is a quick run: `cargo test --benches` (the bench binaries get `--test`) or
/// `TRACEGATE_BENCH_QUICK` set (`./scripts/bench --quick`, what CI runs).
pub fn quick() -> bool {
    std::env::args().any(|a| a == "--test") || std::env::var_os("TRACEGATE_BENCH_QUICK").is_some()
}
