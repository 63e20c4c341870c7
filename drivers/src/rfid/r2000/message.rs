//! The R2000 commands tracegate sends and the replies it reads, as types; the error codes
//! with what a user can do about each.
//!
//! Sources: "UHF RFID Reader Serial Interface Protocol" (R2000 module vendors, V3.x): §3
//! command set — `0x72` cmd_get_firmware_version, `0x74` cmd_set_work_antenna, `0x66`
//! cmd_set_temporary_output_power (not `0x76`, which saves to the module's flash: a daemon
//! that sets the power at every reconnect must not wear it out), `0x89` cmd_real_time_inventory, `0x8B`
//! cmd_customized_session_target_inventory — and its error code table; the reply layouts are
//! those pyImpinj (PyPI) parses: a tag is `FreqAnt, PC (2), EPC, RSSI`; the end of a round is
//! `AntID, ReadRate (2, big-endian), TotalRead (4, big-endian)`; a failed round is one error
//! byte (or `AntID, ErrorCode` for a missing antenna).

use bytes::Bytes;

use super::frame::Frame;

/// cmd_get_firmware_version.
pub const GET_FIRMWARE_VERSION: u8 = 0x72;
/// cmd_set_work_antenna.
pub const SET_WORK_ANTENNA: u8 = 0x74;
/// cmd_set_temporary_output_power (every antenna; not saved to flash).
pub const SET_OUTPUT_POWER: u8 = 0x66;
/// cmd_real_time_inventory.
pub const REAL_TIME_INVENTORY: u8 = 0x89;
/// cmd_customized_session_target_inventory.
pub const SESSION_TARGET_INVENTORY: u8 = 0x8B;

/// The success code of a command that answers with a status byte.
pub const COMMAND_SUCCESS: u8 = 0x10;
/// The error code of an antenna with nothing connected.
pub const ANTENNA_MISSING: u8 = 0x22;

/// What the gateway asks a module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Its firmware version (asked at connect: proves the module is there and answering).
    GetFirmwareVersion,
    /// Make antenna port `0..=3` the one the next inventory uses.
    SetWorkAntenna(u8),
    /// Output power in dBm, every antenna, until the module is reset (not saved to flash).
    SetOutputPower(u8),
    /// An inventory round on the working antenna, tags reported as they are read.
    RealTimeInventory {
        /// Rounds the module runs before its summary (`0xFF`: as fast as it can).
        repeat: u8,
    },
    /// An inventory round with the Gen2 session and target given.
    SessionTargetInventory {
        /// Gen2 session 0-3.
        session: u8,
        /// Target A (false) or B (true).
        target_b: bool,
        /// Rounds.
        repeat: u8,
    },
}

impl Request {
    /// The request as a frame to `address`.
    pub fn frame(self, address: u8) -> Frame {
        let (command, data): (u8, Vec<u8>) = match self {
            Request::GetFirmwareVersion => (GET_FIRMWARE_VERSION, vec![]),
            Request::SetWorkAntenna(a) => (SET_WORK_ANTENNA, vec![a]),
            Request::SetOutputPower(dbm) => (SET_OUTPUT_POWER, vec![dbm]),
            Request::RealTimeInventory { repeat } => (REAL_TIME_INVENTORY, vec![repeat]),
            Request::SessionTargetInventory {
                session,
                target_b,
                repeat,
            } => (
                SESSION_TARGET_INVENTORY,
                vec![session, u8::from(target_b), repeat],
            ),
        };
        Frame::new(address, command, data)
    }

    /// The request a frame carries (the simulator's side).
    pub fn parse(frame: &Frame) -> Option<Request> {
        let d = &frame.data[..];
        Some(match (frame.command, d) {
            (GET_FIRMWARE_VERSION, []) => Request::GetFirmwareVersion,
            (SET_WORK_ANTENNA, [a]) => Request::SetWorkAntenna(*a),
            (SET_OUTPUT_POWER, [p]) => Request::SetOutputPower(*p),
            (REAL_TIME_INVENTORY, [r]) => Request::RealTimeInventory { repeat: *r },
            (SESSION_TARGET_INVENTORY, [s, t, r]) => Request::SessionTargetInventory {
                session: *s,
                target_b: *t != 0,
                repeat: *r,
            },
            _ => return None,
        })
    }
}

