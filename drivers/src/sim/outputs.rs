//! A simulated bank of output lines (a stack light, a buzzer, a relay board) for the tests and
//! the demo, behind the same [`OutputOpener`] trait a GPIO chip's lines use, so
//! [`crate::output::OutputDriver`] runs its real code against it. Levels can be watched, and
//! the bank can be unplugged (every `set` then fails, and opening fails until it is back).
//!
//! ```text
//!  Plugged ──unplug()──▶ Unplugged: set() fails "disconnected", open() fails
//!     ▲                       │
//!     └──────plug_in()────────┘
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::output::{OutputLines, OutputOpener};

#[derive(Debug)]
struct Bank {
    plugged: bool,
    levels: watch::Sender<BTreeMap<String, bool>>,
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
            b.levels.send_modify(|levels| {
                levels.insert(line.to_string(), on);
            });
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
