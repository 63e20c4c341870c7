//! What a driver hands to the pipeline: raw reads, link-state changes, input edges and
//! output levels.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;

/// One read as the device delivered it: the payload bytes exactly as framed (AIM prefix, GS
/// separators and any other control bytes kept), plus what the transport knows about it.
#[derive(Debug, Clone)]
pub struct RawRead {
    /// The configured id of the device that produced the read.
    pub device: Arc<str>,
    /// Wall-clock time at which the frame was complete.
    pub at: SystemTime,
    /// Monotonic time at which the frame was complete; used for latency figures and to correct
    /// `at` when the wall clock was not yet synchronised.
    pub mono: Instant,
    /// The payload, without the frame terminator and configured prefix/suffix.
    pub payload: Bytes,
    /// Transport-level facts about the read (symbology from a HID report, antenna, RSSI).
    pub meta: ReadMeta,
}

/// Transport-level metadata a driver may know about a read. Fields a transport cannot know stay
/// `None`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadMeta {
    /// AIM symbology identifier (`]C1`, `]d2`, …) when the transport carries it out of band, as
    /// HID POS reports do. Serial scanners send it in-band as a payload prefix instead.
    pub symbology: Option<String>,
    /// Antenna port number of an RFID reader.
    pub antenna: Option<u16>,
    /// Received signal strength in dBm, for RFID reads.
    pub rssi_dbm: Option<f32>,
    /// The device's own time of the read (an RFID reader's first-seen timestamp), when it
    /// reports one; `RawRead::at` stays the gateway's.
    pub device_time: Option<SystemTime>,
    /// How often the device saw the item in this report (an RFID reader's tag seen count).
    pub seen_count: Option<u32>,
}

/// Link state of a device as its driver sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceState {
    /// The driver is trying to open or connect to the device.
    Connecting,
    /// The device is open and reads can arrive.
    Up,
    /// The device is gone (unplugged, refused, errored); the driver retries with backoff.
    Down,
    /// The driver has stopped (shutdown).
    Stopped,
}

impl DeviceState {
    /// Lower-case name used in status output and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceState::Connecting => "connecting",
            DeviceState::Up => "up",
            DeviceState::Down => "down",
            DeviceState::Stopped => "stopped",
        }
    }
}

/// Everything a driver reports, in the order it happened.
#[derive(Debug, Clone)]
pub enum DeviceEvent {
    /// A complete frame was read.
    Read(RawRead),
    /// The link changed state; `detail` says why (the OS error, "unplugged", …).
    State {
        /// Which device.
        device: Arc<str>,
        /// The new state.
        state: DeviceState,
        /// Human-readable reason, for status and logs.
        detail: Option<String>,
    },
    /// Bad input the driver discarded (over-long frame, incomplete frame at unplug, bad report).
    /// Counted as a device error; the device carries on.
    FrameError {
        /// Which device.
        device: Arc<str>,
        /// What was wrong, in words an integrator can act on.
        message: String,
    },
    /// What an output line shows changed (a command or rule set or cleared a layer, a layer
    /// ended, the session ended and the line went to its safe state). Not sent for each step
    /// of a blink: a blinking line is one event.
    Output {
        /// Which device.
        device: Arc<str>,
        /// The line's configured name.
        line: String,
        /// Whether it shows anything but off.
        on: bool,
        /// The pattern it shows (`off`, `on`, `blink 250ms`, …).
        pattern: String,
        /// Who set it (a feedback rule, `command`); `None` when no layer is left.
        owner: Option<String>,
    },
    /// An input line changed level, debounced: it held the new level for the debounce time.
    Input {
        /// Which device.
        device: Arc<str>,
        /// The line's configured name.
        line: String,
        /// Active (after the configured active level) or not.
        active: bool,
        /// Wall-clock time of the edge that started the new level (not the end of debounce).
        at: SystemTime,
        /// Monotonic time of that edge.
        mono: Instant,
    },
    /// A printer's status changed (a fault appeared or cleared, it started or stopped
    /// printing).
    Printer {
        /// Which device.
        device: Arc<str>,
        /// Its status now.
        status: crate::printer::PrinterStatus,
    },
}

impl DeviceEvent {
    /// The id of the device this event comes from.
    pub fn device(&self) -> &Arc<str> {
        match self {
            DeviceEvent::Read(read) => &read.device,
            DeviceEvent::State { device, .. }
            | DeviceEvent::FrameError { device, .. }
            | DeviceEvent::Output { device, .. }
            | DeviceEvent::Input { device, .. }
            | DeviceEvent::Printer { device, .. } => device,
        }
    }
}
