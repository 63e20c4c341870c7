//! `tracegate events tail`: the newest events in the outbox, as JSON lines.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use crate::store::{EventRow, OutboxReader};

/// Arguments of `events tail`.
#[derive(Debug, clap::Args)]
pub struct TailArgs {
    /// Config file (its store.path is the outbox).
    #[arg(short, long, env = "TRACEGATE_CONFIG", default_value = crate::cli::DEFAULT_CONFIG, conflicts_with = "db")]
    pub config: PathBuf,
    /// Read this outbox file instead (for example one moved aside as unusable).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Only events the broker has not acknowledged yet.
    #[arg(long)]
    pub undelivered: bool,
    /// How many events.
    #[arg(short = 'n', long, default_value_t = 20)]
    pub lines: usize,
    /// Keep printing new events as they are captured.
    #[arg(short, long)]
    pub follow: bool,
}

/// One outbox row as printed: bookkeeping plus the event itself.
pub fn row_json(row: &EventRow) -> Value {
    let at = |ms: i64| {
        jiff::Timestamp::from_millisecond(ms)
            .map(|t| format!("{t:.3}"))
            .ok()
    };
    json!({
        "seq": row.seq,
        "event_id": row.event_id,
        "captured_at": at(row.captured_at_ms),
        "device": row.device,
        "delivered_at": row.delivered_at_ms.and_then(at),
        "event": serde_json::from_str::<Value>(&row.body).unwrap_or(Value::String(row.body.clone())),
    })
}

/// Runs `events tail` against the outbox at `path`.
pub fn tail(path: &std::path::Path, args: &TailArgs) -> anyhow::Result<()> {
    let mut reader = OutboxReader::open(path)
        .map_err(|e| anyhow::anyhow!("cannot read the outbox {}: {e}", path.display()))?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let rows = reader.tail(args.lines, args.undelivered)?;
    let mut last = rows.last().map(|r| r.seq).unwrap_or(0);
    for row in &rows {
        writeln!(out, "{}", row_json(row))?;
    }
    out.flush()?;
    if !args.follow {
        return Ok(());
    }
    loop {
        std::thread::sleep(Duration::from_millis(500));
        for row in reader.after(last, 1000, args.undelivered)? {
            last = row.seq;
            writeln!(out, "{}", row_json(&row))?;
        }
        out.flush()?;
    }
}
