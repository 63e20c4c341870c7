//! Simulated input lines (a photo-eye, a push button, a door contact) behind the same
//! [`InputOpener`] trait as the Pi's header, so [`crate::gpio::InputDriver`] runs its real
//! code — debounce included — against them. A test (or the demo's script) sets electrical
//! levels, bounces and all; each change is an edge stamped with tokio's clock, so a paused
//! clock steps through bounces exactly.
//!
//! ```text
//!  Plugged ──unplug()──▶ Unplugged: the open session's next_edge() fails, open() fails
//!     ▲                       │
//!     └──────plug_in()────────┘
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::gpio::{InputOpener, InputPins, InputSpec, RawEdge};

#[derive(Debug)]
struct Lines {
    plugged: bool,
    /// Electrical level of each line by name (high = true).
    levels: BTreeMap<String, bool>,
    /// The open session's edge queue and its line order.
    session: Option<(mpsc::UnboundedSender<Option<RawEdge>>, Vec<String>)>,
}

/// A simulated bank of input lines; clones share it.
#[derive(Debug, Clone)]
pub struct SimInputs {
    name: String,
    lines: Arc<Mutex<Lines>>,
}

impl SimInputs {
    /// A plugged-in bank called `name` whose `lines` start at the given electrical levels.
    pub fn new(name: impl Into<String>, lines: &[(String, bool)]) -> Self {
        SimInputs {
            name: name.into(),
            lines: Arc::new(Mutex::new(Lines {
                plugged: true,
                levels: lines.iter().cloned().collect(),
                session: None,
            })),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Lines) -> R) -> R {
        f(&mut self.lines.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Drives `line` to electrical level `high` now (an edge when it changes).
    pub fn set(&self, line: &str, high: bool) {
        self.with(|l| {
            if l.levels.insert(line.to_string(), high) == Some(high) {
                return;
            }
            if let Some((tx, order)) = &l.session
                && let Some(index) = order.iter().position(|n| n == line)
            {
                let _ = tx.send(Some(RawEdge {
                    line: index,
                    high,
                    at: Instant::now(),
                }));
            }
        });
    }

    /// The electrical level of `line`.
    pub fn level(&self, line: &str) -> Option<bool> {
        self.with(|l| l.levels.get(line).copied())
    }

    /// Pulls the cable: the open session fails, and opening fails until
    /// [`plug_in`](SimInputs::plug_in).
    pub fn unplug(&self) {
        self.with(|l| {
            l.plugged = false;
            if let Some((tx, _)) = l.session.take() {
                let _ = tx.send(None);
            }
        });
    }

    /// Plugs the cable back in.
    pub fn plug_in(&self) {
        self.with(|l| l.plugged = true);
    }
}

/// The open simulated lines.
#[derive(Debug)]
pub struct OpenSimInputs {
    bank: SimInputs,
    order: Vec<String>,
    edges: mpsc::UnboundedReceiver<Option<RawEdge>>,
}

impl InputOpener for SimInputs {
    type Pins = OpenSimInputs;

    fn open(&mut self, specs: &[InputSpec]) -> Result<OpenSimInputs, String> {
        let order: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
        let (tx, edges) = mpsc::unbounded_channel();
        self.with(|l| {
            if !l.plugged {
                return Err(format!("cannot open {}: not connected", self.name));
            }
            if let Some(missing) = order.iter().find(|n| !l.levels.contains_key(*n)) {
                return Err(format!("{} has no line {missing:?}", self.name));
            }
            l.session = Some((tx, order.clone()));
            Ok(())
        })?;
        Ok(OpenSimInputs {
            bank: self.clone(),
            order,
            edges,
        })
    }

    fn describe(&self) -> String {
        format!("simulated inputs {}", self.name)
    }
}

impl InputPins for OpenSimInputs {
    fn read(&mut self, line: usize) -> Result<bool, String> {
        let name = self
            .order
            .get(line)
            .ok_or_else(|| format!("no input line {line}"))?;
        self.bank.with(|l| {
            if !l.plugged {
                return Err(format!("{}: disconnected", self.bank.name));
            }
            Ok(l.levels.get(name).copied().unwrap_or(false))
        })
    }

    async fn next_edge(&mut self) -> Result<RawEdge, String> {
        match self.edges.recv().await {
            Some(Some(edge)) => Ok(edge),
            _ => Err(format!("{}: disconnected", self.bank.name)),
        }
    }
}