/// One tag an inventory round reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagRead {
    /// Antenna port, 1-based (the `FreqAnt` byte's two low bits, plus one).
    pub antenna: u8,
    /// Index into the module's frequency table (the `FreqAnt` byte's six high bits).
    pub frequency: u8,
    /// The tag's protocol control word.
    pub pc: u16,
    /// The EPC, as many bytes as the PC says.
    pub epc: Bytes,
    /// The module's RSSI byte (seven bits; dBm = value − 129).
    pub rssi: u8,
}

impl TagRead {
    /// The RSSI in dBm (R2000 RSSI table: 98 is −31 dBm, each step 1 dB).
    pub fn rssi_dbm(&self) -> f32 {
        f32::from(self.rssi & 0x7F) - 129.0
    }

    /// The data bytes of this tag's frame (the simulator's side).
    pub fn to_data(&self) -> Vec<u8> {
        let mut d = vec![(self.frequency << 2) | ((self.antenna - 1) & 0x03)];
        d.extend(self.pc.to_be_bytes());
        d.extend(&self.epc);
        d.push(self.rssi);
        d
    }
}

/// What a module answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Its firmware version.
    Version {
        /// Major.
        major: u8,
        /// Minor.
        minor: u8,
    },
    /// A command that answers with a status byte: [`COMMAND_SUCCESS`] or an error code.
    Status {
        /// Which command.
        command: u8,
        /// The code.
        code: u8,
    },
    /// A tag read in an inventory round.
    Tag(TagRead),
    /// The end of an inventory round.
    RoundEnd {
        /// Antenna port, 1-based.
        antenna: u8,
        /// Tag reads per second in the round.
        read_rate: u16,
        /// Tag reads in the round.
        total_reads: u32,
    },
    /// An inventory round that failed.
    RoundFailed {
        /// The antenna, when the module names it.
        antenna: Option<u8>,
        /// The error code.
        code: u8,
    },
}

/// A reply whose layout is not the protocol's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("R2000 reply to command {command:#04X} is malformed: {why}")]
pub struct Malformed {
    /// Which command.
    pub command: u8,
    /// What is wrong.
    pub why: String,
}

impl Reply {
    /// The reply a frame from the module carries.
    pub fn parse(frame: &Frame) -> Result<Reply, Malformed> {
        let d = &frame.data[..];
        let bad = |why: String| Malformed {
            command: frame.command,
            why,
        };
        match frame.command {
            GET_FIRMWARE_VERSION => match d {
                [major, minor] => Ok(Reply::Version {
                    major: *major,
                    minor: *minor,
                }),
                [code] => Ok(Reply::Status {
                    command: frame.command,
                    code: *code,
                }),
                _ => Err(bad(format!("{} data bytes, expected 2", d.len()))),
            },
            REAL_TIME_INVENTORY | SESSION_TARGET_INVENTORY => match d {
                [code] => Ok(Reply::RoundFailed {
                    antenna: None,
                    code: *code,
                }),
                [ant, code] => Ok(Reply::RoundFailed {
                    antenna: Some((ant & 0x03) + 1),
                    code: *code,
                }),
                [ant, r0, r1, t0, t1, t2, t3] => Ok(Reply::RoundEnd {
                    antenna: (ant & 0x03) + 1,
                    read_rate: u16::from_be_bytes([*r0, *r1]),
                    total_reads: u32::from_be_bytes([*t0, *t1, *t2, *t3]),
                }),
                [freq_ant, pc0, pc1, .., rssi] => {
                    let pc = u16::from_be_bytes([*pc0, *pc1]);
                    let words = usize::from(pc >> 11);
                    let epc = &d[3..d.len() - 1];
                    if epc.len() != words * 2 {
                        return Err(bad(format!(
                            "PC {pc:#06X} says {} EPC bytes, the frame carries {}",
                            words * 2,
                            epc.len()
                        )));
                    }
                    Ok(Reply::Tag(TagRead {
                        antenna: (freq_ant & 0x03) + 1,
                        frequency: freq_ant >> 2,
                        pc,
                        epc: frame.data.slice(3..d.len() - 1),
                        rssi: *rssi,
                    }))
                }
                [] => Err(bad("no data".into())),
                [_, _, _] => Err(bad("3 data bytes: neither a tag nor a round's end".into())),
            },
            _ => match d {
                [code] => Ok(Reply::Status {
                    command: frame.command,
                    code: *code,
                }),
                _ => Err(bad(format!(
                    "{} data bytes where a status byte was expected",
                    d.len()
                ))),
            },
        }
    }
}

