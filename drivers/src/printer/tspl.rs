//! TSPL / TSPL2 printer status, as pure codecs.
//!
//! Source: TSC "TSPL/TSPL2 Programming Language" manual (2013 edition, pp. 84-85), "Status
//! polling commands (RS-232)":
//!
//! - `<ESC>!?` answers **one byte**, any time, even in an error: bit 0 head opened, 1 paper
//!   jam, 2 out of paper, 3 out of ribbon, 4 pause, 5 printing, 6 cover opened (option),
//!   7 environment temperature over range (option); `0x00` is ready.
//! - `<ESC>!S` (firmware V6.29 EZ and later) answers `<STX>` four status bytes `<ETX><CR><LF>`:
//!   a message (`@` normal, `` ` `` pause, `B` backing label, `C` cutting, `E` printer error,
//!   `F` form feed, `K` waiting for the print key, `L` waiting to take the label, `P`
//!   printing batch, `W` imaging), a warning (`H` receive buffer full), and two error bytes
//!   whose bits (over `0x40`) are: `0x01` print head overheat, `0x02` stepping motor
//!   overheat, `0x08` cutter jam, `0x10` insufficient memory; `0x01` paper empty, `0x02`
//!   paper jam, `0x04` ribbon empty (the rest of that byte's rows: an unnamed error).

use bytes::{Buf, BytesMut};
use tokio_util::codec::Decoder;

use super::{Fault, PrinterStatus};

/// The one-byte status request.
pub const STATUS_BYTE: &[u8] = b"\x1b!?";
/// The extended status request.
pub const STATUS_EXTENDED: &[u8] = b"\x1b!S";

/// The `<ESC>!?` byte, read.
pub fn status_byte(byte: u8) -> PrinterStatus {
    let bit = |n: u8| byte & (1 << n) != 0;
    let mut s = PrinterStatus {
        printing: bit(5),
        ..PrinterStatus::default()
    };
    s.add(bit(0), Fault::HeadOpen);
    s.add(bit(1), Fault::PaperJam);
    s.add(bit(2), Fault::PaperOut);
    s.add(bit(3), Fault::RibbonOut);
    s.add(bit(4), Fault::Paused);
    s.add(bit(6), Fault::CoverOpen);
    s.add(bit(7), Fault::OverTemperature);
    s
}

/// The `<ESC>!?` byte a printer in `status` sends (the simulator's side).
pub fn to_status_byte(status: &PrinterStatus) -> u8 {
    let has = |f: Fault| status.faults.contains(&f);
    [
        has(Fault::HeadOpen),
        has(Fault::PaperJam),
        has(Fault::PaperOut),
        has(Fault::RibbonOut),
        has(Fault::Paused),
        status.printing,
        has(Fault::CoverOpen),
        has(Fault::OverTemperature),
    ]
    .iter()
    .enumerate()
    .fold(0, |byte, (n, &on)| byte | (u8::from(on) << n))
}

/// The four `<ESC>!S` status bytes, read; none when a byte is not one the manual lists.
pub fn extended_status(bytes: [u8; 4]) -> Option<PrinterStatus> {
    let [message, warning, error1, error2] = bytes;
    if bytes.iter().any(|b| b & 0xC0 != 0x40) {
        return None;
    }
    let mut s = PrinterStatus {
        printing: matches!(message, b'P' | b'W' | b'C' | b'F'),
        ..PrinterStatus::default()
    };
    s.add(message == b'`', Fault::Paused);
    s.add(message == b'E', Fault::Other);
    s.add(warning & 0x08 != 0, Fault::BufferFull);
    s.add(error1 & 0x03 != 0, Fault::OverTemperature);
    s.add(error1 & 0x08 != 0, Fault::CutterJam);
    s.add(error1 & 0x10 != 0, Fault::OutOfMemory);
    s.add(error2 & 0x01 != 0, Fault::PaperOut);
    s.add(error2 & 0x02 != 0, Fault::PaperJam);
    s.add(error2 & 0x04 != 0, Fault::RibbonOut);
    // The table's further rows (ribbon jam, …) are read as an error without a name: the
    // queue holds on them all the same.
    s.add(error2 & 0x38 != 0, Fault::Other);
    // An error message with its cause named needs no "other".
    if s.faults.len() > 1 {
        s.faults.retain(|f| *f != Fault::Other);
    }
    Some(s)
}

