//! Operator feedback through the scanner itself (keys of `serial-scanner`).

use serde::Deserialize;

/// Bytes written to a serial scanner when one of its reads is recorded or rejected: the
/// scanner's own host commands for a tone or LED (its manual lists them; Datalogic RS-232 /
/// USB-COM scanners, for instance, sound a good-read tone on `B` and a "not on file" tone on
/// `F`). Empty: nothing is sent.
///
/// ```toml
/// on_accept_send = "B"
/// on_reject_send = "F"
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScannerFeedback {
    /// Sent once a read's event is committed to the outbox.
    #[serde(default)]
    pub on_accept_send: String,
    /// Sent when a read is refused or flagged by the capture rules, or cannot be stored.
    #[serde(default)]
    pub on_reject_send: String,
}

impl ScannerFeedback {
    /// Whether anything is ever sent.
    pub fn is_empty(&self) -> bool {
        self.on_accept_send.is_empty() && self.on_reject_send.is_empty()
    }
}

/// What a feedback rule reacts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// A read's event is committed to the outbox (or, in a packing session, the item is in
    /// the open case): the durability contract, not "a read arrived".
    Captured,
    /// A read was refused or flagged (bad code, wrong kind, case full) or could not be stored.
    Rejected,
    /// A read repeated within `dedupe_ms` and was dropped.
    Duplicate,
    /// A read was refused because the outbox is full (`store.when_full = "refuse-new"`).
    OutboxFull,
    /// A condition: the device is down; shown until it is up again.
    DeviceDown,
    /// A condition: the broker has been unreachable for longer than `after_s`.
    OfflineTooLong,
    /// A condition: a printer reports a fault.
    PrinterFault,
}

impl Outcome {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Captured => "captured",
            Outcome::Rejected => "rejected",
            Outcome::Duplicate => "duplicate",
            Outcome::OutboxFull => "outbox-full",
            Outcome::DeviceDown => "device-down",
            Outcome::OfflineTooLong => "offline-too-long",
            Outcome::PrinterFault => "printer-fault",
        }
    }

    /// Whether it lasts (shown while it holds) rather than happens (shown once).
    pub fn is_condition(self) -> bool {
        matches!(
            self,
            Outcome::DeviceDown | Outcome::OfflineTooLong | Outcome::PrinterFault
        )
    }

    /// The priority a rule gets unless it says: faults over rejections over confirmations.
    pub fn default_priority(self) -> u8 {
        match self {
            Outcome::Captured | Outcome::Duplicate => 10,
            Outcome::Rejected => 20,
            Outcome::OutboxFull => 30,
            Outcome::OfflineTooLong => 40,
            Outcome::DeviceDown => 50,
            Outcome::PrinterFault => 60,
        }
    }
}

/// `[[feedback]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRule {
    pub on: Outcome,
    #[serde(default)]
    pub devices: Option<Vec<String>>,
    pub output: String,
    pub line: String,
    pub pattern: String,
    #[serde(default)]
    pub priority: Option<u8>,
    #[serde(default)]
    pub for_ms: Option<u64>,
    #[serde(default)]
    pub after_s: Option<u64>,
}

/// One operator feedback rule: outcome → pattern on an output line.
///
/// ```toml
/// [[feedback]]
/// on = "rejected"                  # captured, rejected, duplicate, outbox-full, device-down, offline-too-long
/// devices = ["line-1-scanner"]     # whose outcomes (default: every device)
/// output = "dock-light"            # an output device
/// line = "red"
/// pattern = "pulses 3x150ms"       # on, off, blink 250ms, pulse 200ms, pulses 3x100ms
/// priority = 20                    # default by outcome: faults over rejections over confirmations
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FeedbackRule {
    /// Its place in the file (1-based), which names it in status and logs.
    pub number: usize,
    /// What it reacts to.
    pub on: Outcome,
    /// Whose outcomes; `None`: every device's.
    pub devices: Option<Vec<std::sync::Arc<str>>>,
    /// The output device.
    pub output: std::sync::Arc<str>,
    /// Its line.
    pub line: String,
    /// What to show.
    pub pattern: tracegate_drivers::output::pattern::Pattern,
    /// Its priority on the line.
    pub priority: u8,
    /// How long a steady or blinking pattern shows for an event (not for a condition).
    pub for_ms: Option<u64>,
    /// `offline-too-long`: after how many seconds without the broker.
    pub after_s: Option<u64>,
}

impl FeedbackRule {
    /// The owner of its layers on the output line.
    pub fn owner(&self) -> String {
        format!("rule {}: {}", self.number, self.on.as_str())
    }

    /// Whether it applies to `device`'s outcomes.
    pub fn covers(&self, device: &str) -> bool {
        self.devices
            .as_ref()
            .is_none_or(|d| d.iter().any(|id| &**id == device))
    }
}
