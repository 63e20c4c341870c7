//! What flows into a device: typed commands, each answered once.
//!
//! Every device session gets a [`Commands`] inbox. The agent's command router (and the
//! pipeline's operator feedback) send [`CommandRequest`]s; the driver carries out what its
//! device can do and answers through the request's reply channel. What a device cannot do is
//! answered [`CommandError::Unsupported`]; a command that arrives while the device is not up
//! is answered [`CommandError::NotUp`] by the life cycle ([`crate::lifecycle`]) — never left
//! unanswered, never queued for a device that may be gone for a day.
//!
//! ```text
//!  router / feedback ──CommandRequest──▶ Commands inbox ──▶ session (device up)
//!          ▲                                   │               │ carries it out
//!          │                                   └──▶ life cycle (connecting / down):
//!          └────── Result<CommandDone, CommandError> ◀──────────── answers NotUp
//! ```

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use crate::output::pattern::Pattern;

/// A command to a device, typed by what it asks the device to do.
#[derive(Debug, Clone, PartialEq)]
pub enum DeviceCommand {
    /// Write these bytes to the device as they are: a scanner's host commands (a good-read
    /// tone, an LED). Which bytes mean what is the caller's business.
    Send(Bytes),
    /// Show a pattern on a named output line (a stack-light colour, a buzzer, a relay): the
    /// `owner`'s layer on that line (see [`crate::output::pattern`]), replacing the one it had.
    SetOutput {
        /// The line's configured name.
        line: String,
        /// What to show.
        pattern: Pattern,
        /// Higher shows over lower; among equals the latest shows.
        priority: u8,
        /// Who asks (a feedback rule, `command`): each owner has one layer per line.
        owner: String,
        /// End the layer after this many milliseconds (the line falls back to what is below).
        for_ms: Option<u64>,
    },
    /// Remove `owner`'s layer from a line (a condition that ended).
    ClearOutput {
        /// The line's configured name.
        line: String,
        /// Whose layer.
        owner: String,
    },
    /// Open (`true`) or close (`false`) a reader's read window.
    ReadWindow(bool),
    /// Report the current level of every input line.
    ReadInputs,
    /// Would a [`DeviceCommand::Print`] be sent now? Answers [`CommandDone::Ready`], or why
    /// not ([`CommandError::Held`], [`CommandError::Busy`]). Nothing is written: the print
    /// queue asks before it commits a job as sent, so that a crash while a printer is out of
    /// paper leaves its jobs waiting, not "perhaps printed".
    PrintReady,
    /// Print a label job: write `data` (a complete ZPL or TSPL job) to the printer and answer
    /// once the printer's status shows it printed ([`CommandDone::Printed`]), or why it was
    /// not sent ([`CommandError::Held`]), or that its outcome is unknown
    /// ([`CommandError::OutcomeUnknown`]). A printer takes one job at a time.
    Print {
        /// The job's bytes, as the printer takes them.
        data: Bytes,
        /// Labels the job prints (echoed in the answer).
        labels: u32,
    },
}

impl DeviceCommand {
    /// A short name for logs and errors (`send`, `output`, `read-window`).
    pub fn name(&self) -> &'static str {
        match self {
            DeviceCommand::Send(_) => "send",
            DeviceCommand::SetOutput { .. } | DeviceCommand::ClearOutput { .. } => "output",
            DeviceCommand::ReadWindow(_) => "read-window",
            DeviceCommand::ReadInputs => "inputs",
            DeviceCommand::Print { .. } | DeviceCommand::PrintReady => "print",
        }
    }
}

/// What a device did with a command.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandDone {
    /// The bytes were written to the device.
    Sent {
        /// How many.
        bytes: usize,
    },
    /// The output line's layers changed; this is what it shows now.
    Output {
        /// The line.
        line: String,
        /// Its level now.
        on: bool,
        /// The pattern it shows now (the top layer's; `off` when none is left), which may be
        /// a higher-priority layer than the one just set.
        shown: String,
    },
    /// The input lines' levels now, in configured order.
    Inputs(Vec<InputLevel>),
    /// The read window is now open or closed.
    ReadWindow {
        /// Open?
        open: bool,
    },
    /// The printer would take a job now ([`DeviceCommand::PrintReady`]).
    Ready,
    /// The job was sent and the printer's status shows it printed.
    Printed {
        /// Labels of the job.
        labels: u32,
    },
}

/// One input line's level, as [`DeviceCommand::ReadInputs`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputLevel {
    /// The line's configured name.
    pub line: String,
    /// Active (after the configured active level), as debounced.
    pub active: bool,
    /// The electrical level read from the pin just now (high = true), bounces and all.
    pub raw_high: bool,
}

