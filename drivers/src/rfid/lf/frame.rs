//! What LF (134.2 kHz, ISO 11784 / 11785) stick and panel readers send on their serial line,
//! as a pure codec: bytes in, one [`LfItem`] per tag read out.
//!
//! Formats understood (each with its source):
//!
//! | format | on the wire | source |
//! | --- | --- | --- |
//! | decimal | `982000000255895` CR LF | the 15-digit numeric form of ISO 11784 (3-digit country or manufacturer code, 12-digit national id), the default of most generic stick readers |
//! | spaced | `982 000000255895` CR LF | the same with a space, as printed on tags and shown by readers |
//! | Allflex | `LA 982 000000255895` CR LF | Allflex RS320 Stick Reader User Guide (Allflex Australia), Table 3 "Default Serial Data ID Code Formats"; Allflex Panel Reader User Manual V2.4 (2006), "Interpreting ID Codes" p. 19: `L` line mode, `A` animal-coded read-only tag |
//! | TIRIS | `LA 00000 0 982 000001088420` CR LF | the same manual, p. 19: the "TIRIS S2000" format appends the 5-digit reserved field and the data-block flag before the code |
//! | WL-134 | STX, 26 ASCII hex digits, XOR, ¬XOR, ETX (30 bytes) | the frame of the common WL-134 FDX-B modules: id (10 hex digits) and country (4) least significant digit first, data-block flag, animal flag, reserved fields; checked as the Makuna/Rfid134 library (LGPL) does |
//!
//! Field delimiters of the Allflex line formats may be a space, comma, semicolon or tab
//! (Allflex Stick Reader serial protocol, §3.1.2). An HDX *industrial* tag (`LR 0006 …`) is
//! not an ISO 11784 animal code and is refused with that reason; the hexadecimal variants of
//! the Allflex formats are not understood (refused, the reason says which setting to change).
//!
//! Where the sources disagree: the brief for this reader speaks of a CRC-CCITT check on the
//! WL-134 frame. The CRC-CCITT (ISO 11785) protects the FDX-B telegram on the air, and the
//! module checks it before it sends anything; the serial frame the module sends carries only
//! the XOR checksum and its complement, which is what is checked here.
//!
//! A tag read comes out as the 15-digit decimal form, whatever the format; whether the
//! country code is assigned and the id fits its 38 bits is the identifier layer's business
//! (`iso11784`), so a bad code is refused by the pipeline with its reason and the operator
//! can read the tag again. What comes out of here as [`LfItem::Refused`] is a line that is
//! not a tag read at all, or a frame whose checksum fails.

use bytes::{Buf, BytesMut};
use tokio_util::codec::Decoder;

/// STX: the start of a WL-134 frame (and of Allflex's power-on string `STX CR LF`).
const STX: u8 = 0x02;
/// ETX: the end of a WL-134 frame.
const ETX: u8 = 0x03;
/// A WL-134 frame's length, STX to ETX.
pub const WL134_LEN: usize = 30;
/// The longest text line a reader sends (the TIRIS format with every option is 31 bytes):
/// anything longer is line noise, dropped up to the next line end.
pub const MAX_LINE: usize = 64;

/// One thing a reader sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LfItem {
    /// A tag read: the 15-digit ISO 11784 numeric form (country, national id).
    Tag(String),
    /// Something that is not a readable tag: what it was (escaped, shortened) and why.
    Refused {
        /// The bytes, escaped for a log line.
        seen: String,
        /// Why, in words an operator or integrator can act on.
        reason: String,
    },
}

/// Decodes a stick reader's serial output (every format in the table at once: a reader's
/// format can be changed on the device without telling the gateway).
#[derive(Debug, Default)]
pub struct LfCodec {
    /// Bytes dropped while out of step in a line that grew too long.
    skipping: bool,
}

impl LfCodec {
    /// A codec.
    pub fn new() -> Self {
        LfCodec::default()
    }
}

