//! Releasing held reads once the clock can be trusted (see [`crate::clock`]), and remembering
//! the last time it could, so that reads of a later boot without sync get a floor.
//!
//! The pipeline decides what a held read becomes — its corrected time, its event, its eventID
//! — and hands the store the rows to replace ([`Released`]); the store runs no event code.
//!
//! ```text
//!  clock synced ──▶ read a batch of held rows (own connection) ──▶ re-time, re-hash
//!        ▲                                                            │
//!        └──── more? ◀── store: delete each held row, insert its event, one transaction
//!
//!  looked at: every TICK while the clock is not right or reads are held; otherwise asleep
//!  until a read is held or the last good time is due to be saved (SAVE_EVERY)
//! ```

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

use crate::capture::event::build::EventBuilder;
use crate::clock::{self, Clock};
use crate::config::ClockConfig;
use crate::outbox::store::{HeldRow, NewEvent, Released, Store};
use tracegate_epcis::model::Event;

/// Setting holding the last time the clock was known good, Unix ms.
pub const LAST_GOOD: &str = "clock.last_good_ms";

/// Held reads released per transaction.
const BATCH: usize = 2000;

/// How often the clock is looked at.
const TICK: Duration = Duration::from_secs(2);

/// How often the last good time is saved while the clock is right.
const SAVE_EVERY: Duration = Duration::from_secs(60);

/// How often the operator is reminded, in the log, that reads are held.
const REMIND_EVERY: Duration = Duration::from_secs(3600);

/// Releases held reads whenever the clock is right (and, with `max_hold_s`, those held too
/// long while it is not), until `cancel`.
pub async fn run(
    store: Store,
    builder: EventBuilder,
    clock: Arc<dyn Clock>,
    config: ClockConfig,
    cancel: CancellationToken,
) {
    let mut last_saved: Option<tokio::time::Instant> = None;
    let mut last_warned: Option<tokio::time::Instant> = None;
    let mut was_synced = None;
    let mut held = store.watch_stats();
    loop {
        let synced = clock.synced();
        if was_synced != Some(synced) && synced {
            tracing::info!("wall clock trusted (synchronised); reads are dated by it");
        }
        if !synced
            && (was_synced != Some(false)
                || last_warned.is_none_or(|t| t.elapsed() >= REMIND_EVERY))
        {
            tracing::warn!(
                now = %clock.now(),
                held = store.stats().held,
                "wall clock NOT synchronised: {}",
                crate::clock::advice(&config, clock.now())
            );
            last_warned = Some(tokio::time::Instant::now());
        }
        was_synced = Some(synced);
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
        } else if let Some(max_hold_s) = config.max_hold_s
            && store.stats().held > 0
        {
            release_expired(&store, &builder, &clock, max_hold_s).await;
        }
        // With the clock right and nothing held there is nothing to look at until a read is
        // held or the last good time is due to be saved: no wake-up every TICK on a gateway
        // that runs on a battery. (A clock that loses sync shows when the pipeline holds a
        // read.) Otherwise the clock is looked at every TICK.
        let idle = synced && store.stats().held == 0;
        let wait = match (idle, last_saved) {
            (true, Some(saved)) => SAVE_EVERY.saturating_sub(saved.elapsed()),
            _ => TICK,
        };
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(wait) => {}
            alive = async { held.wait_for(|s| s.held > 0).await.is_ok() }, if idle => {
                if !alive {
                    // The store is gone (shutting down): no busy loop on a closed channel.
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep(TICK) => {}
                    }
                }
            }
        }
    }
}

/// Releases, flagged as estimated, the reads held longer than `max_hold_s` while the clock is
/// still not synchronised. A read's age is measured on the boot clock (the wall clock is
/// what is in doubt); a read of an earlier boot is older than this boot's uptime, and is
/// released once that exceeds `max_hold_s`.
pub async fn release_expired(
    store: &Store,
    builder: &EventBuilder,
    clock: &Arc<dyn Clock>,
    max_hold_s: u64,
) -> usize {
    let max_hold_ns = i64::try_from(max_hold_s.saturating_mul(1_000_000_000)).unwrap_or(i64::MAX);
    let now_ns = clock.boottime_ns();
    let boot = clock.boot_id();
    release_where(
        store,
        builder,
        clock,
        |row| {
            let held_from = if *row.boot_id == *boot {
                row.boottime_ns
            } else {
                0
            };
            now_ns.saturating_sub(held_from) >= max_hold_ns
        },
        true,
    )
    .await
}

/// Releases every held read now (the clock is right); returns how many.
pub async fn release_all(store: &Store, builder: &EventBuilder, clock: &Arc<dyn Clock>) -> usize {
    release_where(store, builder, clock, |_| true, false).await
}

/// Releases the held reads `due` selects, in hold order; `estimate` dates each by its own
/// wall time (flagged) instead of correcting it by the synchronised clock.
async fn release_where(
    store: &Store,
    builder: &EventBuilder,
    clock: &Arc<dyn Clock>,
    due: impl Fn(&HeldRow) -> bool,
    estimate: bool,
) -> usize {
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
            .filter(|row| due(row))
            .filter_map(|row| {
                Some(Released {
                    held_id: row.id,
                    event: released_event(builder, &**clock, last_good, row, estimate)?,
                })
            })
            .collect();
        if !released.is_empty() {
            total += store.release(released).await;
        }
        if !full {
            break;
        }
    }
    if total > 0 && estimate {
        tracing::warn!(
            released = total,
            "held reads released after [clock] max_hold_s with their own, unsynchronised times (flagged tg:timeEstimated)"
        );
    } else if total > 0 {
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
    estimate: bool,
) -> Option<NewEvent> {
    let mut event: Event = match serde_json::from_str(&row.draft) {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(held = row.id, "held read cannot be released: {e}");
            return None;
        }
    };
    let corrected = if estimate {
        None
    } else {
        clock::corrected_time(clock, &row.boot_id, row.boottime_ns)
    };
    let (at, estimated): (Timestamp, bool) = match corrected {
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
