//! ZPL II host status (`~HS`), as a pure codec.
//!
//! Source: Zebra "ZPL II Programming Guide" (P1012728, and 45541L-004 Rev. A, pp. 171-173),
//! `~HS` Host Status Return: the printer answers with three strings, each `<STX> … <ETX>
//! <CR><LF>`:
//!
//! ```text
//!  String 1  aaa,b,c,dddd,eee,f,g,h,iii,j,k,l   interface settings, paper out, pause, label
//!                                               length (dots), formats in buffer, buffer
//!                                               full, diagnostic mode, partial format,
//!                                               unused, corrupt RAM, under / over temperature
//!  String 2  mmm,n,o,p,q,r,s,t,uuuuuuuu,v,www   function settings, unused, head up, ribbon
//!                                               out, thermal transfer, print mode, print
//!                                               width mode, label waiting, labels remaining
//!                                               in batch, format while printing, graphics
//!  String 3  xxxx,y                             password, static RAM installed
//! ```
//!
//! The guide also says what a poller must know: current firmware does **not answer** `~HS`
//! while the media or ribbon is out, the head is open, the rewinder full or the head over
//! temperature — so silence after `~HS` from a printer that answered before is itself a
//! fault to hold the queue on, not a lost printer.
//!
//! Decoding finds each string between STX and ETX (the CR LF and anything else between strings
//! are skipped and counted), tells the three apart by their field counts (12, 11, 2), and
//! yields one [`HostStatus`] per complete set in order; a string out of order, with a field
//! that is not a number, or longer than any status string is reported and the set starts over.

use bytes::{Buf, BytesMut};
use tokio_util::codec::Decoder;

use super::{Fault, PrinterStatus};

/// The host status request.
pub const HOST_STATUS: &[u8] = b"~HS";

const STX: u8 = 0x02;
const ETX: u8 = 0x03;
/// Longest string the printer sends (string 2 is 33 characters); anything longer is noise.
const MAX_STRING: usize = 64;

/// What `~HS` reports, field by field (names as in the guide).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostStatus {
    /// `aaa`: the serial interface settings, as a number.
    pub interface: u16,
    /// `b`.
    pub paper_out: bool,
    /// `c`.
    pub paused: bool,
    /// `dddd`: label length in dots.
    pub label_length: u32,
    /// `eee`: formats in the receive buffer.
    pub formats_in_buffer: u32,
    /// `f`.
    pub buffer_full: bool,
    /// `g`.
    pub diagnostic_mode: bool,
    /// `h`.
    pub partial_format: bool,
    /// `j`: configuration data lost.
    pub corrupt_ram: bool,
    /// `k`.
    pub under_temperature: bool,
    /// `l`.
    pub over_temperature: bool,
    /// `mmm`: function settings, as a number.
    pub functions: u16,
    /// `o`.
    pub head_up: bool,
    /// `p`.
    pub ribbon_out: bool,
    /// `q`.
    pub thermal_transfer: bool,
    /// `r`: 0 rewind, 1 peel-off, 2 tear-off, 3 cutter, 4 applicator …
    pub print_mode: u8,
    /// `s`.
    pub print_width_mode: u8,
    /// `t`: a label waits to be taken (peel-off mode).
    pub label_waiting: bool,
    /// `uuuuuuuu`: labels remaining in the batch.
    pub labels_remaining: u32,
    /// `www`: graphic images stored.
    pub graphics: u32,
    /// `xxxx`: the password.
    pub password: u16,
    /// `y`: static RAM installed.
    pub static_ram: bool,
}

impl HostStatus {
    /// What this status means for printing.
    pub fn status(&self) -> PrinterStatus {
        let mut s = PrinterStatus {
            labels_remaining: Some(self.labels_remaining),
            formats_waiting: Some(self.formats_in_buffer),
            ..PrinterStatus::default()
        };
        s.add(self.paper_out, Fault::PaperOut);
        s.add(self.ribbon_out, Fault::RibbonOut);
        s.add(self.head_up, Fault::HeadOpen);
        s.add(self.paused, Fault::Paused);
        s.add(self.buffer_full, Fault::BufferFull);
        s.add(self.over_temperature, Fault::OverTemperature);
        s.add(self.under_temperature, Fault::UnderTemperature);
        s.add(self.corrupt_ram, Fault::ConfigurationLost);
        s
    }