impl Decoder for LfCodec {
    type Item = LfItem;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<LfItem>, std::io::Error> {
        loop {
            // Line ends and NULs between reads are nothing.
            while let Some(&b) = src.first() {
                if matches!(b, b'\r' | b'\n' | 0) {
                    self.skipping = false;
                    src.advance(1);
                } else {
                    break;
                }
            }
            let Some(&first) = src.first() else {
                return Ok(None);
            };
            if first == STX {
                match wl134_at(src) {
                    Wl134::NeedMore => return Ok(None),
                    Wl134::Frame(item) => {
                        src.advance(WL134_LEN);
                        return Ok(Some(item));
                    }
                    // The power-on string, or a stray STX: resynchronise on the next byte.
                    Wl134::NotAFrame => {
                        src.advance(1);
                        continue;
                    }
                }
            }
            let end = src
                .iter()
                .take(MAX_LINE + 1)
                .position(|&b| matches!(b, b'\r' | b'\n' | STX));
            match end {
                Some(n) => {
                    let line = src.split_to(n);
                    if self.skipping {
                        self.skipping = false;
                        continue;
                    }
                    return Ok(Some(parse_line(&line)));
                }
                None if src.len() > MAX_LINE => {
                    let seen = escaped(&src[..24]);
                    // Drop up to the line's end if it is here already, else all, and the
                    // rest of the line as it comes.
                    let was_skipping = self.skipping;
                    match src.iter().position(|&b| matches!(b, b'\r' | b'\n' | STX)) {
                        Some(end) => {
                            src.advance(end);
                            self.skipping = false;
                        }
                        None => {
                            src.clear();
                            self.skipping = true;
                        }
                    }
                    if was_skipping {
                        continue;
                    }
                    return Ok(Some(LfItem::Refused {
                        seen,
                        reason: format!(
                            "no line end within {MAX_LINE} bytes: not a stick reader's output \
                             (check the baud rate: stick readers send 9600 8N1 unless set otherwise)"
                        ),
                    }));
                }
                None => return Ok(None),
            }
        }
    }
}

enum Wl134 {
    NeedMore,
    NotAFrame,
    Frame(LfItem),
}

/// A WL-134 frame at the start of `src`, when there is one.
fn wl134_at(src: &[u8]) -> Wl134 {
    // STX CR is Allflex's power-on string; a frame's second byte is a hex digit.
    if src.len() >= 2 && !src[1].is_ascii_hexdigit() {
        return Wl134::NotAFrame;
    }
    // Wait for a whole frame only while what has come looks like one.
    let body_end = src.len().min(27);
    if !src[1..body_end].iter().all(|b| b.is_ascii_hexdigit()) {
        return Wl134::NotAFrame;
    }
    if src.len() < WL134_LEN {
        return Wl134::NeedMore;
    }
    if src[WL134_LEN - 1] != ETX {
        return Wl134::NotAFrame;
    }
    Wl134::Frame(wl134(&src[..WL134_LEN]))
}

/// The value of ASCII hex digits sent least significant first.
fn hex_lsb_first(digits: &[u8]) -> u64 {
    digits.iter().rev().fold(0, |v, &d| {
        (v << 4) | u64::from(char::from(d).to_digit(16).expect("checked hex"))
    })
}

/// The XOR checksum of a WL-134 frame's 26 data bytes.
pub fn wl134_checksum(body: &[u8]) -> u8 {
    body.iter().fold(0, |x, b| x ^ b)
}

fn wl134(frame: &[u8]) -> LfItem {
    let body = &frame[1..27];
    let check = wl134_checksum(body);
    if frame[27] != check || frame[28] != !check {
        return LfItem::Refused {
            seen: escaped(frame),
            reason: format!(
                "WL-134 frame checksum {:02X}/{:02X} does not match its data ({check:02X}/{:02X}): \
                 a damaged frame; read the tag again",
                frame[27], frame[28], !check
            ),
        };
    }
    let id = hex_lsb_first(&frame[1..11]);
    let country = hex_lsb_first(&frame[11..15]);
    if country > 999 || id > 999_999_999_999 {
        return LfItem::Refused {
            seen: escaped(frame),
            reason: format!(
                "WL-134 frame carries country {country} and id {id}, which have no 15-digit form"
            ),
        };
    }
    LfItem::Tag(format!("{country:03}{id:012}"))
}

