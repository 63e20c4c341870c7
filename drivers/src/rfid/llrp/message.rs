//! The LLRP messages tracegate's client sends and reads, and its simulated reader reads and
//! sends, as typed values: [`Message::decode`] from a [`Frame`], [`Message::encode`] back.
//! Layouts follow LLRP 1.0.1 §16 (binary encoding); each type below names its message or
//! parameter. What a message may carry and tracegate does not need is skipped by its length,
//! including vendor `Custom` parameters other than the Impinj ones read here.

use bytes::{Bytes, BytesMut};

use super::LlrpError;
use super::frame::Frame;
use super::param::{CUSTOM, Fields, Param, Params, Writer};

/// Message type numbers (§16, message types table).
pub mod kind {
    #![allow(missing_docs)]
    pub const GET_READER_CAPABILITIES: u16 = 1;
    pub const SET_READER_CONFIG: u16 = 3;
    pub const CLOSE_CONNECTION_RESPONSE: u16 = 4;
    pub const GET_READER_CAPABILITIES_RESPONSE: u16 = 11;
    pub const SET_READER_CONFIG_RESPONSE: u16 = 13;
    pub const CLOSE_CONNECTION: u16 = 14;
    pub const ADD_ROSPEC: u16 = 20;
    pub const DELETE_ROSPEC: u16 = 21;
    pub const START_ROSPEC: u16 = 22;
    pub const STOP_ROSPEC: u16 = 23;
    pub const ENABLE_ROSPEC: u16 = 24;
    pub const DISABLE_ROSPEC: u16 = 25;
    pub const ADD_ROSPEC_RESPONSE: u16 = 30;
    pub const DELETE_ROSPEC_RESPONSE: u16 = 31;
    pub const START_ROSPEC_RESPONSE: u16 = 32;
    pub const STOP_ROSPEC_RESPONSE: u16 = 33;
    pub const ENABLE_ROSPEC_RESPONSE: u16 = 34;
    pub const DISABLE_ROSPEC_RESPONSE: u16 = 35;
    pub const DELETE_ACCESSSPEC: u16 = 41;
    pub const DELETE_ACCESSSPEC_RESPONSE: u16 = 51;
    pub const RO_ACCESS_REPORT: u16 = 61;
    pub const KEEPALIVE: u16 = 62;
    pub const READER_EVENT_NOTIFICATION: u16 = 63;
    pub const ENABLE_EVENTS_AND_REPORTS: u16 = 64;
    pub const KEEPALIVE_ACK: u16 = 72;
    pub const ERROR_MESSAGE: u16 = 100;
    pub const CUSTOM_MESSAGE: u16 = 1023;

    /// The response type of a request that has one.
    pub fn response_to(request: u16) -> Option<u16> {
        Some(match request {
            GET_READER_CAPABILITIES => GET_READER_CAPABILITIES_RESPONSE,
            SET_READER_CONFIG => SET_READER_CONFIG_RESPONSE,
            CLOSE_CONNECTION => CLOSE_CONNECTION_RESPONSE,
            ADD_ROSPEC..=DISABLE_ROSPEC => request + 10,
            DELETE_ACCESSSPEC => DELETE_ACCESSSPEC_RESPONSE,
            CUSTOM_MESSAGE => CUSTOM_MESSAGE,
            _ => return None,
        })
    }

    /// The message's name, for logs and errors.
    pub fn name(kind: u16) -> &'static str {
        match kind {
            GET_READER_CAPABILITIES => "GET_READER_CAPABILITIES",
            SET_READER_CONFIG => "SET_READER_CONFIG",
            CLOSE_CONNECTION_RESPONSE => "CLOSE_CONNECTION_RESPONSE",
            GET_READER_CAPABILITIES_RESPONSE => "GET_READER_CAPABILITIES_RESPONSE",
            SET_READER_CONFIG_RESPONSE => "SET_READER_CONFIG_RESPONSE",
            CLOSE_CONNECTION => "CLOSE_CONNECTION",
            ADD_ROSPEC => "ADD_ROSPEC",
            DELETE_ROSPEC => "DELETE_ROSPEC",
            START_ROSPEC => "START_ROSPEC",
            STOP_ROSPEC => "STOP_ROSPEC",
            ENABLE_ROSPEC => "ENABLE_ROSPEC",
            DISABLE_ROSPEC => "DISABLE_ROSPEC",
            ADD_ROSPEC_RESPONSE => "ADD_ROSPEC_RESPONSE",
            DELETE_ROSPEC_RESPONSE => "DELETE_ROSPEC_RESPONSE",
            START_ROSPEC_RESPONSE => "START_ROSPEC_RESPONSE",
            STOP_ROSPEC_RESPONSE => "STOP_ROSPEC_RESPONSE",
            ENABLE_ROSPEC_RESPONSE => "ENABLE_ROSPEC_RESPONSE",
            DISABLE_ROSPEC_RESPONSE => "DISABLE_ROSPEC_RESPONSE",
            DELETE_ACCESSSPEC => "DELETE_ACCESSSPEC",
            DELETE_ACCESSSPEC_RESPONSE => "DELETE_ACCESSSPEC_RESPONSE",
            RO_ACCESS_REPORT => "RO_ACCESS_REPORT",
            KEEPALIVE => "KEEPALIVE",
            READER_EVENT_NOTIFICATION => "READER_EVENT_NOTIFICATION",
            ENABLE_EVENTS_AND_REPORTS => "ENABLE_EVENTS_AND_REPORTS",
            KEEPALIVE_ACK => "KEEPALIVE_ACK",
            ERROR_MESSAGE => "ERROR_MESSAGE",
            CUSTOM_MESSAGE => "CUSTOM_MESSAGE",
            _ => "a message type tracegate does not use",
        }
    }
}

/// Parameter type numbers (§16, parameter types).
pub mod ptype {
    #![allow(missing_docs)]
    pub const ANTENNA_ID: u16 = 1;
    pub const FIRST_SEEN_UTC: u16 = 2;
    pub const PEAK_RSSI: u16 = 6;
    pub const CHANNEL_INDEX: u16 = 7;
    pub const TAG_SEEN_COUNT: u16 = 8;
    pub const ROSPEC_ID: u16 = 9;
    pub const EPC_96: u16 = 13;
    pub const UTC_TIMESTAMP: u16 = 128;
    pub const UPTIME: u16 = 129;
    pub const GENERAL_DEVICE_CAPABILITIES: u16 = 137;
    pub const RECEIVE_SENSITIVITY_ENTRY: u16 = 139;
    pub const PER_ANTENNA_AIR_PROTOCOL: u16 = 140;
    pub const GPIO_CAPABILITIES: u16 = 141;
    pub const LLRP_CAPABILITIES: u16 = 142;
    pub const REGULATORY_CAPABILITIES: u16 = 143;
    pub const UHF_BAND_CAPABILITIES: u16 = 144;
    pub const TRANSMIT_POWER_ENTRY: u16 = 145;
    pub const FREQUENCY_INFORMATION: u16 = 146;
    pub const ROSPEC: u16 = 177;
    pub const RO_BOUNDARY_SPEC: u16 = 178;
    pub const ROSPEC_START_TRIGGER: u16 = 179;
    pub const PERIODIC_TRIGGER_VALUE: u16 = 180;
    pub const GPI_TRIGGER_VALUE: u16 = 181;
    pub const ROSPEC_STOP_TRIGGER: u16 = 182;
    pub const AI_SPEC: u16 = 183;
    pub const AI_SPEC_STOP_TRIGGER: u16 = 184;
    pub const INVENTORY_PARAMETER_SPEC: u16 = 186;
    pub const KEEPALIVE_SPEC: u16 = 220;
    pub const ANTENNA_CONFIGURATION: u16 = 222;
    pub const RF_TRANSMITTER: u16 = 224;
    pub const EVENTS_AND_REPORTS: u16 = 226;
    pub const RO_REPORT_SPEC: u16 = 237;
    pub const TAG_REPORT_CONTENT_SELECTOR: u16 = 238;
    pub const TAG_REPORT_DATA: u16 = 240;
    pub const EPC_DATA: u16 = 241;
    pub const READER_EVENT_NOTIFICATION_SPEC: u16 = 244;
    pub const EVENT_NOTIFICATION_STATE: u16 = 245;
    pub const READER_EVENT_NOTIFICATION_DATA: u16 = 246;
    pub const GPI_EVENT: u16 = 248;
    pub const ROSPEC_EVENT: u16 = 249;
    pub const REPORT_BUFFER_LEVEL_WARNING: u16 = 250;
    pub const REPORT_BUFFER_OVERFLOW: u16 = 251;
    pub const READER_EXCEPTION_EVENT: u16 = 252;
    pub const ANTENNA_EVENT: u16 = 255;
    pub const CONNECTION_ATTEMPT_EVENT: u16 = 256;
    pub const CONNECTION_CLOSE_EVENT: u16 = 257;
    pub const LLRP_STATUS: u16 = 287;
    pub const FIELD_ERROR: u16 = 288;
    pub const PARAMETER_ERROR: u16 = 289;
    pub const C1G2_LLRP_CAPABILITIES: u16 = 327;
    pub const C1G2_UHF_RF_MODE_TABLE: u16 = 328;
    pub const C1G2_UHF_RF_MODE_ENTRY: u16 = 329;
    pub const C1G2_INVENTORY_COMMAND: u16 = 330;
    pub const C1G2_SINGULATION_CONTROL: u16 = 336;
}

