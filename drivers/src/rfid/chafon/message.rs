//! The Chafon / UHFReader18 commands tracegate sends and the replies it reads, as types; the
//! status codes with what a user can do about each.
//!
//! Source: "UHF RFID Reader User's Manual V2.0" (UHFReader18 command set): §8.2.1 Inventory
//! (`0x01`: `Num, EPC-1, EPC-2 …`, each `EPC Len, EPC`, status `0x01` done, `0x02` scan time
//! overflowed, `0x03` more frames follow, `0x04` the reader's memory is full), §8.4.1 Get
//! Reader Information (`0x21`: `Version (2), Type, Tr_Type, DMaxFre, DMinFre, Power,
//! Scntm`), §8.4.2 Set Region (`0x22`: `MaxFre, MinFre`, the band's code in bits 7-6 of the two),
//! §8.4.4 Set Scan Time (`0x25`), §8.4.6 Set Power (`0x2F`, 0-30 dBm), §5 the result status
//! table. Region, scan time and power are written to the reader's EEPROM, so the driver sends
//! them only when the reader's own values differ.

use bytes::Bytes;

use super::frame::{Command, Response};

/// Inventory (EPC C1G2).
pub const INVENTORY: u8 = 0x01;
/// Get Reader Information.
pub const GET_READER_INFO: u8 = 0x21;
/// Set Region.
pub const SET_REGION: u8 = 0x22;
/// Set Scan Time.
pub const SET_SCAN_TIME: u8 = 0x25;
/// Set Power.
pub const SET_POWER: u8 = 0x2F;

/// Success.
pub const SUCCESS: u8 = 0x00;
/// Inventory: every tag read is in this frame.
pub const INVENTORY_DONE: u8 = 0x01;
/// Inventory: the scan time ran out before every tag was read; these are the ones read.
pub const SCAN_TIME_OVERFLOW: u8 = 0x02;
/// Inventory: more frames of this round follow.
pub const MORE_DATA: u8 = 0x03;
/// Inventory: more tags than the reader can hold; these are the ones it kept.
pub const MEMORY_FULL: u8 = 0x04;
/// No tag in the field (the answer to an inventory of an empty field).
pub const NO_TAG: u8 = 0xFB;
/// The command is not one the reader knows (answered with reCmd `0x00`).
pub const ILLEGAL_COMMAND: u8 = 0xFE;
/// A parameter is out of range.
pub const PARAMETER_ERROR: u8 = 0xFF;

/// The frequency bands of §8.4.2 (UHFReader18) and the UHFReader288's EU band, with the
/// channels each has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Band {
    /// User band: 902.6 + N × 0.4 MHz, N 0-62.
    User,
    /// Chinese band 2: 920.125 + N × 0.25 MHz, N 0-19 (920-925 MHz, China's UHF RFID band).
    China2,
    /// US band: 902.75 + N × 0.5 MHz, N 0-49.
    Us,
    /// Korean band: 917.1 + N × 0.2 MHz, N 0-31.
    Korea,
    /// EU band: 865.1 + N × 0.2 MHz, N 0-14 (UHFReader288 and later firmwares).
    Eu,
}

const BANDS: [Band; 5] = [Band::User, Band::China2, Band::Us, Band::Korea, Band::Eu];

impl Band {
    /// The band's 4-bit code: MaxFre's bits 7-6 are its high half, MinFre's its low half.
    pub fn code(self) -> u8 {
        match self {
            Band::User => 0,
            Band::China2 => 1,
            Band::Us => 2,
            Band::Korea => 3,
            Band::Eu => 4,
        }
    }

    /// The band a code names.
    pub fn from_code(code: u8) -> Option<Band> {
        BANDS.into_iter().find(|b| b.code() == code)
    }

    /// The band's highest channel number.
    pub fn last_channel(self) -> u8 {
        match self {
            Band::User => 62,
            Band::China2 => 19,
            Band::Us => 49,
            Band::Korea => 31,
            Band::Eu => 14,
        }
    }

    /// The band's name as the config takes it.
    pub fn name(self) -> &'static str {
        match self {
            Band::User => "user",
            Band::China2 => "china2",
            Band::Us => "us",
            Band::Korea => "korea",
            Band::Eu => "eu",
        }
    }
}

