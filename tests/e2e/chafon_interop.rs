//! tracegate's Chafon codec against wabson.chafon-rfid (PyPI, MIT), an implementation of the
//! UHFReader18 protocol it did not write: the commands the driver sends are byte for byte the
//! ones chafon-rfid builds (its own CRC-16), and the responses the simulated reader sends —
//! reader information with each band, an inventory round over several "more data" frames —
//! are read by chafon-rfid's own parsers as the driver reads them. Frames chafon-rfid's tests
//! keep from a reader decode here too.
//!
//! `./scripts/test` installs chafon-rfid into `target/interop-venv` (pinned in
//! tests/interop/requirements-nodeps.txt); without it these tests fail saying so.

use crate::support::reference;

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use serde_json::Value;
use tokio_util::codec::Decoder;
use tracegate_drivers::rfid::chafon::message::{INVENTORY, InventoryFrame, MORE_DATA};
use tracegate_drivers::rfid::chafon::{
    Band, ChafonItem, HostCodec, ReaderInfo, Region, Reply, Request, Response,
};

fn chafon_rfid(args: &[&str]) -> String {
    reference::run("chafon-rfid", "chafon_rfid_uhfreader18.py", args)
}

#[test]
fn the_driver_sends_the_frames_chafon_rfid_builds() {
    let theirs: HashMap<String, String> = chafon_rfid(&["requests"])
        .lines()
        .map(|l| {
            let (name, hex) = l.split_once(' ').unwrap();
            (name.to_string(), hex.to_string())
        })
        .collect();
    let ours = |r: Request, address: u8| hex::encode_upper(r.command(address).to_bytes());
    for (name, request, address) in [
        ("inventory", Request::Inventory, 0xFF),
        ("get_reader_info", Request::GetReaderInfo, 0xFF),
        ("set_power_20", Request::SetPower(20), 0xFF),
        ("set_scan_time_10", Request::SetScanTime(10), 0xFF),
        ("inventory_addr_0", Request::Inventory, 0),
    ] {
        assert_eq!(ours(request, address), theirs[name], "{name}");
    }
}

fn info(region: Region) -> Response {
    let [max_fre, min_fre] = region.to_bytes();
    let info = ReaderInfo {
        version: (2, 36),
        reader_type: 0x09,
        protocols: 0b10,
        max_fre,
        min_fre,
        power: 26,
        scan_time: 10,
    };
    Response::new(0, 0x21, 0, info.to_data())
}

#[test]
fn chafon_rfid_reads_the_simulated_reader_s_information_as_the_driver_does() {
    // Each band as tracegate writes it; chafon-rfid names it and turns the channels into MHz.
    let cases = [
        (Band::China2, "China2", 920.125, 924.875),
        (Band::Us, "US", 902.75, 927.25),
        (Band::Korea, "Korea", 917.1, 923.3),
        (Band::Eu, "EU", 865.1, 867.9),
    ];
    let hex: Vec<String> = cases
        .iter()
        .map(|(band, ..)| hex::encode_upper(info(Region::whole(*band)).to_bytes()))
        .collect();
    let args: Vec<&str> = std::iter::once("parse")
        .chain(hex.iter().map(String::as_str))
        .collect();
    let read: Vec<Value> = chafon_rfid(&args)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(read.len(), cases.len(), "{read:#?}");
    for (theirs, (band, name, min_mhz, max_mhz)) in read.iter().zip(cases) {
        assert_eq!(theirs["type"], "INFO");
        assert_eq!(theirs["reader_type"], "UHFReader18");
        assert_eq!(theirs["band"], name, "{band:?}");
        assert_eq!(theirs["min_mhz"].as_f64(), Some(min_mhz), "{band:?}");
        assert_eq!(theirs["max_mhz"].as_f64(), Some(max_mhz), "{band:?}");
        assert_eq!(theirs["power"], 26);
        assert_eq!(theirs["scan_time"], 10);
        assert_eq!(theirs["gen2"], true);
    }
}

#[test]
fn chafon_rfid_reads_a_round_of_more_data_frames_as_the_driver_does() {
    let epcs: Vec<Bytes> = (0..7u8)
        .map(|n| {
            Bytes::from(vec![
                0x30, 0x14, 0x25, 0x7B, 0xF7, 0x19, 0x4E, 0x40, 0, 0, 0, n,
            ])
        })
        .collect();
    let frames = [
        InventoryFrame {
            status: MORE_DATA,
            epcs: epcs[..4].to_vec(),
        },
        InventoryFrame {
            status: 0x01,
            epcs: epcs[4..].to_vec(),
        },
    ];
    let wire: Vec<u8> = frames
        .iter()
        .flat_map(|f| Response::new(0, INVENTORY, f.status, f.to_data()).to_bytes())
        .collect();
    // chafon-rfid's reading of the whole round.
    let theirs: Vec<String> = chafon_rfid(&["round", &hex::encode_upper(&wire)])
        .lines()
        .map(str::to_string)
        .collect();
    // The driver's.
    let mut buf = BytesMut::from(&wire[..]);
    let mut ours = Vec::new();
    while let Some(item) = HostCodec.decode(&mut buf).unwrap() {
        let ChafonItem::Frame(response) = item else {
            panic!("{item:?}")
        };
        let Reply::Inventory(frame) = Reply::parse(&response).unwrap() else {
            panic!("{response:?}")
        };
        ours.extend(frame.epcs.iter().map(hex::encode_upper));
    }
    assert_eq!(ours.len(), 7);
    assert_eq!(ours, theirs);
}

#[test]
fn frames_kept_from_a_reader_decode_as_chafon_rfid_reads_them() {
    // Inventory responses from chafon-rfid's tests/test_uhfreader18.py (MIT, Will Abson):
    // one tag, one tag, and two tags in one frame, each with status 0x03.
    let kept = [
        "13000103010c0000000000000000000003133f39",
        "13000103010c49440000000000000a000334a5fb",
        "20000103020c0000000000000000000003130c0000000000000000000003149ac9",
    ];
    let args: Vec<&str> = std::iter::once("parse").chain(kept).collect();
    let theirs: Vec<Value> = chafon_rfid(&args)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for (hex, theirs) in kept.iter().zip(&theirs) {
        let mut buf = BytesMut::from(&hex::decode(hex).unwrap()[..]);
        let Some(ChafonItem::Frame(response)) = HostCodec.decode(&mut buf).unwrap() else {
            panic!("{hex} does not decode")
        };
        let Reply::Inventory(frame) = Reply::parse(&response).unwrap() else {
            panic!("{response:?}")
        };
        assert_eq!(frame.status, MORE_DATA);
        let ours: Vec<String> = frame.epcs.iter().map(hex::encode_upper).collect();
        assert_eq!(theirs["status"], 3);
        assert_eq!(
            theirs["epcs"],
            serde_json::to_value(&ours).unwrap(),
            "{hex}"
        );
    }
    assert_eq!(theirs[2]["epcs"][1], "000000000000000000000314");
}