/// A text line (without its line end) as a tag read or a refusal.
pub fn parse_line(line: &[u8]) -> LfItem {
    let refuse = |reason: String| LfItem::Refused {
        seen: escaped(line),
        reason,
    };
    let Ok(text) = std::str::from_utf8(line) else {
        return refuse("not text: check the reader's baud rate and parity".into());
    };
    let text = text.trim_matches([' ', '\t']);
    // Allflex: an initial character (`#`, `L`, `X`, `G`) and a tag type (`A` animal, `R` HDX
    // industrial), both optional.
    let letters: String = text
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    let rest = &text[letters.len()..];
    match letters.to_ascii_uppercase().as_str() {
        "" | "A" | "LA" | "XA" | "GA" => {}
        "R" | "LR" | "XR" | "GR" => {
            return refuse(
                "an HDX industrial tag (not an ISO 11784 animal code): not an animal id".into(),
            );
        }
        other => {
            return refuse(format!(
                "unknown prefix {other:?}: expected digits, or an Allflex prefix such as LA"
            ));
        }
    }
    let rest = rest.strip_prefix('#').unwrap_or(rest);
    let fields: Vec<&str> = rest
        .split([' ', ',', ';', '\t'])
        .filter(|f| !f.is_empty())
        .collect();
    if let Some(bad) = fields
        .iter()
        .find(|f| !f.bytes().all(|b| b.is_ascii_digit()))
    {
        return refuse(format!(
            "field {bad:?} is not decimal digits (a reader set to hexadecimal output? set it \
             to decimal)"
        ));
    }
    let lens: Vec<usize> = fields.iter().map(|f| f.len()).collect();
    match lens.as_slice() {
        [15] => LfItem::Tag(fields[0].to_string()),
        [3, 12] => LfItem::Tag(format!("{}{}", fields[0], fields[1])),
        // TIRIS: reserved field (5), data-block flag (1), country (3), id (12).
        [5, 1, 3, 12] => LfItem::Tag(format!("{}{}", fields[2], fields[3])),
        _ => refuse(format!(
            "digit groups of {lens:?}: an ISO 11784 read is 15 digits (3 + 12), or the TIRIS \
             form 5 + 1 + 3 + 12"
        )),
    }
}