/// A band and the channels used in it (MaxFre / MinFre).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// The band.
    pub band: Band,
    /// Lowest channel hopped to.
    pub min: u8,
    /// Highest channel hopped to.
    pub max: u8,
}

impl Region {
    /// The whole band.
    pub fn whole(band: Band) -> Region {
        Region {
            band,
            min: 0,
            max: band.last_channel(),
        }
    }

    /// The two bytes MaxFre, MinFre: the channel in bits 5-0 of each, the band's code split
    /// over their bits 7-6 (high half in MaxFre).
    pub fn to_bytes(self) -> [u8; 2] {
        let code = self.band.code();
        [
            (code >> 2) << 6 | (self.max & 0x3F),
            (code & 0b11) << 6 | (self.min & 0x3F),
        ]
    }

    /// The region two bytes MaxFre, MinFre describe (none for a band code not listed).
    pub fn from_bytes(max_fre: u8, min_fre: u8) -> Option<Region> {
        Some(Region {
            band: Band::from_code((max_fre >> 6) << 2 | (min_fre >> 6))?,
            min: min_fre & 0x3F,
            max: max_fre & 0x3F,
        })
    }
}

/// What the gateway asks a reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Version, type, power, region and scan time (asked at connect: proves the reader is
    /// there and answering, and shows what its EEPROM holds).
    GetReaderInfo,
    /// An EPC inventory: the reader reads for up to its scan time and answers with the EPCs.
    Inventory,
    /// Output power 0-30 dBm (written to EEPROM).
    SetPower(u8),
    /// Band and channels (written to EEPROM).
    SetRegion(Region),
    /// Inventory scan time in units of 100 ms, 3-255 (written to EEPROM).
    SetScanTime(u8),
}

impl Request {
    /// The request as a command to `address`.
    pub fn command(self, address: u8) -> Command {
        let (code, data): (u8, Vec<u8>) = match self {
            Request::GetReaderInfo => (GET_READER_INFO, vec![]),
            Request::Inventory => (INVENTORY, vec![]),
            Request::SetPower(dbm) => (SET_POWER, vec![dbm]),
            Request::SetRegion(region) => (SET_REGION, region.to_bytes().to_vec()),
            Request::SetScanTime(units) => (SET_SCAN_TIME, vec![units]),
        };
        Command::new(address, code, data)
    }

    /// The request a command carries (the simulator's side); none for one not modelled.
    pub fn parse(command: &Command) -> Option<Request> {
        let d = &command.data[..];
        Some(match (command.command, d) {
            (GET_READER_INFO, []) => Request::GetReaderInfo,
            (INVENTORY, []) => Request::Inventory,
            (SET_POWER, [dbm]) => Request::SetPower(*dbm),
            (SET_REGION, [max, min]) => Request::SetRegion(Region::from_bytes(*max, *min)?),
            (SET_SCAN_TIME, [units]) => Request::SetScanTime(*units),
            _ => return None,
        })
    }
}

/// The reader's description of itself (§8.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReaderInfo {
    /// Firmware version and sub-version.
    pub version: (u8, u8),
    /// The reader type byte.
    pub reader_type: u8,
    /// Protocols: bit 1 ISO 18000-6C (EPC Gen2), bit 0 18000-6B.
    pub protocols: u8,
    /// MaxFre as stored.
    pub max_fre: u8,
    /// MinFre as stored.
    pub min_fre: u8,
    /// Output power, dBm.
    pub power: u8,
    /// Inventory scan time, units of 100 ms.
    pub scan_time: u8,
}

impl ReaderInfo {
    /// The response data.
    pub fn to_data(&self) -> Vec<u8> {
        vec![
            self.version.0,
            self.version.1,
            self.reader_type,
            self.protocols,
            self.max_fre,
            self.min_fre,
            self.power,
            self.scan_time,
        ]
    }

    /// The region the reader is set to, if one of §8.4.2's.
    pub fn region(&self) -> Option<Region> {
        Region::from_bytes(self.max_fre, self.min_fre)
    }
}

