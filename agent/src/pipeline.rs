//! From device events to captured events: the only place that decides what a read means.
//!
//! ```text
//!  drivers ──DeviceEvent──▶ pipeline ──NewEvent──▶ store (group commit)
//!                              │                       │ outcome, in order
//!                              └── pending appends ──▶ feedback: counters, logs, latency
//! ```
//!
//! The pipeline never waits for a commit: it hands the pending append to the feedback task
//! and takes the next read, so a slow fsync delays confirmations, not capture.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;
use tracegate_drivers::DeviceEvent;

use crate::config::Config;
use crate::event;
use crate::status::{DeviceRegistry, DeviceStatus};
use crate::store::{AppendOutcome, PendingAppend, Store};

/// A read waiting for its commit.
struct Pending {
    device: Arc<DeviceStatus>,
    append: PendingAppend,
    read_at: Instant,
}

/// The capture pipeline.
pub struct Pipeline {
    config: Arc<Config>,
    store: Store,
    devices: DeviceRegistry,
}

impl Pipeline {
    /// A pipeline writing to `store` and counting into `devices`.
    pub fn new(config: Arc<Config>, store: Store, devices: DeviceRegistry) -> Self {
        Pipeline {
            config,
            store,
            devices,
        }
    }

    /// Processes device events until every driver has dropped its sender, then waits until
    /// every read has its outcome.
    pub async fn run(self, mut events: mpsc::Receiver<DeviceEvent>) {
        let (pending_tx, pending_rx) = mpsc::channel::<Pending>(8192);
        let feedback = tokio::spawn(feedback(pending_rx));
        while let Some(event) = events.recv().await {
            let Some(device) = self.devices.get(event.device()).cloned() else {
                tracing::warn!(device = %event.device(), "event from an unknown device ignored");
                continue;
            };
            match event {
                DeviceEvent::Read(read) => {
                    device.read();
                    let new_event = event::capture::observe(&read, &self.config.location);
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