/// Impinj's IANA private enterprise number, the vendor of its LLRP extensions (Octane LLRP).
pub const IMPINJ: u32 = 25882;
/// Zebra's (formerly Motorola Solutions') vendor identifier in LLRP.
pub const ZEBRA: u32 = 161;

/// Impinj custom message and parameter subtypes used here (Impinj Octane LLRP reference).
pub mod impinj {
    #![allow(missing_docs)]
    pub const ENABLE_EXTENSIONS: u8 = 21;
    pub const ENABLE_EXTENSIONS_RESPONSE: u8 = 22;
    pub const INVENTORY_SEARCH_MODE: u32 = 23;
    pub const TAG_REPORT_CONTENT_SELECTOR: u32 = 50;
    pub const ENABLE_PEAK_RSSI: u32 = 53;
    pub const PEAK_RSSI: u32 = 57;
}

/// An LLRPStatus parameter (§16, LLRPStatus): the outcome a response reports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Status {
    /// StatusCode: 0 is M_Success.
    pub code: u16,
    /// ErrorDescription, the reader's own words.
    pub description: String,
    /// FieldError: field number and error code.
    pub field_error: Option<(u16, u16)>,
    /// ParameterError: parameter type and error code.
    pub parameter_error: Option<(u16, u16)>,
}

impl Status {
    /// M_Success.
    pub fn success() -> Self {
        Status::default()
    }

    /// A failure with `code` and `description`.
    pub fn error(code: u16, description: impl Into<String>) -> Self {
        Status {
            code,
            description: description.into(),
            ..Status::default()
        }
    }

    /// Whether it reports success.
    pub fn is_success(&self) -> bool {
        self.code == 0
    }

    /// The status code's name (§16, LLRPStatus: StatusCode values).
    pub fn code_name(&self) -> &'static str {
        match self.code {
            0 => "M_Success",
            100 => "M_ParameterError",
            101 => "M_FieldError",
            102 => "M_UnexpectedParameter",
            103 => "M_MissingParameter",
            104 => "M_DuplicateParameter",
            105 => "M_OverflowParameter",
            106 => "M_OverflowField",
            107 => "M_UnknownParameter",
            108 => "M_UnknownField",
            109 => "M_UnsupportedMessage",
            110 => "M_UnsupportedVersion",
            111 => "M_UnsupportedParameter",
            200 => "P_ParameterError",
            201 => "P_FieldError",
            202 => "P_UnexpectedParameter",
            203 => "P_MissingParameter",
            204 => "P_DuplicateParameter",
            205 => "P_OverflowParameter",
            206 => "P_OverflowField",
            207 => "P_UnknownParameter",
            208 => "P_UnknownField",
            209 => "P_UnsupportedParameter",
            300 => "A_Invalid",
            301 => "A_OutOfRange",
            401 => "R_DeviceError",
            _ => "an unknown status code",
        }
    }

    fn write(&self, w: &mut Writer) {
        w.tlv(ptype::LLRP_STATUS, |w| {
            w.u16(self.code).utf8v(&self.description);
            if let Some((field, code)) = self.field_error {
                w.tlv(ptype::FIELD_ERROR, |w| {
                    w.u16(field).u16(code);
                });
            }
            if let Some((param, code)) = self.parameter_error {
                w.tlv(ptype::PARAMETER_ERROR, |w| {
                    w.u16(param).u16(code);
                });
            }
        });
    }

    fn read(value: &[u8]) -> Result<Status, LlrpError> {
        let mut f = Fields::new(value, "LLRPStatus");
        let mut status = Status {
            code: f.u16()?,
            description: f.utf8v()?,
            ..Status::default()
        };
        for p in Params::new(f.rest()) {
            let p = p?;
            let mut f = Fields::new(p.value, "LLRPStatus error detail");
            match p.kind {
                ptype::FIELD_ERROR => status.field_error = Some((f.u16()?, f.u16()?)),
                // Nested detail (a ParameterError's own FieldError) is skipped.
                ptype::PARAMETER_ERROR => status.parameter_error = Some((f.u16()?, f.u16()?)),
                _ => {}
            }
        }
        Ok(status)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.code_name(), self.code)?;
        if !self.description.is_empty() {
            write!(f, ": {}", self.description)?;
        }
        if let Some((param, code)) = self.parameter_error {
            write!(f, "; in parameter type {param} (error {code})")?;
        }
        if let Some((field, code)) = self.field_error {
            write!(f, "; field {field} (error {code})")?;
        }
        Ok(())
    }
}

/// One entry of the reader's transmit power table (§16, TransmitPowerLevelTableEntry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PowerLevel {
    /// The index an AntennaConfiguration's RFTransmitter names.
    pub index: u16,
    /// Power in dBm × 100.
    pub dbm100: i16,
}

/// What GET_READER_CAPABILITIES_RESPONSE says (§16, GeneralDeviceCapabilities,
/// LLRPCapabilities, RegulatoryCapabilities, C1G2LLRPCapabilities); fields a reader did not
/// send stay at their defaults.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// DeviceManufacturerName: the vendor's IANA enterprise number (Impinj 25882).
    pub manufacturer: u32,
    /// ModelName, the vendor's model number.
    pub model: u32,
    /// ReaderFirmwareVersion.
    pub firmware: String,
    /// MaxNumberOfAntennaSupported.
    pub max_antennas: u16,
    /// CanSetAntennaProperties.
    pub can_set_antenna_properties: bool,
    /// HasUTCClockCapability: whether reports carry UTC timestamps.
    pub has_utc_clock: bool,
    /// GPIOCapabilities: inputs and outputs.
    pub gpis: u16,
    /// Outputs.
    pub gpos: u16,
    /// MaxNumROSpecs.
    pub max_rospecs: u32,
    /// CanDoTagInventoryStateAwareSingulation.
    pub state_aware_singulation: bool,
    /// SupportsEventAndReportHolding.
    pub event_and_report_holding: bool,
    /// CountryCode (ISO 3166 numeric).
    pub country_code: u16,
    /// CommunicationsStandard (1 US FCC part 15, 2 ETSI EN 302 208 …).
    pub communications_standard: u16,
    /// The transmit power table.
    pub transmit_power: Vec<PowerLevel>,
    /// Whether the reader hops frequencies.
    pub hopping: bool,
    /// Mode identifiers of the C1G2 UHF RF mode table.
    pub rf_modes: Vec<u32>,
    /// MaxNumSelectFiltersPerQuery.
    pub max_select_filters: u16,
}

