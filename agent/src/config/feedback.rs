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
