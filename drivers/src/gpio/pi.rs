//! The Raspberry Pi's GPIO header through rppal: levels through the SoC's registers
//! (`/dev/gpiomem`), edges through the GPIO character device (`/dev/gpiochipN`), which is how
//! rppal 0.22 does both (its `gpio` module documentation).
//!
//! Why rppal and not the generic Linux GPIO character device (`gpiocdev`): the brief's boards
//! are Pis, rppal knows their pin maps, pulls and models (Pi 1 to 5, the RP1 on the Pi 5), and
//! a pull-up or pull-down cannot be set through the character device on every kernel a Pi
//! ships. Another board is another backend behind the same traits.
//!
//! What a line does when the process ends:
//! - **clean stop** (SIGTERM, reload): the output driver drives every line inactive first; the
//!   pins are then left configured as outputs at that level (`set_reset_on_drop(false)`), so a
//!   relay stays released rather than floating while the pin would go back to an input.
//! - **crash or SIGKILL**: no code runs; a register-driven pin keeps its last level. The
//!   systemd unit's `ExecStopPost=tracegate outputs-safe` drives every configured output line
//!   inactive after *any* exit, crash and watchdog kill included.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rppal::gpio::{Gpio, InputPin, Level, OutputPin, Trigger};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{InputOpener, InputPins, InputSpec, Pull, RawEdge};
use crate::output::{OutputLines, OutputOpener};

/// Edges queued between rppal's interrupt thread and the session; past this, edges are
/// dropped and the lines re-read once the queue has drained (a chattering input cannot use
/// memory without bound).
const EDGE_QUEUE: usize = 1024;

/// What to tell a user whose GPIO cannot be opened.
fn open_error(e: rppal::gpio::Error) -> String {
    match e {
        rppal::gpio::Error::UnknownModel => "cannot open GPIO: this is not a Raspberry Pi rppal knows (it identifies the board from /proc/device-tree/compatible); on another machine use the sim-gpio-input / sim-output kinds".into(),
        rppal::gpio::Error::PermissionDenied(path) => format!(
            "cannot open GPIO: permission denied on {path}; add the tracegate user to the gpio group (the packaged udev rules do)"
        ),
        other => format!("cannot open GPIO: {other}"),
    }
}

fn pin_error(pin: u8, e: rppal::gpio::Error) -> String {
    match e {
        rppal::gpio::Error::PinUsed(_) => {
            format!("GPIO {pin} is already in use by another device of this config")
        }
        rppal::gpio::Error::PinNotAvailable(_) => {
            format!(
                "GPIO {pin} does not exist on this board (pins are BCM numbers, 0 to 27 on the 40-pin header)"
            )
        }
        other => format!("GPIO {pin}: {other}"),
    }
}

/// Input lines on the Pi's header.
#[derive(Debug, Default)]
pub struct PiInputs;

/// The open input pins and the edges their interrupt thread queues.
pub struct OpenPiInputs {
    pins: Vec<InputPin>,
    edges: mpsc::Receiver<RawEdge>,
    /// Set by the interrupt thread when it dropped an edge.
    missed: Arc<AtomicBool>,
    /// Levels re-read after a drop, handed out as edges.
    resync: VecDeque<RawEdge>,
}

impl std::fmt::Debug for OpenPiInputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenPiInputs")
            .field("pins", &self.pins.len())
            .finish()
    }
}

impl InputOpener for PiInputs {
    type Pins = OpenPiInputs;

    fn open(&mut self, lines: &[InputSpec]) -> Result<OpenPiInputs, String> {
        let gpio = Gpio::new().map_err(open_error)?;
        let (tx, edges) = mpsc::channel(EDGE_QUEUE);
        let missed = Arc::new(AtomicBool::new(false));
        let mut pins = Vec::with_capacity(lines.len());
        for (index, spec) in lines.iter().enumerate() {
            let pin = gpio.get(spec.pin).map_err(|e| pin_error(spec.pin, e))?;
            let mut pin = match spec.pull {
                Pull::None => pin.into_input(),
                Pull::Up => pin.into_input_pullup(),
                Pull::Down => pin.into_input_pulldown(),
            };
            let (tx, missed) = (tx.clone(), missed.clone());
            // Debouncing is ours (one code path with the simulator); rppal only reports edges.
            pin.set_async_interrupt(Trigger::Both, None, move |event| {
                let edge = RawEdge {
                    line: index,
                    high: event.trigger == Trigger::RisingEdge,
                    at: Instant::now(),
                };
                if tx.try_send(edge).is_err() {
                    missed.store(true, Ordering::Relaxed);
                }
            })
            .map_err(|e| pin_error(spec.pin, e))?;
            pins.push(pin);
        }
        Ok(OpenPiInputs {
            pins,
            edges,
            missed,
            resync: VecDeque::new(),
        })
    }

