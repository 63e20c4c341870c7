//! The frames of the Chafon / UHFReader18 serial protocol, as a pure codec.
//!
//! ```text
//!  host → reader:  Len  Adr  Cmd    Data…          CRC-16 (LSB, MSB)
//!  reader → host:  Len  Adr  reCmd  Status  Data…  CRC-16 (LSB, MSB)
//! ```
//!
//! `Len` counts the bytes after itself, so a command is `Len + 1` bytes with `Len` = data + 4
//! and a response `Len + 1` bytes with `Len` = data + 5. The CRC is CRC-16/MCRF4XX
//! (reflected polynomial 0x8408, preset 0xFFFF, no final XOR) over every byte from `Len` to
//! the end of the data, sent least significant byte first. Source: "UHF RFID Reader User's
//! Manual V2.0" of the UHFReader18 command set (as published for the ZK-RFID102, the same
//! firmware as the Chafon CF-RU5102), §2 "Protocol description", §3.1 "Command data block",
//! §3.2 "Response data block" and its CRC reference program; the CRC is the `crc` crate's
//! catalogue algorithm `CRC_16_MCRF4XX`, whose check value the tests confirm.
//!
//! The protocol has no start byte, so decoding resynchronises by plausibility: a candidate
//! frame is a length byte followed by that many bytes whose CRC is right. Bytes that start no
//! such frame are skipped and reported (noise, or a damaged frame with its CRC); a frame still
//! arriving waits, unless a complete, valid frame already sits later in the buffer — then
//! the bytes before it were noise, and a stray length byte cannot hold the good frame back.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use crc::{CRC_16_MCRF4XX, Crc};
use tokio_util::codec::{Decoder, Encoder};

/// The broadcast address every reader answers, whatever its own (§3.1).
pub const BROADCAST: u8 = 0xFF;
/// Most data bytes a command can carry (`Len` is one byte and counts four more).
pub const MAX_COMMAND_DATA: usize = 255 - 4;
/// Most data bytes a response can carry.
pub const MAX_RESPONSE_DATA: usize = 255 - 5;

const CRC: Crc<u16> = Crc::<u16>::new(&CRC_16_MCRF4XX);

/// The CRC-16/MCRF4XX of `bytes` (a frame from `Len` to the end of its data).
pub fn crc16(bytes: &[u8]) -> u16 {
    CRC.checksum(bytes)
}

/// A command, host to reader (§3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The reader's address (`0xFF`: any reader).
    pub address: u8,
    /// The command code.
    pub command: u8,
    /// Its parameters.
    pub data: Bytes,
}

/// A response, reader to host (§3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The answering reader's address.
    pub address: u8,
    /// The command answered (`0x00`: the reader did not recognise the command).
    pub command: u8,
    /// The result status (§5).
    pub status: u8,
    /// Its data.
    pub data: Bytes,
}

impl Command {
    /// A command for `command` with `data`.
    pub fn new(address: u8, command: u8, data: impl Into<Bytes>) -> Self {
        Command {
            address,
            command,
            data: data.into(),
        }
    }

    /// The command's bytes on the wire.
    ///
    /// # Panics
    /// When `data` is longer than [`MAX_COMMAND_DATA`] (no command carries that much).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = BytesMut::new();
        put_frame(&mut out, &[self.address, self.command], &self.data);
        out.to_vec()
    }
}

impl Response {
    /// A response to `command` with `status` and `data`.
    pub fn new(address: u8, command: u8, status: u8, data: impl Into<Bytes>) -> Self {
        Response {
            address,
            command,
            status,
            data: data.into(),
        }
    }

    /// The response's bytes on the wire.
    ///
    /// # Panics
    /// When `data` is longer than [`MAX_RESPONSE_DATA`].
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = BytesMut::new();
        put_frame(
            &mut out,
            &[self.address, self.command, self.status],
            &self.data,
        );
        out.to_vec()
    }
}

fn put_frame(dst: &mut BytesMut, header: &[u8], data: &[u8]) {
    let len = header.len() + data.len() + 2;
    assert!(len <= 255, "a Chafon frame is at most 256 bytes");
    let start = dst.len();
    dst.reserve(len + 1);
    dst.put_u8(len as u8);
    dst.put_slice(header);
    dst.put_slice(data);
    let crc = crc16(&dst[start..]);
    dst.put_u16_le(crc);
}

