//! RFID on this machine, each figure against a baseline measured in the same run:
//!
//! - LLRP decoding: RO_ACCESS_REPORTs of 100 tags each (EPC-96, antenna, peak RSSI,
//!   first-seen time, seen count, Impinj peak RSSI — what `llrp-reader` asks a reader for)
//!   through the framing codec and the message decoder, against the framing codec alone
//!   (split into messages, no parameter read);
//! - tag smoothing with the gate direction rule: 10,000 tag passes of 40 sightings each over
//!   two zones, then the departures that end them, against counting the same sightings per
//!   EPC in a hash map (the least any de-duplication does).
//!
//! - serial UHF modules: R2000 real-time-inventory tag frames (EPC-96) through the frame
//!   codec and the reply parser, against summing every byte of the same stream (the check
//!   every frame needs: the least any reader of the protocol does);
//! - Chafon readers: inventory frames of four EPC-96 each through the frame codec and the
//!   reply parser, against computing the CRC-16 of the same frames (the check every frame
//!   needs);
//! - LF stick readers: reads in each format through the LF codec, against splitting the
//!   same stream at its line ends.
//!
//! Single-threaded, so each rate is one core's; the share of a core a busy reader needs
//! follows from it and is printed.
//!
//! `cargo bench -p tracegate --bench rfid`

#[path = "common/report.rs"]
mod report;

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio_util::codec::Decoder;
use tracegate::capture::rfid::smoothing::{Movement, Sighting, SmoothingRules, TagSmoother};
use tracegate_drivers::rfid::chafon::frame::crc16;
use tracegate_drivers::rfid::chafon::message::InventoryFrame;
use tracegate_drivers::rfid::chafon::{ChafonItem, HostCodec, Reply as ChafonReply, Response};
use tracegate_drivers::rfid::lf::{LfCodec, LfItem};
use tracegate_drivers::rfid::llrp::message::wire_bytes;
use tracegate_drivers::rfid::llrp::{LlrpCodec, Message, TagReport};
use tracegate_drivers::rfid::r2000::{Frame, R2000Codec, R2000Item, Reply, TagRead};
use tracegate_drivers::sim::lf::{LfFormat, wire};
use tracegate_drivers::sim::llrp::sgtin96;

/// Best of five rounds of `f` (which handles `units` units), in units per second.
fn rate(units: u64, mut f: impl FnMut()) -> f64 {
    let mut best = 0f64;
    for _ in 0..5 {
        let started = Instant::now();
        f();
        best = best.max(units as f64 / started.elapsed().as_secs_f64());
    }
    best
}

fn reports(messages: usize, tags_per_message: usize) -> Bytes {
    let mut stream = BytesMut::new();
    for m in 0..messages {
        let tags = (0..tags_per_message)
            .map(|t| TagReport {
                epc: Bytes::from(sgtin96(
                    1,
                    614_141,
                    812_345,
                    (m * tags_per_message + t) as u64,
                )),
                epc_bits: 96,
                rospec_id: Some(1),
                antenna: Some((t % 4) as u16 + 1),
                peak_rssi: Some(-50),
                channel: Some(3),
                first_seen_utc_us: Some(1_764_000_000_000_000 + t as u64),
                seen_count: Some(1),
                impinj_peak_rssi: Some(-5012),
            })
            .collect();
        stream.extend_from_slice(&wire_bytes(&Message::RoAccessReport(tags), m as u32));
    }
    stream.freeze()
}

