//! Output lines — stack-light colours, buzzers, relays — switched by commands.
//!
//! The transport is a small trait pair, as embedded-hal's `OutputPin` lets hardware and
//! simulation share one code path: an [`OutputOpener`] opens the device's [`OutputLines`]
//! (a GPIO chip, a relay board; [`crate::sim::SimOutputs`] in tests and the demo), and
//! [`OutputDriver`] runs the shared life cycle ([`crate::lifecycle`]) around it: connecting,
//! up, down with a reason, reconnect with backoff.
//!
//! Each line shows the top of its [`pattern::Layers`]: commands and feedback rules set and
//! clear layers (owner, priority, pattern, time); the session writes the levels the layers
//! say and sleeps until the next step of a pattern, so an idle bank never wakes.
//!
//! ```text
//!  SetOutput / ClearOutput ──▶ session ── layers ──level at now──▶ OutputLines::set
//!                                 │  sleeps until the next pattern step or layer end
//!                                 └──▶ DeviceEvent::Output { line, pattern, owner }  (status)
//!  session end (shutdown, lost) ──▶ every layer dropped, every line off (the safe state)
//! ```

pub mod pattern;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::command::{CommandDone, CommandError, Commands, DeviceCommand};
use crate::lifecycle::{Device, Driver, SessionEnd};
use crate::read::DeviceEvent;
use pattern::{Layers, MAX_LAYERS, Pattern};

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

/// A driver for a bank of output lines. Construct it, then run it
/// ([`Driver::run`](crate::lifecycle::Driver::run)).
pub type OutputDriver<O> = Driver<OutputDevice<O>>;

impl<O: OutputOpener> OutputDriver<O> {
    /// A driver for device `id` on `opener`'s lines.
    pub fn new(id: Arc<str>, opener: O) -> Self {
        Driver::with_device(id.clone(), OutputDevice { id, opener })
    }
}

/// A bank of output lines as the life cycle runs it (see [`OutputDriver`]).
#[derive(Debug)]
pub struct OutputDevice<O> {
    id: Arc<str>,
    opener: O,
}

/// The open lines, each line's layers, and what each shows.
struct Bank<L> {
    lines: L,
    names: Vec<String>,
    layers: Vec<Layers>,
    /// Level last written to each line.
    levels: Vec<bool>,
    /// Pattern and owner last reported for each line.
    reported: Vec<Option<(Pattern, Option<String>)>>,
}

impl<L: OutputLines> Bank<L> {
    fn open(lines: L) -> Self {
        let names = lines.names();
        let n = names.len();
        Bank {
            lines,
            names,
            layers: vec![Layers::default(); n],
            levels: vec![false; n],
            reported: vec![None; n],
        }
    }

    fn index(&self, line: &str) -> Result<usize, CommandError> {
        self.names
            .iter()
            .position(|n| n == line)
            .ok_or_else(|| CommandError::NoSuchLine {
                line: line.to_string(),
                known: self.names.join(", "),
            })
    }

    /// Writes each line's level as its layers say at `now`; returns what changed (for the
    /// status) or the error of a line that could not be written.
    fn apply(
        &mut self,
        device: &Arc<str>,
        now: Instant,
        force: bool,
    ) -> Result<Vec<DeviceEvent>, String> {
        let mut changed = Vec::new();
        for index in 0..self.names.len() {
            let shown = self.layers[index].shown(now);
            if force || shown.level != self.levels[index] {
                self.lines.set(&self.names[index], shown.level)?;
                self.levels[index] = shown.level;
            }
            let now_shown = Some((shown.pattern, shown.owner.clone()));
            if self.reported[index] != now_shown {
                self.reported[index] = now_shown;
                changed.push((index, shown));
            }
        }
        Ok(changed
            .into_iter()
            .map(|(index, shown)| DeviceEvent::Output {
                device: device.clone(),
                line: self.names[index].clone(),
                on: shown.pattern != Pattern::Off,
                pattern: shown.pattern.to_string(),
                owner: shown.owner,
            })
            .collect())
    }

    fn next_change(&mut self, now: Instant) -> Option<Instant> {
        self.layers
            .iter_mut()
            .filter_map(|l| l.next_change(now))
            .min()
    }

    /// Everything off, best effort (the device may be the reason the session ended).
    fn all_off(&mut self) {
        for layers in &mut self.layers {
            layers.clear_all();
        }
        for index in 0..self.names.len() {
            if self.lines.set(&self.names[index], false).is_ok() {
                self.levels[index] = false;
            }
        }
    }

    /// Carries out a layer change; the answer says what the line shows afterwards.
    fn command(&mut self, command: &DeviceCommand, now: Instant) -> Result<usize, CommandError> {
        match command {
            DeviceCommand::SetOutput {
                line,
                pattern,
                priority,
                owner,
                for_ms,
            } => {
                let index = self.index(line)?;
                let for_time = for_ms.map(|ms| Duration::from_millis(ms.min(MAX_PULSE_MS)));
                if !self.layers[index].set(owner, *priority, *pattern, for_time, now) {
                    return Err(CommandError::Failed(format!(
                        "line {line:?} already has {MAX_LAYERS} layers from other owners"
                    )));
                }
                Ok(index)
            }
            DeviceCommand::ClearOutput { line, owner } => {
                let index = self.index(line)?;
                self.layers[index].clear(owner);
                Ok(index)
            }
            _ => Err(CommandError::Unsupported(command.name())),
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
        let mut bank = Bank::open(lines);
        // A fresh connection starts from the safe state, whatever a previous session left.
        let mut force = true;
        let end = loop {
            let now = Instant::now();
            let changed = match bank.apply(&self.id, now, force) {
                Ok(changed) => changed,
                Err(e) => break SessionEnd::Lost(e),
            };
            force = false;
            for event in changed {
                if events.send(event).await.is_err() {
                    bank.all_off();
                    return SessionEnd::ChannelClosed;
                }
            }
            let next = bank.next_change(now);
            tokio::select! {
                biased;
                _ = cancel.cancelled() => break SessionEnd::Cancelled,
                _ = until(next) => {}
                request = commands.next() => {
                    let now = Instant::now();
                    let index = match bank.command(&request.command, now) {
                        Ok(index) => index,
                        Err(e) => {
                            request.answer(Err(e));
                            continue;
                        }
                    };
                    // Written before the answer, so "done" means the line shows it.
                    let shown = bank.layers[index].shown(now);
                    if shown.level != bank.levels[index] {
                        if let Err(e) = bank.lines.set(&bank.names[index], shown.level) {
                            request.answer(Err(CommandError::Failed(e.clone())));
                            break SessionEnd::Lost(e);
                        }
                        bank.levels[index] = shown.level;
                    }
                    request.answer(Ok(CommandDone::Output {
                        line: bank.names[index].clone(),
                        on: shown.level,
                        shown: shown.pattern.to_string(),
                    }));
                }
            }
        };
        bank.all_off();
        for name in bank.names.clone() {
            let _ = events.try_send(DeviceEvent::Output {
                device: self.id.clone(),
                line: name,
                on: false,
                pattern: Pattern::Off.to_string(),
                owner: None,
            });
        }
        end
    }
}
