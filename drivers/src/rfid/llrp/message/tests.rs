use proptest::prelude::*;
use tokio_util::codec::Decoder;

use super::*;
use crate::rfid::llrp::frame::LlrpCodec;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn decode_wire(bytes: &[u8]) -> (u32, Message) {
    let mut buf = BytesMut::from(bytes);
    let frame = LlrpCodec.decode(&mut buf).unwrap().expect("a whole frame");
    assert!(buf.is_empty(), "one frame, nothing left over");
    (frame.id, Message::decode(&frame).unwrap())
}

/// The ROSpec the client builds for two antennas, 30 dBm (table index 81), session 2.
fn gate_rospec() -> RoSpec {
    RoSpec {
        id: 1,
        priority: 0,
        start: StartTrigger::Immediate,
        stop: StopTrigger::Null,
        antennas: vec![1, 2],
        ai_duration_ms: None,
        antenna_settings: vec![AntennaSettings {
            antenna: 1,
            power_index: Some(81),
            session: Some((2, 32)),
            impinj_search_mode: None,
        }],
        report: Some(ReportSpec {
            trigger: 2,
            n: 1,
            content: content::ANTENNA_ID
                | content::CHANNEL_INDEX
                | content::PEAK_RSSI
                | content::FIRST_SEEN
                | content::TAG_SEEN_COUNT,
            impinj_peak_rssi: false,
        }),
    }
}

#[test]
fn add_rospec_is_byte_for_byte_the_spec_layout() {
    let expected = hex("0414 0000006D 00000007           \
         00B1 0063 00000001 00 00           \
           00B2 0012                         \
             00B3 0005 01                    \
             00B6 0009 00 00000000           \
           00B7 003A 0002 0001 0002          \
             00B8 0009 00 00000000           \
             00BA 0027 0001 01               \
               00DE 0020 0001                \
                 00E0 000A 0001 0001 0051    \
                 014A 0010 00                \
                   0150 000B 80 0020 00000000 \
           00ED 000D 02 0001                 \
             00EE 0006 1E80");
    let got = wire_bytes(&Message::AddRospec(Box::new(gate_rospec())), 7);
    assert_eq!(got.to_vec(), expected);
    assert_eq!(
        decode_wire(&expected),
        (7, Message::AddRospec(Box::new(gate_rospec())))
    );
}

#[test]
fn the_client_s_short_messages_are_byte_for_byte() {
    let cases: [(Message, &str); 8] = [
        (
            Message::GetReaderCapabilities { requested: 0 },
            "0401 0000000B 00000001 00",
        ),
        (Message::DeleteRospec(0), "0415 0000000E 00000001 00000000"),
        (
            Message::DeleteAccessspec(0),
            "0429 0000000E 00000001 00000000",
        ),
        (Message::EnableRospec(1), "0418 0000000E 00000001 00000001"),
        (Message::StartRospec(1), "0416 0000000E 00000001 00000001"),
        (Message::EnableEventsAndReports, "0440 0000000A 00000001"),
        (Message::KeepaliveAck, "0448 0000000A 00000001"),
        (Message::CloseConnection, "040E 0000000A 00000001"),
    ];
    for (message, wire) in cases {
        assert_eq!(wire_bytes(&message, 1).to_vec(), hex(wire), "{message:?}");
        assert_eq!(decode_wire(&hex(wire)).1, message);
    }
    // IMPINJ_ENABLE_EXTENSIONS: CUSTOM_MESSAGE, vendor 25882 (0x651A), subtype 21, reserved.
    assert_eq!(
        wire_bytes(&Message::impinj_enable_extensions(), 2).to_vec(),
        hex("07FF 00000013 00000002 0000651A 15 00000000")
    );
}

#[test]
fn set_reader_config_with_keepalive_events_and_report_spec() {
    let config = ReaderConfig {
        reset_to_factory_default: false,
        events: vec![(8, true)],
        report: None,
        keepalive_ms: Some(5000),
        hold_events_and_reports: Some(false),
    };
    let expected = hex("0403 00000024 00000003 00 \
         00F4 000B 00F5 0007 0008 80 \
         00DC 0009 01 00001388 \
         00E2 0005 00");
    assert_eq!(
        wire_bytes(&Message::SetReaderConfig(config.clone()), 3).to_vec(),
        expected
    );
    assert_eq!(decode_wire(&expected).1, Message::SetReaderConfig(config));
}