/// One inventory frame's EPCs and whether the round goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryFrame {
    /// The status: [`INVENTORY_DONE`], [`SCAN_TIME_OVERFLOW`], [`MORE_DATA`] or
    /// [`MEMORY_FULL`].
    pub status: u8,
    /// The EPCs in it.
    pub epcs: Vec<Bytes>,
}

impl InventoryFrame {
    /// Whether more frames of this round follow.
    pub fn more(&self) -> bool {
        self.status == MORE_DATA
    }

    /// The response data: `Num`, then `EPC Len, EPC` per tag.
    pub fn to_data(&self) -> Vec<u8> {
        let mut out = vec![self.epcs.len() as u8];
        for epc in &self.epcs {
            out.push(epc.len() as u8);
            out.extend_from_slice(epc);
        }
        out
    }
}

/// A reply, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// To Get Reader Information.
    Info(ReaderInfo),
    /// To Inventory, with tags.
    Inventory(InventoryFrame),
    /// A status with no data: success of a setting, an empty field (`0xFB`), an error.
    Status(u8),
}

/// A response whose data does not fit its command and status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed answer to command {command:#04X} (status {status:#04X}): {why}; dropped")]
pub struct Malformed {
    /// The command answered.
    pub command: u8,
    /// Its status.
    pub status: u8,
    /// What is wrong.
    pub why: String,
}

impl Reply {
    /// Reads a response.
    pub fn parse(response: &Response) -> Result<Reply, Malformed> {
        let bad = |why: String| Malformed {
            command: response.command,
            status: response.status,
            why,
        };
        let d = &response.data[..];
        match (response.command, response.status) {
            (GET_READER_INFO, SUCCESS) => match *d {
                [
                    v0,
                    v1,
                    reader_type,
                    protocols,
                    max_fre,
                    min_fre,
                    power,
                    scan_time,
                ] => Ok(Reply::Info(ReaderInfo {
                    version: (v0, v1),
                    reader_type,
                    protocols,
                    max_fre,
                    min_fre,
                    power,
                    scan_time,
                })),
                _ => Err(bad(format!("{} data bytes, not 8", d.len()))),
            },
            (INVENTORY, INVENTORY_DONE | SCAN_TIME_OVERFLOW | MORE_DATA | MEMORY_FULL) => {
                let Some((&count, mut rest)) = d.split_first() else {
                    return Err(bad("no tag count".into()));
                };
                let mut epcs = Vec::with_capacity(usize::from(count));
                for n in 0..count {
                    let Some((&len, tail)) = rest.split_first() else {
                        return Err(bad(format!("{count} tags announced, {n} present")));
                    };
                    let len = usize::from(len);
                    if len == 0 || tail.len() < len {
                        return Err(bad(format!(
                            "tag {} has an EPC length of {len} with {} bytes left",
                            n + 1,
                            tail.len()
                        )));
                    }
                    epcs.push(Bytes::copy_from_slice(&tail[..len]));
                    rest = &tail[len..];
                }
                if !rest.is_empty() {
                    return Err(bad(format!("{} bytes after the last tag", rest.len())));
                }
                Ok(Reply::Inventory(InventoryFrame {
                    status: response.status,
                    epcs,
                }))
            }
            (_, status) => Ok(Reply::Status(status)),
        }
    }
}