    /// The three strings as a printer sends them (the simulator's side).
    pub fn to_bytes(&self) -> Vec<u8> {
        let b = |v: bool| u8::from(v);
        let one = format!(
            "{:03},{},{},{:04},{:03},{},{},{},000,{},{},{}",
            self.interface,
            b(self.paper_out),
            b(self.paused),
            self.label_length,
            self.formats_in_buffer,
            b(self.buffer_full),
            b(self.diagnostic_mode),
            b(self.partial_format),
            b(self.corrupt_ram),
            b(self.under_temperature),
            b(self.over_temperature),
        );
        let two = format!(
            "{:03},0,{},{},{},{},{},{},{:08},1,{:03}",
            self.functions,
            b(self.head_up),
            b(self.ribbon_out),
            b(self.thermal_transfer),
            self.print_mode,
            self.print_width_mode,
            b(self.label_waiting),
            self.labels_remaining,
            self.graphics,
        );
        let three = format!("{:04},{}", self.password, b(self.static_ram));
        let mut out = Vec::new();
        for s in [one, two, three] {
            out.push(STX);
            out.extend_from_slice(s.as_bytes());
            out.extend_from_slice(&[ETX, b'\r', b'\n']);
        }
        out
    }
}

/// What came off the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZplItem {
    /// A complete, well-formed status.
    Status(HostStatus),
    /// Bytes outside the status strings other than CR LF (ZPL's other replies, noise).
    Noise {
        /// How many.
        bytes: usize,
    },
    /// A string that is not a status string, or not where it should be.
    Malformed(String),
}

/// Decodes `~HS` replies (for `FramedRead` on the printer's connection).
#[derive(Debug, Default)]
pub struct HostStatusCodec {
    /// Strings 1 and 2 of the set being read.
    one: Option<Vec<u32>>,
    two: Option<Vec<u32>>,
}

fn fields(text: &[u8]) -> Result<Vec<u32>, String> {
    let text =
        std::str::from_utf8(text).map_err(|_| "a status string that is not ASCII".to_string())?;
    text.split(',')
        .map(|f| {
            if f.is_empty() || f.len() > 8 || !f.bytes().all(|c| c.is_ascii_digit()) {
                Err(format!("status field {f:?} is not a number"))
            } else {
                f.parse()
                    .map_err(|_| format!("status field {f:?} is not a number"))
            }
        })
        .collect()
}

fn build(one: &[u32], two: &[u32], three: &[u32]) -> HostStatus {
    let flag = |v: u32| v != 0;
    HostStatus {
        interface: one[0] as u16,
        paper_out: flag(one[1]),
        paused: flag(one[2]),
        label_length: one[3],
        formats_in_buffer: one[4],
        buffer_full: flag(one[5]),
        diagnostic_mode: flag(one[6]),
        partial_format: flag(one[7]),
        corrupt_ram: flag(one[9]),
        under_temperature: flag(one[10]),
        over_temperature: flag(one[11]),
        functions: two[0] as u16,
        head_up: flag(two[2]),
        ribbon_out: flag(two[3]),
        thermal_transfer: flag(two[4]),
        print_mode: two[5] as u8,
        print_width_mode: two[6] as u8,
        label_waiting: flag(two[7]),
        labels_remaining: two[8],
        graphics: two[10],
        password: three[0] as u16,
        static_ram: flag(three[1]),
    }
}

impl HostStatusCodec {
    /// A decoder with no set begun.
    pub fn new() -> Self {
        Self::default()
    }

    fn string(&mut self, text: &[u8]) -> Option<ZplItem> {
        let values = match fields(text) {
            Ok(values) => values,
            Err(why) => {
                self.one = None;
                self.two = None;
                return Some(ZplItem::Malformed(why));
            }
        };
        match values.len() {
            12 => {
                let restarted = self.one.is_some();
                self.one = Some(values);
                self.two = None;
                restarted
                    .then(|| ZplItem::Malformed("a status set without its strings 2 and 3".into()))
            }
            11 if self.one.is_some() && self.two.is_none() => {
                self.two = Some(values);
                None
            }
            2 if self.two.is_some() => {
                let (one, two) = (self.one.take()?, self.two.take()?);
                Some(ZplItem::Status(build(&one, &two, &values)))
            }
            n => {
                self.one = None;
                self.two = None;
                Some(ZplItem::Malformed(format!(
                    "a status string of {n} fields out of order (the printer's answer cut or mixed with another)"
                )))
            }
        }
    }
}

