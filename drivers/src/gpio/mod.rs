//! GPIO: digital input lines (photo-eyes, buttons, door contacts) and the Raspberry Pi
//! backends for inputs and outputs.
//!
//! Inputs are a small trait pair, as embedded-hal's `InputPin` lets hardware and simulation
//! share one code path: an [`InputOpener`] opens the configured lines as [`InputPins`] — the
//! Pi's header through rppal ([`pi::PiInputs`]), or [`crate::sim::SimInputs`] in the tests and
//! the demo — and [`InputDriver`] runs the shared life cycle ([`crate::lifecycle`]) around it,
//! debounces each line ([`debounce`]) and reports settled levels as [`DeviceEvent::Input`]:
//! typed edges with the time the edge began, never fake barcode reads. What an edge *means*
//! (beam broken, button pressed, a read window to open) is the pipeline's business.
//!
//! Outputs are [`crate::output`]'s [`OutputLines`](crate::output::OutputLines); the Pi's
//! output lines are [`pi::PiOutputs`].
//!
//! ```text
//!  pin edge ──RawEdge──▶ session ──Debouncer(line)──settled──▶ DeviceEvent::Input { active, at }
//!                          │  sleeps until the earliest debounce deadline (none: no wake-up)
//!  DeviceCommand::ReadInputs ──▶ each line: debounced level + the pin's level now
//!  open: every line read once and reported, so the status knows the levels from the start
//! ```

pub mod debounce;
pub mod pi;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::command::{CommandDone, CommandError, Commands, DeviceCommand, InputLevel};
use crate::lifecycle::{Device, Driver, SessionEnd};
use crate::read::DeviceEvent;
use debounce::Debouncer;

/// Longest debounce a line may have: a second already hides real events.
pub const MAX_DEBOUNCE: Duration = Duration::from_secs(1);

/// The internal bias resistor of an input pin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Pull {
    /// None: the sensor drives the line both ways (an opto-isolated input board does).
    #[default]
    None,
    /// Pulled up: a switch to ground reads low when closed.
    Up,
    /// Pulled down: a switch to 3.3 V reads high when closed.
    Down,
}

/// One configured input line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InputSpec {
    /// Its name, as status and rules address it.
    pub name: String,
    /// The pin (BCM GPIO number on a Pi).
    pub pin: u8,
    /// Bias.
    pub pull: Pull,
    /// Active when low (a switch to ground with a pull-up, most opto-isolator boards).
    pub active_low: bool,
    /// How long a new level must hold before it counts.
    pub debounce: Duration,
}

/// A raw level change, as the backend saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawEdge {
    /// Index of the line in the configured order.
    pub line: usize,
    /// Its level (electrical: high = true).
    pub high: bool,
    /// When (monotonic).
    pub at: Instant,
}

/// Open input lines.
pub trait InputPins: Send {
    /// The electrical level of line `line` now.
    fn read(&mut self, line: usize) -> Result<bool, String>;
    /// The next raw edge on any line; an error means the device is gone.
    fn next_edge(&mut self) -> impl Future<Output = Result<RawEdge, String>> + Send;
}

/// Opens input lines.
pub trait InputOpener: Send {
    /// The open lines.
    type Pins: InputPins;
    /// Opens `lines` (pin, pull); the error names the pin and says what failed.
    fn open(&mut self, lines: &[InputSpec]) -> Result<Self::Pins, String>;
    /// What to call the device in logs.
    fn describe(&self) -> String;
}

/// A driver for input lines. Construct it, then run it
/// ([`Driver::run`](crate::lifecycle::Driver::run)).
pub type InputDriver<O> = Driver<InputDevice<O>>;

impl<O: InputOpener> InputDriver<O> {
    /// A driver for device `id`'s `lines` on `opener`.
    pub fn new(id: Arc<str>, opener: O, lines: Vec<InputSpec>) -> Self {
        Driver::with_device(id.clone(), InputDevice { id, opener, lines })
    }
}

/// Input lines as the life cycle runs them (see [`InputDriver`]).
#[derive(Debug)]
pub struct InputDevice<O> {
    id: Arc<str>,
    opener: O,
    lines: Vec<InputSpec>,
}

/// Sleeps until `at`, or forever when there is nothing to wait for.
async fn until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The wall-clock time of monotonic instant `at`.
fn wall_time(at: Instant) -> SystemTime {
    SystemTime::now() - Instant::now().saturating_duration_since(at)
}

impl<O: InputOpener> InputDevice<O> {
    fn event(&self, line: usize, high: bool, at: Instant) -> DeviceEvent {
        let spec = &self.lines[line];
        DeviceEvent::Input {
            device: self.id.clone(),
            line: spec.name.clone(),
            active: high != spec.active_low,
            at: wall_time(at),
            mono: at.into_std(),
        }
    }
}

impl<O: InputOpener> Device for InputDevice<O> {
    type Conn = O::Pins;
    const TAKES_COMMANDS: bool = true;

    fn open(&mut self) -> impl Future<Output = Result<O::Pins, String>> + Send {
        let opened = self.opener.open(&self.lines);
        async move { opened }
    }

    fn describe(&self) -> String {
        self.opener.describe()
    }

    async fn session(
        &mut self,
        mut pins: O::Pins,
        events: &mpsc::Sender<DeviceEvent>,
        commands: &mut Commands,
        cancel: &CancellationToken,
    ) -> SessionEnd {
        let now = Instant::now();
        let mut debouncers = Vec::with_capacity(self.lines.len());
        for (index, spec) in self.lines.iter().enumerate() {
            let high = match pins.read(index) {
                Ok(high) => high,
                Err(e) => return SessionEnd::Lost(e),
            };
            debouncers.push(Debouncer::new(high, spec.debounce, now));
            if events.send(self.event(index, high, now)).await.is_err() {
                return SessionEnd::ChannelClosed;
            }
        }
        loop {
            let deadline = debouncers.iter().filter_map(Debouncer::deadline).min();
            let mut settled = Vec::new();
            let mut asked = None;
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return SessionEnd::Cancelled,
                edge = pins.next_edge() => {
                    let edge = match edge {
                        Ok(edge) => edge,
                        Err(e) => return SessionEnd::Lost(e),
                    };
                    if let Some(d) = debouncers.get_mut(edge.line)
                        && let Some(s) = d.raw(edge.high, edge.at)
                    {
                        settled.push((edge.line, s));
                    }
                }
                _ = until(deadline) => {
                    let now = Instant::now();
                    for (line, d) in debouncers.iter_mut().enumerate() {
                        if let Some(s) = d.settle(now) {
                            settled.push((line, s));
                        }
                    }
                }
                request = commands.next() => asked = Some(request),
            }
            if let Some(request) = asked {
                if request.command != DeviceCommand::ReadInputs {
                    request.unsupported();
                    continue;
                }
                let mut levels = Vec::with_capacity(self.lines.len());
                for (index, spec) in self.lines.iter().enumerate() {
                    match pins.read(index) {
                        Ok(raw_high) => levels.push(InputLevel {
                            line: spec.name.clone(),
                            active: debouncers[index].level() != spec.active_low,
                            raw_high,
                        }),
                        Err(e) => {
                            request.answer(Err(CommandError::Failed(e.clone())));
                            return SessionEnd::Lost(e);
                        }
                    }
                }
                request.answer(Ok(CommandDone::Inputs(levels)));
            }
            for (line, s) in settled {
                if events
                    .send(self.event(line, s.high, s.since))
                    .await
                    .is_err()
                {
                    return SessionEnd::ChannelClosed;
                }
            }
        }
    }
}
