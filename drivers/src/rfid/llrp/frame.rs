//! LLRP message framing over TCP (LLRP 1.0.1 §16, binary encoding: message header; the
//! transport is §17, TCP port 5084): a pure codec over byte slices, used with `Framed` by the
//! client and by the simulated reader.
//!
//! ```text
//!  | rsvd (3) | version (3) = 1 | message type (10) | message length (32) | message ID (32) | body … |
//!    \_______________ 2 bytes ______________/          header included
//! ```
//!
//! The length is checked before anything is buffered for it: a frame shorter than its own
//! header, or longer than [`MAX_MESSAGE`], is refused (the connection is then out of step and
//! must be dropped — LLRP has no resynchronisation marker).

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::LlrpError;

/// The protocol version in every header: 1 = LLRP 1.0.1.
pub const VERSION: u8 = 1;

/// Header bytes: type with version, length, id.
pub const HEADER: usize = 10;

/// Largest message accepted. A reader's RO_ACCESS_REPORT holding thousands of tags is a few
/// hundred kilobytes; anything near this is a broken stream, not a report.
pub const MAX_MESSAGE: usize = 4 * 1024 * 1024;

/// One LLRP message: its type, id and body (the parameters after the header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Message type (§16, message types: GET_READER_CAPABILITIES = 1 … CUSTOM_MESSAGE = 1023).
    pub kind: u16,
    /// The message ID; a response carries its request's.
    pub id: u32,
    /// The body.
    pub body: Bytes,
    /// The version the peer put in the header.
    pub version: u8,
}

impl Frame {
    /// A version-1 frame.
    pub fn new(kind: u16, id: u32, body: Bytes) -> Self {
        Frame {
            kind,
            id,
            body,
            version: VERSION,
        }
    }
}

/// The LLRP framing codec.
#[derive(Debug, Clone, Copy, Default)]
pub struct LlrpCodec;

impl Decoder for LlrpCodec {
    type Item = Frame;
    type Error = LlrpError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, LlrpError> {
        if src.len() < HEADER {
            return Ok(None);
        }
        let word = u16::from_be_bytes([src[0], src[1]]);
        let len = u32::from_be_bytes([src[2], src[3], src[4], src[5]]) as usize;
        if !(HEADER..=MAX_MESSAGE).contains(&len) {
            return Err(LlrpError::Framing(format!(
                "message type {} claims {len} bytes (must be {HEADER} to {MAX_MESSAGE})",
                word & 0x03ff
            )));
        }
        if src.len() < len {
            src.reserve(len - src.len());
            return Ok(None);
        }
        let id = u32::from_be_bytes([src[6], src[7], src[8], src[9]]);
        let mut message = src.split_to(len);
        message.advance(HEADER);
        Ok(Some(Frame {
            kind: word & 0x03ff,
            id,
            body: message.freeze(),
            version: ((word >> 10) & 0x07) as u8,
        }))
    }
}

impl Encoder<Frame> for LlrpCodec {
    type Error = LlrpError;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), LlrpError> {
        let len = HEADER + frame.body.len();
        if len > MAX_MESSAGE {
            return Err(LlrpError::Framing(format!(
                "message type {} of {len} bytes is larger than {MAX_MESSAGE}",
                frame.kind
            )));
        }
        dst.reserve(len);
        dst.put_u16((u16::from(frame.version & 0x07) << 10) | (frame.kind & 0x03ff));
        dst.put_u32(len as u32);
        dst.put_u32(frame.id);
        dst.put_slice(&frame.body);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keepalive_ack_is_ten_bytes_and_frames_split_anywhere_reassemble() {
        let mut out = BytesMut::new();
        LlrpCodec
            .encode(Frame::new(72, 7, Bytes::new()), &mut out)
            .unwrap();
        assert_eq!(&out[..], &[0x04, 0x48, 0, 0, 0, 10, 0, 0, 0, 7]);
        let mut two = out.clone();
        LlrpCodec
            .encode(Frame::new(61, 8, Bytes::from_static(&[1, 2, 3])), &mut two)
            .unwrap();
        for cut in 0..two.len() {
            let mut src = BytesMut::from(&two[..cut]);
            let mut got = Vec::new();
            while let Some(f) = LlrpCodec.decode(&mut src).unwrap() {
                got.push(f);
            }
            src.extend_from_slice(&two[cut..]);
            while let Some(f) = LlrpCodec.decode(&mut src).unwrap() {
                got.push(f);
            }
            assert_eq!(got.len(), 2, "cut at {cut}");
            assert_eq!(
                (got[1].kind, got[1].id, &got[1].body[..]),
                (61, 8, &[1, 2, 3][..])
            );
        }
    }

    #[test]
    fn impossible_lengths_are_refused_before_buffering() {
        let mut src = BytesMut::from(&[0x04, 0x3D, 0, 0, 0, 9, 0, 0, 0, 1][..]);
        assert!(LlrpCodec.decode(&mut src).is_err());
        let mut src = BytesMut::from(&[0x04, 0x3D, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 1][..]);
        assert!(LlrpCodec.decode(&mut src).is_err());
        assert!(
            src.capacity() < 1024 * 1024,
            "nothing reserved for a bogus length"
        );
    }
}