fn main() {
    let (messages, per) = (2_000, 100);
    let stream = reports(messages, per);
    let tag_reports = (messages * per) as u64;

    let decoded = rate(tag_reports, || {
        let mut buf = BytesMut::from(&stream[..]);
        let mut n = 0;
        while let Some(frame) = LlrpCodec.decode(&mut buf).unwrap() {
            if let Message::RoAccessReport(tags) = Message::decode(&frame).unwrap() {
                n += tags.len();
            }
        }
        assert_eq!(n as u64, tag_reports);
        black_box(n);
    });
    let framed = rate(tag_reports, || {
        let mut buf = BytesMut::from(&stream[..]);
        let mut n = 0;
        while let Some(frame) = LlrpCodec.decode(&mut buf).unwrap() {
            n += frame.body.len();
        }
        black_box(n);
    });
    println!(
        "LLRP tag reports decoded: {decoded:>11.0}/s per core (framing alone {framed:>11.0}/s; decoding costs {:.1}x the framing)",
        framed / decoded
    );
    println!(
        "  a reader reporting 1,000 tags/s takes {:.2} % of one core to decode",
        100.0 * 1000.0 / decoded
    );

    report::record(report::Figure {
        bench: "rfid",
        what: "LLRP tag reports decoded (RO_ACCESS_REPORTs of 100 tags)",
        value: decoded,
        unit: "per s",
        limit: Some(("the framing codec alone", framed)),
        target: None,
    });
    serial_readers();
    chafon_frames();

    // Smoothing: each pass is 20 sightings outside, then 20 inside, RSSI rising to a peak
    // mid-zone and falling, 25 ms apart; passes overlap in time as pallets do.
    let passes = 10_000u64;
    let t0 = Instant::now();
    let epcs: Vec<Bytes> = (0..passes)
        .map(|p| Bytes::from(sgtin96(1, 614_141, 812_345, p)))
        .collect();
    let mut sightings = Vec::with_capacity(passes as usize * 40);
    for (p, epc) in epcs.iter().enumerate() {
        for i in 0..40u64 {
            let zone = usize::from(i >= 20);
            let through = (i % 20) as f32 / 19.0;
            let rssi = -45.0 - 12.0 * (2.0 * through - 1.0).abs();
            let at = t0 + Duration::from_millis(p as u64 * 5 + i * 25);
            sightings.push((
                epc.clone(),
                Sighting {
                    zone,
                    rssi_dbm: rssi,
                    at,
                },
            ));
        }
    }
    sightings.sort_by_key(|(_, s)| s.at);
    let rules = SmoothingRules {
        rssi_floor_dbm: -80.0,
        depart_after: Duration::from_secs(2),
        max_tags: 100_000,
        direction: Some((1, 0)),
        strong_within_db: 6.0,
    };
    let total = sightings.len() as u64;
    let mut movements = 0u64;
    let smoothed = rate(total, || {
        let mut s = TagSmoother::new(rules.clone(), 2);
        let mut crossings = 0u64;
        let mut next_expiry = t0;
        for (epc, sighting) in &sightings {
            black_box(s.observe(epc, *sighting, || ()));
            // Departures are looked for every 100 ms, as the pipeline does.
            if sighting.at >= next_expiry {
                next_expiry = sighting.at + Duration::from_millis(100);
                crossings += s
                    .expire(sighting.at)
                    .iter()
                    .filter(|m| matches!(m, Movement::Crossed { .. }))
                    .count() as u64;
            }
        }
        crossings += s
            .expire(t0 + Duration::from_secs(3600))
            .iter()
            .filter(|m| matches!(m, Movement::Crossed { .. }))
            .count() as u64;
        assert_eq!(crossings, passes, "every pass decided, in");
        movements = crossings;
    });
    let counted = rate(total, || {
        let mut counts: HashMap<&Bytes, u64> = HashMap::new();
        for (epc, _) in &sightings {
            *counts.entry(epc).or_default() += 1;
        }
        black_box(counts.len());
    });
    let movements_per_s = smoothed * movements as f64 / total as f64;
    println!(
        "tag sightings smoothed:   {smoothed:>11.0}/s per core (hash-map count {counted:>11.0}/s; smoothing costs {:.1}x the count)",
        counted / smoothed
    );
    report::record(report::Figure {
        bench: "rfid",
        what: "tag sightings smoothed (gate direction rule)",
        value: smoothed,
        unit: "per s",
        limit: Some(("counting sightings per EPC in a hash map", counted)),
        target: None,
    });
    println!(
        "  = {movements_per_s:>9.0} tag movements (gate crossings of 40 sightings) decided per second per core"
    );
}

