//! The reload command's request and answer: the router asks, the composition root (which owns
//! the running parts) reloads and answers.

use serde::Serialize;
use tokio::sync::oneshot;

/// A request to reload, answered with what was done or why nothing was.
#[derive(Debug)]
pub struct ReloadRequest {
    /// Where the answer goes.
    pub done: oneshot::Sender<Result<ReloadReport, String>>,
}

/// What a reload did.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ReloadReport {
    /// Devices started that were not there before.
    pub added: Vec<String>,
    /// Devices stopped that are no longer in the file.
    pub removed: Vec<String>,
    /// Devices whose settings changed: stopped and started again.
    pub restarted: Vec<String>,
    /// Devices left running untouched.
    pub unchanged: Vec<String>,
    /// Devices that could not be started, with why (they are retried by the next reload).
    pub failed: Vec<String>,
    /// Sections that changed in the file but apply only at a restart; the running values stay.
    pub restart_required: Vec<String>,
}