#[test]
fn a_reader_s_connection_event_report_and_errors_decode() {
    // READER_EVENT_NOTIFICATION: ReaderEventNotificationData { UTCTimestamp,
    // ConnectionAttemptEvent(status 0) } — what every reader sends first (§17).
    let (_, m) = decode_wire(&hex(
        "043F 00000020 00000000 00F6 0016 0080 000C 0005A9E4BEF862E0 0100 0006 0000",
    ));
    let Message::ReaderEventNotification(event) = m else {
        panic!("{m:?}")
    };
    assert_eq!(event.connection_attempt, Some(0));
    assert_eq!(event.timestamp_us, 1_594_174_805_140_192);

    // RO_ACCESS_REPORT: one TagReportData with EPC-96, AntennaID 1, PeakRSSI -48,
    // FirstSeenTimestampUTC, then a vendor Custom parameter nobody asked for (skipped).
    let (_, m) = decode_wire(&hex("043D 00000037 00000000 \
         00F0 002D 8D 3034257BF7194E4000001A85 81 0001 86 D0 82 0005A9E4BEF862E0 \
                   03FF 000E 0000A1C5 00000099 ABCD"));
    let Message::RoAccessReport(tags) = m else {
        panic!("{m:?}")
    };
    assert_eq!(tags.len(), 1);
    assert_eq!(tags[0].epc.as_ref(), &hex("3034257BF7194E4000001A85")[..]);
    assert_eq!(tags[0].antenna, Some(1));
    assert_eq!(tags[0].peak_rssi, Some(-48));
    assert_eq!(tags[0].rssi_dbm(), Some(-48.0));
    assert_eq!(tags[0].first_seen_utc_us, Some(1_594_174_805_140_192));

    // Impinj's peak RSSI in dBm x 100 beats the whole-dBm figure.
    let (_, m) = decode_wire(&hex("043D 00000029 00000000 \
         00F0 001F 8D 3034257BF7194E4000001A85 03FF 000E 0000651A 00000039 F13C"));
    let Message::RoAccessReport(tags) = m else {
        panic!("{m:?}")
    };
    assert_eq!(tags[0].impinj_peak_rssi, Some(-3780));
    assert_eq!(tags[0].rssi_dbm(), Some(-37.8));

    // ADD_ROSPEC_RESPONSE refusing: LLRPStatus { P_FieldError, description, FieldError }.
    let (id, m) = decode_wire(&hex(
        "041E 00000026 00000009 011F 001C 00C9 000C 626164207472696767657221 0120 0008 0002 0001",
    ));
    assert_eq!(id, 9);
    let status = m.status().unwrap();
    assert!(!status.is_success());
    assert_eq!(status.code_name(), "P_FieldError");
    assert_eq!(status.field_error, Some((2, 1)));
    assert_eq!(
        status.to_string(),
        "P_FieldError (201): bad trigger!; field 2 (error 1)"
    );
}

#[test]
fn a_tag_report_without_an_epc_or_cut_short_is_an_error_not_a_panic() {
    let frame = Frame::new(
        kind::RO_ACCESS_REPORT,
        0,
        Bytes::from(hex("00F0 0006 8100")),
    );
    assert!(Message::decode(&frame).is_err());
    let frame = Frame::new(
        kind::RO_ACCESS_REPORT,
        0,
        Bytes::from(hex("00F0 0008 8100 01")),
    );
    assert!(Message::decode(&frame).is_err());
}

#[test]
fn capabilities_pick_the_power_index_at_or_below_the_wish() {
    let caps = Capabilities {
        transmit_power: (1..=81)
            .map(|i| PowerLevel {
                index: i,
                dbm100: 1000 + (i as i16 - 1) * 25,
            })
            .collect(),
        ..Capabilities::default()
    };
    assert_eq!(caps.power_index(30.0).unwrap().index, 81);
    assert_eq!(caps.power_index(25.1).unwrap().dbm100, 2500);
    assert_eq!(caps.power_index(3.0).unwrap().index, 1);
    assert_eq!(caps.max_power().unwrap().dbm100, 3000);
    assert!(Capabilities::default().power_index(20.0).is_none());
}