impl Decoder for HostStatusCodec {
    type Item = ZplItem;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<ZplItem>, std::io::Error> {
        loop {
            // Skip to the next STX; CR LF between strings is the format, anything else noise.
            let start = src.iter().position(|&b| b == STX).unwrap_or(src.len());
            let noise = src[..start]
                .iter()
                .filter(|&&b| b != b'\r' && b != b'\n')
                .count();
            src.advance(start);
            if noise > 0 {
                return Ok(Some(ZplItem::Noise { bytes: noise }));
            }
            if src.is_empty() {
                return Ok(None);
            }
            let Some(end) = src.iter().take(MAX_STRING + 2).position(|&b| b == ETX) else {
                if src.len() > MAX_STRING + 1 {
                    src.advance(1);
                    self.one = None;
                    self.two = None;
                    return Ok(Some(ZplItem::Malformed(format!(
                        "a status string longer than {MAX_STRING} bytes"
                    ))));
                }
                return Ok(None);
            };
            let string = src.split_to(end + 1);
            if let Some(item) = self.string(&string[1..end]) {
                return Ok(Some(item));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(bytes: &[u8]) -> Vec<ZplItem> {
        let mut codec = HostStatusCodec::new();
        let mut buf = BytesMut::from(bytes);
        let mut out = Vec::new();
        while let Some(item) = codec.decode(&mut buf).unwrap() {
            out.push(item);
        }
        out
    }

    /// A reply as a ZPL printer sends it: 9600 8N1 DTR, 812-dot labels, nothing waiting;
    /// peel-off mode, 3 labels left of the batch.
    const READY: &[u8] = b"\x02030,0,0,0812,000,0,0,0,000,0,0,0\x03\r\n\
                           \x02001,0,0,0,1,1,6,0,00000003,1,000\x03\r\n\
                           \x021234,0\x03\r\n";

    #[test]
    fn a_ready_printer_s_reply_reads_field_by_field() {
        let items = decode_all(READY);
        let [ZplItem::Status(status)] = &items[..] else {
            panic!("{items:?}")
        };
        assert_eq!(status.interface, 30);
        assert_eq!(status.label_length, 812);
        assert!(status.thermal_transfer);
        assert_eq!(status.print_mode, 1);
        assert_eq!(status.labels_remaining, 3);
        assert_eq!(status.password, 1234);
        let s = status.status();
        assert!(s.ready(), "{s:?}");
        assert_eq!(s.labels_remaining, Some(3));
        assert_eq!(status.to_bytes(), READY);
    }

    #[test]
    fn paper_out_head_up_and_pause_are_faults_in_words() {
        let reply = HostStatus {
            paper_out: true,
            paused: true,
            head_up: true,
            ..HostStatus::default()
        };
        let items = decode_all(&reply.to_bytes());
        let [ZplItem::Status(status)] = &items[..] else {
            panic!("{items:?}")
        };
        let s = status.status();
        assert_eq!(s.faults, [Fault::PaperOut, Fault::HeadOpen, Fault::Paused]);
        assert!(s.describe().contains("load a new roll"), "{}", s.describe());
    }

    #[test]
    fn a_reply_split_anywhere_decodes_once() {
        for cut in 1..READY.len() {
            let mut codec = HostStatusCodec::new();
            let mut buf = BytesMut::from(&READY[..cut]);
            let mut items = Vec::new();
            while let Some(item) = codec.decode(&mut buf).unwrap() {
                items.push(item);
            }
            buf.extend_from_slice(&READY[cut..]);
            while let Some(item) = codec.decode(&mut buf).unwrap() {
                items.push(item);
            }
            assert!(
                matches!(&items[..], [ZplItem::Status(_)]),
                "cut at {cut}: {items:?}"
            );
        }
    }

    #[test]
    fn a_cut_reply_is_reported_and_the_next_one_reads() {
        let mut bytes = READY[..40].to_vec(); // string 1 and the start of string 2
        bytes.extend_from_slice(b"\x03\r\n"); // … ended early
        bytes.extend_from_slice(READY);
        let items = decode_all(&bytes);
        assert!(matches!(items[0], ZplItem::Malformed(_)), "{items:?}");
        assert!(
            matches!(items.last(), Some(ZplItem::Status(_))),
            "{items:?}"
        );
    }

    #[test]
    fn noise_and_a_non_numeric_field_are_reported() {
        let mut bytes = b"garbage".to_vec();
        bytes.extend_from_slice(b"\x02030,X,0,0812,000,0,0,0,000,0,0,0\x03\r\n");
        bytes.extend_from_slice(READY);
        let items = decode_all(&bytes);
        assert_eq!(items[0], ZplItem::Noise { bytes: 7 });
        assert!(
            matches!(&items[1], ZplItem::Malformed(why) if why.contains("\"X\"")),
            "{items:?}"
        );
        assert!(matches!(items.last(), Some(ZplItem::Status(_))));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_and_stay_bounded(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let mut codec = HostStatusCodec::new();
            let mut buf = BytesMut::from(&bytes[..]);
            while let Some(_item) = codec.decode(&mut buf).unwrap() {}
            proptest::prop_assert!(buf.len() <= MAX_STRING + 1);
        }

        #[test]
        fn any_status_round_trips(paper_out: bool, paused: bool, head_up: bool, ribbon_out: bool,
            labels in 0u32..100_000_000, formats in 0u32..1000) {
            let status = HostStatus {
                paper_out, paused, head_up, ribbon_out,
                labels_remaining: labels,
                formats_in_buffer: formats,
                ..HostStatus::default()
            };
            proptest::prop_assert_eq!(decode_all(&status.to_bytes()), vec![ZplItem::Status(status)]);
        }
    }
}
