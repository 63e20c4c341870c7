//! USB HID POS barcode scanner reports (HID usage page 0x8C, "Bar Code Scanner"; USB-IF HID
//! Point of Sale Usage Tables 1.02 §3), as Honeywell, Zebra, Datalogic and Access-IS scanners
//! in "HID POS" mode send them: a pure parser and reassembler, tested on recorded reports.
//!
//! One input report, 64 bytes (Access-IS LSR116/ATR110 product manuals, appendix "HID
//! reports"; Honeywell "HID POS" interface description):
//!
//! ```text
//!  byte 0      report ID = 0x02
//!  byte 1      length: valid bytes in the data field of this report (0‥56)
//!  bytes 2‥4   AIM symbology identifier (']', code character, modifier)
//!  bytes 5‥60  data, NUL-padded after `length`
//!  byte 61     vendor symbology code (Honeywell code ID)
//!  byte 62     reserved
//!  byte 63     bit 0: data continues in the next report
//! ```
//!
//! A scan longer than 56 bytes spans several reports, each with the continuation bit set but
//! the last. Reports with other IDs (status, feature) are not scans and are skipped. A
//! [`HidPosAssembler`] turns the report stream into scans and never panics on bad input: a
//! malformed report is an error for that report, and a scan over the configured maximum is
//! discarded and reported once.

use bytes::{Bytes, BytesMut};

/// Report ID of the scanned-data input report.
pub const SCAN_REPORT_ID: u8 = 0x02;
/// Size of the scanned-data input report, report ID included.
pub const REPORT_LEN: usize = 64;
/// Data bytes one report carries at most.
pub const DATA_PER_REPORT: usize = 56;
const DATA_START: usize = 5;

/// One parsed scanned-data report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HidPosReport<'a> {
    /// The AIM symbology identifier (`]d2` …), when the scanner sent one.
    pub symbology: Option<[u8; 3]>,
    /// This report's part of the scan.
    pub data: &'a [u8],
    /// More reports follow for this scan.
    pub continued: bool,
    /// The vendor's own symbology code (Honeywell code ID), 0 when none.
    pub vendor_code: u8,
}

/// Why a report was not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HidPosError {
    /// Shorter than the fixed header.
    #[error("HID report of {0} bytes is too short for a HID POS scan report (needs {min})", min = DATA_START)]
    Short(usize),
    /// The length byte claims more data than the report holds.
    #[error("HID POS report says {claimed} data bytes but carries at most {room}")]
    BadLength {
        /// The length byte.
        claimed: usize,
        /// Room in this report.
        room: usize,
    },
}

/// Parses one input report (as read from hidraw: report ID first). `Ok(None)` for reports
/// that are not scanned data (another report ID).
pub fn parse_report(report: &[u8]) -> Result<Option<HidPosReport<'_>>, HidPosError> {
    match report.first() {
        None => return Err(HidPosError::Short(0)),
        Some(&id) if id != SCAN_REPORT_ID => return Ok(None),
        Some(_) => {}
    }
    if report.len() < DATA_START {
        return Err(HidPosError::Short(report.len()));
    }
    let claimed = usize::from(report[1]);
    let room = report.len().saturating_sub(DATA_START).min(DATA_PER_REPORT);
    if claimed > room {
        return Err(HidPosError::BadLength { claimed, room });
    }
    let aim = [report[2], report[3], report[4]];
    // Scanners without AIM output send zeros here.
    let symbology = (aim[0] == b']').then_some(aim);
    let trailer = |i: usize| report.get(i).copied().unwrap_or(0);
    Ok(Some(HidPosReport {
        symbology,
        data: &report[DATA_START..DATA_START + claimed],
        continued: trailer(63) & 0x01 != 0,
        vendor_code: trailer(61),
    }))
}

/// A complete scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HidScan {
    /// AIM symbology identifier, e.g. `]d2`.
    pub symbology: Option<String>,
    /// The data, reports joined.
    pub data: Bytes,
}