/// What came off the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChafonItem<T> {
    /// A frame whose CRC is right.
    Frame(T),
    /// Bytes that started no frame (line noise, a reader booting, a frame cut short).
    Noise {
        /// How many were skipped.
        bytes: usize,
    },
    /// A complete frame whose CRC is wrong: skipped whole (up to a valid frame that begins
    /// inside it, if one does).
    BadCrc {
        /// How many bytes were skipped.
        bytes: usize,
        /// The CRC it carried.
        got: u16,
        /// The CRC its bytes have.
        want: u16,
    },
}

/// What the bytes at one offset are.
enum Probe {
    /// A frame of this many bytes with the right CRC.
    Valid(usize),
    /// A complete frame of this many bytes with the wrong CRC.
    Bad { total: usize, got: u16, want: u16 },
    /// A plausible length byte, the rest not here yet.
    Short,
    /// A length no frame of this direction has.
    Impossible,
}

fn probe(buf: &[u8], min_len: u8) -> Probe {
    let len = buf[0];
    if len < min_len {
        return Probe::Impossible;
    }
    let total = usize::from(len) + 1;
    if buf.len() < total {
        return Probe::Short;
    }
    let want = crc16(&buf[..total - 2]);
    let got = u16::from_le_bytes([buf[total - 2], buf[total - 1]]);
    if got == want {
        Probe::Valid(total)
    } else {
        Probe::Bad { total, got, want }
    }
}

/// Splits `src` into the next item, frames of at least `min_len` (command 4, response 5).
fn decode_raw(src: &mut BytesMut, min_len: u8) -> Option<ChafonItem<BytesMut>> {
    let mut skip = 0;
    let mut bad = None;
    while skip < src.len() {
        match probe(&src[skip..], min_len) {
            Probe::Valid(total) if skip == 0 => {
                return Some(ChafonItem::Frame(src.split_to(total)));
            }
            Probe::Valid(_) => break,
            Probe::Bad { total, got, want } if skip == 0 => {
                // Dropped whole, unless a valid frame begins inside it (then it was noise).
                bad = Some((got, want));
                skip = (1..total)
                    .find(|&j| matches!(probe(&src[j..], min_len), Probe::Valid(_)))
                    .unwrap_or(total);
                break;
            }
            Probe::Short if skip == 0 => {
                // Still arriving — unless a whole valid frame already follows.
                match (1..src.len()).find(|&j| matches!(probe(&src[j..], min_len), Probe::Valid(_)))
                {
                    Some(j) => {
                        skip = j;
                        break;
                    }
                    None => {
                        src.reserve(usize::from(src[0]) + 1 - src.len());
                        return None;
                    }
                }
            }
            Probe::Short => break,
            Probe::Bad { .. } | Probe::Impossible => skip += 1,
        }
    }
    if skip == 0 {
        return None;
    }
    src.advance(skip);
    Some(match bad {
        Some((got, want)) => ChafonItem::BadCrc {
            bytes: skip,
            got,
            want,
        },
        None => ChafonItem::Noise { bytes: skip },
    })
}

/// The host's side: decodes [`Response`]s, encodes [`Command`]s (for `Framed`).
#[derive(Debug, Default)]
pub struct HostCodec;

impl Decoder for HostCodec {
    type Item = ChafonItem<Response>;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, std::io::Error> {
        Ok(decode_raw(src, 5).map(|item| match item {
            ChafonItem::Frame(mut f) => {
                f.advance(1);
                let address = f.get_u8();
                let command = f.get_u8();
                let status = f.get_u8();
                f.truncate(f.len() - 2);
                ChafonItem::Frame(Response {
                    address,
                    command,
                    status,
                    data: f.freeze(),
                })
            }
            ChafonItem::Noise { bytes } => ChafonItem::Noise { bytes },
            ChafonItem::BadCrc { bytes, got, want } => ChafonItem::BadCrc { bytes, got, want },
        }))
    }
}

impl Encoder<Command> for HostCodec {
    type Error = std::io::Error;