    fn describe(&self) -> String {
        "Raspberry Pi GPIO inputs".into()
    }
}

impl InputPins for OpenPiInputs {
    fn read(&mut self, line: usize) -> Result<bool, String> {
        let pin = self
            .pins
            .get(line)
            .ok_or_else(|| format!("no input line {line}"))?;
        Ok(pin.read() == Level::High)
    }

    async fn next_edge(&mut self) -> Result<RawEdge, String> {
        loop {
            if let Some(edge) = self.resync.pop_front() {
                return Ok(edge);
            }
            match self.edges.try_recv() {
                Ok(edge) => return Ok(edge),
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    return Err("the GPIO interrupt thread stopped".into());
                }
                Err(mpsc::error::TryRecvError::Empty) => {}
            }
            // The queue is drained: if edges were dropped, the levels now are the truth.
            if self.missed.swap(false, Ordering::Relaxed) {
                let now = Instant::now();
                for (line, pin) in self.pins.iter().enumerate() {
                    self.resync.push_back(RawEdge {
                        line,
                        high: pin.read() == Level::High,
                        at: now,
                    });
                }
                continue;
            }
            return self
                .edges
                .recv()
                .await
                .ok_or_else(|| "the GPIO interrupt thread stopped".to_string());
        }
    }
}

/// One output line on the Pi's header.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PiOutputLine {
    /// Its name.
    pub name: String,
    /// BCM GPIO number.
    pub pin: u8,
    /// Active (on) when low: most relay boards' inputs are.
    pub active_low: bool,
}

/// Output lines on the Pi's header.
#[derive(Debug, Clone)]
pub struct PiOutputs {
    lines: Vec<PiOutputLine>,
}

impl PiOutputs {
    /// These lines.
    pub fn new(lines: Vec<PiOutputLine>) -> Self {
        PiOutputs { lines }
    }

    /// Drives every line inactive and leaves it so: the safe state after the daemon has
    /// exited, however it exited (`tracegate outputs-safe`, run by systemd's `ExecStopPost=`).
    pub fn drive_safe(&self) -> Result<(), String> {
        let mut open = self.clone().open()?;
        for line in &self.lines {
            open.set(&line.name, false)?;
        }
        Ok(())
    }
}

/// The open output pins.
pub struct OpenPiOutputs {
    lines: Vec<(PiOutputLine, OutputPin)>,
}

impl std::fmt::Debug for OpenPiOutputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenPiOutputs")
            .field("lines", &self.lines.len())
            .finish()
    }
}

impl OutputOpener for PiOutputs {
    type Lines = OpenPiOutputs;

    fn open(&mut self) -> Result<OpenPiOutputs, String> {
        let gpio = Gpio::new().map_err(open_error)?;
        let mut lines = Vec::with_capacity(self.lines.len());
        for line in &self.lines {
            let pin = gpio.get(line.pin).map_err(|e| pin_error(line.pin, e))?;
            // Configured as an output already at the inactive level: no glitch at start.
            let mut pin = if line.active_low {
                pin.into_output_high()
            } else {
                pin.into_output_low()
            };
            pin.set_reset_on_drop(false);
            lines.push((line.clone(), pin));
        }
        Ok(OpenPiOutputs { lines })
    }

    fn describe(&self) -> String {
        "Raspberry Pi GPIO outputs".into()
    }
}

impl OutputLines for OpenPiOutputs {
    fn names(&self) -> Vec<String> {
        self.lines.iter().map(|(l, _)| l.name.clone()).collect()
    }

    fn set(&mut self, name: &str, on: bool) -> Result<(), String> {
        let (line, pin) = self
            .lines
            .iter_mut()
            .find(|(l, _)| l.name == name)
            .ok_or_else(|| format!("no output line {name:?}"))?;
        let high = on != line.active_low;
        pin.write(if high { Level::High } else { Level::Low });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CI machines (and qemu) are not Pis: opening must fail with a message that says what to
    /// do, never panic. On a Pi this test is skipped by what it finds.
    #[test]
    fn opening_on_a_machine_that_is_not_a_pi_says_so() {
        let is_pi = std::fs::read_to_string("/proc/device-tree/compatible")
            .is_ok_and(|c| c.contains("raspberrypi"));
        if is_pi {
            return;
        }
        let spec = InputSpec {
            name: "eye".into(),
            pin: 17,
            pull: Pull::Up,
            active_low: true,
            debounce: std::time::Duration::from_millis(10),
        };
        let e = PiInputs.open(&[spec]).unwrap_err();
        assert!(e.contains("not a Raspberry Pi"), "{e}");
        let outputs = PiOutputs::new(vec![PiOutputLine {
            name: "red".into(),
            pin: 5,
            active_low: true,
        }]);
        let e = outputs.drive_safe().unwrap_err();
        assert!(e.contains("sim-output"), "{e}");
    }
}