/// Why a device did not carry out a command; each says what to do about it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CommandError {
    /// The device is connecting or down; the command was not kept for later.
    #[error("device is not up ({0}); the command was not carried out")]
    NotUp(String),
    /// This kind of device cannot do that.
    #[error("this device cannot do `{0}`")]
    Unsupported(&'static str),
    /// The device has no output line of that name.
    #[error("no output line {line:?}; this device has: {known}")]
    NoSuchLine {
        /// The name asked for.
        line: String,
        /// The names it has, comma-separated.
        known: String,
    },
    /// The device did not take the command in time (flow control held, a stuck line).
    #[error("the device did not take the command within {0} ms")]
    Timeout(u64),
    /// The device refused or failed; the text is the device's or the OS's own.
    #[error("{0}")]
    Failed(String),
    /// The device's driver stopped before answering (shutdown, reload).
    #[error("the device stopped before answering")]
    Stopped,
    /// A printer with a fault (no labels, head open, paused …): the job was **not** sent and
    /// may be sent again once the fault is cleared.
    #[error("printer not ready, job not sent: {0}")]
    Held(String),
    /// A job was sent (in part or whole) but whether it printed cannot be known (the link
    /// dropped, the daemon stopped): it must not be sent again blindly.
    #[error("job sent but its outcome is unknown: {0}")]
    OutcomeUnknown(String),
    /// The device is busy with an earlier job of the same kind.
    #[error("the device is busy with an earlier job; send one at a time")]
    Busy,
}

/// What a command gets back.
pub type CommandResult = Result<CommandDone, CommandError>;

/// A command with the channel its answer goes to (none: nobody waits, as for operator
/// feedback tones).
#[derive(Debug)]
pub struct CommandRequest {
    /// What to do.
    pub command: DeviceCommand,
    reply: Option<oneshot::Sender<CommandResult>>,
}

impl CommandRequest {
    /// A command whose answer nobody waits for.
    pub fn fire_and_forget(command: DeviceCommand) -> Self {
        CommandRequest {
            command,
            reply: None,
        }
    }

    /// A command and the receiver its answer arrives on.
    pub fn with_reply(command: DeviceCommand) -> (Self, oneshot::Receiver<CommandResult>) {
        let (tx, rx) = oneshot::channel();
        (
            CommandRequest {
                command,
                reply: Some(tx),
            },
            rx,
        )
    }

    /// Answers the command (a requester that stopped waiting is not an error).
    pub fn answer(self, result: CommandResult) {
        if let Some(reply) = self.reply {
            let _ = reply.send(result);
        }
    }

    /// Answers that this device cannot do it.
    pub fn unsupported(self) {
        let name = self.command.name();
        self.answer(Err(CommandError::Unsupported(name)));
    }
}

/// A device's command inbox, as its session sees it.
#[derive(Debug)]
pub struct Commands {
    rx: Option<mpsc::Receiver<CommandRequest>>,
}

impl Commands {
    /// An inbox fed by `rx`.
    pub fn new(rx: mpsc::Receiver<CommandRequest>) -> Self {
        Commands { rx: Some(rx) }
    }

    /// An inbox that never yields (nobody sends this device commands).
    pub fn none() -> Self {
        Commands { rx: None }
    }

    /// The next command; pending forever when there are none to come, so a `select!` arm on
    /// it is simply never taken.
    pub async fn next(&mut self) -> CommandRequest {
        match &mut self.rx {
            Some(rx) => match rx.recv().await {
                Some(request) => request,
                None => {
                    self.rx = None; // every sender is gone
                    std::future::pending().await
                }
            },
            None => std::future::pending().await,
        }
    }

    /// A command already queued, if any.
    pub fn try_next(&mut self) -> Option<CommandRequest> {
        self.rx.as_mut()?.try_recv().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_is_answered_once_and_a_gone_requester_is_no_error() {
        let (request, rx) = CommandRequest::with_reply(DeviceCommand::ReadWindow(true));
        request.answer(Ok(CommandDone::ReadWindow { open: true }));
        assert_eq!(
            rx.await.unwrap(),
            Ok(CommandDone::ReadWindow { open: true })
        );

        let (request, rx) = CommandRequest::with_reply(DeviceCommand::Send(Bytes::from("B")));
        drop(rx);
        request.unsupported(); // no panic
        CommandRequest::fire_and_forget(DeviceCommand::ReadWindow(false)).unsupported();
    }

    #[tokio::test]
    async fn an_inbox_without_senders_pends_instead_of_spinning() {
        let (tx, rx) = mpsc::channel(1);
        let mut inbox = Commands::new(rx);
        drop(tx);
        let next = tokio::time::timeout(std::time::Duration::from_millis(20), inbox.next()).await;
        assert!(next.is_err(), "no command and no busy loop");
        assert!(inbox.try_next().is_none());
    }
}
