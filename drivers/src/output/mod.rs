//! Output lines — stack-light colours, buzzers, relays — switched by commands.
//!
//! The transport is a small trait pair, as embedded-hal's `OutputPin` lets hardware and
//! simulation share one code path: an [`OutputOpener`] opens the device's [`OutputLines`]
//! (a GPIO chip, a relay board; [`crate::sim::SimOutputs`] in tests and the demo), and
//! [`OutputDriver`] runs the shared life cycle ([`crate::lifecycle`]) around it: connecting,
//! up, down with a reason, reconnect with backoff.
//!
//! ```text
//!  DeviceCommand::SetOutput ──▶ session ──set(line, level)──▶ OutputLines
//!                                 │  pulse: level now, previous level at the deadline
//!                                 └──▶ DeviceEvent::Output { line, on }  (status)
//!  session end (shutdown, lost) ──▶ every line off (the safe state), best effort
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::backoff::Reconnect;
use crate::command::{CommandDone, CommandError, Commands, DeviceCommand};
use crate::lifecycle::{self, Device, SessionEnd};
use crate::read::DeviceEvent;

/// Longest pulse a command may ask for: a "pulse" longer than a day is a mistake, and the
/// bound keeps the deadline arithmetic far from overflow.
pub const MAX_PULSE_MS: u64 = 24 * 3600 * 1000;

/// An open bank of output lines.
pub trait OutputLines: Send {
    /// The line names, in configured order.
    fn names(&self) -> Vec<String>;
    /// Drives `line` (one of [`names`](OutputLines::names)) on or off. An error means the
    /// device is gone or broken; its text names what failed.
    fn set(&mut self, line: &str, on: bool) -> Result<(), String>;
}

/// Opens an output device.
pub trait OutputOpener: Send {
    /// The open lines.
    type Lines: OutputLines;
    /// Opens the device; the error names it and says what failed.
    fn open(&mut self) -> Result<Self::Lines, String>;
    /// What to call the device in logs.
    fn describe(&self) -> String;
}

/// A driver for a bank of output lines. Construct it, then [`run`](OutputDriver::run) it.
#[derive(Debug)]
pub struct OutputDriver<O> {
    id: Arc<str>,
    opener: O,
    reconnect: Reconnect,
}

impl<O: OutputOpener + 'static> OutputDriver<O> {
    /// A driver for device `id` on `opener`'s lines.
    pub fn new(id: Arc<str>, opener: O) -> Self {
        OutputDriver {
            id,
            opener,
            reconnect: Reconnect::default(),
        }
    }

    /// Uses other reconnect delays.
    pub fn with_reconnect(mut self, reconnect: Reconnect) -> Self {
        self.reconnect = reconnect;
        self
    }

    /// Runs until `cancel`, carrying out `commands` while the device is up.
    pub async fn run(
        self,
        events: mpsc::Sender<DeviceEvent>,
        commands: Commands,
        cancel: CancellationToken,
    ) {
        let device = OutputDevice {
            id: self.id.clone(),
            opener: self.opener,
        };
        lifecycle::run(self.id, device, self.reconnect, events, commands, cancel).await;
    }
}

struct OutputDevice<O> {
    id: Arc<str>,
    opener: O,
}

/// A pulse in progress: at `until`, `line` goes back to `level`.
struct Revert {
    until: Instant,
    line: String,
    level: bool,
}

/// Levels as last set, and pulses waiting to end.
struct Lines<L> {
    lines: L,
    names: Vec<String>,
    levels: Vec<bool>,
    reverts: Vec<Revert>,
}

impl<L: OutputLines> Lines<L> {
    fn index(&self, line: &str) -> Result<usize, CommandError> {
        self.names
            .iter()
            .position(|n| n == line)
            .ok_or_else(|| CommandError::NoSuchLine {
                line: line.to_string(),
                known: self.names.join(", "),
            })
    }

    fn set(&mut self, index: usize, on: bool) -> Result<(), String> {
        self.lines.set(&self.names[index], on)?;
        self.levels[index] = on;
        Ok(())
    }

    fn next_revert(&self) -> Option<Instant> {
        self.reverts.iter().map(|r| r.until).min()
    }

    /// Everything off, best effort (the device may be the reason the session ended).
    fn all_off(&mut self) {
        for index in 0..self.names.len() {
            let _ = self.set(index, false);
        }
    }
}

/// Sleeps until `at`, or forever when there is nothing to wait for.
async fn until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl<O: OutputOpener> Device for OutputDevice<O> {
    type Conn = O::Lines;
    const TAKES_COMMANDS: bool = true;

    fn open(&mut self) -> impl Future<Output = Result<O::Lines, String>> + Send {
        let opened = self.opener.open();
        async move { opened }
    }

    fn describe(&self) -> String {
        self.opener.describe()
    }

    async fn session(
        &mut self,
        lines: O::Lines,
        events: &mpsc::Sender<DeviceEvent>,
        commands: &mut Commands,
        cancel: &CancellationToken,
    ) -> SessionEnd {
        let names = lines.names();
        let mut lines = Lines {
            levels: vec![false; names.len()],
            names,
            lines,
            reverts: Vec::new(),
        };
        // A fresh connection starts from the safe state, whatever a previous session left.
        lines.all_off();
        let end = loop {
            let changed = tokio::select! {
                biased;
                _ = cancel.cancelled() => break SessionEnd::Cancelled,
                _ = until(lines.next_revert()) => {
                    let now = Instant::now();
                    let due: Vec<Revert> = {
                        let (due, later) = lines.reverts.drain(..).partition(|r| r.until <= now);
                        lines.reverts = later;
                        due
                    };
                    let mut changed = Vec::new();
                    let mut failed = None;
                    for revert in due {
                        let Ok(index) = lines.index(&revert.line) else { continue };
                        match lines.set(index, revert.level) {
                            Ok(()) => changed.push((revert.line, revert.level)),
                            Err(e) => {
                                failed = Some(e);
                                break;
                            }
                        }
                    }
                    if let Some(e) = failed {
                        break SessionEnd::Lost(e);
                    }
                    changed
                }
                request = commands.next() => {
                    let DeviceCommand::SetOutput { line, on, for_ms } = &request.command else {
                        request.unsupported();
                        continue;
                    };
                    let index = match lines.index(line) {
                        Ok(index) => index,
                        Err(e) => {
                            request.answer(Err(e));
                            continue;
                        }
                    };
                    let (line, on, for_ms) = (line.clone(), *on, *for_ms);
                    let before = lines.levels[index];
                    if let Err(e) = lines.set(index, on) {
                        request.answer(Err(CommandError::Failed(e.clone())));
                        break SessionEnd::Lost(e);
                    }
                    // A new command on a line replaces its pulse in progress.
                    lines.reverts.retain(|r| r.line != line);
                    if let Some(ms) = for_ms {
                        lines.reverts.push(Revert {
                            until: Instant::now() + Duration::from_millis(ms.min(MAX_PULSE_MS)),
                            line: line.clone(),
                            level: before,
                        });
                    }
                    request.answer(Ok(CommandDone::Output { line: line.clone(), on }));
                    vec![(line, on)]
                }
            };
            for (line, on) in changed {
                let event = DeviceEvent::Output {
                    device: self.id.clone(),
                    line,
                    on,
                };
                if events.send(event).await.is_err() {
                    lines.all_off();
                    return SessionEnd::ChannelClosed;
                }
            }
        };
        lines.all_off();
        for name in lines.names.clone() {
            let _ = events.try_send(DeviceEvent::Output {
                device: self.id.clone(),
                line: name,
                on: false,
            });
        }
        end
    }
}
