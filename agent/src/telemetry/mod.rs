//! Live figures written by every part of the daemon and read by status, metrics, the uplink
//! and the commissioning tools: the uplink's, each device's, the commands', commit latency,
//! liveness probes and log rate limits.
//!
//! A leaf: it imports nothing of the daemon, so that capture, the outbox, the uplink and the
//! print queue can all write here without importing the status report that reads it
//! (`ops::status`).

pub mod broker;
pub mod commands;
pub mod devices;
pub mod health;
pub mod latency;
pub mod live;
pub mod page;
pub mod rate;
pub mod repository;
pub mod throttle;

pub use broker::{BrokerReport, BrokerStatus, RefusalReport};
pub use commands::{CommandReport, CommandStats};
pub use devices::{
    DeviceRegistry, DeviceReport, DeviceStatus, InputReport, PrinterReport, RfidCounters,
    RfidReport,
};
pub use page::{PageReport, PageStats};
pub use repository::{Failure, LimitsReport, RepositoryReport, RepositoryStatus};
pub use throttle::{SharedThrottle, Throttle, Throttled, Throttles};
