//! Operating the daemon: what it reports (status, metrics, logs), how systemd supervises it,
//! and the control socket local tools talk to.

pub mod logging;
pub mod memory;
pub mod metrics;
pub mod status;
pub mod systemd;
