//! The capture domain: from a device's bytes to an event committed in the outbox, and the
//! operator feedback and commands that flow back to the devices.
//!
//! ```text
//!  devices ──DeviceEvent──▶ pipeline ──────────────▶ outbox ──▶ uplink (crate::uplink)
//!     ▲                    (identify, map, build,
//!     │                     hash, feedback rules)
//!     └──── feedback, commands ◀── pipeline / command router (the top-level `commands` home)
//! ```
//!
//! - [`devices`]: the kinds (one module each, capabilities declared as data) and the running
//!   devices with their command routes;
//! - [`pipeline`]: one station per input device — decode, accept or refuse, build the event,
//!   commit it, answer the scanner;
//! - [`event`]: identifiers → EPCIS URIs, the event and its CBV 2.0 eventID;
//! - [`contexts`], [`feedback`], [`rfid`]: business context per device, feedback rules,
//!   RFID smoothing and read windows;
//! - [`meaning`]: a decoded read as JSON (`tracegate decode`, the commissioning page).

pub mod contexts;
pub mod devices;
pub mod event;
pub mod feedback;
pub mod meaning;
pub mod pipeline;
pub mod rfid;