/// Chafon inventory frames decoded, against their CRCs alone.
fn chafon_frames() {
    let (frames, per_frame) = (50_000u64, 4u64);
    let mut stream = Vec::new();
    let mut ends = Vec::new();
    for n in 0..frames {
        let frame = InventoryFrame {
            status: 0x03,
            epcs: (0..per_frame)
                .map(|k| Bytes::from(sgtin96(1, 614_141, 812_345, n * per_frame + k)))
                .collect(),
        };
        stream.extend(Response::new(0, 0x01, frame.status, frame.to_data()).to_bytes());
        ends.push(stream.len());
    }
    let tags = frames * per_frame;
    let decoded = rate(tags, || {
        let mut buf = BytesMut::from(&stream[..]);
        let mut n = 0usize;
        while let Some(item) = HostCodec.decode(&mut buf).unwrap() {
            if let ChafonItem::Frame(response) = item
                && let Ok(ChafonReply::Inventory(frame)) = ChafonReply::parse(&response)
            {
                n += frame.epcs.len();
            }
        }
        assert_eq!(n as u64, tags);
    });
    let checked = rate(tags, || {
        let mut start = 0;
        let mut x = 0u16;
        for &end in &ends {
            x ^= crc16(black_box(&stream[start..end - 2]));
            start = end;
        }
        black_box(x);
    });
    println!(
        "Chafon EPCs decoded: {decoded:>11.0}/s per core (the frames' CRCs alone {checked:>11.0} EPCs/s; decoding costs {:.2}x the CRC)",
        checked / decoded
    );
    report::record(report::Figure {
        bench: "rfid",
        what: "Chafon EPCs decoded (frames of four EPC-96, CRC-16)",
        value: decoded,
        unit: "per s",
        limit: Some(("the frames' CRC-16 alone", checked)),
        target: None,
    });
    // A frame of four EPC-96 is 59 bytes; at 57600 baud (10 bits a byte) a reader sends at
    // most 5760 / 59 × 4 EPCs a second.
    let line = 57_600.0 / 10.0 / 59.0 * 4.0;
    println!(
        "  at 57600 baud a reader can send at most {line:.0} EPCs/s: {:.3} % of one core",
        100.0 * line / decoded
    );
}

/// R2000 tag frames and LF reads decoded, each against its baseline.
fn serial_readers() {
    let frames = 200_000u64;
    let mut stream = BytesMut::new();
    for n in 0..frames {
        let tag = TagRead {
            antenna: (n % 4) as u8 + 1,
            frequency: (n % 50) as u8,
            pc: 6 << 11,
            epc: Bytes::from(sgtin96(1, 614_141, 812_345, n)),
            rssi: 0x50,
        };
        stream.extend_from_slice(&Frame::new(1, 0x89, tag.to_data()).to_bytes());
    }
    let stream = stream.freeze();
    let decoded = rate(frames, || {
        let mut buf = BytesMut::from(&stream[..]);
        let mut n = 0u64;
        while let Some(item) = R2000Codec.decode(&mut buf).unwrap() {
            if let R2000Item::Frame(frame) = item
                && let Ok(Reply::Tag(tag)) = Reply::parse(&frame)
            {
                n += u64::from(tag.antenna);
            }
        }
        black_box(n);
    });
    let summed = rate(frames, || {
        let bytes = black_box(&stream[..]);
        black_box(bytes.iter().fold(0u8, |s, b| s.wrapping_add(*b)));
    });
    println!(
        "R2000 tag frames decoded: {decoded:>11.0}/s per core (summing the bytes {summed:>11.0}/s; decoding costs {:.1}x the sum)",
        summed / decoded
    );
    report::record(report::Figure {
        bench: "rfid",
        what: "R2000 tag frames decoded",
        value: decoded,
        unit: "per s",
        limit: Some(("summing every byte of the stream", summed)),
        target: None,
    });
    println!(
        "  at 115200 baud a module can send at most {:.0} EPC-96 tag frames/s: {:.3} % of one core",
        115_200.0 / 10.0 / 20.0,
        100.0 * (115_200.0 / 10.0 / 20.0) / decoded
    );
    for format in LfFormat::ALL {
        let reads = 200_000u64;
        let mut stream = Vec::new();
        for n in 0..reads {
            stream.extend(wire(format, 982, 255_895 + n));
        }
        let decoded = rate(reads, || {
            let mut buf = BytesMut::from(&stream[..]);
            let mut codec = LfCodec::new();
            let mut n = 0u64;
            while let Some(item) = codec.decode(&mut buf).unwrap() {
                n += u64::from(matches!(item, LfItem::Tag(_)));
            }
            assert_eq!(n, reads);
        });
        let split = rate(reads, || {
            black_box(
                black_box(&stream[..])
                    .split(|&b| b == b'\n' || b == 0x03)
                    .filter(|l| !l.is_empty())
                    .count(),
            );
        });
        report::record(report::Figure {
            bench: "rfid",
            what: &format!("LF reads decoded, {format:?}"),
            value: decoded,
            unit: "per s",
            limit: Some(("splitting the stream at line ends", split)),
            target: None,
        });
        println!(
            "LF reads decoded ({format:?}): {decoded:>11.0}/s per core (splitting at line ends {split:>11.0}/s; {:.1}x)",
            split / decoded
        );
    }
}
