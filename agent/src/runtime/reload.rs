//! Reload without losing an event: SIGHUP and the `reload` command load the config file
//! again and apply what changed, device by device.
//!
//! ```text
//!  load the file ── fails ──▶ refused: the check-config message, in the log and the reply;
//!       │                      the running config carries on
//!       ▼
//!  sections that only a restart applies ([store], [mqtt], …) changed? ──▶ said, left as they are
//!       ▼
//!  removed and changed devices stopped (every read they made is queued for the pipeline)
//!       ▼
//!  status entries, contexts, then the pipeline's stations (after the queued reads)
//!       ▼
//!  changed and added devices started ──▶ outbox flushed (reads in flight committed) ──▶ report
//! ```
//!
//! Unchanged devices keep running throughout: a scanner at one door does not notice that a
//! light was added at another.

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::capture::contexts::ContextRegistry;
use crate::capture::devices::Devices;
use crate::capture::pipeline::Reconfigure;
pub use crate::commands::reload::{ReloadReport, ReloadRequest};
use crate::config::Config;
use crate::outbox::store::Store;
use crate::telemetry::DeviceRegistry;

/// What a reload changes.
pub struct Reloader {
    /// The config in force.
    pub config: Arc<Config>,
    /// The running devices.
    pub devices: Devices,
    /// The status entries.
    pub registry: DeviceRegistry,
    /// The business contexts.
    pub contexts: ContextRegistry,
    /// The pipeline's reconfiguration channel.
    pub pipeline: mpsc::Sender<Reconfigure>,
    /// The outbox.
    pub store: Store,
}

impl Reloader {
    /// Loads the config file again and applies it; the error is the file's, as check-config
    /// prints it.
    pub async fn reload(&mut self) -> Result<ReloadReport, String> {
        let path = self.config.source.clone();
        let mut next = match Config::load(&path, &crate::capture::devices::builtin()) {
            Ok(next) => next,
            Err(e) => {
                tracing::error!("reload refused, the running configuration carries on: {e}");
                return Err(format!(
                    "reload refused, the running configuration carries on: {e}"
                ));
            }
        };
        let mut report = ReloadReport::default();
        let names: BTreeSet<&String> = self
            .config
            .sections
            .keys()
            .chain(next.sections.keys())
            .collect();
        for name in names {
            // [location] reaches the devices through their contexts (part of their
            // fingerprints): it is applied by restarting the devices it changes.
            if name != "location" && self.config.sections.get(name) != next.sections.get(name) {
                report.restart_required.push(name.clone());
            }
        }
        // Still pending next time: keep the running values' text for those sections.
        for name in &report.restart_required {
            match self.config.sections.get(name) {
                Some(running) => next.sections.insert(name.clone(), running.clone()),
                None => next.sections.remove(name),
            };
        }

        let mut stop = Vec::new();
        let mut start = Vec::new();
        for device in &next.devices {
            match self.config.device(&device.id) {
                None => {
                    report.added.push(device.id.to_string());
                    start.push(device.clone());
                }
                Some(old) if old.fingerprint != device.fingerprint || old.kind != device.kind => {
                    report.restarted.push(device.id.to_string());
                    stop.push(device.id.clone());
                    start.push(device.clone());
                }
                Some(_) => report.unchanged.push(device.id.to_string()),
            }
        }
        for old in &self.config.devices {
            if next.device(&old.id).is_none() {
                report.removed.push(old.id.to_string());
                stop.push(old.id.clone());
            }
        }
        // A device that failed to start last time is not running: start it now.
        for device in &next.devices {
            if self.devices.config(&device.id).is_none() && !start.iter().any(|d| d.id == device.id)
            {
                start.push(device.clone());
            }
        }

        for id in &stop {
            self.devices.stop(id).await;
        }
        let next = Arc::new(next);
        self.registry.set(next.device_kinds());
        self.contexts.set_devices(&next).await;
        let (done, applied) = oneshot::channel();
        if self
            .pipeline
            .send(Reconfigure {
                config: next.clone(),
                done,
            })
            .await
            .is_ok()
        {
            let _ = applied.await;
        }
        for device in &start {
            if let Err(e) = self.devices.start(device) {
                tracing::error!(device = %device.id, "cannot start device: {e}");
                report.failed.push(format!("{}: {e}", device.id));
                if let Some(status) = self.registry.get(&device.id) {
                    status.set_state(
                        tracegate_drivers::DeviceState::Down,
                        Some(format!("cannot start: {e}")),
                    );
                }
            }
        }
        // Reads the stopped devices made are committed before the reload is reported done.
        self.store.flush().await;
        self.config = next;
        tracing::info!(
            added = ?report.added,
            removed = ?report.removed,
            restarted = ?report.restarted,
            unchanged = report.unchanged.len(),
            "configuration reloaded"
        );
        if !report.restart_required.is_empty() {
            tracing::warn!(
                sections = ?report.restart_required,
                "these settings changed in the file but apply only at a restart (systemctl restart tracegate); the running values stay"
            );
        }
        Ok(report)
    }
}
