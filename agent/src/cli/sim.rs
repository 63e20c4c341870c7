//! `tracegate sim scanner`: be a serial scanner on a real or virtual serial port.
//!
//! For manual runs without hardware: `socat -d -d pty,raw,echo=0,link=/tmp/ttyV0
//! pty,raw,echo=0,link=/tmp/ttyV1`, configure a `serial-scanner` on `/tmp/ttyV1`, and run
//! `tracegate sim scanner --port /tmp/ttyV0`.

use std::path::PathBuf;

use tokio_util::sync::CancellationToken;
use tracegate_drivers::serial::SerialSettings;
use tracegate_drivers::sim::ScannerSim;

use crate::capture::devices::kinds::sim_scanner::{SimScannerSettings, SimTerminator};
use crate::capture::devices::sim_codes;

/// Arguments of `sim scanner`.
#[derive(Debug, clap::Args)]
pub struct ScannerArgs {
    /// The serial port to write to (the scanner's end of the line).
    #[arg(long)]
    pub port: PathBuf,
    /// Scans per second (0: as fast as the line takes).
    #[arg(long, default_value_t = 2.0)]
    pub rate: f64,
    /// Stop after this many scans.
    #[arg(long)]
    pub count: Option<u64>,
    /// A code to send (repeat for several, sent in turn). Default: generated GS1 DataMatrix
    /// codes. `\x1d` or `<GS>` in a code stand for the GS separator.
    #[arg(long = "code")]
    pub codes: Vec<String>,
    /// Terminator: crlf, cr or lf.
    #[arg(long, default_value = "crlf", value_parser = ["crlf", "cr", "lf"])]
    pub terminator: String,
    /// Baud rate to set on the port.
    #[arg(long, default_value_t = 9600)]
    pub baud: u32,
}

/// Runs the simulated scanner until its codes run out or Ctrl-C.
pub async fn scanner(args: &ScannerArgs, cancel: CancellationToken) -> anyhow::Result<u64> {
    let terminator = match args.terminator.as_str() {
        "cr" => SimTerminator::Cr,
        "lf" => SimTerminator::Lf,
        _ => SimTerminator::Crlf,
    };
    let settings = SimScannerSettings {
        rate_per_s: args.rate,
        codes: args
            .codes
            .iter()
            .map(|c| c.replace("\\x1d", "\u{1d}").replace("<GS>", "\u{1d}"))
            .collect(),
        count: args.count,
        terminator,
    };
    let mut serial = SerialSettings::new(args.port.to_string_lossy());
    serial.baud = args.baud;
    let mut port = serial
        .open()
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", args.port.display()))?;
    let sim = ScannerSim {
        terminator: terminator.bytes().to_vec(),
        ..ScannerSim::default()
    }
    .with_rate(args.rate);
    Ok(sim
        .run(&mut port, sim_codes::frames(&settings), &cancel)
        .await?)
}

/// Arguments of `sim llrp-reader`.
#[derive(Debug, clap::Args)]
pub struct LlrpReaderArgs {
    /// Loopback port to listen on (0: a free one, printed).
    #[arg(long, default_value_t = 5084)]
    pub port: u16,
    /// A pallet through the door this often (ms).
    #[arg(long, default_value_t = 5000)]
    pub pass_every_ms: u64,
    /// Tags per pallet.
    #[arg(long, default_value_t = 4)]
    pub tags: u16,
    /// Which way pallets go: in, out or alternate.
    #[arg(long, default_value = "alternate", value_parser = ["in", "out", "alternate"])]
    pub passes: String,
    /// Report ticks per second.
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,
}

/// Runs a simulated LLRP reader on loopback (an Impinj R700 as a client sees it, a dock door
/// with antenna 1 inside and 2 outside) until Ctrl-C: point an `llrp-reader` device, or any
/// LLRP client, at it.
pub async fn llrp_reader(args: &LlrpReaderArgs, cancel: CancellationToken) -> anyhow::Result<()> {
    use crate::capture::devices::kinds::sim_llrp_reader::{Passes, SimLlrpSettings, script};
    let passes = match args.passes.as_str() {
        "in" => Passes::In,
        "out" => Passes::Out,
        _ => Passes::Alternate,
    };
    let door = SimLlrpSettings {
        pass_every_ms: args.pass_every_ms.max(1000),
        tags_per_pass: args.tags.clamp(1, 1000),
        passes,
        inside_antenna: 1,
        outside_antenna: 2,
        report_rate: args.rate.clamp(1.0, 1000.0),
    };
    let reader = tracegate_drivers::sim::SimReader::start_on(
        &format!("127.0.0.1:{}", args.port),
        script(&door),
    )
    .await
    .map_err(|e| anyhow::anyhow!("cannot listen on 127.0.0.1:{}: {e}", args.port))?;
    eprintln!(
        "simulated LLRP reader on 127.0.0.1:{}: a pallet of {} tags every {} ms ({}); antenna 1 inside, 2 outside; Ctrl-C stops",
        reader.port, door.tags_per_pass, door.pass_every_ms, args.passes
    );
    cancel.cancelled().await;
    Ok(())
}