impl Capabilities {
    /// The table index whose power is closest to `dbm` without exceeding it (the lowest
    /// entry when `dbm` is below the table), or `None` for an empty table.
    pub fn power_index(&self, dbm: f32) -> Option<PowerLevel> {
        let want = (dbm * 100.0).round() as i32;
        let below = self
            .transmit_power
            .iter()
            .filter(|p| i32::from(p.dbm100) <= want)
            .max_by_key(|p| p.dbm100);
        below
            .or_else(|| self.transmit_power.iter().min_by_key(|p| p.dbm100))
            .copied()
    }

    /// The strongest power the table offers.
    pub fn max_power(&self) -> Option<PowerLevel> {
        self.transmit_power.iter().max_by_key(|p| p.dbm100).copied()
    }

    fn write(&self, w: &mut Writer) {
        w.tlv(ptype::GENERAL_DEVICE_CAPABILITIES, |w| {
            let flags = (u16::from(self.can_set_antenna_properties) << 15)
                | (u16::from(self.has_utc_clock) << 14);
            w.u16(self.max_antennas)
                .u16(flags)
                .u32(self.manufacturer)
                .u32(self.model)
                .utf8v(&self.firmware);
            w.tlv(ptype::RECEIVE_SENSITIVITY_ENTRY, |w| {
                w.u16(1).i16(0);
            });
            w.tlv(ptype::GPIO_CAPABILITIES, |w| {
                w.u16(self.gpis).u16(self.gpos);
            });
            // Air protocols per antenna (a reader with many ports lists at most 32 here: the
            // client does not read them, and the parameter must fit its 16-bit length).
            for antenna in 1..=self.max_antennas.min(32) {
                w.tlv(ptype::PER_ANTENNA_AIR_PROTOCOL, |w| {
                    // One protocol: EPCGlobal Class 1 Gen 2 (u8v: count, then the ids).
                    w.u16(antenna).u16(1).u8(1);
                });
            }
        });
        w.tlv(ptype::LLRP_CAPABILITIES, |w| {
            let flags = (u8::from(self.state_aware_singulation) << 4)
                | (u8::from(self.event_and_report_holding) << 3);
            w.u8(flags)
                .u8(1)
                .u16(0)
                .u32(self.max_rospecs)
                .u32(1)
                .u32(1)
                .u32(1)
                .u32(1);
        });
        w.tlv(ptype::REGULATORY_CAPABILITIES, |w| {
            w.u16(self.country_code).u16(self.communications_standard);
            w.tlv(ptype::UHF_BAND_CAPABILITIES, |w| {
                for p in &self.transmit_power {
                    w.tlv(ptype::TRANSMIT_POWER_ENTRY, |w| {
                        w.u16(p.index).i16(p.dbm100);
                    });
                }
                w.tlv(ptype::FREQUENCY_INFORMATION, |w| {
                    w.u8(u8::from(self.hopping) << 7);
                    // FrequencyHopTable: one table, one hop (a simulated reader's minimum).
                    w.tlv(147, |w| {
                        w.u8(1).u8(0).u16(1).u32(866_900);
                    });
                });
                w.tlv(ptype::C1G2_UHF_RF_MODE_TABLE, |w| {
                    for mode in &self.rf_modes {
                        w.tlv(ptype::C1G2_UHF_RF_MODE_ENTRY, |w| {
                            w.u32(*mode).u8(0x40).u8(4).u8(0).u8(2);
                            w.u32(250_000).u32(1500).u32(25_000).u32(25_000).u32(0);
                        });
                    }
                });
            });
        });
        w.tlv(ptype::C1G2_LLRP_CAPABILITIES, |w| {
            w.u8(0).u16(self.max_select_filters);
        });
    }

    fn read(params: &[u8]) -> Result<(Status, Capabilities), LlrpError> {
        let mut status = None;
        let mut caps = Capabilities::default();
        for p in Params::new(params) {
            let p = p?;
            match p.kind {
                ptype::LLRP_STATUS => status = Some(Status::read(p.value)?),
                ptype::GENERAL_DEVICE_CAPABILITIES => {
                    let mut f = Fields::new(p.value, "GeneralDeviceCapabilities");
                    caps.max_antennas = f.u16()?;
                    let flags = f.u16()?;
                    caps.can_set_antenna_properties = flags & 0x8000 != 0;
                    caps.has_utc_clock = flags & 0x4000 != 0;
                    caps.manufacturer = f.u32()?;
                    caps.model = f.u32()?;
                    caps.firmware = f.utf8v()?;
                    for sub in Params::new(f.rest()) {
                        let sub = sub?;
                        if sub.kind == ptype::GPIO_CAPABILITIES {
                            let mut f = Fields::new(sub.value, "GPIOCapabilities");
                            caps.gpis = f.u16()?;
                            caps.gpos = f.u16()?;
                        }
                    }
                }
                ptype::LLRP_CAPABILITIES => {
                    let mut f = Fields::new(p.value, "LLRPCapabilities");
                    let flags = f.u8()?;
                    caps.state_aware_singulation = flags & 0x10 != 0;
                    caps.event_and_report_holding = flags & 0x08 != 0;
                    f.u8()?;
                    f.u16()?;
                    caps.max_rospecs = f.u32()?;
                }
                ptype::REGULATORY_CAPABILITIES => {
                    let mut f = Fields::new(p.value, "RegulatoryCapabilities");
                    caps.country_code = f.u16()?;
                    caps.communications_standard = f.u16()?;
                    for band in Params::new(f.rest()) {
                        let band = band?;
                        if band.kind == ptype::UHF_BAND_CAPABILITIES {
                            read_band(band.value, &mut caps)?;
                        }
                    }
                }
                ptype::C1G2_LLRP_CAPABILITIES => {
                    let mut f = Fields::new(p.value, "C1G2LLRPCapabilities");
                    f.u8()?;
                    caps.max_select_filters = f.u16()?;
                }
                _ => {}
            }
        }
        let status =
            status.ok_or_else(|| missing("LLRPStatus", "GET_READER_CAPABILITIES_RESPONSE"))?;
        Ok((status, caps))
    }
}

