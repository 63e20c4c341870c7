//! A gateway with one scanner of each kind: a serial scanner on a pty, a USB HID POS scanner
//! and a keyboard-emulation scanner that are not plugged in (this machine has none), and a
//! simulated HID POS scanner. The config loads, the daemon runs, the absent scanners are
//! reported down with the reason, and the others' scans arrive.

use std::time::Duration;

use crate::support::{Broker, Daemon, Received, Subscriber, TestConfig, scan, serial_scanner};
use tracegate_drivers::sim::VirtualSerialPort;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serial_hid_and_keyboard_scanners_in_one_config() {
    let broker = Broker::start();
    let mut pty = VirtualSerialPort::new().unwrap();
    let devices = format!(
        "{}\n\
         [[devices]]\nid = \"hid-1\"\nkind = \"hid-scanner\"\nvendor_id = \"0c2e\"\nproduct_id = \"0b61\"\n\n\
         [[devices]]\nid = \"wedge-1\"\nkind = \"keyboard-scanner\"\npath = \"/dev/input/by-id/usb-Scanner-event-kbd\"\nlayout = \"de\"\n\n\
         [[devices]]\nid = \"hid-sim\"\nkind = \"sim-hid-scanner\"\nrate_per_s = 20.0\ncount = 3\n\
         codes = [\"]d20180614141123458211\", \"]d20180614141123458212\", \"]d20180614141123458213\"]\n",
        serial_scanner("serial-1", pty.path())
    );
    let config = TestConfig::new(broker.port, "", &devices);
    let (code, _, err) =
        crate::support::tracegate(&["check-config", config.path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let mut sub = Subscriber::connect(broker.port, &["tracegate/gw-test/events"]).await;
    let daemon = Daemon::start(&config.path);

    // The serial scanner and the simulated HID scanner come up; the absent ones are down.
    let device = |status: &serde_json::Value, id: &str| {
        status["devices"]
            .as_array()
            .and_then(|d| d.iter().find(|x| x["id"] == id))
            .cloned()
            .unwrap_or_default()
    };
    let status = daemon
        .wait_status(Duration::from_secs(20), "devices settled", |s| {
            device(s, "serial-1")["state"] == "up"
                && device(s, "hid-sim")["state"] == "up"
                && device(s, "hid-1")["state"] == "down"
                && device(s, "wedge-1")["state"] == "down"
        })
        .await;
    let detail = |id: &str| device(&status, id)["detail"].as_str().unwrap().to_string();
    assert!(
        detail("hid-1").contains("HID 0c2e:0b61"),
        "{}",
        detail("hid-1")
    );
    assert!(
        detail("wedge-1").contains("/dev/input/by-id/usb-Scanner-event-kbd"),
        "{}",
        detail("wedge-1")
    );

    scan(&mut pty, &["]C100106141411234567897"]).await;
    let mut got = Received::default();
    got.collect_until(&mut sub, Duration::from_secs(20), |r| r.events.len() >= 4)
        .await;
    let from = |id: &str| got.events.iter().filter(|e| e["tg:deviceId"] == id).count();
    assert_eq!(from("serial-1"), 1);
    assert_eq!(from("hid-sim"), 3);
    let hid = got
        .events
        .iter()
        .find(|e| e["tg:deviceId"] == "hid-sim")
        .unwrap();
    assert_eq!(hid["tg:symbology"], "]d2", "symbology from the HID report");
    assert_eq!(hid["tg:rawData"], "0180614141123458211");
    assert_eq!(hid["epcList"][0], "urn:epc:id:sgtin:0614141.812345.1");
}
