//! tracegate's R2000 codec against pyImpinj (PyPI), an implementation of the module protocol
//! it did not write: the request frames the driver sends are byte for byte the ones pyImpinj
//! builds, and the replies the simulated module sends — tag frames, a round's end, a missing
//! antenna, an error — are read by pyImpinj's own parser as the driver reads them.
//!
//! `./scripts/test` installs pyImpinj into `target/interop-venv` (pinned in
//! tests/interop/requirements.txt); without it these tests fail saying so.

use crate::support::reference;

use bytes::Bytes;
use serde_json::Value;
use tracegate_drivers::rfid::r2000::message::{ANTENNA_MISSING, REAL_TIME_INVENTORY};
use tracegate_drivers::rfid::r2000::{Frame, Request, TagRead};

fn pyimpinj(args: &[&str]) -> String {
    reference::run("pyImpinj", "pyimpinj_r2000.py", args)
}

#[test]
fn the_driver_sends_the_frames_pyimpinj_builds() {
    let theirs: std::collections::HashMap<String, String> = pyimpinj(&["requests"])
        .lines()
        .map(|l| {
            let (name, hex) = l.split_once(' ').unwrap();
            (name.to_string(), hex.to_string())
        })
        .collect();
    let ours = |r: Request| hex::encode_upper(r.frame(1).to_bytes());
    let cases = [
        ("get_firmware_version", Request::GetFirmwareVersion),
        ("set_work_antenna_2", Request::SetWorkAntenna(1)),
        ("set_output_power_27", Request::SetOutputPower(27)),
        (
            "real_time_inventory_1",
            Request::RealTimeInventory { repeat: 1 },
        ),
        (
            "session_inventory_s2_b_1",
            Request::SessionTargetInventory {
                session: 2,
                target_b: true,
                repeat: 1,
            },
        ),
    ];
    for (name, request) in cases {
        assert_eq!(ours(request), theirs[name], "{name}");
    }
}

#[test]
fn pyimpinj_reads_the_simulated_module_s_replies_as_the_driver_does() {
    let epc = [
        0x30, 0x14, 0x25, 0x7B, 0xF7, 0x19, 0x4E, 0x40, 0, 0, 0, 0x2A,
    ];
    let tag = TagRead {
        antenna: 3,
        frequency: 10,
        pc: 6 << 11,
        epc: Bytes::copy_from_slice(&epc),
        rssi: 0x62,
    };
    let frames = [
        Frame::new(1, REAL_TIME_INVENTORY, tag.to_data()),
        Frame::new(1, REAL_TIME_INVENTORY, vec![2, 0x00, 0x40, 0, 0, 0, 7]),
        Frame::new(1, REAL_TIME_INVENTORY, vec![1, ANTENNA_MISSING]),
        Frame::new(1, REAL_TIME_INVENTORY, vec![0x31]),
        Frame::new(1, 0x72, vec![8, 1]),
    ];
    let hex: Vec<String> = frames
        .iter()
        .map(|f| hex::encode_upper(f.to_bytes()))
        .collect();
    let args: Vec<&str> = std::iter::once("parse")
        .chain(hex.iter().map(String::as_str))
        .collect();
    let read: Vec<Value> = pyimpinj(&args)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(read.len(), 5, "{read:#?}");
    // The tag: same antenna (1-based), EPC and RSSI (pyImpinj: byte − 129, as rssi_dbm()).
    assert_eq!(read[0]["type"], "TAG");
    assert_eq!(read[0]["antenna"], 3);
    assert_eq!(read[0]["epc"], hex::encode_upper(epc));
    assert_eq!(read[0]["rssi"].as_f64(), Some(f64::from(tag.rssi_dbm())));
    // pyImpinj's table: index 10 of 865 + 0.5 n (n < 7), then 902 + 0.5 n.
    assert_eq!(read[0]["frequency"].as_f64(), Some(903.5));
    // The round's end: its total read count.
    assert_eq!(read[1]["type"], "DONE");
    assert_eq!(read[1]["total_read"], 7);
    // A missing antenna and an inventory error are errors to both.
    assert_eq!(read[2]["type"], "ERROR");
    assert!(
        read[2]["logs"].as_str().unwrap().contains("Antenna-2"),
        "{}",
        read[2]
    );
    assert_eq!(read[3]["type"], "ERROR");
    // The firmware version is a command reply with our data.
    assert_eq!(read[4]["type"], "COMMAND");
    assert_eq!(read[4]["command"], 0x72);
    assert_eq!(read[4]["data"], "0801");
}
