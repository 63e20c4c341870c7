//! `tracegate decode`: what a payload means, one JSON object per input, in the shape
//! [`crate::capture::meaning`] describes.

use std::io::{BufRead, Write};

use crate::capture::meaning::json_line;
use tracegate_identifiers::{self as identify, Mode, Rules};

/// Arguments of `decode`.
#[derive(Debug, clap::Args)]
pub struct DecodeArgs {
    /// How to read the inputs.
    #[arg(long = "as", value_enum, default_value_t = Mode::Auto)]
    pub mode: Mode,
    /// Do not check requisite AI associations (for labels that split one message across
    /// several symbols).
    #[arg(long)]
    pub no_requisites: bool,
    /// Inputs. Without any, one input per line is read from stdin, bytes kept as they are
    /// (GS included), only the line end removed.
    pub inputs: Vec<std::ffi::OsString>,
}

/// Runs `decode`, writing to `out`.
pub fn run(args: &DecodeArgs, stdin: impl BufRead, mut out: impl Write) -> std::io::Result<()> {
    let rules = Rules {
        requisites: !args.no_requisites,
        ..Rules::default()
    };
    let one = |input: &[u8], out: &mut dyn Write| -> std::io::Result<()> {
        let decoding = identify::decode(input, args.mode, rules);
        writeln!(out, "{}", json_line(input, &decoding))
    };
    if args.inputs.is_empty() {
        for line in stdin.split(b'\n') {
            let mut line = line?;
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            one(&line, &mut out)?;
        }
    } else {
        use std::os::unix::ffi::OsStrExt;
        for input in &args.inputs {
            one(input.as_bytes(), &mut out)?;
        }
    }
    out.flush()
}
