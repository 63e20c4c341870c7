//! The farm field kit end to end: `config/farm.toml` as shipped — its LF stick reader and
//! R2000 UHF reader pointed at simulators on pseudo-terminals (through stable links, like
//! `/dev/serial/by-id`), its broker behind a link that is down while the kit is in the field.
//! The stick reads animals in every format a stick sends, one with an unassigned country and
//! one damaged frame; the UHF reader sees a crate. Once the link comes back, a real
//! subscriber gets one arrival per animal and crate with the right identifiers and bizStep,
//! and status counts the refusals. A Chafon desktop reader (UHFReader18 command set) on its
//! own simulator delivers a box of tagged goods the same way, its settings written once.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::support::{Broker, Daemon, Proxy, Received, Subscriber, TestConfig};
use tracegate_drivers::sim::lf::{LfFormat, SimStick, wire};
use tracegate_drivers::sim::llrp::sgtin96;
use tracegate_drivers::sim::{SimChafon, SimChafonConfig, SimModule, SimModuleConfig, SimTag};

/// `config/farm.toml` with its ports, broker and outbox moved onto this machine.
fn farm_config(dir: &std::path::Path, broker: u16, stick: &str, uhf: &str) -> std::path::PathBuf {
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../config/farm.toml"))
            .unwrap();
    let mut text = shipped
        .replace("path = \"/var/lib/tracegate/outbox.db\"", "path = \"outbox.db\"")
        .replace(
            "host = \"trace.example.org\"\nport = 1883\nkeep_alive_s = 60\nreconnect_max_s = 300\nstatus_interval_s = 300",
            &format!("host = \"127.0.0.1\"\nport = {broker}\nkeep_alive_s = 5\nreconnect_min_ms = 100\nreconnect_max_s = 1\nstatus_interval_s = 1"),
        )
        .replace("/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A10K7Q2B-if00-port0", stick)
        .replace(
            "/dev/serial/by-id/usb-Silicon_Labs_CP2102N_USB_to_UART_Bridge_Controller_7c1e-if00-port0",
            uhf,
        )
        .replace("depart_after_ms = 15000", "depart_after_ms = 500");
    assert!(
        text.contains(stick) && text.contains(uhf) && text.contains(&format!("port = {broker}")),
        "farm.toml's devices and broker are where the test expects them"
    );
    // This host has no NTP daemon: trust its clock (see the README, [clock]).
    text = text.replacen(
        "[[devices]]",
        "[clock]\nsync_check = \"trust\"\n\n[[devices]]",
        1,
    );
    let path = dir.join("tracegate.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn device<'a>(status: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    status["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == id)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn farm_toml_records_animals_and_crates_offline_and_delivers_them_when_the_link_returns() {
    let dir = tempfile::tempdir().unwrap();
    let stick_link = dir.path().join("usb-stick");
    let uhf_link = dir.path().join("usb-uhf");
    let stick = SimStick::start(Some(&stick_link)).unwrap();
    let crate_epc = sgtin96(1, 614_141, 712_345, 99);
    let _uhf = SimModule::start(
        SimModuleConfig {
            tags: vec![SimTag {
                epc: crate_epc.clone(),
                antenna: 1,
                from: Duration::ZERO,
                until: Duration::from_secs(3600),
                rssi: 0x50,
            }],
            ..SimModuleConfig::default()
        },
        Some(&uhf_link),
    )
    .unwrap();
    let broker = Broker::start();
    let uplink = Proxy::start(broker.port).await;
    uplink.cut(); // in the field: no coverage
    let config = farm_config(
        dir.path(),
        uplink.port,
        &stick_link.to_string_lossy(),
        &uhf_link.to_string_lossy(),
    );
    let mut sub = Subscriber::connect(broker.port, &["tracegate/kit-farm-07/events"]).await;
    let daemon = Daemon::start(&config);
    daemon
        .wait_status(
            Duration::from_secs(20),
            "the stick and the UHF reader up",
            |s| device(s, "stick")["state"] == "up" && device(s, "store-uhf")["state"] == "up",
        )
        .await;

    // Animals, each read several times, in every format; then an unassigned country (refused
    // by the identifier layer) and a damaged frame (refused by the codec).
    let animals: Vec<(u16, u64)> = (0..LfFormat::ALL.len() as u64)
        .map(|n| (982, 255_895 + n))
        .collect();
    for (format, &(country, id)) in LfFormat::ALL.iter().zip(&animals) {
        for _ in 0..3 {
            stick.send(wire(*format, country, id)).await;
        }
    }
    stick.send(wire(LfFormat::Allflex, 111, 42)).await;
    let mut damaged = wire(LfFormat::Wl134, 982, 1);
    damaged[4] ^= 0x01;
    stick.send(damaged).await;

    let status = daemon
        .wait_status(
            Duration::from_secs(30),
            "every read judged while offline",
            |s| {
                let d = device(s, "stick");
                d["rejects_total"].as_u64() >= Some(1)
                    && d["errors_total"].as_u64() >= Some(1)
                    && s["queue"]["undelivered"].as_u64() >= Some(animals.len() as u64 * 2 + 1)
                    && s["queue"]["capacity_left_days"].as_f64().is_some()
            },
        )
        .await;
    // Out of coverage, visibly: since when, the capture rate and how long the outbox holds.
    assert!(status["broker"]["offline_s"].as_u64().is_some(), "{status}");
    assert!(
        status["broker"]["offline_since"].as_str().is_some(),
        "{status}"
    );
    assert!(
        status["queue"]["capture_rate_per_h"].as_f64() > Some(0.0),
        "{status}"
    );
    assert!(
        status["queue"]["bytes_per_event"].as_u64() > Some(0),
        "{status}"
    );
    let days = status["queue"]["capacity_left_days"].as_f64().unwrap();
    assert!(days > 0.0 && days.is_finite(), "{status}");
    let stick_status = device(&status, "stick");
    assert!(
        stick_status["last_reject"]
            .as_str()
            .is_some_and(|r| r.contains("111")),
        "the refusal says why: {stick_status}"
    );

    // Back in coverage.
    uplink.restore();
    let mut got = Received::default();
    got.collect_until(&mut sub, Duration::from_secs(60), |r| {
        let moved = |m: &str| r.events.iter().filter(|e| e["tg:movement"] == m).count();
        moved("departed") >= animals.len() && moved("arrived") > animals.len()
    })
    .await;
    let arrivals: Vec<&serde_json::Value> = got
        .events
        .iter()
        .filter(|e| e["tg:movement"] == "arrived")
        .collect();
    let animal_ids: BTreeSet<String> = arrivals
        .iter()
        .filter(|e| e["tg:deviceId"] == "stick")
        .map(|e| {
            assert_eq!(e["bizStep"], "inspecting", "{e}");
            e["epcList"][0].as_str().unwrap().to_string()
        })
        .collect();
    let want: BTreeSet<String> = animals
        .iter()
        .map(|(c, id)| format!("https://ns.tracegate.dev/id/iso11784/{c:03}{id:012}"))
        .collect();
    assert_eq!(
        animal_ids, want,
        "one arrival per animal, whatever the format"
    );
    assert_eq!(
        arrivals
            .iter()
            .filter(|e| e["tg:deviceId"] == "stick")
            .count(),
        animals.len(),
        "repeated reads of one animal are one arrival"
    );
    let crates: Vec<&&serde_json::Value> = arrivals
        .iter()
        .filter(|e| e["tg:deviceId"] == "store-uhf")
        .collect();
    assert_eq!(crates.len(), 1, "{crates:?}");
    assert_eq!(
        crates[0]["epcList"][0],
        "urn:epc:id:sgtin:0614141.712345.99"
    );
    assert_eq!(crates[0]["bizStep"], "receiving");
    assert!(
        !got.events
            .iter()
            .any(|e| e.to_string().contains("111000000000042")),
        "the refused ear tag made no event"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chafon_desk_reader_delivers_one_arrival_per_tag_at_a_real_subscriber() {
    let broker = Broker::start();
    let link = tempfile::tempdir().unwrap();
    let port = link.path().join("usb-desk");
    let epcs: Vec<Vec<u8>> = (0..6)
        .map(|n| sgtin96(1, 614_141, 712_345, 700 + n))
        .collect();
    let sim = SimChafon::start(
        SimChafonConfig {
            tags: epcs
                .iter()
                .map(|epc| SimTag {
                    epc: epc.clone(),
                    antenna: 1,
                    from: Duration::ZERO,
                    until: Duration::from_secs(3600),
                    rssi: 0,
                })
                .collect(),
            // More tags than one frame carries: the round comes in "more data" frames.
            tags_per_frame: 4,
            ..SimChafonConfig::default()
        },
        Some(&port),
    )
    .unwrap();
    let config = TestConfig::new(
        broker.port,
        "",
        &format!(
            "[[devices]]\nid = \"desk\"\nkind = \"uhf-module\"\nprotocol = \"chafon\"\nport = \"{}\"\n\
             region = \"eu\"\ntx_power_dbm = 20\nbiz_step = \"receiving\"\n",
            port.display()
        ),
    );
    let mut sub = Subscriber::connect(broker.port, &["tracegate/gw-test/events"]).await;
    let daemon = Daemon::start(&config.path);
    let mut got = Received::default();
    got.collect_until(&mut sub, Duration::from_secs(30), |r| {
        r.events
            .iter()
            .filter(|e| e["tg:movement"] == "arrived")
            .count()
            >= epcs.len()
    })
    .await;
    let arrived: BTreeSet<String> = got
        .events
        .iter()
        .filter(|e| e["tg:movement"] == "arrived")
        .map(|e| {
            assert_eq!(e["bizStep"], "receiving", "{e}");
            assert_eq!(e["tg:deviceId"], "desk", "{e}");
            e["epcList"][0].as_str().unwrap().to_string()
        })
        .collect();
    let want: BTreeSet<String> = (0..6)
        .map(|n| format!("urn:epc:id:sgtin:0614141.712345.{}", 700 + n))
        .collect();
    assert_eq!(arrived, want, "one arrival per tag, each read many times");
    // Power 30 → 20 and the US band → EU: written to the reader's EEPROM once each.
    assert_eq!(
        sim.stats
            .eeprom_writes
            .load(std::sync::atomic::Ordering::Relaxed),
        2
    );
    let status = daemon.status().await.unwrap();
    assert_eq!(device(&status, "desk")["state"], "up", "{status}");
    assert_eq!(device(&status, "desk")["errors_total"], 0, "{status}");
}