/// What feeding one report produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assembled {
    /// Nothing yet (a continued report, or a report that is not scanned data).
    Pending,
    /// A scan is complete.
    Scan(HidScan),
    /// A scan exceeded the maximum and was discarded (reported once per scan).
    Overlong {
        /// Bytes received before giving up.
        len: usize,
    },
    /// The report was malformed; any partial scan was dropped.
    Bad(HidPosError),
}

/// Joins reports into scans.
#[derive(Debug)]
pub struct HidPosAssembler {
    buf: BytesMut,
    symbology: Option<[u8; 3]>,
    max_len: usize,
    discarding: bool,
}

impl HidPosAssembler {
    /// An assembler accepting scans of up to `max_len` bytes.
    pub fn new(max_len: usize) -> Self {
        HidPosAssembler {
            buf: BytesMut::new(),
            symbology: None,
            max_len,
            discarding: false,
        }
    }

    /// Whether a scan is partly received (for the driver: a link lost now loses it).
    pub fn in_progress(&self) -> usize {
        self.buf.len()
    }

    /// Feeds one report.
    pub fn push(&mut self, report: &[u8]) -> Assembled {
        let report = match parse_report(report) {
            Ok(Some(r)) => r,
            Ok(None) => return Assembled::Pending,
            Err(e) => {
                self.reset();
                return Assembled::Bad(e);
            }
        };
        if self.buf.is_empty() && !self.discarding {
            self.symbology = report.symbology;
        }
        let mut overlong = None;
        if !self.discarding {
            if self.buf.len() + report.data.len() > self.max_len {
                overlong = Some(self.buf.len() + report.data.len());
                self.buf.clear();
                self.discarding = true;
            } else {
                self.buf.extend_from_slice(report.data);
            }
        }
        if report.continued {
            return overlong.map_or(Assembled::Pending, |len| Assembled::Overlong { len });
        }
        // The scan is over.
        if self.discarding {
            self.discarding = false;
            self.buf.clear();
            return overlong.map_or(Assembled::Pending, |len| Assembled::Overlong { len });
        }
        let data = self.buf.split().freeze();
        let symbology = self
            .symbology
            .take()
            .map(|s| String::from_utf8_lossy(&s).into_owned());
        if data.is_empty() && symbology.is_none() {
            return Assembled::Pending;
        }
        Assembled::Scan(HidScan { symbology, data })
    }

    /// Drops a partial scan (the device went away mid-scan); returns its length.
    pub fn reset(&mut self) -> usize {
        let n = self.buf.len();
        self.buf.clear();
        self.symbology = None;
        self.discarding = false;
        n
    }
}

