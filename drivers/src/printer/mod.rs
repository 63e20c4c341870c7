//! Label printers: the printer languages' status replies as pure codecs, and what a status
//! means for a print queue.
//!
//! - [`zpl`]: Zebra ZPL II printers (and the ZPL emulations of Honeywell, SATO, TSC, Godex):
//!   the `~HS` host status, three `STX … ETX CR LF` strings;
//! - [`tspl`]: TSC TSPL / TSPL2 printers (and Godex, Xprinter, Gprinter, HPRT in TSPL mode):
//!   the `<ESC>!?` status byte and the `<ESC>!S` four-byte status.
//!
//! Both read into a [`PrinterStatus`]: the faults that stop printing, each with what an
//! operator does about it, whether the printer is paused or printing, and the labels left in
//! the batch where the language reports it. A print queue holds on any fault and resumes when
//! the status is clear again; the drivers know bytes, the queue decides.
//!
//! - [`driver`]: the printer session over raw TCP (port 9100), a serial line or a USB printer
//!   class device (`/dev/usb/lp0`): sends a job, confirms it printed from the status, holds on
//!   a fault, polls with backoff.
//!
//! What a label says (templates, GS1 symbols, previews) is the agent's `labels` module; the
//! durable print queue that decides what is printed once is the agent's `print` module.

pub mod driver;
pub mod tspl;
pub mod zpl;

/// Something that stops a printer printing, until an operator clears it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// Out of labels.
    PaperOut,
    /// Out of ribbon (thermal transfer).
    RibbonOut,
    /// The print head is open (up).
    HeadOpen,
    /// Labels jammed in the paper path.
    PaperJam,
    /// Paused from the front panel or by a command.
    Paused,
    /// The printer's receive buffer is full.
    BufferFull,
    /// The head or motor is too hot.
    OverTemperature,
    /// The head is too cold to print.
    UnderTemperature,
    /// The printer lost its configuration (corrupt RAM).
    ConfigurationLost,
    /// The cutter jammed.
    CutterJam,
    /// The cover is open.
    CoverOpen,
    /// Not enough memory for the label.
    OutOfMemory,
    /// The printer stopped answering status requests on a link that is still open. Zebra
    /// firmware does this while out of media or ribbon or with the head open (see [`zpl`]);
    /// for any printer it means nothing can be confirmed, so the queue holds.
    Silent,
    /// An error the printer does not say more about.
    Other,
}

impl Fault {
    /// The fault in words, with what to do.
    pub fn text(self) -> &'static str {
        match self {
            Fault::PaperOut => "out of labels: load a new roll",
            Fault::RibbonOut => "out of ribbon: load a new ribbon",
            Fault::HeadOpen => "print head open: close it",
            Fault::PaperJam => "labels jammed: clear the paper path",
            Fault::Paused => "paused: press the printer's pause key to resume",
            Fault::BufferFull => "the printer's receive buffer is full",
            Fault::OverTemperature => "too hot: let the print head cool down",
            Fault::UnderTemperature => "print head too cold",
            Fault::ConfigurationLost => "the printer lost its configuration: re-run its set-up",
            Fault::CutterJam => "cutter jammed: clear it",
            Fault::CoverOpen => "cover open: close it",
            Fault::OutOfMemory => "not enough printer memory for the label",
            Fault::Silent => {
                "not answering status requests: check for no labels, no ribbon or an open head"
            }
            Fault::Other => "printer error: see its display",
        }
    }

    /// A short name for status and metrics labels (`paper_out`, `head_open` …).
    pub fn name(self) -> &'static str {
        match self {
            Fault::PaperOut => "paper_out",
            Fault::RibbonOut => "ribbon_out",
            Fault::HeadOpen => "head_open",
            Fault::PaperJam => "paper_jam",
            Fault::Paused => "paused",
            Fault::BufferFull => "buffer_full",
            Fault::OverTemperature => "over_temperature",
            Fault::UnderTemperature => "under_temperature",
            Fault::ConfigurationLost => "configuration_lost",
            Fault::CutterJam => "cutter_jam",
            Fault::CoverOpen => "cover_open",
            Fault::OutOfMemory => "out_of_memory",
            Fault::Silent => "silent",
            Fault::Other => "other",
        }
    }
}

/// A printer's state as its status reply tells it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrinterStatus {
    /// What stops it printing, in a fixed order; empty: ready.
    pub faults: Vec<Fault>,
    /// It is printing now (TSPL reports it; ZPL does not).
    pub printing: bool,
    /// Labels left of the batch being printed (ZPL `~HS`), where the language says.
    pub labels_remaining: Option<u32>,
    /// Formats received and not yet printed (ZPL `~HS`).
    pub formats_waiting: Option<u32>,
}

impl PrinterStatus {
    /// Whether a queue may send the next label.
    pub fn ready(&self) -> bool {
        self.faults.is_empty()
    }

    /// The faults in words, `; `-separated (for status and logs).
    pub fn describe(&self) -> String {
        if self.faults.is_empty() {
            return "ready".into();
        }
        self.faults
            .iter()
            .map(|f| f.text())
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Adds `fault` when `on` (faults stay sorted and unique).
    pub fn add(&mut self, on: bool, fault: Fault) {
        if on && !self.faults.contains(&fault) {
            self.faults.push(fault);
            self.faults.sort_unstable();
        }
    }
}