fn status() -> impl Strategy<Value = Status> {
    (
        any::<u16>(),
        ".{0,40}",
        proptest::option::of(any::<(u16, u16)>()),
        proptest::option::of(any::<(u16, u16)>()),
    )
        .prop_map(|(code, description, field_error, parameter_error)| Status {
            code,
            description,
            field_error,
            parameter_error,
        })
}

fn tag() -> impl Strategy<Value = TagReport> {
    let epc = prop_oneof![
        proptest::collection::vec(any::<u8>(), 12).prop_map(|b| (b, 96u16)),
        (1u16..=496).prop_flat_map(|bits| {
            proptest::collection::vec(any::<u8>(), usize::from(bits).div_ceil(8))
                .prop_map(move |b| (b, bits))
        }),
    ];
    (
        epc,
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<u16>()),
        proptest::option::of(any::<i8>()),
        proptest::option::of(any::<u16>()),
        proptest::option::of(any::<u64>()),
        proptest::option::of(any::<u16>()),
        proptest::option::of(any::<i16>()),
    )
        .prop_map(
            |((epc, bits), rospec_id, antenna, peak_rssi, channel, first, seen, impinj)| {
                // 96 bits in EPCData encode as EPC-96: the same tag either way.
                TagReport {
                    epc: Bytes::from(epc),
                    epc_bits: bits,
                    rospec_id,
                    antenna,
                    peak_rssi,
                    channel,
                    first_seen_utc_us: first,
                    seen_count: seen,
                    impinj_peak_rssi: impinj,
                }
            },
        )
}

fn gpi() -> impl Strategy<Value = (u16, bool, u32)> {
    any::<(u16, bool, u32)>()
}

fn rospec() -> impl Strategy<Value = RoSpec> {
    let start = prop_oneof![
        Just(StartTrigger::Null),
        Just(StartTrigger::Immediate),
        any::<(u32, u32)>().prop_map(|(offset_ms, period_ms)| StartTrigger::Periodic {
            offset_ms,
            period_ms
        }),
        gpi().prop_map(|(port, level, timeout_ms)| StartTrigger::Gpi {
            port,
            level,
            timeout_ms
        }),
    ];
    let stop = prop_oneof![
        Just(StopTrigger::Null),
        any::<u32>().prop_map(StopTrigger::Duration),
        gpi().prop_map(|(port, level, timeout_ms)| StopTrigger::Gpi {
            port,
            level,
            timeout_ms
        }),
    ];
    let antenna = (
        any::<u16>(),
        proptest::option::of(any::<u16>()),
        proptest::option::of((0u8..4, any::<u16>())),
        proptest::option::of(0u16..4),
    )
        .prop_map(
            |(antenna, power_index, session, impinj_search_mode)| AntennaSettings {
                antenna,
                power_index,
                session,
                impinj_search_mode,
            },
        );
    (
        any::<u32>(),
        0u8..8,
        start,
        stop,
        proptest::collection::vec(any::<u16>(), 0..8),
        proptest::option::of(any::<u32>()),
        proptest::collection::vec(antenna, 0..4),
        proptest::option::of(report_spec()),
    )
        .prop_map(
            |(id, priority, start, stop, antennas, ai_duration_ms, antenna_settings, report)| {
                RoSpec {
                    id,
                    priority,
                    start,
                    stop,
                    antennas,
                    ai_duration_ms,
                    antenna_settings,
                    report,
                }
            },
        )
}

fn report_spec() -> impl Strategy<Value = ReportSpec> {
    (0u8..3, any::<u16>(), any::<u16>(), any::<bool>()).prop_map(|(trigger, n, c, impinj)| {
        ReportSpec {
            trigger,
            n,
            // The six low bits are reserved and sent as zero.
            content: c & 0xFFC0,
            impinj_peak_rssi: impinj,
        }
    })
}

