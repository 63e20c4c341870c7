//! LLRP parameters on the wire: the TLV and TV encodings (LLRP 1.0.1 §16, binary encoding: TLV and TV parameters),
//! read with every length checked against what is really there before anything is taken, and
//! written with nested lengths filled in afterwards.
//!
//! ```text
//!  TLV  | 000000 | type (10 bits) | length (16 bits, header included) | value … |
//!  TV   | 1 | type (7 bits) | value (length fixed by the type) |
//! ```
//!
//! A parameter the decoder does not know is skipped by its length (TLV) — including every
//! vendor `Custom` parameter (type 1023, §16 Custom Parameter) it does not read — so a reader's
//! extensions at any extension point never break decoding. A TV parameter of an unknown type
//! cannot be skipped (its length is not on the wire) and ends the list with an error.

use bytes::{BufMut, Bytes, BytesMut};

use super::LlrpError;

/// TLV type of the vendor extension parameter (§16 Custom Parameter).
pub const CUSTOM: u16 = 1023;

/// The value length of each TV parameter type (§16, TagReportData's TV fields), or `None`
/// for a type LLRP 1.0.1 does not define.
pub fn tv_len(kind: u8) -> Option<usize> {
    Some(match kind {
        1 => 2,       // AntennaID
        2..=5 => 8,   // First/LastSeenTimestamp UTC/Uptime
        6 => 1,       // PeakRSSI
        7 => 2,       // ChannelIndex
        8 => 2,       // TagSeenCount
        9 => 4,       // ROSpecID
        10 => 2,      // InventoryParameterSpecID
        11 | 12 => 2, // C1G2_CRC, C1G2_PC
        13 => 12,     // EPC-96
        14 => 2,      // SpecIndex
        15 => 2,      // ClientRequestOpSpecResult
        16 => 4,      // AccessSpecID
        17 => 2,      // OpSpecID
        18 => 4,      // C1G2SingulationDetails
        19 | 20 => 2, // C1G2XPCW1, C1G2XPCW2 (LLRP 1.1, seen from 1.0.1 readers too)
        _ => return None,
    })
}

/// One parameter as found on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param<'a> {
    /// Its type: 1–127 for TV, 128–1023 for TLV.
    pub kind: u16,
    /// Whether it was TV-encoded.
    pub tv: bool,
    /// Its value (after the header).
    pub value: &'a [u8],
}

/// Iterates the parameters in `bytes`, each bounded by what remains.
#[derive(Debug, Clone)]
pub struct Params<'a> {
    rest: &'a [u8],
}

impl<'a> Params<'a> {
    /// The parameters in `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Params { rest: bytes }
    }
}

impl<'a> Iterator for Params<'a> {
    type Item = Result<Param<'a>, LlrpError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.rest;
        let first = *rest.first()?;
        let item = if first & 0x80 != 0 {
            let kind = first & 0x7f;
            match tv_len(kind) {
                None => Err(LlrpError::Malformed(format!(
                    "TV parameter of unknown type {kind}: its length is not known"
                ))),
                Some(len) if rest.len() < 1 + len => Err(LlrpError::Malformed(format!(
                    "TV parameter {kind} needs {len} bytes, {} left",
                    rest.len() - 1
                ))),
                Some(len) => {
                    self.rest = &rest[1 + len..];
                    return Some(Ok(Param {
                        kind: u16::from(kind),
                        tv: true,
                        value: &rest[1..1 + len],
                    }));
                }
            }
        } else if rest.len() < 4 {
            Err(LlrpError::Malformed(format!(
                "{} bytes left, less than a TLV header",
                rest.len()
            )))
        } else {
            let kind = u16::from_be_bytes([rest[0], rest[1]]) & 0x03ff;
            let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
            if len < 4 || len > rest.len() {
                Err(LlrpError::Malformed(format!(
                    "TLV parameter {kind} claims {len} bytes, {} left",
                    rest.len()
                )))
            } else {
                self.rest = &rest[len..];
                return Some(Ok(Param {
                    kind,
                    tv: false,
                    value: &rest[4..len],
                }));
            }
        };
        // One error ends the list: what follows cannot be found.
        self.rest = &[];
        Some(item)
    }
}

/// Reads fixed fields from a parameter's or message's value, every read bounds-checked.
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    bytes: &'a [u8],
    what: &'static str,
}

impl<'a> Fields<'a> {
    /// Fields of `what` (named in errors) in `bytes`.
    pub fn new(bytes: &'a [u8], what: &'static str) -> Self {
        Fields { bytes, what }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], LlrpError> {
        if self.bytes.len() < n {
            return Err(LlrpError::Malformed(format!(
                "{} is cut short: needs {n} more bytes, has {}",
                self.what,
                self.bytes.len()
            )));
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    /// A u8.
    pub fn u8(&mut self) -> Result<u8, LlrpError> {
        Ok(self.take(1)?[0])
    }

    /// A big-endian u16.
    pub fn u16(&mut self) -> Result<u16, LlrpError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// A big-endian i16.
    pub fn i16(&mut self) -> Result<i16, LlrpError> {
        Ok(self.u16()? as i16)
    }

    /// A big-endian u32.
    pub fn u32(&mut self) -> Result<u32, LlrpError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A big-endian u64.
    pub fn u64(&mut self) -> Result<u64, LlrpError> {
        let b = self.take(8)?;
        Ok(u64::from_be_bytes(b.try_into().expect("8 bytes")))
    }

    /// `n` raw bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], LlrpError> {
        self.take(n)
    }

    /// A UTF-8 string with its u16 byte count (`utf8v`, §16 field types); invalid UTF-8 is replaced,
    /// never an error: a reader's message text must not make its report unreadable.
    pub fn utf8v(&mut self) -> Result<String, LlrpError> {
        let n = usize::from(self.u16()?);
        Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
    }

    /// A u16 array with its u16 element count (`u16v`, §16 field types).
    pub fn u16v(&mut self) -> Result<Vec<u16>, LlrpError> {
        let n = usize::from(self.u16()?);
        // Bounded before allocating: the count must fit in what is left.
        if n * 2 > self.bytes.len() {
            return Err(LlrpError::Malformed(format!(
                "{} claims {n} u16 values, has room for {}",
                self.what,
                self.bytes.len() / 2
            )));
        }
        (0..n).map(|_| self.u16()).collect()
    }

    /// What is left: the parameters after the fixed fields.
    pub fn rest(self) -> &'a [u8] {
        self.bytes
    }
}

