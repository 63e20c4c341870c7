//! The frame of the Impinj R2000 / E710 "CMD" serial protocol, as a pure codec.
//!
//! ```text
//!  Head  Len  Address  Cmd  Data…  Check
//!  0xA0  n    1 byte   1    n-3    two's complement of the sum of every byte before it
//! ```
//!
//! `Len` counts the bytes after itself (address, command, data, check), so a frame is
//! `Len + 2` bytes and at most 257. Source: "UHF RFID Reader Serial Interface Protocol"
//! (the R2000 module vendors' common document, V3.x), §2 "Data packet definition" and §2.1
//! "Checksum"; the same layout is implemented by pyImpinj (PyPI), which the interop tests
//! check this codec against.
//!
//! Decoding is resynchronising: bytes before a head are line noise (counted, reported); a
//! frame whose check fails is reported and decoding restarts one byte after its head, so a
//! `0xA0` inside a damaged frame cannot swallow the good frame after it.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

/// The first byte of every frame.
pub const HEAD: u8 = 0xA0;
/// The address every module answers to, whatever its own (the protocol's public address).
pub const PUBLIC_ADDRESS: u8 = 0xFF;
/// Most data bytes a frame can carry (`Len` is one byte and counts three more).
pub const MAX_DATA: usize = 255 - 3;

/// One frame, without head, length and check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The module's address (`0xFF`: any module).
    pub address: u8,
    /// The command code.
    pub command: u8,
    /// The command's data.
    pub data: Bytes,
}

impl Frame {
    /// A frame for `command` with `data`.
    pub fn new(address: u8, command: u8, data: impl Into<Bytes>) -> Self {
        Frame {
            address,
            command,
            data: data.into(),
        }
    }

    /// The frame's bytes on the wire.
    ///
    /// # Panics
    /// When `data` is longer than [`MAX_DATA`] (no command carries that much).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = BytesMut::new();
        encode_into(self, &mut out);
        out.to_vec()
    }
}

/// The check byte of `bytes` (head through data): the two's complement of their sum, so
/// that the sum of a whole frame is zero.
pub fn checksum(bytes: &[u8]) -> u8 {
    0u8.wrapping_sub(bytes.iter().fold(0u8, |s, b| s.wrapping_add(*b)))
}

/// What came off the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum R2000Item {
    /// A frame whose check is right.
    Frame(Frame),
    /// Bytes that were not part of a frame (line noise, a module booting).
    Noise {
        /// How many.
        bytes: usize,
    },
    /// A frame whose check byte is wrong.
    BadCheck {
        /// Its command byte, as received.
        command: u8,
        /// The check it carried.
        got: u8,
        /// The check its bytes have.
        want: u8,
    },
}

/// Frames the R2000 protocol both ways ([`Decoder`] and [`Encoder`], for `Framed`).
#[derive(Debug, Default)]
pub struct R2000Codec;

impl Decoder for R2000Codec {
    type Item = R2000Item;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<R2000Item>, std::io::Error> {
        if src.is_empty() {
            return Ok(None);
        }
        if src[0] != HEAD {
            let skip = src.iter().position(|&b| b == HEAD).unwrap_or(src.len());
            src.advance(skip);
            return Ok(Some(R2000Item::Noise { bytes: skip }));
        }
        let Some(&len) = src.get(1) else {
            return Ok(None);
        };
        if len < 3 {
            // No frame is that short: this head was noise.
            src.advance(1);
            return Ok(Some(R2000Item::Noise { bytes: 1 }));
        }
        let total = usize::from(len) + 2;
        if src.len() < total {
            src.reserve(total - src.len());
            return Ok(None);
        }
        let want = checksum(&src[..total - 1]);
        let got = src[total - 1];
        if got != want {
            let command = src[3];
            src.advance(1);
            return Ok(Some(R2000Item::BadCheck { command, got, want }));
        }
        let mut frame = src.split_to(total);
        frame.advance(2);
        let address = frame.get_u8();
        let command = frame.get_u8();
        frame.truncate(frame.len() - 1);
        Ok(Some(R2000Item::Frame(Frame {
            address,
            command,
            data: frame.freeze(),
        })))
    }
}

fn encode_into(frame: &Frame, dst: &mut BytesMut) {
    assert!(
        frame.data.len() <= MAX_DATA,
        "an R2000 frame carries at most {MAX_DATA} data bytes"
    );
    let start = dst.len();
    dst.reserve(frame.data.len() + 5);
    dst.put_u8(HEAD);
    dst.put_u8((frame.data.len() + 3) as u8);
    dst.put_u8(frame.address);
    dst.put_u8(frame.command);
    dst.put_slice(&frame.data);
    let check = checksum(&dst[start..]);
    dst.put_u8(check);
}