/// Bytes for a log line: escaped, at most 48 characters.
fn escaped(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string().chars().take(48).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(bytes: &[u8]) -> Vec<LfItem> {
        let mut codec = LfCodec::new();
        let mut buf = BytesMut::from(bytes);
        let mut out = Vec::new();
        while let Some(item) = codec.decode(&mut buf).unwrap() {
            out.push(item);
        }
        out
    }

    fn tag(s: &str) -> LfItem {
        LfItem::Tag(s.into())
    }

    /// A WL-134 frame for country and id, built by hand from the layout in the module table.
    pub(crate) fn wl134_frame(country: u16, id: u64, animal: bool) -> Vec<u8> {
        let mut body = Vec::new();
        let lsb_hex = |v: u64, n: usize| -> Vec<u8> {
            (0..n)
                .map(|i| b"0123456789ABCDEF"[((v >> (4 * i)) & 0xF) as usize])
                .collect()
        };
        body.extend(lsb_hex(id, 10));
        body.extend(lsb_hex(u64::from(country), 4));
        body.push(b'0');
        body.push(if animal { b'1' } else { b'0' });
        body.extend(b"0000000000");
        let x = wl134_checksum(&body);
        let mut frame = vec![STX];
        frame.extend(&body);
        frame.extend([x, !x, ETX]);
        frame
    }

    #[test]
    fn every_documented_line_format_is_the_same_read() {
        // The examples of the Allflex manuals (RS320 guide Table 3; Panel Reader manual p. 19).
        let items = decode_all(
            b"982000000255895\r\n982 000000255895\r\nLA 982 000000255895\r\n\
              LA 00000 0 982 000000255895\r\nLA,982,000000255895\r\nla;982;000000255895\n",
        );
        assert_eq!(items, vec![tag("982000000255895"); 6]);
    }

    #[test]
    fn the_power_on_string_and_line_noise_are_not_reads() {
        assert_eq!(
            decode_all(b"\x02\r\n\0\r\nLA 982 000001088420\r\n"),
            vec![tag("982000001088420")]
        );
    }

    #[test]
    fn an_hdx_industrial_tag_and_hex_output_are_refused_with_the_reason() {
        let items = decode_all(b"LR 0006 0000000018514243\r\nLA 3D6 00000F9C1A3\r\n");
        let LfItem::Refused { reason, .. } = &items[0] else {
            panic!("{items:?}")
        };
        assert!(reason.contains("HDX industrial"), "{reason}");
        let LfItem::Refused { reason, .. } = &items[1] else {
            panic!("{items:?}")
        };
        assert!(reason.contains("hexadecimal"), "{reason}");
    }

    #[test]
    fn wrong_digit_counts_are_refused_naming_the_groups() {
        let items = decode_all(b"98200000025589\r\n");
        let LfItem::Refused { reason, .. } = &items[0] else {
            panic!("{items:?}")
        };
        assert!(reason.contains("[14]"), "{reason}");
    }

    #[test]
    fn a_wl134_frame_is_decoded_least_significant_digit_first() {
        // 982 000000255895: id 255895 = 0x3E797 → "797E300000" on the wire.
        let frame = wl134_frame(982, 255_895, true);
        assert_eq!(&frame[1..11], b"797E300000");
        assert_eq!(&frame[11..15], b"6D30");
        assert_eq!(frame.len(), WL134_LEN);
        assert_eq!(decode_all(&frame), vec![tag("982000000255895")]);
    }

    #[test]
    fn a_wl134_frame_with_a_bad_checksum_is_refused_and_the_next_read_decodes() {
        let mut bad = wl134_frame(982, 255_895, true);
        bad[5] = b'1';
        let mut bytes = bad;
        bytes.extend(wl134_frame(156, 42, true));
        let items = decode_all(&bytes);
        assert_eq!(items.len(), 2, "{items:?}");
        assert!(matches!(&items[0], LfItem::Refused { reason, .. } if reason.contains("checksum")));
        assert_eq!(items[1], tag("156000000000042"));
    }

    #[test]
    fn split_and_merged_frames_decode_the_same() {
        let mut all = wl134_frame(982, 1, true);
        all.extend(b"LA 982 000000000002\r\n");
        all.extend(wl134_frame(982, 3, false));
        let whole = decode_all(&all);
        assert_eq!(whole.len(), 3);
        let mut codec = LfCodec::new();
        let mut buf = BytesMut::new();
        let mut piecewise = Vec::new();
        for b in &all {
            buf.extend_from_slice(&[*b]);
            while let Some(item) = codec.decode(&mut buf).unwrap() {
                piecewise.push(item);
            }
        }
        assert_eq!(piecewise, whole);
    }

    #[test]
    fn an_endless_line_is_refused_once_and_skipped_to_its_end() {
        let mut bytes = vec![b'9'; 500];
        bytes.extend(b"\r\n982000000255895\r\n");
        let items = decode_all(&bytes);
        assert_eq!(items.len(), 2, "{items:?}");
        assert!(matches!(&items[0], LfItem::Refused { .. }));
        assert_eq!(items[1], tag("982000000255895"));
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_in_any_pieces_never_panic_and_keep_the_buffer_bounded(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
            cut in 1usize..40,
        ) {
            let mut codec = LfCodec::new();
            let mut buf = BytesMut::new();
            for piece in bytes.chunks(cut) {
                buf.extend_from_slice(piece);
                while codec.decode(&mut buf).unwrap().is_some() {}
                proptest::prop_assert!(buf.len() <= MAX_LINE + WL134_LEN);
            }
        }
    }
}
