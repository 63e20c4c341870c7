//! Releasing held reads once the clock can be trusted (see [`crate::capture::clock`]), and remembering
//! the last time it could, so that reads of a later boot without sync get a floor.
//!
//! The pipeline decides what a held read becomes — its corrected time, its event, its eventID
//! — and hands the store the rows to replace ([`Released`]); the store runs no event code.
//!
//! ```text
//!  clock synced ──▶ read a batch of held rows (own connection) ──▶ re-time, re-hash
//!        ▲                                                            │
//!        └──── more? ◀── store: delete each held row, insert its event, one transaction
//! ```

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

use crate::capture::clock::{self, Clock};
use crate::capture::event::build::EventBuilder;
use crate::capture::event::model::Event;
use crate::capture::store::{HeldRow, NewEvent, Released, Store};

/// Setting holding the last time the clock was known good, Unix ms.
pub const LAST_GOOD: &str = "clock.last_good_ms";

/// Held reads released per transaction.
const BATCH: usize = 2000;

/// How often the clock is looked at.
const TICK: Duration = Duration::from_secs(2);

/// How often the last good time is saved while the clock is right.
const SAVE_EVERY: Duration = Duration::from_secs(60);

/// Releases held reads whenever the clock is right, until `cancel`.
pub async fn run(
    store: Store,
    builder: EventBuilder,
    clock: Arc<dyn Clock>,
    cancel: CancellationToken,
) {
    let mut last_saved: Option<tokio::time::Instant> = None;
    let mut was_synced = None;
    loop {
        let synced = clock.synced();
        if was_synced != Some(synced) {
            if synced {
                tracing::info!("wall clock trusted (synchronised); reads are dated by it");
            } else {
                tracing::warn!(
                    now = %clock.now(),
                    "wall clock NOT synchronised: reads are held, dated by the boot clock, and published once it is"
                );
            }
            was_synced = Some(synced);
        }
        if synced {
            if last_saved.is_none_or(|t| t.elapsed() >= SAVE_EVERY) {
                let now = clock.now().as_millisecond().to_string();
                if store.set_setting(LAST_GOOD.into(), Some(now)).await.is_ok() {
                    last_saved = Some(tokio::time::Instant::now());
                }
            }
            if store.stats().held > 0 {
                release_all(&store, &builder, &clock).await;
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(TICK) => {}
        }
    }
}

/// Releases every held read now; returns how many.
pub async fn release_all(store: &Store, builder: &EventBuilder, clock: &Arc<dyn Clock>) -> usize {
    let mut reader = match store.reader() {
        Ok(reader) => reader,
        Err(e) => {
            tracing::error!("held reads cannot be read for release: {e}; retrying");
            return 0;
        }
    };
    let last_good = reader
        .setting(LAST_GOOD)
        .ok()
        .flatten()
        .and_then(|v| v.parse::<i64>().ok());
    let mut total = 0;
    let mut after = 0;
    loop {
        let rows = match reader.held_after(after, BATCH) {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!("held reads cannot be read for release: {e}; retrying");
                break;
            }
        };
        let Some(last) = rows.last() else { break };
        after = last.id;
        let full = rows.len() == BATCH;
        let released: Vec<Released> = rows
            .iter()
            .filter_map(|row| {
                Some(Released {
                    held_id: row.id,
                    event: released_event(builder, &**clock, last_good, row)?,
                })
            })
            .collect();
        total += store.release(released).await;
        if !full {
            break;
        }
    }
    if total > 0 {
        tracing::info!(released = total, "held reads released with corrected times");
    }
    total
}

/// A held read's event: the exact time within the same boot, an estimate (flagged) for an
/// earlier boot; re-hashed for its new time. `None` (logged) leaves it held.
fn released_event(
    builder: &EventBuilder,
    clock: &dyn Clock,
    last_good: Option<i64>,
    row: &HeldRow,
) -> Option<NewEvent> {
    let mut event: Event = match serde_json::from_str(&row.draft) {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(held = row.id, "held read cannot be released: {e}");
            return None;
        }
    };
    let (at, estimated): (Timestamp, bool) =
        match clock::corrected_time(clock, &row.boot_id, row.boottime_ns) {
            Some(t) => (t, false),
            None => (clock::estimated_time(row.wall_ms, last_good), true),
        };
    builder.retime(&mut event, at);
    if estimated {
        event
            .extensions_mut()
            .insert("tg:timeEstimated".into(), serde_json::Value::Bool(true));
    }
    Some(builder.finish(event, &Arc::from(row.device.as_str())))
}
