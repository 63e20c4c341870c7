//! The running devices: each one's tasks, its stop switch and its command inbox.
//!
//! [`Devices`] starts and stops devices one at a time (at start-up, at shutdown, and for a
//! reload: a removed device is stopped, a changed one stopped and started again, the others
//! left running). [`Routes`] is the one map from a device id to its command inbox, shared by
//! the command router and operator feedback, so that after a restart every sender finds the
//! new inbox.
//!
//! ```text
//!  start(config) ──▶ Running { tasks, cancel } ──stop(id): cancel, join every task──▶ gone
//!        │                 ▲ inbox in Routes          (its reads are all in the pipeline's
//!        └── route added ──┘                           channel when stop returns)
//! ```

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracegate_drivers::{CommandRequest, Commands, DeviceEvent};

use super::Start;
use crate::config::DeviceConfig;

/// Commands queued per device before further ones are refused as busy. Operator feedback
/// (a tone per read) shares the queue with the platform's commands; at a scanner's pace a
/// full queue means the device is not taking commands at all.
pub const INBOX: usize = 64;

/// Why a command could not be queued for a device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// No device has that id.
    #[error("no device {0:?}")]
    NoDevice(String),
    /// Its inbox is full: it is not taking commands as fast as they come.
    #[error("device {0:?} is busy: {INBOX} commands are already waiting for it")]
    Busy(String),
    /// The device is stopping (shutdown or reload).
    #[error("device {0:?} is stopping")]
    Stopping(String),
}

/// Device id → command inbox, for every running device.
#[derive(Debug, Clone, Default)]
pub struct Routes(Arc<RwLock<HashMap<Arc<str>, mpsc::Sender<CommandRequest>>>>);

impl Routes {
    /// Queues `request` for `device` without waiting.
    pub fn try_send(&self, device: &str, request: CommandRequest) -> Result<(), RouteError> {
        let map = self.0.read().unwrap_or_else(|p| p.into_inner());
        let Some(inbox) = map.get(device) else {
            return Err(RouteError::NoDevice(device.to_string()));
        };
        inbox.try_send(request).map_err(|e| match e {
            TrySendError::Full(_) => RouteError::Busy(device.to_string()),
            TrySendError::Closed(_) => RouteError::Stopping(device.to_string()),
        })
    }

    /// Ids of the running devices, sorted.
    pub fn ids(&self) -> Vec<Arc<str>> {
        let map = self.0.read().unwrap_or_else(|p| p.into_inner());
        let mut ids: Vec<_> = map.keys().cloned().collect();
        ids.sort();
        ids
    }

    pub(crate) fn insert(&self, id: Arc<str>, inbox: mpsc::Sender<CommandRequest>) {
        let mut map = self.0.write().unwrap_or_else(|p| p.into_inner());
        map.insert(id, inbox);
    }

    pub(crate) fn remove(&self, id: &str) {
        let mut map = self.0.write().unwrap_or_else(|p| p.into_inner());
        map.remove(id);
    }
}

/// One running device.
struct Running {
    config: DeviceConfig,
    cancel: CancellationToken,
    tasks: JoinSet<()>,
}

/// The running devices.
pub struct Devices {
    running: HashMap<Arc<str>, Running>,
    events: mpsc::Sender<DeviceEvent>,
    routes: Routes,
}

impl Devices {
    /// No devices yet; those started report into `events` (the pipeline).
    pub fn new(events: mpsc::Sender<DeviceEvent>) -> Self {
        Devices {
            running: HashMap::new(),
            events,
            routes: Routes::default(),
        }
    }

    /// The command routes of the running devices.
    pub fn routes(&self) -> Routes {
        self.routes.clone()
    }

    /// The config a running device was started with.
    pub fn config(&self, id: &str) -> Option<&DeviceConfig> {
        self.running.get(id).map(|r| &r.config)
    }

    /// Starts `device` (its driver, and its simulator for a simulated kind).
    pub fn start(&mut self, device: &DeviceConfig) -> std::io::Result<()> {
        let (inbox, commands) = mpsc::channel(INBOX);
        let cancel = CancellationToken::new();
        let mut tasks = JoinSet::new();
        device.settings.start(Start {
            id: device.id.clone(),
            events: self.events.clone(),
            commands: Commands::new(commands),
            cancel: cancel.clone(),
            tasks: &mut tasks,
        })?;
        self.routes.insert(device.id.clone(), inbox);
        self.running.insert(
            device.id.clone(),
            Running {
                config: device.clone(),
                cancel,
                tasks,
            },
        );
        Ok(())
    }

    /// Stops device `id` and waits until every one of its tasks has ended, so that every
    /// read it made is already in the pipeline's channel.
    pub async fn stop(&mut self, id: &str) {
        self.routes.remove(id);
        if let Some(mut running) = self.running.remove(id) {
            running.cancel.cancel();
            while running.tasks.join_next().await.is_some() {}
        }
    }

    /// Stops every device (in parallel: a slow one does not hold up the others).
    pub async fn stop_all(&mut self) {
        let all: Vec<Running> = self.running.drain().map(|(_, r)| r).collect();
        for running in &all {
            self.routes.remove(&running.config.id);
            running.cancel.cancel();
        }
        for mut running in all {
            while running.tasks.join_next().await.is_some() {}
        }
    }
}
