//! `tracegate events tail`: the newest events in the outbox, as JSON lines; `tracegate events
//! export`: events from the outbox as one EPCIS 2.0 document, exactly as they are published.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use crate::outbox::store::salvage;
use crate::outbox::store::{EventRow, OutboxReader};
use tracegate_epcis::document::write_document;

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

/// Runs `events tail` against the outbox at `path`. A damaged file (one moved aside as
/// unusable) is read row by row, as salvage reads it, with a note of what could not be read.
pub fn tail(path: &std::path::Path, args: &TailArgs) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let opened = OutboxReader::open(path).and_then(|mut reader| {
        let rows = reader.tail(args.lines, args.undelivered)?;
        Ok((reader, rows))
    });
    let (mut reader, rows) = match opened {
        Ok(opened) => opened,
        Err(e) => return tail_damaged(path, args, &e, &mut out),
    };
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

/// `events tail` on a file SQLite refuses to query normally.
fn tail_damaged(
    path: &std::path::Path,
    args: &TailArgs,
    error: &rusqlite::Error,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let conn = salvage::open(path)
        .map_err(|e| anyhow::anyhow!("cannot read the outbox {}: {e}", path.display()))?;
    let found = salvage::read(&conn);
    if found.events.is_empty() {
        anyhow::bail!(
            "cannot read the outbox {}: {error}; no event row could be read from it{}",
            path.display(),
            found.failed.map(|f| format!(" ({f})")).unwrap_or_default()
        );
    }
    eprintln!(
        "note: {} is damaged ({error}); showing the rows that can still be read ({} rows unreadable)",
        path.display(),
        found.unreadable
    );
    let rows: Vec<EventRow> = found
        .events
        .into_iter()
        .filter(|e| !args.undelivered || e.delivered_at.is_none())
        .map(|e| EventRow {
            seq: e.seq,
            event_id: e.event_id,
            captured_at_ms: e.captured_at,
            device: e.device,
            body: e.body,
            delivered_at_ms: e.delivered_at,
        })
        .collect();
    for row in &rows[rows.len().saturating_sub(args.lines)..] {
        writeln!(out, "{}", row_json(row))?;
    }
    Ok(())
}

/// Arguments of `events set-aside`.
#[derive(Debug, clap::Args)]
pub struct SetAsideArgs {
    /// Config file (its store.path is the outbox).
    #[arg(short, long, env = "TRACEGATE_CONFIG", default_value = crate::cli::DEFAULT_CONFIG, conflicts_with = "db")]
    pub config: PathBuf,
    /// Read this outbox file instead.
    #[arg(long)]
    pub db: Option<PathBuf>,
}

/// Runs `events set-aside`: every event that could not be published, one JSON object a line
/// (`seq`, `event_id`, `captured_at`, `device`, `reason`, `set_aside_at`, `event`).
pub fn set_aside(path: &std::path::Path, mut out: impl Write) -> anyhow::Result<usize> {
    let mut reader = OutboxReader::open(path)
        .map_err(|e| anyhow::anyhow!("cannot read the outbox {}: {e}", path.display()))?;
    let rows = reader.set_aside()?;
    let at = |ms: i64| {
        jiff::Timestamp::from_millisecond(ms)
            .map(|t| format!("{t:.3}"))
            .ok()
    };
    for row in &rows {
        let event: Value =
            serde_json::from_str(&row.body).unwrap_or(Value::String(row.body.clone()));
        let line = json!({
            "seq": row.seq,
            "event_id": row.event_id,
            "captured_at": at(row.captured_at),
            "device": row.device,
            "reason": row.reason,
            "set_aside_at": at(row.set_aside_at),
            "event": event,
        });
        writeln!(out, "{line}")?;
    }
    Ok(rows.len())
}

/// Arguments of `events export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Config file (its store.path is the outbox).
    #[arg(short, long, env = "TRACEGATE_CONFIG", default_value = crate::cli::DEFAULT_CONFIG, conflicts_with = "db")]
    pub config: PathBuf,
    /// Read this outbox file instead (for example one moved aside as unusable).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Only events that happened at or after this time: RFC 3339 (`2026-11-26T08:00:00Z`) or
    /// a span back from now (`2h`, `3 days`).
    #[arg(long, value_parser = parse_since)]
    pub since: Option<jiff::Timestamp>,
    /// Only events that happened before this time (same forms as --since).
    #[arg(long, value_parser = parse_since)]
    pub until: Option<jiff::Timestamp>,
    /// Only events of this device.
    #[arg(long)]
    pub device: Option<String>,
    /// Only events the broker has not acknowledged yet (what the platform has not got).
    #[arg(long)]
    pub undelivered: bool,
}

/// A time: RFC 3339, or a span before now.
fn parse_since(text: &str) -> Result<jiff::Timestamp, String> {
    if let Ok(t) = text.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    let span: jiff::Span = text.parse().map_err(|_| {
        format!(
            "{text:?} is neither an RFC 3339 time (2026-11-26T08:00:00Z) nor a span (2h, 3 days)"
        )
    })?;
    jiff::Timestamp::now()
        .checked_sub(span.abs())
        .or_else(|_| {
            jiff::ZonedDateTime::now()
                .checked_sub(span.abs())
                .map(|z| z.timestamp())
        })
        .map_err(|e| format!("{text:?}: {e}"))
}

/// Runs `events export` against the outbox at `path`, writing the document to `out`.
pub fn export(path: &std::path::Path, args: &ExportArgs, out: impl Write) -> anyhow::Result<u64> {
    let mut reader = OutboxReader::open(path)
        .map_err(|e| anyhow::anyhow!("cannot read the outbox {}: {e}", path.display()))?;
    let since = args.since.map(|t| t.as_millisecond());
    let until = args.until.map(|t| t.as_millisecond());
    let mut last = 0;
    let mut batch: std::vec::IntoIter<EventRow> = Vec::new().into_iter();
    let rows = std::iter::from_fn(move || -> Option<std::io::Result<String>> {
        loop {
            if let Some(row) = batch.next() {
                last = row.seq;
                let wanted = since.is_none_or(|s| row.captured_at_ms >= s)
                    && until.is_none_or(|u| row.captured_at_ms < u)
                    && args.device.as_deref().is_none_or(|d| d == row.device);
                if wanted {
                    return Some(Ok(row.body));
                }
                continue;
            }
            match reader.after(last, 2000, args.undelivered) {
                Ok(rows) if rows.is_empty() => return None,
                Ok(rows) => batch = rows.into_iter(),
                Err(e) => return Some(Err(std::io::Error::other(e))),
            }
        }
    });
    Ok(write_document(out, jiff::Timestamp::now(), rows)?)
}