fn message() -> impl Strategy<Value = Message> {
    let caps = (
        any::<(u32, u32, u16, bool, bool, u16, u16, u32)>(),
        ".{0,20}",
        any::<(bool, bool, u16, u16, bool, u16)>(),
        proptest::collection::vec(any::<(u16, i16)>(), 0..8),
        proptest::collection::vec(any::<u32>(), 0..4),
    )
        .prop_map(|(a, firmware, b, power, rf_modes)| Capabilities {
            manufacturer: a.0,
            model: a.1,
            max_antennas: a.2 % 64,
            can_set_antenna_properties: a.3,
            has_utc_clock: a.4,
            gpis: a.5,
            gpos: a.6,
            max_rospecs: a.7,
            firmware,
            state_aware_singulation: b.0,
            event_and_report_holding: b.1,
            country_code: b.2,
            communications_standard: b.3,
            hopping: b.4,
            max_select_filters: b.5,
            transmit_power: power
                .into_iter()
                .map(|(index, dbm100)| PowerLevel { index, dbm100 })
                .collect(),
            rf_modes,
        });
    let event = (
        any::<(u64, bool)>(),
        proptest::option::of(0u16..5),
        any::<bool>(),
        proptest::option::of(any::<(u8, u32)>()),
        proptest::option::of(any::<(bool, u16)>()),
        proptest::option::of(any::<(u16, bool)>()),
        proptest::option::of(".{0,30}"),
        proptest::option::of(any::<u8>()),
        any::<bool>(),
    )
        .prop_map(
            |(t, attempt, close, rospec, antenna, gpi, exception, warning, overflow)| ReaderEvent {
                timestamp_us: t.0,
                uptime: t.1,
                connection_attempt: attempt,
                connection_close: close,
                rospec,
                antenna,
                gpi,
                exception,
                buffer_warning: warning,
                buffer_overflow: overflow,
            },
        );
    let config = (
        any::<bool>(),
        proptest::collection::vec(any::<(u16, bool)>(), 0..9),
        proptest::option::of(report_spec()),
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(|(reset, events, report, keepalive_ms, hold)| ReaderConfig {
            reset_to_factory_default: reset,
            events,
            report,
            keepalive_ms,
            hold_events_and_reports: hold,
        });
    prop_oneof![
        any::<u8>().prop_map(|requested| Message::GetReaderCapabilities { requested }),
        (status(), caps).prop_map(|(status, c)| Message::GetReaderCapabilitiesResponse {
            status,
            capabilities: Box::new(c)
        }),
        config.prop_map(Message::SetReaderConfig),
        rospec().prop_map(|r| Message::AddRospec(Box::new(r))),
        any::<u32>().prop_map(Message::DeleteRospec),
        any::<u32>().prop_map(Message::StartRospec),
        any::<u32>().prop_map(Message::StopRospec),
        any::<u32>().prop_map(Message::EnableRospec),
        any::<u32>().prop_map(Message::DisableRospec),
        any::<u32>().prop_map(Message::DeleteAccessspec),
        Just(Message::EnableEventsAndReports),
        Just(Message::CloseConnection),
        Just(Message::Keepalive),
        Just(Message::KeepaliveAck),
        (proptest::sample::select(STATUS_ONLY.to_vec()), status())
            .prop_map(|(kind, status)| Message::Response { kind, status }),
        status().prop_map(Message::ErrorMessage),
        event.prop_map(Message::ReaderEventNotification),
        proptest::collection::vec(tag(), 0..20).prop_map(Message::RoAccessReport),
        (
            any::<u32>(),
            any::<u8>(),
            proptest::collection::vec(any::<u8>(), 0..32)
        )
            .prop_map(|(vendor, subtype, data)| Message::Custom {
                vendor,
                subtype,
                data: Bytes::from(data)
            }),
        (
            proptest::sample::select(vec![2u16, 12, 26, 36, 44, 54, 60]),
            proptest::collection::vec(any::<u8>(), 0..32)
        )
            .prop_map(|(kind, body)| Message::Other {
                kind,
                body: Bytes::from(body)
            }),
    ]
}

proptest! {
    #[test]
    fn every_message_survives_encode_then_decode(message in message(), id in any::<u32>()) {
        let wire = wire_bytes(&message, id);
        let (got_id, got) = decode_wire(&wire);
        prop_assert_eq!(got_id, id);
        prop_assert_eq!(got, message);
    }

    #[test]
    fn any_bytes_decode_to_a_message_or_an_error_never_a_panic(
        kind in proptest::sample::select(vec![1u16, 3, 11, 13, 20, 30, 61, 63, 100, 1023]),
        body in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let _ = Message::decode(&Frame::new(kind, 0, Bytes::from(body)));
    }
}
