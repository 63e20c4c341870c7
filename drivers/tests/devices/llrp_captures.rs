//! LLRP messages captured from real readers (an Impinj R700 among them), published by EdgeX
//! Foundry's `device-rfid-llrp-go` with what its decoder made of them (Apache-2.0; see
//! `../shared/fixtures/llrp/README.md`). Each capture is decoded by this project's codec and
//! held against EdgeX's values: two decoders written apart agreeing on a real reader's bytes.
//!
//! The captures are message bodies: the 10-byte header is not in the files (their first bytes
//! are the body's first parameter, e.g. LLRPStatus, type 287), so each is framed here with the
//! message type its file name gives (LLRP 1.0.1 §16).

use std::path::{Path, PathBuf};

use base64::Engine;
use bytes::Bytes;
use serde_json::Value;
use tracegate_drivers::rfid::llrp::frame::Frame;
use tracegate_drivers::rfid::llrp::message::{Message, kind};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/llrp/edgex-device-rfid-llrp-go")
}

/// The capture `name` decoded as message type `kind`, and EdgeX's JSON for it.
fn capture(name: &str, message_kind: u16) -> (Message, Value) {
    let dir = fixtures();
    let bytes = std::fs::read(dir.join(format!("{name}.bytes"))).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; the captures are in ../shared/fixtures/llrp (the project is checked out \
             beside shared/)",
            dir.display()
        )
    });
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap())
            .unwrap();
    let frame = Frame {
        kind: message_kind,
        id: 1,
        body: Bytes::from(bytes),
        version: 1,
    };
    let message = Message::decode(&frame).unwrap_or_else(|e| panic!("{name}: {e}"));
    (message, json)
}

fn success(json: &Value) {
    assert_eq!(json["LLRPStatus"]["Status"], 0);
}

#[test]
fn an_impinj_r700s_capabilities_match_edgexs_reading() {
    let (message, json) = capture(
        "GetReaderCapabilitiesResponse-000",
        kind::GET_READER_CAPABILITIES_RESPONSE,
    );
    success(&json);
    let Message::GetReaderCapabilitiesResponse {
        status,
        capabilities,
    } = message
    else {
        panic!("decoded as {message:?}");
    };
    assert_eq!(status.code, 0);
    let general = &json["GeneralDeviceCapabilities"];
    assert_eq!(
        u64::from(capabilities.manufacturer),
        general["DeviceManufacturer"]
    );
    assert_eq!(u64::from(capabilities.model), general["Model"]);
    assert_eq!(capabilities.firmware, general["FirmwareVersion"]);
    assert_eq!(
        u64::from(capabilities.max_antennas),
        general["MaxSupportedAntennas"]
    );
    assert_eq!(
        capabilities.can_set_antenna_properties,
        general["CanSetAntennaProperties"]
    );
    assert_eq!(capabilities.has_utc_clock, general["HasUTCClock"]);
    assert_eq!(
        u64::from(capabilities.gpis),
        general["GPIOCapabilities"]["NumGPIs"]
    );
    assert_eq!(
        u64::from(capabilities.gpos),
        general["GPIOCapabilities"]["NumGPOs"]
    );
    let llrp = &json["LLRPCapabilities"];
    assert_eq!(u64::from(capabilities.max_rospecs), llrp["MaxROSpecs"]);
    assert_eq!(
        capabilities.state_aware_singulation,
        llrp["CanDoTagInventoryStateAwareSingulation"]
    );
    assert_eq!(
        capabilities.event_and_report_holding,
        llrp["SupportsEventsAndReportHolding"]
    );
    let regulatory = &json["RegulatoryCapabilities"];
    assert_eq!(
        u64::from(capabilities.country_code),
        regulatory["CountryCode"]
    );
}

#[test]
fn status_only_responses_are_successes() {
    let (message, json) = capture(
        "CloseConnectionResponse-000",
        kind::CLOSE_CONNECTION_RESPONSE,
    );
    success(&json);
    let status = message.status().expect("a response carries its status");
    assert_eq!(status.code, 0);
    assert_eq!(status.description, json["LLRPStatus"]["ErrorDescription"]);
}

#[test]
fn responses_this_client_never_asks_for_decode_as_other_messages_without_error() {
    // GET_READER_CONFIG_RESPONSE (12), GET_ROSPECS_RESPONSE (36), GET_ACCESSSPECS_RESPONSE
    // (45): tracegate sets a reader up from scratch and never reads these back, so the codec
    // keeps them whole; what matters is that a real reader's bytes are taken without error.
    for (name, message_kind) in [
        ("GetReaderConfigResponse-000", 12),
        ("GetROSpecsResponse-000", 36),
        ("GetAccessSpecsResponse-000", 45),
    ] {
        let (message, json) = capture(name, message_kind);
        success(&json);
        assert!(
            matches!(message, Message::Other { kind, .. } if kind == message_kind),
            "{name}: {message:?}"
        );
    }
}

#[test]
fn a_reader_event_notification_says_the_reader_closes_the_connection() {
    let (message, json) = capture(
        "ReaderEventNotification-000",
        kind::READER_EVENT_NOTIFICATION,
    );
    let Message::ReaderEventNotification(event) = message else {
        panic!("decoded as {message:?}");
    };
    let data = &json["ReaderEventNotificationData"];
    assert_eq!(event.timestamp_us, data["UTCTimestamp"]);
    assert!(!event.uptime);
    assert_eq!(
        event.connection_close,
        data["ConnectionCloseEvent"].is_object()
    );
    assert_eq!(event.connection_attempt, None);
}

#[test]
fn nine_tag_reports_match_epc_antenna_rssi_and_first_seen() {
    for n in 1..=9 {
        let name = format!("roAccessReports/ROAccessReport-{n:03}");
        let (message, json) = capture(&name, kind::RO_ACCESS_REPORT);
        let Message::RoAccessReport(tags) = message else {
            panic!("{name}: decoded as {message:?}");
        };
        let expected = json["TagReportData"].as_array().expect("TagReportData");
        assert_eq!(tags.len(), expected.len(), "{name}");
        for (tag, want) in tags.iter().zip(expected) {
            let epc = want["EPC96"]["EPC"]
                .as_str()
                .map(|b64| {
                    base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .unwrap()
                })
                .expect("an EPC-96");
            assert_eq!(&tag.epc[..], &epc[..], "{name}: EPC");
            assert_eq!(
                tag.antenna.map(u64::from),
                want["AntennaID"].as_u64(),
                "{name}: antenna"
            );
            assert_eq!(
                tag.peak_rssi.map(i64::from),
                want["PeakRSSI"].as_i64(),
                "{name}: PeakRSSI"
            );
            assert_eq!(
                tag.first_seen_utc_us,
                want["FirstSeenUTC"].as_u64(),
                "{name}: FirstSeenTimestampUTC"
            );
            assert_eq!(
                tag.seen_count.map(u64::from),
                want["TagSeenCount"].as_u64(),
                "{name}: TagSeenCount"
            );
        }
        // The codec writes RO_ACCESS_REPORT (the simulated reader sends it): re-encoding
        // gives the reader's bytes back.
        let again = Message::RoAccessReport(tags).encode();
        let original = std::fs::read(fixtures().join(format!("{name}.bytes"))).unwrap();
        assert_eq!(&again[..], &original[..], "{name}: re-encoded body");
    }
}