/// A result status in words, with what to check (§5).
pub fn status_text(status: u8) -> &'static str {
    match status {
        0x00 => "success",
        0x01 => "inventory done",
        0x02 => {
            "the inventory scan time ran out before every tag was read (a dense field: raise scan_time_ms)"
        }
        0x03 => "more data follows",
        0x04 => "more tags than the reader's memory holds in one round (lower scan_time_ms)",
        0x05 => "access password wrong",
        0x09 => "kill failed",
        0x0A => "the kill password cannot be zero",
        0x0B => "the tag does not support the command",
        0x0C => "the access password cannot be zero for this command",
        0x0D => "the tag is protected and cannot be set again",
        0x0E => "the tag is not protected",
        0x10 => "some bytes are locked: write failed",
        0x11 => "cannot lock",
        0x12 => "already locked",
        0x13 => "the reader could not save the parameter (its EEPROM); power-cycle it and retry",
        0x14 => "cannot adjust",
        0xF8 => "antenna error: check that the antenna is connected",
        0xF9 => "the command failed on the reader",
        0xFA => "poor communication with the tag (too far, or interference)",
        0xFB => "no tag in the field",
        0xFC => "the tag returned an error code",
        0xFD => {
            "command length wrong (a host or firmware mismatch: check protocol = \"chafon\" is right for this reader)"
        }
        0xFE => {
            "the reader does not know this command (an older firmware, or not a UHFReader18-family reader)"
        }
        0xFF => {
            "a parameter is out of the reader's range (check tx_power_dbm, region and scan_time_ms)"
        }
        _ => "an undocumented status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rfid::chafon::frame::Response;

    #[test]
    fn an_inventory_frame_lists_its_epcs() {
        let epc = vec![
            0x30, 0x14, 0xFA, 0xFF, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x01,
        ];
        let frame = InventoryFrame {
            status: INVENTORY_DONE,
            epcs: vec![Bytes::from(epc.clone()), Bytes::from_static(&[0xE2, 0x00])],
        };
        let data = frame.to_data();
        assert_eq!(&data[..2], &[2, 12]);
        let reply = Reply::parse(&Response::new(0, INVENTORY, INVENTORY_DONE, data)).unwrap();
        assert_eq!(reply, Reply::Inventory(frame));
    }

    #[test]
    fn inconsistent_inventory_data_is_malformed_with_the_reason() {
        let parse = |data: Vec<u8>| Reply::parse(&Response::new(0, INVENTORY, MORE_DATA, data));
        assert!(parse(vec![]).unwrap_err().why.contains("no tag count"));
        assert!(
            parse(vec![2, 2, 1, 2])
                .unwrap_err()
                .why
                .contains("2 tags announced, 1")
        );
        assert!(
            parse(vec![1, 4, 1, 2])
                .unwrap_err()
                .why
                .contains("EPC length of 4")
        );
        assert!(
            parse(vec![1, 1, 1, 9])
                .unwrap_err()
                .why
                .contains("1 bytes after")
        );
        assert!(parse(vec![1, 0]).unwrap_err().why.contains("length of 0"));
    }

    #[test]
    fn reader_info_round_trips_and_names_its_region() {
        let info = ReaderInfo {
            version: (2, 36),
            reader_type: 0x09,
            protocols: 0b11,
            max_fre: 49,
            min_fre: 0x80,
            power: 30,
            scan_time: 10,
        };
        let reply = Reply::parse(&Response::new(0, GET_READER_INFO, SUCCESS, info.to_data()));
        assert_eq!(reply, Ok(Reply::Info(info)));
        assert_eq!(info.region(), Some(Region::whole(Band::Us)));
    }

    #[test]
    fn region_bytes_carry_the_band_in_the_top_bits() {
        for band in BANDS {
            let region = Region::whole(band);
            let [max, min] = region.to_bytes();
            assert_eq!((max >> 6) << 2 | min >> 6, band.code());
            assert_eq!(Region::from_bytes(max, min), Some(region));
        }
        // China band 2, channels 0-19: MaxFre 0x13, MinFre 0x40; US 0-49: 0x31, 0x80; EU
        // 0-14: 0x4E, 0x00.
        assert_eq!(Region::whole(Band::China2).to_bytes(), [0x13, 0x40]);
        assert_eq!(Region::whole(Band::Us).to_bytes(), [0x31, 0x80]);
        assert_eq!(Region::whole(Band::Eu).to_bytes(), [0x4E, 0x00]);
        assert_eq!(Region::from_bytes(0xC0, 0), None, "band code 12 is not one");
    }

    #[test]
    fn requests_round_trip_through_commands() {
        for request in [
            Request::GetReaderInfo,
            Request::Inventory,
            Request::SetPower(26),
            Request::SetRegion(Region::whole(Band::Korea)),
            Request::SetScanTime(10),
        ] {
            assert_eq!(Request::parse(&request.command(0xFF)), Some(request));
        }
    }

    #[test]
    fn every_documented_status_has_words() {
        for status in [
            0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x13, 0xF8, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE,
            0xFF,
        ] {
            assert_ne!(status_text(status), "an undocumented status");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_response_parses_or_is_refused_without_panicking(command: u8, status: u8,
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..250)) {
            let _ = Reply::parse(&Response::new(0, command, status, data));
        }
    }
}