fn read_band(value: &[u8], caps: &mut Capabilities) -> Result<(), LlrpError> {
    for p in Params::new(value) {
        let p = p?;
        match p.kind {
            ptype::TRANSMIT_POWER_ENTRY => {
                let mut f = Fields::new(p.value, "TransmitPowerLevelTableEntry");
                caps.transmit_power.push(PowerLevel {
                    index: f.u16()?,
                    dbm100: f.i16()?,
                });
            }
            ptype::FREQUENCY_INFORMATION => {
                caps.hopping = Fields::new(p.value, "FrequencyInformation").u8()? & 0x80 != 0;
            }
            ptype::C1G2_UHF_RF_MODE_TABLE => {
                for entry in Params::new(p.value) {
                    let entry = entry?;
                    if entry.kind == ptype::C1G2_UHF_RF_MODE_ENTRY {
                        let mut f = Fields::new(entry.value, "C1G2UHFRFModeTableEntry");
                        let mode = f.u32()?;
                        // The rest of the entry must be there: flags, M, modulation, mask,
                        // BDR, PIE, min / max / step Tari.
                        f.bytes(4 + 5 * 4)?;
                        caps.rf_modes.push(mode);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn missing(what: &str, within: &str) -> LlrpError {
    LlrpError::Malformed(format!("{within} has no {what}"))
}

/// ROSpecStartTrigger (§16, ROSpecStartTrigger with PeriodicTriggerValue / GPITriggerValue).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartTrigger {
    /// Null: started only by START_ROSPEC (a read window opened by command).
    Null,
    /// Immediate: runs as soon as it is enabled (a continuous read window).
    Immediate,
    /// Periodic: every `period_ms` after `offset_ms`.
    Periodic {
        /// Delay before the first run.
        offset_ms: u32,
        /// Time between runs.
        period_ms: u32,
    },
    /// When the reader's own GPI `port` goes to `level` (a photo-eye wired to the reader).
    Gpi {
        /// GPI port number.
        port: u16,
        /// The level that starts it.
        level: bool,
        /// Timeout (ms, 0 = none).
        timeout_ms: u32,
    },
}

/// ROSpecStopTrigger (§16, ROSpecStopTrigger).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopTrigger {
    /// Null: runs until STOP_ROSPEC.
    Null,
    /// After `ms` milliseconds.
    Duration(u32),
    /// When GPI `port` goes to `level`, or after `timeout_ms`.
    Gpi {
        /// GPI port number.
        port: u16,
        /// The level that stops it.
        level: bool,
        /// Timeout (ms, 0 = none).
        timeout_ms: u32,
    },
}

/// Settings for one antenna in an InventoryParameterSpec (§16, AntennaConfiguration with
/// RFTransmitter and C1G2InventoryCommand / C1G2SingulationControl; Impinj's
/// ImpinjInventorySearchMode as the custom extension of C1G2InventoryCommand).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AntennaSettings {
    /// AntennaID; 0 applies to every antenna.
    pub antenna: u16,
    /// Transmit power table index (RFTransmitter), with hop table 1 and channel 1.
    pub power_index: Option<u16>,
    /// Gen2 session 0–3 and expected tag population (C1G2SingulationControl).
    pub session: Option<(u8, u16)>,
    /// ImpinjInventorySearchMode (0 reader selected, 1 single target, 2 dual target,
    /// 3 single target with suppression); only for an Impinj reader with extensions enabled.
    pub impinj_search_mode: Option<u16>,
}

/// TagReportContentSelector bits (§16, TagReportContentSelector), as on the wire.
pub mod content {
    #![allow(missing_docs)]
    pub const ROSPEC_ID: u16 = 1 << 15;
    pub const SPEC_INDEX: u16 = 1 << 14;
    pub const INVENTORY_PARAMETER_SPEC_ID: u16 = 1 << 13;
    pub const ANTENNA_ID: u16 = 1 << 12;
    pub const CHANNEL_INDEX: u16 = 1 << 11;
    pub const PEAK_RSSI: u16 = 1 << 10;
    pub const FIRST_SEEN: u16 = 1 << 9;
    pub const LAST_SEEN: u16 = 1 << 8;
    pub const TAG_SEEN_COUNT: u16 = 1 << 7;
    pub const ACCESS_SPEC_ID: u16 = 1 << 6;
}

/// ROReportSpec (§16): when the reader reports and what each TagReportData holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportSpec {
    /// ROReportTrigger: 0 none, 1 upon N tags or end of AISpec, 2 upon N tags or end of ROSpec.
    pub trigger: u8,
    /// N: tags per report (0 = unlimited, only at the end of the spec).
    pub n: u16,
    /// The TagReportContentSelector bits ([`content`]).
    pub content: u16,
    /// Ask an Impinj reader for ImpinjPeakRSSI (dBm × 100) in each tag report.
    pub impinj_peak_rssi: bool,
}

/// An ROSpec (§16, ROSpec with ROBoundarySpec, one AISpec with one InventoryParameterSpec,
/// and ROReportSpec).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoSpec {
    /// ROSpecID (not 0).
    pub id: u32,
    /// Priority 0–7.
    pub priority: u8,
    /// When it runs.
    pub start: StartTrigger,
    /// When a run ends.
    pub stop: StopTrigger,
    /// Antennas of the AISpec (`[0]`: all).
    pub antennas: Vec<u16>,
    /// AISpecStopTrigger duration (None: Null, runs until the ROSpec stops).
    pub ai_duration_ms: Option<u32>,
    /// Per-antenna settings in the InventoryParameterSpec.
    pub antenna_settings: Vec<AntennaSettings>,
    /// Reporting.
    pub report: Option<ReportSpec>,
}

fn write_gpi(w: &mut Writer, port: u16, level: bool, timeout_ms: u32) {
    w.tlv(ptype::GPI_TRIGGER_VALUE, |w| {
        w.u16(port).u8(u8::from(level) << 7).u32(timeout_ms);
    });
}

fn read_gpi(value: &[u8]) -> Result<(u16, bool, u32), LlrpError> {
    let mut f = Fields::new(value, "GPITriggerValue");
    Ok((f.u16()?, f.u8()? & 0x80 != 0, f.u32()?))
}

fn find<'a>(params: &'a [u8], kind: u16) -> Result<Option<Param<'a>>, LlrpError> {
    for p in Params::new(params) {
        let p = p?;
        if p.kind == kind {
            return Ok(Some(p));
        }
    }
    Ok(None)
}

impl ReportSpec {
    fn write(&self, w: &mut Writer) {
        w.tlv(ptype::RO_REPORT_SPEC, |w| {
            w.u8(self.trigger).u16(self.n);
            w.tlv(ptype::TAG_REPORT_CONTENT_SELECTOR, |w| {
                w.u16(self.content);
            });
            if self.impinj_peak_rssi {
                w.custom(IMPINJ, impinj::TAG_REPORT_CONTENT_SELECTOR, |w| {
                    w.custom(IMPINJ, impinj::ENABLE_PEAK_RSSI, |w| {
                        w.u16(1);
                    });
                });
            }
        });
    }