/// The reports a scanner sends for one scan (used by the simulator and tests).
pub fn encode_scan(symbology: Option<&str>, data: &[u8], vendor_code: u8) -> Vec<[u8; REPORT_LEN]> {
    let aim: [u8; 3] = match symbology.map(str::as_bytes) {
        Some([a, b, c]) => [*a, *b, *c],
        _ => [0; 3],
    };
    let chunks: Vec<&[u8]> = if data.is_empty() {
        vec![&[]]
    } else {
        data.chunks(DATA_PER_REPORT).collect()
    };
    let last = chunks.len() - 1;
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| {
            let mut r = [0u8; REPORT_LEN];
            r[0] = SCAN_REPORT_ID;
            r[1] = chunk.len() as u8;
            r[2..5].copy_from_slice(&aim);
            r[DATA_START..DATA_START + chunk.len()].copy_from_slice(chunk);
            r[61] = vendor_code;
            r[63] = u8::from(i < last);
            r
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The two reports of the Access-IS manual's example: a 60-byte boarding pass (QR, `]Q0`,
    /// vendor code 's'): 56 bytes with the continuation bit, then 4 bytes.
    fn recorded_boarding_pass() -> (Vec<u8>, [Vec<u8>; 2]) {
        let data = b"M1GATHERGOOD/MICHAEL YABCDEF LHRDURAK 3542 052Y003D23  0001".to_vec();
        let mut data = data;
        data.resize(60, b'0');
        let mut first = vec![0x02, 0x38, b']', b'Q', b'0'];
        first.extend_from_slice(&data[..56]);
        first.extend_from_slice(&[b's', 0x00, 0x01]);
        let mut second = vec![0x02, 0x04, b']', b'Q', b'0'];
        second.extend_from_slice(&data[56..]);
        second.resize(61, 0);
        second.extend_from_slice(&[b's', 0x00, 0x00]);
        (data, [first, second])
    }

    #[test]
    fn multi_report_scans_are_reassembled() {
        let (data, [first, second]) = recorded_boarding_pass();
        assert_eq!(first.len(), 64);
        assert_eq!(second.len(), 64);
        let mut a = HidPosAssembler::new(4096);
        assert_eq!(a.push(&first), Assembled::Pending);
        assert_eq!(a.in_progress(), 56);
        assert_eq!(
            a.push(&second),
            Assembled::Scan(HidScan {
                symbology: Some("]Q0".into()),
                data: Bytes::from(data)
            })
        );
        assert_eq!(a.in_progress(), 0);
    }

    #[test]
    fn gs1_data_with_gs_passes_through_unchanged() {
        let code = b"010950600013435217271231\x1d10ABC";
        let reports = encode_scan(Some("]d2"), code, b'w');
        assert_eq!(reports.len(), 1);
        let parsed = parse_report(&reports[0]).unwrap().unwrap();
        assert_eq!(parsed.data, code);
        assert_eq!(parsed.symbology, Some(*b"]d2"));
        assert_eq!(parsed.vendor_code, b'w');
        assert!(!parsed.continued);
        let mut a = HidPosAssembler::new(4096);
        let Assembled::Scan(scan) = a.push(&reports[0]) else {
            panic!()
        };
        assert_eq!(&scan.data[..], code);
    }

    #[test]
    fn other_reports_and_bad_reports() {
        let mut a = HidPosAssembler::new(4096);
        // A status report (ID 4) is not a scan.
        assert_eq!(a.push(&[0x04, 0x01, 0x00]), Assembled::Pending);
        assert_eq!(a.push(&[]), Assembled::Bad(HidPosError::Short(0)));
        assert_eq!(a.push(&[0x02, 0x01]), Assembled::Bad(HidPosError::Short(2)));
        let mut bad = encode_scan(Some("]C1"), b"ABC", 0)[0];
        bad[1] = 60;
        assert_eq!(
            a.push(&bad),
            Assembled::Bad(HidPosError::BadLength {
                claimed: 60,
                room: 56
            })
        );
        // A scanner without AIM output.
        let plain = encode_scan(None, b"12345", 0);
        let Assembled::Scan(scan) = a.push(&plain[0]) else {
            panic!()
        };
        assert_eq!(scan.symbology, None);
        assert_eq!(&scan.data[..], b"12345");
    }

    #[test]
    fn overlong_scans_are_dropped_once_and_the_next_one_works() {
        let mut a = HidPosAssembler::new(100);
        let big = vec![b'X'; 300];
        let out: Vec<Assembled> = encode_scan(Some("]d2"), &big, 0)
            .iter()
            .map(|r| a.push(r))
            .collect();
        assert_eq!(
            out.iter()
                .filter(|o| matches!(o, Assembled::Overlong { .. }))
                .count(),
            1
        );
        assert!(!out.iter().any(|o| matches!(o, Assembled::Scan(_))));
        let ok = encode_scan(Some("]C1"), b"NEXT", 0);
        assert!(matches!(a.push(&ok[0]), Assembled::Scan(s) if &s.data[..] == b"NEXT"));
    }

    proptest::proptest! {
        #[test]
        fn encode_then_assemble_is_identity(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let mut a = HidPosAssembler::new(4096);
            let mut got = None;
            for r in encode_scan(Some("]d2"), &data, 0) {
                if let Assembled::Scan(s) = a.push(&r) {
                    got = Some(s);
                }
            }
            let s = got.expect("a scan");
            proptest::prop_assert_eq!(&s.data[..], &data[..]);
        }

        #[test]
        fn arbitrary_reports_never_panic(reports in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..70), 0..8)) {
            let mut a = HidPosAssembler::new(200);
            for r in &reports {
                let _ = a.push(r);
            }
        }
    }
}