/// Writes parameters; [`Writer::tlv`] fills in each TLV's length once its body is written.
#[derive(Debug, Default)]
pub struct Writer {
    buf: BytesMut,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Writer::default()
    }

    /// A u8.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.put_u8(v);
        self
    }

    /// A u16.
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.buf.put_u16(v);
        self
    }

    /// An i16.
    pub fn i16(&mut self, v: i16) -> &mut Self {
        self.buf.put_i16(v);
        self
    }

    /// A u32.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.put_u32(v);
        self
    }

    /// A u64.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.put_u64(v);
        self
    }

    /// Raw bytes.
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.buf.put_slice(v);
        self
    }

    /// A `utf8v` string (u16 byte count, truncated to what fits).
    pub fn utf8v(&mut self, s: &str) -> &mut Self {
        let b = &s.as_bytes()[..s.len().min(u16::MAX as usize)];
        self.buf.put_u16(b.len() as u16);
        self.buf.put_slice(b);
        self
    }

    /// A `u16v` array.
    pub fn u16v(&mut self, v: &[u16]) -> &mut Self {
        self.buf.put_u16(v.len() as u16);
        for x in v {
            self.buf.put_u16(*x);
        }
        self
    }

    /// A TV parameter of `kind` with `value` (whose length its type fixes).
    pub fn tv(&mut self, kind: u8, value: &[u8]) -> &mut Self {
        debug_assert_eq!(tv_len(kind), Some(value.len()));
        self.buf.put_u8(0x80 | kind);
        self.buf.put_slice(value);
        self
    }

    /// A TLV parameter of `kind` whose body `body` writes.
    pub fn tlv(&mut self, kind: u16, body: impl FnOnce(&mut Writer)) -> &mut Self {
        let start = self.buf.len();
        self.buf.put_u16(kind & 0x03ff);
        self.buf.put_u16(0);
        body(self);
        let len = (self.buf.len() - start).min(u16::MAX as usize) as u16;
        self.buf[start + 2..start + 4].copy_from_slice(&len.to_be_bytes());
        self
    }

    /// A vendor `Custom` parameter (§16 Custom Parameter).
    pub fn custom(
        &mut self,
        vendor: u32,
        subtype: u32,
        body: impl FnOnce(&mut Writer),
    ) -> &mut Self {
        self.tlv(CUSTOM, |w| {
            w.u32(vendor).u32(subtype);
            body(w);
        })
    }

    /// What was written.
    pub fn finish(self) -> Bytes {
        self.buf.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlv_and_tv_are_read_with_their_lengths() {
        let mut w = Writer::new();
        w.tlv(241, |w| {
            w.u16(96).bytes(&[0xAA; 12]);
        });
        w.tv(1, &[0, 3]).tv(6, &[0xCF]);
        let bytes = w.finish();
        assert_eq!(&bytes[..4], &[0x00, 0xF1, 0x00, 0x12]);
        let got: Vec<_> = Params::new(&bytes).collect::<Result<_, _>>().unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(
            (got[0].kind, got[0].tv, got[0].value.len()),
            (241, false, 14)
        );
        assert_eq!((got[1].kind, got[1].value), (1, &[0, 3][..]));
        assert_eq!((got[2].kind, got[2].value), (6, &[0xCF][..]));
    }

    #[test]
    fn a_length_past_the_end_or_below_the_header_is_an_error_and_ends_the_list() {
        for bad in [
            &[0x00, 0xF1, 0x00, 0x40, 0, 0][..],
            &[0x00, 0xF1, 0x00, 0x02],
            &[0x00, 0xF1],
        ] {
            let mut it = Params::new(bad);
            assert!(
                matches!(it.next(), Some(Err(LlrpError::Malformed(_)))),
                "{bad:?}"
            );
            assert!(it.next().is_none());
        }
        // An unknown TV type cannot be skipped.
        let mut it = Params::new(&[0xFF, 1, 2]);
        assert!(it.next().unwrap().is_err());
    }

    #[test]
    fn fields_refuse_to_read_past_the_end_and_counts_are_bounded_before_allocating() {
        let mut f = Fields::new(&[0, 1], "test");
        assert_eq!(f.u16().unwrap(), 1);
        assert!(f.u8().is_err());
        let mut f = Fields::new(&[0xFF, 0xFF, 0, 1], "test");
        assert!(f.u16v().is_err());
        let mut f = Fields::new(&[0, 2, b'h', 0xFF], "test");
        assert_eq!(f.utf8v().unwrap(), "h\u{FFFD}");
    }
}