    fn read(value: &[u8]) -> Result<ReportSpec, LlrpError> {
        let mut f = Fields::new(value, "ROReportSpec");
        let trigger = f.u8()?;
        let n = f.u16()?;
        let mut spec = ReportSpec {
            trigger,
            n,
            content: 0,
            impinj_peak_rssi: false,
        };
        for p in Params::new(f.rest()) {
            let p = p?;
            match p.kind {
                ptype::TAG_REPORT_CONTENT_SELECTOR => {
                    spec.content = Fields::new(p.value, "TagReportContentSelector").u16()?;
                }
                CUSTOM => {
                    if let Some((IMPINJ, impinj::TAG_REPORT_CONTENT_SELECTOR, inner)) = custom(&p)?
                    {
                        for q in Params::new(inner) {
                            let q = q?;
                            if let Some((IMPINJ, impinj::ENABLE_PEAK_RSSI, data)) = custom(&q)? {
                                spec.impinj_peak_rssi =
                                    Fields::new(data, "ImpinjEnablePeakRSSI").u16()? == 1;
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(spec)
    }
}

/// A Custom parameter's vendor, subtype and data.
type CustomParam<'a> = (u32, u32, &'a [u8]);

/// The vendor, subtype and data of `p` when it is a Custom parameter.
fn custom<'a>(p: &Param<'a>) -> Result<Option<CustomParam<'a>>, LlrpError> {
    if p.kind != CUSTOM {
        return Ok(None);
    }
    let mut f = Fields::new(p.value, "Custom parameter");
    let vendor = f.u32()?;
    let subtype = f.u32()?;
    Ok(Some((vendor, subtype, f.rest())))
}

impl RoSpec {
    fn write(&self, w: &mut Writer) {
        w.tlv(ptype::ROSPEC, |w| {
            // CurrentState must be Disabled (0) in ADD_ROSPEC.
            w.u32(self.id).u8(self.priority).u8(0);
            w.tlv(ptype::RO_BOUNDARY_SPEC, |w| {
                w.tlv(ptype::ROSPEC_START_TRIGGER, |w| match self.start {
                    StartTrigger::Null => {
                        w.u8(0);
                    }
                    StartTrigger::Immediate => {
                        w.u8(1);
                    }
                    StartTrigger::Periodic {
                        offset_ms,
                        period_ms,
                    } => {
                        w.u8(2);
                        w.tlv(ptype::PERIODIC_TRIGGER_VALUE, |w| {
                            w.u32(offset_ms).u32(period_ms);
                        });
                    }
                    StartTrigger::Gpi {
                        port,
                        level,
                        timeout_ms,
                    } => {
                        w.u8(3);
                        write_gpi(w, port, level, timeout_ms);
                    }
                });
                w.tlv(ptype::ROSPEC_STOP_TRIGGER, |w| match self.stop {
                    StopTrigger::Null => {
                        w.u8(0).u32(0);
                    }
                    StopTrigger::Duration(ms) => {
                        w.u8(1).u32(ms);
                    }
                    StopTrigger::Gpi {
                        port,
                        level,
                        timeout_ms,
                    } => {
                        w.u8(2).u32(0);
                        write_gpi(w, port, level, timeout_ms);
                    }
                });
            });
            w.tlv(ptype::AI_SPEC, |w| {
                w.u16v(&self.antennas);
                w.tlv(ptype::AI_SPEC_STOP_TRIGGER, |w| match self.ai_duration_ms {
                    None => {
                        w.u8(0).u32(0);
                    }
                    Some(ms) => {
                        w.u8(1).u32(ms);
                    }
                });
                w.tlv(ptype::INVENTORY_PARAMETER_SPEC, |w| {
                    // InventoryParameterSpecID 1, ProtocolID 1 = EPCGlobal Class 1 Gen 2.
                    w.u16(1).u8(1);
                    for a in &self.antenna_settings {
                        a.write(w);
                    }
                });
            });
            if let Some(report) = &self.report {
                report.write(w);
            }
        });
    }

    fn read(value: &[u8]) -> Result<RoSpec, LlrpError> {
        let mut f = Fields::new(value, "ROSpec");
        let id = f.u32()?;
        let priority = f.u8()?;
        f.u8()?;
        let params = f.rest();
        let boundary = find(params, ptype::RO_BOUNDARY_SPEC)?
            .ok_or_else(|| missing("ROBoundarySpec", "ROSpec"))?;
        let start_p = find(boundary.value, ptype::ROSPEC_START_TRIGGER)?
            .ok_or_else(|| missing("ROSpecStartTrigger", "ROBoundarySpec"))?;
        let mut sf = Fields::new(start_p.value, "ROSpecStartTrigger");
        let start = match sf.u8()? {
            0 => StartTrigger::Null,
            1 => StartTrigger::Immediate,
            2 => {
                let p = find(sf.rest(), ptype::PERIODIC_TRIGGER_VALUE)?
                    .ok_or_else(|| missing("PeriodicTriggerValue", "ROSpecStartTrigger"))?;
                let mut f = Fields::new(p.value, "PeriodicTriggerValue");
                StartTrigger::Periodic {
                    offset_ms: f.u32()?,
                    period_ms: f.u32()?,
                }
            }
            3 => {
                let p = find(sf.rest(), ptype::GPI_TRIGGER_VALUE)?
                    .ok_or_else(|| missing("GPITriggerValue", "ROSpecStartTrigger"))?;
                let (port, level, timeout_ms) = read_gpi(p.value)?;
                StartTrigger::Gpi {
                    port,
                    level,
                    timeout_ms,
                }
            }
            other => {
                return Err(LlrpError::Malformed(format!(
                    "ROSpecStartTrigger type {other} is not defined"
                )));
            }
        };
        let stop_p = find(boundary.value, ptype::ROSPEC_STOP_TRIGGER)?
            .ok_or_else(|| missing("ROSpecStopTrigger", "ROBoundarySpec"))?;
        let mut tf = Fields::new(stop_p.value, "ROSpecStopTrigger");
        let stop = match (tf.u8()?, tf.u32()?) {
            (0, _) => StopTrigger::Null,
            (1, ms) => StopTrigger::Duration(ms),
            (2, _) => {
                let p = find(tf.rest(), ptype::GPI_TRIGGER_VALUE)?
                    .ok_or_else(|| missing("GPITriggerValue", "ROSpecStopTrigger"))?;
                let (port, level, timeout_ms) = read_gpi(p.value)?;
                StopTrigger::Gpi {
                    port,
                    level,
                    timeout_ms,
                }
            }
            (other, _) => {
                return Err(LlrpError::Malformed(format!(
                    "ROSpecStopTrigger type {other} is not defined"
                )));
            }
        };
        let ai = find(params, ptype::AI_SPEC)?.ok_or_else(|| missing("AISpec", "ROSpec"))?;
        let mut af = Fields::new(ai.value, "AISpec");
        let antennas = af.u16v()?;
        let ai_params = af.rest();
        let ai_duration_ms = match find(ai_params, ptype::AI_SPEC_STOP_TRIGGER)? {
            Some(p) => {
                let mut f = Fields::new(p.value, "AISpecStopTrigger");
                match (f.u8()?, f.u32()?) {
                    (1, ms) => Some(ms),
                    _ => None,
                }
            }
            None => return Err(missing("AISpecStopTrigger", "AISpec")),
        };
        let mut antenna_settings = Vec::new();
        if let Some(ips) = find(ai_params, ptype::INVENTORY_PARAMETER_SPEC)? {
            let mut f = Fields::new(ips.value, "InventoryParameterSpec");
            f.u16()?;
            f.u8()?;
            for p in Params::new(f.rest()) {
                let p = p?;
                if p.kind == ptype::ANTENNA_CONFIGURATION {
                    antenna_settings.push(AntennaSettings::read(p.value)?);
                }
            }
        }
        let report = match find(params, ptype::RO_REPORT_SPEC)? {
            Some(p) => Some(ReportSpec::read(p.value)?),
            None => None,
        };
        Ok(RoSpec {
            id,
            priority,
            start,
            stop,
            antennas,
            ai_duration_ms,
            antenna_settings,
            report,
        })
    }
}

impl AntennaSettings {
    fn write(&self, w: &mut Writer) {
        w.tlv(ptype::ANTENNA_CONFIGURATION, |w| {
            w.u16(self.antenna);
            if let Some(index) = self.power_index {
                w.tlv(ptype::RF_TRANSMITTER, |w| {
                    // HopTableID 1, ChannelIndex 1, TransmitPower (table index).
                    w.u16(1).u16(1).u16(index);
                });
            }
            if self.session.is_some() || self.impinj_search_mode.is_some() {
                w.tlv(ptype::C1G2_INVENTORY_COMMAND, |w| {
                    // TagInventoryStateAware = 0.
                    w.u8(0);
                    if let Some((session, population)) = self.session {
                        w.tlv(ptype::C1G2_SINGULATION_CONTROL, |w| {
                            w.u8((session & 0x03) << 6).u16(population).u32(0);
                        });
                    }
                    if let Some(mode) = self.impinj_search_mode {
                        w.custom(IMPINJ, impinj::INVENTORY_SEARCH_MODE, |w| {
                            w.u16(mode);
                        });
                    }
                });
            }
        });
    }

    fn read(value: &[u8]) -> Result<AntennaSettings, LlrpError> {
        let mut f = Fields::new(value, "AntennaConfiguration");
        let mut a = AntennaSettings {
            antenna: f.u16()?,
            ..AntennaSettings::default()
        };
        for p in Params::new(f.rest()) {
            let p = p?;
            match p.kind {
                ptype::RF_TRANSMITTER => {
                    let mut f = Fields::new(p.value, "RFTransmitter");
                    f.u16()?;
                    f.u16()?;
                    a.power_index = Some(f.u16()?);
                }
                ptype::C1G2_INVENTORY_COMMAND => {
                    let mut f = Fields::new(p.value, "C1G2InventoryCommand");
                    f.u8()?;
                    for q in Params::new(f.rest()) {
                        let q = q?;
                        if q.kind == ptype::C1G2_SINGULATION_CONTROL {
                            let mut f = Fields::new(q.value, "C1G2SingulationControl");
                            let session = f.u8()? >> 6;
                            a.session = Some((session, f.u16()?));
                        } else if let Some((IMPINJ, impinj::INVENTORY_SEARCH_MODE, data)) =
                            custom(&q)?
                        {
                            a.impinj_search_mode =
                                Some(Fields::new(data, "ImpinjInventorySearchMode").u16()?);
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(a)
    }
}

/// SET_READER_CONFIG's settings (§16, SET_READER_CONFIG with ReaderEventNotificationSpec,
/// ROReportSpec, KeepaliveSpec and EventsAndReports).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReaderConfig {
    /// ResetToFactoryDefault.
    pub reset_to_factory_default: bool,
    /// EventNotificationState entries: event type (0 hopping, 1 GPI, 2 ROSpec, 3 report
    /// buffer fill warning, 4 reader exception, 5 RF survey, 6 AISpec, 7 AISpec with
    /// singulation details, 8 antenna) and whether it is reported.
    pub events: Vec<(u16, bool)>,
    /// The default ROReportSpec.
    pub report: Option<ReportSpec>,
    /// KeepaliveSpec: periodic, every this many ms (None: no KeepaliveSpec sent).
    pub keepalive_ms: Option<u32>,
    /// EventsAndReports: HoldEventsAndReportsUponReconnect.
    pub hold_events_and_reports: Option<bool>,
}

impl ReaderConfig {
    fn write(&self, w: &mut Writer) {
        w.u8(u8::from(self.reset_to_factory_default) << 7);
        if !self.events.is_empty() {
            w.tlv(ptype::READER_EVENT_NOTIFICATION_SPEC, |w| {
                for (event, on) in &self.events {
                    w.tlv(ptype::EVENT_NOTIFICATION_STATE, |w| {
                        w.u16(*event).u8(u8::from(*on) << 7);
                    });
                }
            });
        }
        if let Some(report) = &self.report {
            report.write(w);
        }
        if let Some(ms) = self.keepalive_ms {
            w.tlv(ptype::KEEPALIVE_SPEC, |w| {
                w.u8(1).u32(ms);
            });
        }
        if let Some(hold) = self.hold_events_and_reports {
            w.tlv(ptype::EVENTS_AND_REPORTS, |w| {
                w.u8(u8::from(hold) << 7);
            });
        }
    }

    fn read(body: &[u8]) -> Result<ReaderConfig, LlrpError> {
        let mut f = Fields::new(body, "SET_READER_CONFIG");
        let mut config = ReaderConfig {
            reset_to_factory_default: f.u8()? & 0x80 != 0,
            ..ReaderConfig::default()
        };
        for p in Params::new(f.rest()) {
            let p = p?;
            match p.kind {
                ptype::READER_EVENT_NOTIFICATION_SPEC => {
                    for q in Params::new(p.value) {
                        let q = q?;
                        if q.kind == ptype::EVENT_NOTIFICATION_STATE {
                            let mut f = Fields::new(q.value, "EventNotificationState");
                            config.events.push((f.u16()?, f.u8()? & 0x80 != 0));
                        }
                    }
                }
                ptype::RO_REPORT_SPEC => config.report = Some(ReportSpec::read(p.value)?),
                ptype::KEEPALIVE_SPEC => {
                    let mut f = Fields::new(p.value, "KeepaliveSpec");
                    let periodic = f.u8()? == 1;
                    let ms = f.u32()?;
                    config.keepalive_ms = periodic.then_some(ms);
                }
                ptype::EVENTS_AND_REPORTS => {
                    config.hold_events_and_reports =
                        Some(Fields::new(p.value, "EventsAndReports").u8()? & 0x80 != 0);
                }
                _ => {}
            }
        }
        Ok(config)
    }
}

/// One TagReportData (§16, TagReportData): a tag as the reader saw it. Fields the reader was
/// not asked for, or did not send, are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TagReport {
    /// The EPC memory bank's EPC (from EPC-96 or EPCData), whole bytes.
    pub epc: Bytes,
    /// EPCData's length in bits when it is not a whole number of bytes' worth.
    pub epc_bits: u16,
    /// ROSpecID.
    pub rospec_id: Option<u32>,
    /// AntennaID.
    pub antenna: Option<u16>,
    /// PeakRSSI, signed dBm.
    pub peak_rssi: Option<i8>,
    /// ChannelIndex.
    pub channel: Option<u16>,
    /// FirstSeenTimestampUTC, microseconds since 1970 on the reader's clock.
    pub first_seen_utc_us: Option<u64>,
    /// TagSeenCount.
    pub seen_count: Option<u16>,
    /// ImpinjPeakRSSI: dBm × 100.
    pub impinj_peak_rssi: Option<i16>,
}

impl TagReport {
    /// The best RSSI the report carries, in dBm: Impinj's finer figure when present.
    pub fn rssi_dbm(&self) -> Option<f32> {
        self.impinj_peak_rssi
            .map(|r| f32::from(r) / 100.0)
            .or(self.peak_rssi.map(f32::from))
    }

    fn write(&self, w: &mut Writer) {
        w.tlv(ptype::TAG_REPORT_DATA, |w| {
            if self.epc.len() == 12 && self.epc_bits == 96 {
                w.tv(ptype::EPC_96 as u8, &self.epc);
            } else {
                w.tlv(ptype::EPC_DATA, |w| {
                    w.u16(self.epc_bits).bytes(&self.epc);
                });
            }
            if let Some(id) = self.rospec_id {
                w.tv(ptype::ROSPEC_ID as u8, &id.to_be_bytes());
            }
            if let Some(a) = self.antenna {
                w.tv(ptype::ANTENNA_ID as u8, &a.to_be_bytes());
            }
            if let Some(r) = self.peak_rssi {
                w.tv(ptype::PEAK_RSSI as u8, &r.to_be_bytes());
            }
            if let Some(c) = self.channel {
                w.tv(ptype::CHANNEL_INDEX as u8, &c.to_be_bytes());
            }
            if let Some(t) = self.first_seen_utc_us {
                w.tv(ptype::FIRST_SEEN_UTC as u8, &t.to_be_bytes());
            }
            if let Some(n) = self.seen_count {
                w.tv(ptype::TAG_SEEN_COUNT as u8, &n.to_be_bytes());
            }
            if let Some(r) = self.impinj_peak_rssi {
                w.custom(IMPINJ, impinj::PEAK_RSSI, |w| {
                    w.i16(r);
                });
            }
        });
    }

    fn read(value: &[u8]) -> Result<TagReport, LlrpError> {
        let mut tag = TagReport::default();
        let mut has_epc = false;
        for p in Params::new(value) {
            let p = p?;
            let mut f = Fields::new(p.value, "TagReportData field");
            match (p.tv, p.kind) {
                (true, ptype::EPC_96) => {
                    tag.epc = Bytes::copy_from_slice(p.value);
                    tag.epc_bits = 96;
                    has_epc = true;
                }
                (false, ptype::EPC_DATA) => {
                    let bits = f.u16()?;
                    let bytes = usize::from(bits).div_ceil(8);
                    tag.epc = Bytes::copy_from_slice(f.bytes(bytes)?);
                    tag.epc_bits = bits;
                    has_epc = true;
                }
                (true, ptype::ROSPEC_ID) => tag.rospec_id = Some(f.u32()?),
                (true, ptype::ANTENNA_ID) => tag.antenna = Some(f.u16()?),
                (true, ptype::PEAK_RSSI) => tag.peak_rssi = Some(f.u8()? as i8),
                (true, ptype::CHANNEL_INDEX) => tag.channel = Some(f.u16()?),
                (true, ptype::FIRST_SEEN_UTC) => tag.first_seen_utc_us = Some(f.u64()?),
                (true, ptype::TAG_SEEN_COUNT) => tag.seen_count = Some(f.u16()?),
                (false, CUSTOM) => {
                    if let Some((IMPINJ, impinj::PEAK_RSSI, data)) = custom(&p)? {
                        tag.impinj_peak_rssi = Some(Fields::new(data, "ImpinjPeakRSSI").i16()?);
                    }
                }
                _ => {}
            }
        }
        if !has_epc {
            return Err(missing("EPC-96 or EPCData", "TagReportData"));
        }
        Ok(tag)
    }
}

/// ReaderEventNotificationData (§16): what happened at the reader.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReaderEvent {
    /// The UTCTimestamp (or Uptime) in microseconds.
    pub timestamp_us: u64,
    /// Whether the timestamp is Uptime rather than UTC.
    pub uptime: bool,
    /// ConnectionAttemptEvent status: 0 success, 1 a reader-initiated connection already
    /// exists, 2 a client-initiated connection already exists, 3 failed for another reason,
    /// 4 another connection was attempted.
    pub connection_attempt: Option<u16>,
    /// ConnectionCloseEvent: the reader is closing the connection.
    pub connection_close: bool,
    /// ROSpecEvent: type (0 start, 1 end, 2 preempted) and ROSpecID.
    pub rospec: Option<(u8, u32)>,
    /// AntennaEvent: connected? and AntennaID.
    pub antenna: Option<(bool, u16)>,
    /// GPIEvent: port and level.
    pub gpi: Option<(u16, bool)>,
    /// ReaderExceptionEvent's message.
    pub exception: Option<String>,
    /// ReportBufferLevelWarningEvent: fill percentage.
    pub buffer_warning: Option<u8>,
    /// ReportBufferOverflowErrorEvent: the reader discarded reports.
    pub buffer_overflow: bool,
}

impl ReaderEvent {
    fn write(&self, w: &mut Writer) {
        w.tlv(ptype::READER_EVENT_NOTIFICATION_DATA, |w| {
            let stamp = if self.uptime {
                ptype::UPTIME
            } else {
                ptype::UTC_TIMESTAMP
            };
            w.tlv(stamp, |w| {
                w.u64(self.timestamp_us);
            });
            if let Some((port, level)) = self.gpi {
                w.tlv(ptype::GPI_EVENT, |w| {
                    w.u16(port).u8(u8::from(level) << 7);
                });
            }
            if let Some((kind, id)) = self.rospec {
                w.tlv(ptype::ROSPEC_EVENT, |w| {
                    w.u8(kind).u32(id).u32(0);
                });
            }
            if let Some(pct) = self.buffer_warning {
                w.tlv(ptype::REPORT_BUFFER_LEVEL_WARNING, |w| {
                    w.u8(pct);
                });
            }
            if self.buffer_overflow {
                w.tlv(ptype::REPORT_BUFFER_OVERFLOW, |_| {});
            }
            if let Some(message) = &self.exception {
                w.tlv(ptype::READER_EXCEPTION_EVENT, |w| {
                    w.utf8v(message);
                });
            }
            if let Some((connected, antenna)) = self.antenna {
                w.tlv(ptype::ANTENNA_EVENT, |w| {
                    w.u8(u8::from(connected)).u16(antenna);
                });
            }
            if let Some(status) = self.connection_attempt {
                w.tlv(ptype::CONNECTION_ATTEMPT_EVENT, |w| {
                    w.u16(status);
                });
            }
            if self.connection_close {
                w.tlv(ptype::CONNECTION_CLOSE_EVENT, |_| {});
            }
        });
    }

    fn read(body: &[u8]) -> Result<ReaderEvent, LlrpError> {
        let data = find(body, ptype::READER_EVENT_NOTIFICATION_DATA)?
            .ok_or_else(|| missing("ReaderEventNotificationData", "READER_EVENT_NOTIFICATION"))?;
        let mut event = ReaderEvent::default();
        for p in Params::new(data.value) {
            let p = p?;
            let mut f = Fields::new(p.value, "ReaderEventNotificationData");
            match p.kind {
                ptype::UTC_TIMESTAMP => event.timestamp_us = f.u64()?,
                ptype::UPTIME => {
                    event.timestamp_us = f.u64()?;
                    event.uptime = true;
                }
                ptype::GPI_EVENT => event.gpi = Some((f.u16()?, f.u8()? & 0x80 != 0)),
                ptype::ROSPEC_EVENT => event.rospec = Some((f.u8()?, f.u32()?)),
                ptype::REPORT_BUFFER_LEVEL_WARNING => event.buffer_warning = Some(f.u8()?),
                ptype::REPORT_BUFFER_OVERFLOW => event.buffer_overflow = true,
                ptype::READER_EXCEPTION_EVENT => event.exception = Some(f.utf8v()?),
                ptype::ANTENNA_EVENT => event.antenna = Some((f.u8()? == 1, f.u16()?)),
                ptype::CONNECTION_ATTEMPT_EVENT => event.connection_attempt = Some(f.u16()?),
                ptype::CONNECTION_CLOSE_EVENT => event.connection_close = true,
                _ => {}
            }
        }
        Ok(event)
    }
}

/// An LLRP message, either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// GET_READER_CAPABILITIES with RequestedData (0 = all).
    GetReaderCapabilities {
        /// RequestedData.
        requested: u8,
    },
    /// GET_READER_CAPABILITIES_RESPONSE.
    GetReaderCapabilitiesResponse {
        /// Outcome.
        status: Status,
        /// What the reader can do.
        capabilities: Box<Capabilities>,
    },
    /// SET_READER_CONFIG.
    SetReaderConfig(ReaderConfig),
    /// ADD_ROSPEC.
    AddRospec(Box<RoSpec>),
    /// DELETE_ROSPEC (0: all).
    DeleteRospec(u32),
    /// START_ROSPEC.
    StartRospec(u32),
    /// STOP_ROSPEC.
    StopRospec(u32),
    /// ENABLE_ROSPEC.
    EnableRospec(u32),
    /// DISABLE_ROSPEC.
    DisableRospec(u32),
    /// DELETE_ACCESSSPEC (0: all).
    DeleteAccessspec(u32),
    /// ENABLE_EVENTS_AND_REPORTS.
    EnableEventsAndReports,
    /// CLOSE_CONNECTION.
    CloseConnection,
    /// KEEPALIVE.
    Keepalive,
    /// KEEPALIVE_ACK.
    KeepaliveAck,
    /// A response that carries only its LLRPStatus (SET_READER_CONFIG_RESPONSE, the ROSpec
    /// responses, DELETE_ACCESSSPEC_RESPONSE, CLOSE_CONNECTION_RESPONSE).
    Response {
        /// Its message type.
        kind: u16,
        /// Outcome.
        status: Status,
    },
    /// ERROR_MESSAGE: the reader could not process a message.
    ErrorMessage(Status),
    /// READER_EVENT_NOTIFICATION.
    ReaderEventNotification(ReaderEvent),
    /// RO_ACCESS_REPORT's tag reports.
    RoAccessReport(Vec<TagReport>),
    /// CUSTOM_MESSAGE: vendor, subtype and data.
    Custom {
        /// VendorIdentifier.
        vendor: u32,
        /// MessageSubtype.
        subtype: u8,
        /// The rest.
        data: Bytes,
    },
    /// A message tracegate does not read (GET_ROSPECS_RESPONSE …), kept as it came.
    Other {
        /// Its message type.
        kind: u16,
        /// Its body.
        body: Bytes,
    },
}

const STATUS_ONLY: [u16; 9] = [
    kind::SET_READER_CONFIG_RESPONSE,
    kind::CLOSE_CONNECTION_RESPONSE,
    kind::ADD_ROSPEC_RESPONSE,
    kind::DELETE_ROSPEC_RESPONSE,
    kind::START_ROSPEC_RESPONSE,
    kind::STOP_ROSPEC_RESPONSE,
    kind::ENABLE_ROSPEC_RESPONSE,
    kind::DISABLE_ROSPEC_RESPONSE,
    kind::DELETE_ACCESSSPEC_RESPONSE,
];

impl Message {
    /// The message type number.
    pub fn kind(&self) -> u16 {
        match self {
            Message::GetReaderCapabilities { .. } => kind::GET_READER_CAPABILITIES,
            Message::GetReaderCapabilitiesResponse { .. } => kind::GET_READER_CAPABILITIES_RESPONSE,
            Message::SetReaderConfig(_) => kind::SET_READER_CONFIG,
            Message::AddRospec(_) => kind::ADD_ROSPEC,
            Message::DeleteRospec(_) => kind::DELETE_ROSPEC,
            Message::StartRospec(_) => kind::START_ROSPEC,
            Message::StopRospec(_) => kind::STOP_ROSPEC,
            Message::EnableRospec(_) => kind::ENABLE_ROSPEC,
            Message::DisableRospec(_) => kind::DISABLE_ROSPEC,
            Message::DeleteAccessspec(_) => kind::DELETE_ACCESSSPEC,
            Message::EnableEventsAndReports => kind::ENABLE_EVENTS_AND_REPORTS,
            Message::CloseConnection => kind::CLOSE_CONNECTION,
            Message::Keepalive => kind::KEEPALIVE,
            Message::KeepaliveAck => kind::KEEPALIVE_ACK,
            Message::Response { kind, .. } | Message::Other { kind, .. } => *kind,
            Message::ErrorMessage(_) => kind::ERROR_MESSAGE,
            Message::ReaderEventNotification(_) => kind::READER_EVENT_NOTIFICATION,
            Message::RoAccessReport(_) => kind::RO_ACCESS_REPORT,
            Message::Custom { .. } => kind::CUSTOM_MESSAGE,
        }
    }

    /// The message as a frame with `id`.
    pub fn to_frame(&self, id: u32) -> Frame {
        Frame::new(self.kind(), id, self.encode())
    }

    /// The message body.
    pub fn encode(&self) -> Bytes {
        let mut w = Writer::new();
        match self {
            Message::GetReaderCapabilities { requested } => {
                w.u8(*requested);
            }
            Message::GetReaderCapabilitiesResponse {
                status,
                capabilities,
            } => {
                status.write(&mut w);
                capabilities.write(&mut w);
            }
            Message::SetReaderConfig(config) => config.write(&mut w),
            Message::AddRospec(spec) => spec.write(&mut w),
            Message::DeleteRospec(id)
            | Message::StartRospec(id)
            | Message::StopRospec(id)
            | Message::EnableRospec(id)
            | Message::DisableRospec(id)
            | Message::DeleteAccessspec(id) => {
                w.u32(*id);
            }
            Message::EnableEventsAndReports
            | Message::CloseConnection
            | Message::Keepalive
            | Message::KeepaliveAck => {}
            Message::Response { status, .. } | Message::ErrorMessage(status) => {
                status.write(&mut w)
            }
            Message::ReaderEventNotification(event) => event.write(&mut w),
            Message::RoAccessReport(tags) => {
                for tag in tags {
                    tag.write(&mut w);
                }
            }
            Message::Custom {
                vendor,
                subtype,
                data,
            } => {
                w.u32(*vendor).u8(*subtype).bytes(data);
            }
            Message::Other { body, .. } => {
                w.bytes(body);
            }
        }
        w.finish()
    }

    /// Reads `frame`'s body as the message its type says.
    pub fn decode(frame: &Frame) -> Result<Message, LlrpError> {
        let body = &frame.body[..];
        let id32 = |what: &'static str| Fields::new(body, what).u32();
        Ok(match frame.kind {
            kind::GET_READER_CAPABILITIES => Message::GetReaderCapabilities {
                requested: Fields::new(body, "GET_READER_CAPABILITIES").u8()?,
            },
            kind::GET_READER_CAPABILITIES_RESPONSE => {
                let (status, capabilities) = Capabilities::read(body)?;
                Message::GetReaderCapabilitiesResponse {
                    status,
                    capabilities: Box::new(capabilities),
                }
            }
            kind::SET_READER_CONFIG => Message::SetReaderConfig(ReaderConfig::read(body)?),
            kind::ADD_ROSPEC => {
                let p =
                    find(body, ptype::ROSPEC)?.ok_or_else(|| missing("ROSpec", "ADD_ROSPEC"))?;
                Message::AddRospec(Box::new(RoSpec::read(p.value)?))
            }
            kind::DELETE_ROSPEC => Message::DeleteRospec(id32("DELETE_ROSPEC")?),
            kind::START_ROSPEC => Message::StartRospec(id32("START_ROSPEC")?),
            kind::STOP_ROSPEC => Message::StopRospec(id32("STOP_ROSPEC")?),
            kind::ENABLE_ROSPEC => Message::EnableRospec(id32("ENABLE_ROSPEC")?),
            kind::DISABLE_ROSPEC => Message::DisableRospec(id32("DISABLE_ROSPEC")?),
            kind::DELETE_ACCESSSPEC => Message::DeleteAccessspec(id32("DELETE_ACCESSSPEC")?),
            kind::ENABLE_EVENTS_AND_REPORTS => Message::EnableEventsAndReports,
            kind::CLOSE_CONNECTION => Message::CloseConnection,
            kind::KEEPALIVE => Message::Keepalive,
            kind::KEEPALIVE_ACK => Message::KeepaliveAck,
            k if STATUS_ONLY.contains(&k) => Message::Response {
                kind: k,
                status: read_status(body, kind::name(k))?,
            },
            kind::ERROR_MESSAGE => Message::ErrorMessage(read_status(body, "ERROR_MESSAGE")?),
            kind::READER_EVENT_NOTIFICATION => {
                Message::ReaderEventNotification(ReaderEvent::read(body)?)
            }
            kind::RO_ACCESS_REPORT => {
                let mut tags = Vec::new();
                for p in Params::new(body) {
                    let p = p?;
                    if p.kind == ptype::TAG_REPORT_DATA {
                        tags.push(TagReport::read(p.value)?);
                    }
                }
                Message::RoAccessReport(tags)
            }
            kind::CUSTOM_MESSAGE => {
                let mut f = Fields::new(body, "CUSTOM_MESSAGE");
                let vendor = f.u32()?;
                let subtype = f.u8()?;
                Message::Custom {
                    vendor,
                    subtype,
                    data: Bytes::copy_from_slice(f.rest()),
                }
            }
            k => Message::Other {
                kind: k,
                body: frame.body.clone(),
            },
        })
    }

    /// The LLRPStatus of a response (a custom response's, when it carries one).
    pub fn status(&self) -> Option<Status> {
        match self {
            Message::GetReaderCapabilitiesResponse { status, .. }
            | Message::Response { status, .. }
            | Message::ErrorMessage(status) => Some(status.clone()),
            Message::Custom { data, .. } => read_status(data, "CUSTOM_MESSAGE").ok(),
            _ => None,
        }
    }

    /// IMPINJ_ENABLE_EXTENSIONS (a CUSTOM_MESSAGE with a reserved u32).
    pub fn impinj_enable_extensions() -> Message {
        Message::Custom {
            vendor: IMPINJ,
            subtype: impinj::ENABLE_EXTENSIONS,
            data: Bytes::from_static(&[0, 0, 0, 0]),
        }
    }

    /// IMPINJ_ENABLE_EXTENSIONS_RESPONSE with `status`.
    pub fn impinj_enable_extensions_response(status: &Status) -> Message {
        let mut w = Writer::new();
        status.write(&mut w);
        Message::Custom {
            vendor: IMPINJ,
            subtype: impinj::ENABLE_EXTENSIONS_RESPONSE,
            data: w.finish(),
        }
    }
}

fn read_status(body: &[u8], within: &str) -> Result<Status, LlrpError> {
    match find(body, ptype::LLRP_STATUS)? {
        Some(p) => Status::read(p.value),
        None => Err(missing("LLRPStatus", within)),
    }
}

/// The bytes of a whole message (header and body) for `message` with `id`, as on the wire.
pub fn wire_bytes(message: &Message, id: u32) -> Bytes {
    use tokio_util::codec::Encoder;
    let mut out = BytesMut::new();
    super::frame::LlrpCodec
        .encode(message.to_frame(id), &mut out)
        .expect("a message tracegate builds fits in one frame");
    out.freeze()
}

#[cfg(test)]
mod tests;