impl Encoder<Frame> for R2000Codec {
    type Error = std::io::Error;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), std::io::Error> {
        if frame.data.len() > MAX_DATA {
            return Err(std::io::Error::other(format!(
                "an R2000 frame carries at most {MAX_DATA} data bytes, not {}",
                frame.data.len()
            )));
        }
        encode_into(&frame, dst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(bytes: &[u8]) -> Vec<R2000Item> {
        let mut codec = R2000Codec;
        let mut buf = BytesMut::from(bytes);
        let mut out = Vec::new();
        while let Some(item) = codec.decode(&mut buf).unwrap() {
            out.push(item);
        }
        out
    }

    #[test]
    fn golden_frames_of_the_protocol_document() {
        // cmd_real_time_inventory to address 1, repeat 1; cmd_get_firmware_version;
        // cmd_set_work_antenna antenna 1 (0-based 0). The sums: A0+04+01+89+01 = 0x12F →
        // check 0xD1; A0+03+01+72 = 0x116 → 0xEA; A0+04+01+74+00 = 0x119 → 0xE7.
        assert_eq!(
            Frame::new(1, 0x89, vec![1]).to_bytes(),
            [0xA0, 0x04, 0x01, 0x89, 0x01, 0xD1]
        );
        assert_eq!(
            Frame::new(1, 0x72, vec![]).to_bytes(),
            [0xA0, 0x03, 0x01, 0x72, 0xEA]
        );
        assert_eq!(
            Frame::new(1, 0x74, vec![0]).to_bytes(),
            [0xA0, 0x04, 0x01, 0x74, 0x00, 0xE7]
        );
    }

    #[test]
    fn every_frame_sums_to_zero() {
        for data in [vec![], vec![0xFF; 20], (0..=251).collect::<Vec<u8>>()] {
            let bytes = Frame::new(0xFF, 0x89, data).to_bytes();
            assert_eq!(bytes.iter().fold(0u8, |s, b| s.wrapping_add(*b)), 0);
        }
    }

    #[test]
    fn noise_and_a_damaged_frame_are_reported_and_the_next_frame_decodes() {
        let good = Frame::new(1, 0x72, vec![0x08, 0x01]);
        let mut bytes = b"\x00\x11\x22".to_vec();
        let mut bad = Frame::new(1, 0x74, vec![0x10]).to_bytes();
        *bad.last_mut().unwrap() ^= 0x55;
        bytes.extend(&bad);
        bytes.extend(good.to_bytes());
        let items = decode_all(&bytes);
        assert_eq!(items[0], R2000Item::Noise { bytes: 3 });
        assert!(matches!(
            items[1],
            R2000Item::BadCheck { command: 0x74, .. }
        ));
        assert_eq!(items.last(), Some(&R2000Item::Frame(good)));
    }

    #[test]
    fn a_frame_split_anywhere_decodes_once() {
        let frame = Frame::new(
            0xFF,
            0x89,
            vec![0x05, 0x30, 0x00, 0xE2, 0x00, 0x12, 0x34, 0x62],
        );
        let bytes = frame.to_bytes();
        for cut in 1..bytes.len() {
            let mut codec = R2000Codec;
            let mut buf = BytesMut::from(&bytes[..cut]);
            assert_eq!(codec.decode(&mut buf).unwrap(), None, "cut at {cut}");
            buf.extend_from_slice(&bytes[cut..]);
            assert_eq!(
                codec.decode(&mut buf).unwrap(),
                Some(R2000Item::Frame(frame.clone()))
            );
        }
    }

    #[test]
    fn encoding_refuses_oversized_data() {
        let mut dst = BytesMut::new();
        let err = R2000Codec
            .encode(Frame::new(1, 0x89, vec![0; 253]), &mut dst)
            .unwrap_err();
        assert!(err.to_string().contains("252"), "{err}");
    }

    proptest::proptest! {
        #[test]
        fn encode_then_decode_is_identity(address: u8, command: u8,
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..=252)) {
            let frame = Frame::new(address, command, data);
            let items = decode_all(&frame.to_bytes());
            proptest::prop_assert_eq!(items, vec![R2000Item::Frame(frame)]);
        }

        #[test]
        fn arbitrary_bytes_never_panic_and_always_progress(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let mut codec = R2000Codec;
            let mut buf = BytesMut::from(&bytes[..]);
            while let Some(_item) = codec.decode(&mut buf).unwrap() {}
            proptest::prop_assert!(buf.len() < 257);
        }
    }
}