    fn encode(&mut self, command: Command, dst: &mut BytesMut) -> Result<(), std::io::Error> {
        if command.data.len() > MAX_COMMAND_DATA {
            return Err(std::io::Error::other(format!(
                "a Chafon command carries at most {MAX_COMMAND_DATA} data bytes, not {}",
                command.data.len()
            )));
        }
        put_frame(dst, &[command.address, command.command], &command.data);
        Ok(())
    }
}

/// The reader's side (the simulator): decodes [`Command`]s, encodes [`Response`]s.
#[derive(Debug, Default)]
pub struct ReaderCodec;

impl Decoder for ReaderCodec {
    type Item = ChafonItem<Command>;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, std::io::Error> {
        Ok(decode_raw(src, 4).map(|item| match item {
            ChafonItem::Frame(mut f) => {
                f.advance(1);
                let address = f.get_u8();
                let command = f.get_u8();
                f.truncate(f.len() - 2);
                ChafonItem::Frame(Command {
                    address,
                    command,
                    data: f.freeze(),
                })
            }
            ChafonItem::Noise { bytes } => ChafonItem::Noise { bytes },
            ChafonItem::BadCrc { bytes, got, want } => ChafonItem::BadCrc { bytes, got, want },
        }))
    }
}

impl Encoder<Response> for ReaderCodec {
    type Error = std::io::Error;

