//! A simulated bank of output lines (a stack light, a buzzer, a relay board) for the tests and
//! the demo, behind the same [`OutputOpener`] trait a GPIO chip's lines use, so
//! [`crate::output::OutputDriver`] runs its real code against it. Levels can be watched, and
//! each change is kept with its time (so a test checks a pattern's timings), and
//! the bank can be unplugged (every `set` then fails, and opening fails until it is back).
//!
//! ```text
//!  Plugged ──unplug()──▶ Unplugged: set() fails "disconnected", open() fails
//!     ▲                       │
//!     └──────plug_in()────────┘
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use tokio::time::Instant;

use crate::output::{OutputLines, OutputOpener};

/// Most level changes a bank remembers (the oldest go first).
pub const HISTORY: usize = 4096;

/// One level change, as the bank saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Which line.
    pub line: String,
    /// Its new level.
    pub on: bool,
    /// When (tokio's clock, so tests on a paused clock see exact times).
    pub at: Instant,
}

#[derive(Debug)]
struct Bank {
    plugged: bool,
    levels: watch::Sender<BTreeMap<String, bool>>,
    history: VecDeque<Change>,
}

/// A simulated output bank; clones share it.
#[derive(Debug, Clone)]
pub struct SimOutputs {
    name: String,
    names: Vec<String>,
    bank: Arc<Mutex<Bank>>,
}

impl SimOutputs {
    /// A plugged-in bank called `name` with these lines, all off.
    pub fn new(name: impl Into<String>, lines: &[String]) -> Self {
        let levels = lines.iter().map(|l| (l.clone(), false)).collect();
        SimOutputs {
            name: name.into(),
            names: lines.to_vec(),
            bank: Arc::new(Mutex::new(Bank {
                plugged: true,
                levels: watch::channel(levels).0,
                history: VecDeque::new(),
            })),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Bank) -> R) -> R {
        f(&mut self.bank.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The current level of every line.
    pub fn levels(&self) -> BTreeMap<String, bool> {
        self.with(|b| b.levels.borrow().clone())
    }

    /// A receiver that sees every change of levels.
    pub fn watch(&self) -> watch::Receiver<BTreeMap<String, bool>> {
        self.with(|b| b.levels.subscribe())
    }

    /// Every level change so far (at most [`HISTORY`]), oldest first: what a pattern did, with
    /// its timings.
    pub fn history(&self) -> Vec<Change> {
        self.with(|b| b.history.iter().cloned().collect())
    }

    /// Pulls the cable: sets fail until [`plug_in`](SimOutputs::plug_in).
    pub fn unplug(&self) {
        self.with(|b| b.plugged = false);
    }

    /// Plugs the cable back in.
    pub fn plug_in(&self) {
        self.with(|b| b.plugged = true);
    }
}

impl OutputLines for SimOutputs {
    fn names(&self) -> Vec<String> {
        self.names.clone()
    }

    fn set(&mut self, line: &str, on: bool) -> Result<(), String> {
        self.with(|b| {
            if !b.plugged {
                return Err(format!("{}: disconnected", self.name));
            }
            let changed = b
                .levels
                .send_if_modified(|levels| levels.insert(line.to_string(), on) != Some(on));
            if changed {
                if b.history.len() == HISTORY {
                    b.history.pop_front();
                }
                b.history.push_back(Change {
                    line: line.to_string(),
                    on,
                    at: Instant::now(),
                });
            }
            Ok(())
        })
    }
}

impl OutputOpener for SimOutputs {
    type Lines = SimOutputs;

    fn open(&mut self) -> Result<SimOutputs, String> {
        if self.with(|b| b.plugged) {
            Ok(self.clone())
        } else {
            Err(format!("cannot open {}: not connected", self.name))
        }
    }

    fn describe(&self) -> String {
        format!("simulated outputs {}", self.name)
    }
}