/// What an error code means and what to do about it (the protocol's error code table).
pub fn error_text(code: u8) -> &'static str {
    match code {
        0x10 => "success",
        0x11 => {
            "command failed (the module could not carry it out; power-cycle it if this repeats)"
        }
        0x20 => "MCU reset error (the module restarted; check its supply voltage)",
        0x21 => {
            "could not switch the carrier on (check the supply: modules draw 1-2 A when transmitting)"
        }
        0x22 => {
            "antenna missing (nothing connected to that port: check the cable, or remove the port from `antennas`)"
        }
        0x23 => "flash write error",
        0x24 => "flash read error",
        0x25 => "output power could not be set (out of the module's range: check `tx_power_dbm`)",
        0x31 => "tag inventory error",
        0x32 => "tag read error",
        0x33 => "tag write error",
        0x34 => "tag lock error",
        0x35 => "tag kill error",
        0x36 => "no tag to operate on",
        0x37 => "inventory succeeded but access failed",
        0x38 => "the module's tag buffer is empty",
        0x40 => "access or password error",
        0x41 => {
            "parameter invalid (a setting the module does not take: check `antennas`, `session`, `tx_power_dbm`)"
        }
        0x42 => "word count too long",
        0x43 => "memory bank out of range",
        0x44 => "lock region out of range",
        0x45 => "lock type out of range",
        0x46 => "reader address invalid (check `address`)",
        0x47 => "antenna id out of range for this module (check `antennas`)",
        0x48 => "output power out of range (check `tx_power_dbm`)",
        0x49 => "frequency region out of range",
        0x4A => "baud rate out of range",
        0x4B => "beeper mode out of range",
        0x4C => "EPC match too long",
        0x4D => "EPC match length wrong",
        0x4E => "EPC match mode invalid",
        0x4F => "frequency range invalid",
        0x50 => "no RN16 reply from the tag",
        0x51 => "DRM mode invalid",
        0x52 => "PLL not locked (a hardware fault: the module needs service)",
        0x53 => "RF chip did not respond (a hardware fault: the module needs service)",
        0x54 => "output power not reached (check the antenna and its cable)",
        0x55 => "firmware copyright authentication failed",
        0x56 => "spectrum regulation error",
        0x57 => "output power too low",
        _ => "an error code this protocol version does not list",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_through_frames() {
        for r in [
            Request::GetFirmwareVersion,
            Request::SetWorkAntenna(3),
            Request::SetOutputPower(30),
            Request::RealTimeInventory { repeat: 0xFF },
            Request::SessionTargetInventory {
                session: 1,
                target_b: true,
                repeat: 1,
            },
        ] {
            assert_eq!(Request::parse(&r.frame(1)), Some(r));
        }
    }

    #[test]
    fn a_tag_frame_yields_antenna_frequency_epc_and_rssi() {
        let tag = TagRead {
            antenna: 2,
            frequency: 7,
            pc: 0x3000,
            epc: Bytes::from_static(&[0x30, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x2A]),
            rssi: 0x62,
        };
        let frame = Frame::new(1, REAL_TIME_INVENTORY, tag.to_data());
        assert_eq!(frame.data[0], (7 << 2) | 1);
        let Reply::Tag(parsed) = Reply::parse(&frame).unwrap() else {
            panic!()
        };
        assert_eq!(parsed, tag);
        assert_eq!(parsed.rssi_dbm(), -31.0);
    }

    #[test]
    fn round_end_failure_and_missing_antenna_are_told_apart() {
        let end = Frame::new(
            1,
            REAL_TIME_INVENTORY,
            vec![0x01, 0x00, 0x64, 0, 0, 0, 0x0C],
        );
        assert_eq!(
            Reply::parse(&end).unwrap(),
            Reply::RoundEnd {
                antenna: 2,
                read_rate: 100,
                total_reads: 12
            }
        );
        let missing = Frame::new(1, REAL_TIME_INVENTORY, vec![0x03, ANTENNA_MISSING]);
        assert_eq!(
            Reply::parse(&missing).unwrap(),
            Reply::RoundFailed {
                antenna: Some(4),
                code: ANTENNA_MISSING
            }
        );
        assert!(error_text(ANTENNA_MISSING).contains("antennas"));
    }

    #[test]
    fn a_tag_frame_whose_pc_disagrees_with_its_length_is_malformed() {
        let frame = Frame::new(
            1,
            REAL_TIME_INVENTORY,
            vec![0, 0x30, 0x00, 1, 2, 3, 4, 0x50],
        );
        let e = Reply::parse(&frame).unwrap_err();
        assert!(e.why.contains("12 EPC bytes"), "{e}");
    }
}