/// What came off the line after a status request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TsplItem {
    /// A status, from either request.
    Status(PrinterStatus),
    /// Bytes that are neither (counted, skipped).
    Noise {
        /// How many.
        bytes: usize,
    },
}

/// Decodes `<ESC>!S` replies (`STX`, four bytes, `ETX CR LF`), for `FramedRead`. The
/// one-byte `<ESC>!?` answer has no framing; a driver that asked it reads one byte and calls
/// [`status_byte`].
#[derive(Debug, Default)]
pub struct ExtendedStatusCodec;

impl Decoder for ExtendedStatusCodec {
    type Item = TsplItem;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<TsplItem>, std::io::Error> {
        let start = src.iter().position(|&b| b == 0x02).unwrap_or(src.len());
        let noise = src[..start]
            .iter()
            .filter(|&&b| b != b'\r' && b != b'\n')
            .count();
        src.advance(start);
        if noise > 0 {
            return Ok(Some(TsplItem::Noise { bytes: noise }));
        }
        if src.len() < 6 {
            return Ok(None);
        }
        let bytes = [src[1], src[2], src[3], src[4]];
        match (src[5], extended_status(bytes)) {
            (0x03, Some(status)) => {
                src.advance(6);
                Ok(Some(TsplItem::Status(status)))
            }
            _ => {
                src.advance(1);
                Ok(Some(TsplItem::Noise { bytes: 1 }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manual_s_status_bytes() {
        // The manual's table: 00 normal, 05 out of paper and head opened, 0C out of ribbon
        // and out of paper, 10 pause, 20 printing.
        assert!(status_byte(0x00).ready());
        assert_eq!(status_byte(0x05).faults, [Fault::PaperOut, Fault::HeadOpen]);
        assert_eq!(
            status_byte(0x0C).faults,
            [Fault::PaperOut, Fault::RibbonOut]
        );
        assert_eq!(status_byte(0x10).faults, [Fault::Paused]);
        let printing = status_byte(0x20);
        assert!(printing.ready() && printing.printing);
    }

    #[test]
    fn every_status_byte_round_trips() {
        for byte in 0..=255u8 {
            assert_eq!(to_status_byte(&status_byte(byte)), byte);
        }
    }

    #[test]
    fn extended_status_reads_the_four_bytes() {
        let mut codec = ExtendedStatusCodec;
        let mut buf = BytesMut::from(&b"\x02@@@@\x03\r\n\x02E@@A\x03\r\n\x02`@@@\x03\r\n"[..]);
        let mut out = Vec::new();
        while let Some(TsplItem::Status(s)) = codec.decode(&mut buf).unwrap() {
            out.push(s);
        }
        assert!(out[0].ready());
        assert_eq!(
            out[1].faults,
            [Fault::PaperOut],
            "the cause replaces \"other\""
        );
        assert_eq!(out[2].faults, [Fault::Paused]);
    }

    #[test]
    fn a_byte_the_manual_does_not_list_is_noise() {
        let mut codec = ExtendedStatusCodec;
        let mut buf = BytesMut::from(&b"\x02\x00@@@\x03\r\n\x02@@@@\x03"[..]);
        assert_eq!(
            codec.decode(&mut buf).unwrap(),
            Some(TsplItem::Noise { bytes: 1 })
        );
        let mut last = None;
        while let Some(item) = codec.decode(&mut buf).unwrap() {
            last = Some(item);
        }
        assert_eq!(last, Some(TsplItem::Status(PrinterStatus::default())));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_and_stay_bounded(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let mut codec = ExtendedStatusCodec;
            let mut buf = BytesMut::from(&bytes[..]);
            while let Some(_item) = codec.decode(&mut buf).unwrap() {}
            proptest::prop_assert!(buf.len() < 6);
        }
    }
}
