//! The command line: `tracegate run | status | cmd | print | export | verify | import | events | decode | epcis | check-config | sim`.

pub mod cmd;
pub mod decode;
pub mod epcis;
pub mod events;
pub mod integrity;
pub mod print;
#[cfg(feature = "sim")]
pub mod sim;
pub mod status;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Default config file location (the Debian package installs it there).
pub const DEFAULT_CONFIG: &str = "/etc/tracegate/tracegate.toml";

/// Exit code for a bad config file or a misused command line.
pub const EXIT_USAGE: u8 = 2;

/// tracegate: edge traceability daemon. Reads scanners and RFID readers, records each read as
/// an EPCIS 2.0 event in a durable SQLite outbox, and publishes it over MQTT.
#[derive(Debug, Parser)]
#[command(name = "tracegate", version, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The config file option shared by the subcommands.
#[derive(Debug, clap::Args)]
pub struct ConfigArg {
    /// Config file.
    #[arg(short, long, env = "TRACEGATE_CONFIG", default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: read the configured devices, capture events, publish them.
    ///
    /// Stops cleanly on SIGTERM or SIGINT. Log level from TRACEGATE_LOG (default info).
    Run {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Show queue, broker and device status.
    ///
    /// Asks the running daemon over its control socket; when none answers, reports what the
    /// outbox file says (queue figures only).
    Status {
        #[command(flatten)]
        config: ConfigArg,
        /// Print the full report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Send a command to the running daemon (the same commands the platform sends over MQTT):
    /// `tracegate cmd output light-1 red`, `tracegate cmd reload`, `tracegate cmd ping`.
    ///
    /// Prints the command's final reply as JSON; exit code 1 when it failed.
    Cmd(cmd::CmdArgs),
    /// Print a label through the running daemon's durable print queue (`--device`, `--key`),
    /// or draw it to a PNG without a printer (`--preview FILE`).
    ///
    /// Printing prints the job's final reply as JSON; exit code 1 when it failed.
    Print(print::PrintArgs),
    /// Write the undelivered backlog (or `--all`, or a seq range) to a directory — a USB
    /// stick — as EPCIS 2.0 documents with a manifest signed by the gateway's key; safe to
    /// interrupt (files appear whole or not at all, the manifest last).
    Export(integrity::ExportArgs),
    /// Check an export directory or an outbox file: signatures, the hash chain, every eventID
    /// recomputed. Says what is wrong and where; exit code 1 when anything is. Needs no config.
    Verify(integrity::VerifyArgs),
    /// Import another gateway's export (a field kit's stick) at this gateway: verified first
    /// (refused whole if anything is wrong), then published through this gateway's outbox on
    /// the originating gateway's events topic; eventIDs imported before are skipped, so a
    /// second import of the same stick publishes nothing. Needs the daemon running.
    Import(integrity::ImportArgs),
    /// Inspect the events in the outbox.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Decode payloads: GS1 element strings, GS1 Digital Link URIs, EPC hex or URIs, national
    /// codes. One JSON object per input on stdout; exit code 0 even when inputs are invalid.
    Decode(decode::DecodeArgs),
    /// EPCIS tools.
    Epcis {
        #[command(subcommand)]
        command: EpcisCommand,
    },
    /// Validate a config file and exit: 0 when valid, 2 with a message naming the line when not.
    CheckConfig {
        /// The config file to check.
        file: PathBuf,
    },
    /// Drive every GPIO output line of the config inactive, and exit: the safe state after
    /// the daemon has stopped however it stopped (the systemd unit runs it as
    /// `ExecStopPost=`, so a crash or a watchdog kill does not leave a relay on). Exit code 1
    /// when a device could not be set (each failure is printed).
    OutputsSafe {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Simulated devices, for trying a configuration without hardware (not in the gateway
    /// packages: a build with the `sim` feature).
    #[cfg(feature = "sim")]
    Sim {
        #[command(subcommand)]
        command: SimCommand,
    },
}

/// `tracegate events …`
#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Print the newest events, one JSON object per line, oldest first.
    Tail(events::TailArgs),
    /// Write events from the outbox as one EPCIS 2.0 document (the events exactly as published).
    Export(events::ExportArgs),
    /// List the events set aside because they could not be published (too large for one MQTT
    /// message), one JSON object per line.
    SetAside(events::SetAsideArgs),
}

/// `tracegate epcis …`
#[derive(Debug, Subcommand)]
pub enum EpcisCommand {
    /// Print the CBV 2.0 event hash ID of each event read from stdin (an EPCISDocument, or one
    /// event or document per line), one per line, in order.
    Hash(epcis::HashArgs),
}

/// `tracegate sim …`
#[cfg(feature = "sim")]
#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Act as a serial barcode scanner on a serial port or pty (e.g. one end of a socat pair).
    Scanner(sim::ScannerArgs),
    /// Act as an LLRP RFID reader at a dock door, on a loopback port.
    LlrpReader(sim::LlrpReaderArgs),
}
