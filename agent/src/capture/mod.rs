//! The capture domain: from a device's bytes to an acknowledged EPCIS event, and the commands
//! that flow back to the devices.
//!
//! ```text
//!  devices ──DeviceEvent──▶ pipeline ──▶ store (outbox) ──▶ sync (MQTT)
//!     ▲                    (identify,                          │
//!     └──── commands ◀──── event, feedback) ◀──── commands ◀───┘
//! ```

pub mod contexts;
pub mod devices;
pub mod event;
pub mod feedback;
pub mod pipeline;
pub mod rfid;