    fn encode(&mut self, response: Response, dst: &mut BytesMut) -> Result<(), std::io::Error> {
        if response.data.len() > MAX_RESPONSE_DATA {
            return Err(std::io::Error::other(format!(
                "a Chafon response carries at most {MAX_RESPONSE_DATA} data bytes, not {}",
                response.data.len()
            )));
        }
        put_frame(
            dst,
            &[response.address, response.command, response.status],
            &response.data,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn responses(bytes: &[u8]) -> Vec<ChafonItem<Response>> {
        let mut codec = HostCodec;
        let mut buf = BytesMut::from(bytes);
        let mut out = Vec::new();
        while let Some(item) = codec.decode(&mut buf).unwrap() {
            out.push(item);
        }
        out
    }

    #[test]
    fn the_crc_is_the_catalogue_mcrf4xx() {
        // The catalogue's check value: CRC of "123456789".
        assert_eq!(crc16(b"123456789"), 0x6F91);
        assert_eq!(crc16(b"123456789"), CRC_16_MCRF4XX.check);
    }

    #[test]
    fn golden_commands() {
        // The frames a UHFReader18 demo program sends (address 0): Inventory `04 00 01 DB 4B`
        // and Get Reader Information `04 00 21 D9 6A` (§8.2.1, §8.4.1); to the broadcast
        // address and Set Power 30 dBm (§8.4.6).
        assert_eq!(
            Command::new(0, 0x01, vec![]).to_bytes(),
            [4, 0, 1, 0xDB, 0x4B]
        );
        assert_eq!(
            Command::new(0, 0x21, vec![]).to_bytes(),
            [4, 0, 0x21, 0xD9, 0x6A]
        );
        assert_eq!(
            Command::new(0xFF, 0x01, vec![]).to_bytes(),
            [4, 0xFF, 1, 0x1B, 0xB4]
        );
        assert_eq!(
            Command::new(0, 0x2F, vec![30]).to_bytes(),
            [5, 0, 0x2F, 0x1E, 0x72, 0x34]
        );
    }

    #[test]
    fn a_response_carries_its_status() {
        let bytes = Response::new(0, 0x01, 0xFB, vec![]).to_bytes();
        assert_eq!(bytes, [5, 0, 1, 0xFB, 0xF2, 0x3D]);
        assert_eq!(
            responses(&bytes),
            vec![ChafonItem::Frame(Response::new(0, 0x01, 0xFB, vec![]))]
        );
    }

    fn skipped(items: &[ChafonItem<Response>]) -> usize {
        items
            .iter()
            .map(|item| match item {
                ChafonItem::Noise { bytes } | ChafonItem::BadCrc { bytes, .. } => *bytes,
                ChafonItem::Frame(_) => 0,
            })
            .sum()
    }

    #[test]
    fn a_damaged_frame_is_reported_with_its_crc_and_the_next_frame_decodes() {
        let good = Response::new(0, 0x21, 0, vec![2, 0x24, 9, 3, 0x4E, 0, 30, 10]);
        let mut bytes = Response::new(0, 0x2F, 0, vec![]).to_bytes();
        *bytes.last_mut().unwrap() ^= 0x55;
        bytes.extend(good.to_bytes());
        let items = responses(&bytes);
        assert!(
            matches!(items[0], ChafonItem::BadCrc { bytes: 6, got, want } if got != want),
            "{items:?}"
        );
        assert_eq!(items[1..], [ChafonItem::Frame(good)]);
    }

    #[test]
    fn noise_then_a_damaged_frame_is_all_skipped_and_counted() {
        // Without a start byte, a damaged frame after noise is indistinguishable from more
        // noise: every byte before the good frame is skipped and counted, none is lost
        // silently, and the good frame decodes.
        let good = Response::new(0, 0x21, 0, vec![2, 0x24, 9, 3, 0x4E, 0, 30, 10]);
        let mut bytes = vec![0x00, 0x01, 0x02];
        let mut bad = Response::new(0, 0x2F, 0, vec![]).to_bytes();
        *bad.last_mut().unwrap() ^= 0x55;
        bytes.extend(&bad);
        bytes.extend(good.to_bytes());
        let items = responses(&bytes);
        assert_eq!(skipped(&items), 9, "{items:?}");
        assert_eq!(items.last(), Some(&ChafonItem::Frame(good)));
    }

    #[test]
    fn a_stray_length_byte_does_not_hold_back_the_frame_after_it() {
        // 0x40 reads as "a 65-byte frame follows"; the good frame after it is complete.
        let good = Response::new(0, 0x01, 0x01, vec![1, 2, 0xE2, 0x00]);
        let mut bytes = vec![0x40];
        bytes.extend(good.to_bytes());
        assert_eq!(
            responses(&bytes),
            vec![ChafonItem::Noise { bytes: 1 }, ChafonItem::Frame(good)]
        );
    }

    #[test]
    fn a_frame_split_anywhere_decodes_once() {
        let frame = Response::new(
            0,
            0x01,
            0x01,
            vec![1, 12, 0x30, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7],
        );
        let bytes = frame.to_bytes();
        for cut in 1..bytes.len() {
            let mut codec = HostCodec;
            let mut buf = BytesMut::from(&bytes[..cut]);
            assert_eq!(codec.decode(&mut buf).unwrap(), None, "cut at {cut}");
            buf.extend_from_slice(&bytes[cut..]);
            assert_eq!(
                codec.decode(&mut buf).unwrap(),
                Some(ChafonItem::Frame(frame.clone()))
            );
        }
    }

    #[test]
    fn the_reader_side_decodes_what_the_host_encodes() {
        let command = Command::new(0xFF, 0x22, vec![0x31, 0x80]);
        let mut wire = BytesMut::new();
        HostCodec.encode(command.clone(), &mut wire).unwrap();
        assert_eq!(
            ReaderCodec.decode(&mut wire).unwrap(),
            Some(ChafonItem::Frame(command))
        );
    }

    #[test]
    fn encoding_refuses_oversized_data() {
        let err = HostCodec
            .encode(Command::new(0, 0x01, vec![0; 252]), &mut BytesMut::new())
            .unwrap_err();
        assert!(err.to_string().contains("251"), "{err}");
    }

    proptest::proptest! {
        #[test]
        fn encode_then_decode_is_identity(address: u8, command: u8, status: u8,
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..=250)) {
            let response = Response::new(address, command, status, data);
            proptest::prop_assert_eq!(
                responses(&response.to_bytes()),
                vec![ChafonItem::Frame(response)]
            );
        }

        #[test]
        fn arbitrary_bytes_never_panic_and_always_progress(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let mut codec = HostCodec;
            let mut buf = BytesMut::from(&bytes[..]);
            while let Some(_item) = codec.decode(&mut buf).unwrap() {}
            proptest::prop_assert!(buf.len() <= 256);
        }

        #[test]
        fn a_frame_after_noise_is_found(noise in proptest::collection::vec(0u8..5, 0..20),
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40)) {
            // Bytes below 5 are impossible response lengths: pure noise.
            let response = Response::new(0, 0x01, 0x01, data);
            let mut bytes = noise.clone();
            bytes.extend(response.to_bytes());
            let items = responses(&bytes);
            proptest::prop_assert_eq!(items.last(), Some(&ChafonItem::Frame(response)));
        }
    }
}
