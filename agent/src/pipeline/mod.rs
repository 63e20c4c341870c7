//! From device events to captured events: the only place that decides what a read means.
//!
//! ```text
//!  drivers ──DeviceEvent──▶ pipeline ──NewEvent──▶ store (group commit)
//!                              │                       │ outcome, in order
//!                              └── pending appends ──▶ feedback: counters, logs, latency
//! ```
//!
//! Every read is decoded and judged by its device's capture settings ([`verdict`]): accepted
//! reads become events; rejected ones are refused (not recorded, the operator is told at once
//! so the item can be rescanned while still in hand) or, with `on_reject = "flag"`, recorded
//! as events that carry the error.
//!
//! The pipeline never waits for a commit: it hands the pending append to the feedback task
//! and takes the next read, so a slow fsync delays confirmations, not capture.

pub mod verdict;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;
use tracegate_drivers::DeviceEvent;

use crate::config::{CaptureSettings, Config, OnReject};
use crate::event;
use crate::status::{DeviceRegistry, DeviceStatus};
use crate::store::{AppendOutcome, PendingAppend, Store};
use verdict::Verdict;

/// A read waiting for its commit.
struct Pending {
    device: Arc<DeviceStatus>,
    append: PendingAppend,
    read_at: Instant,
}

/// What the pipeline knows about one device.
struct Station {
    status: Arc<DeviceStatus>,
    capture: CaptureSettings,
}

/// The capture pipeline.
pub struct Pipeline {
    config: Arc<Config>,
    store: Store,
    stations: HashMap<Arc<str>, Station>,
}

impl Pipeline {
    /// A pipeline writing to `store` and counting into `devices`.
    pub fn new(config: Arc<Config>, store: Store, devices: DeviceRegistry) -> Self {
        let stations = config
            .devices
            .iter()
            .filter_map(|d| {
                let status = devices.get(&d.id)?.clone();
                let capture = d.capture.clone();
                Some((d.id.clone(), Station { status, capture }))
            })
            .collect();
        Pipeline {
            config,
            store,
            stations,
        }
    }

    /// Processes device events until every driver has dropped its sender, then waits until
    /// every read has its outcome.
    pub async fn run(self, mut events: mpsc::Receiver<DeviceEvent>) {
        let (pending_tx, pending_rx) = mpsc::channel::<Pending>(8192);
        let feedback = tokio::spawn(feedback(pending_rx));
        while let Some(event) = events.recv().await {
            let Some(station) = self.stations.get(event.device()) else {
                tracing::warn!(device = %event.device(), "event from an unknown device ignored");
                continue;
            };
            let device = station.status.clone();
            match event {
                DeviceEvent::Read(read) => {
                    device.read();
                    let verdict = verdict::judge(&read.payload, &station.capture);
                    if let Verdict::Reject { kind, error } = &verdict {
                        let refused = station.capture.on_reject == OnReject::Refuse;
                        device.rejected(error.to_string());
                        tracing::warn!(
                            device = %device.id,
                            kind = kind.as_str(),
                            error = error.kind,
                            read = %read.payload.escape_ascii(),
                            "{} read: {error}{}",
                            if refused { "REFUSED" } else { "FLAGGED" },
                            if refused { "; rescan the item" } else { "" },
                        );
                        if refused {
                            continue;
                        }
                    }
                    let new_event = event::capture::observe(&read, &self.config.location, &verdict);
                    let append = self.store.append(new_event).await;
                    let pending = Pending {
                        device,
                        append,
                        read_at: read.mono,
                    };
                    if pending_tx.send(pending).await.is_err() {
                        break;
                    }
                }
                DeviceEvent::State { state, detail, .. } => device.set_state(state, detail),
                DeviceEvent::FrameError { message, .. } => {
                    device.error();
                    tracing::warn!(device = %device.id, "bad input: {message}");
                }
            }
        }
        drop(pending_tx);
        let _ = feedback.await;
    }
}

/// Awaits each read's commit in order and reports the outcome.
async fn feedback(mut pending: mpsc::Receiver<Pending>) {
    while let Some(p) = pending.recv().await {
        match p.append.await {
            AppendOutcome::Committed { seq } => {
                tracing::trace!(device = %p.device.id, seq, latency_us = p.read_at.elapsed().as_micros() as u64, "captured");
            }
            AppendOutcome::Refused => {
                // Counted and logged (rate-limited) by the store; the device counts it too so
                // an operator sees which scanner's reads were lost.
                p.device.error();
            }
            AppendOutcome::Failed(message) => {
                p.device.error();
                tracing::error!(device = %p.device.id, "read NOT captured: {message}");
            }
        }
    }
}
