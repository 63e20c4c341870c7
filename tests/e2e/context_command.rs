//! The platform changes a device's business context by command while the daemon runs: the
//! next reads carry it, bad values are refused with a reason, and the change survives a
//! restart until reset.

use std::time::Duration;

use crate::support::{Broker, Daemon, Received, Subscriber, TestConfig, scan, serial_scanner};
use serde_json::{Value, json};
use tracegate_drivers::sim::VirtualSerialPort;

async fn command(sub: &mut Subscriber, id: &str, body: Value) -> Value {
    let mut body = body;
    body["id"] = json!(id);
    sub.publish("tracegate/gw-test/cmd/context", body.to_string().as_bytes())
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        assert!(std::time::Instant::now() < deadline, "no reply to {id}");
        if let Some((topic, payload)) = sub.next(Duration::from_secs(1)).await
            && topic == format!("tracegate/gw-test/reply/{id}")
        {
            return serde_json::from_slice(&payload).unwrap();
        }
    }
}

async fn next_event(sub: &mut Subscriber, raw: &str) -> Value {
    let mut got = Received::default();
    got.collect_until(sub, Duration::from_secs(20), |r| r.has_read(raw))
        .await;
    got.events
        .into_iter()
        .find(|e| e["tg:rawData"] == raw)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_changes_by_command_apply_at_once_and_persist() {
    let broker = Broker::start();
    let mut pty = VirtualSerialPort::new().unwrap();
    let devices = format!(
        "{}biz_step = \"receiving\"\n",
        serial_scanner("door", pty.path())
    );
    let config = TestConfig::new(broker.port, "", &devices);
    let mut sub = Subscriber::connect(
        broker.port,
        &[
            "tracegate/gw-test/events",
            "tracegate/gw-test/reply/+",
            "tracegate/gw-test/status",
        ],
    )
    .await;
    let mut daemon = Daemon::start(&config.path);
    daemon.wait_devices_up().await;
    sub.wait_online(daemon.pid()).await;

    scan(&mut pty, &["]d20109506000134352211"]).await;
    assert_eq!(
        next_event(&mut sub, "]d20109506000134352211").await["bizStep"],
        "receiving"
    );

    // The door turns to shipping against a despatch advice.
    let reply = command(
        &mut sub,
        "c1",
        json!({"device": "door", "set": {
            "biz_step": "shipping", "disposition": "in_transit",
            "biz_transactions": [{"type": "desadv", "id": "urn:epcglobal:cbv:bt:0614141000005:DA-77"}],
            "destinations": [{"type": "location", "id": "urn:epc:id:sgln:0614141.00777.0"}]}}),
    )
    .await;
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(reply["result"]["context"]["biz_step"], "shipping");
    scan(&mut pty, &["]d20109506000134352212"]).await;
    let e = next_event(&mut sub, "]d20109506000134352212").await;
    assert_eq!(e["bizStep"], "shipping");
    assert_eq!(e["disposition"], "in_transit");
    assert_eq!(e["bizTransactionList"][0]["type"], "desadv");
    assert_eq!(
        e["destinationList"][0]["destination"],
        "urn:epc:id:sgln:0614141.00777.0"
    );

    // A word that is not CBV is refused, naming it; nothing changes.
    let reply = command(
        &mut sub,
        "c2",
        json!({"device": "door", "set": {"biz_step": "shiping"}}),
    )
    .await;
    assert_eq!(reply["ok"], false);
    assert!(
        reply["error"]
            .as_str()
            .unwrap()
            .contains("did you mean shipping?"),
        "{reply}"
    );
    let reply = command(&mut sub, "c3", json!({"device": "gate", "set": {}})).await;
    assert!(
        reply["error"]
            .as_str()
            .unwrap()
            .contains("no device \"gate\""),
        "{reply}"
    );

    // A restart keeps the change.
    assert!(daemon.terminate().success());
    let mut daemon = Daemon::start(&config.path);
    daemon.wait_devices_up().await;
    sub.wait_online(daemon.pid()).await;
    let reply = command(&mut sub, "c4", json!({"device": "door"})).await;
    assert_eq!(
        reply["result"]["context"]["biz_step"], "shipping",
        "{reply}"
    );
    scan(&mut pty, &["]d20109506000134352213"]).await;
    assert_eq!(
        next_event(&mut sub, "]d20109506000134352213").await["bizStep"],
        "shipping"
    );

    // Reset goes back to the config file.
    let reply = command(&mut sub, "c5", json!({"device": "door", "reset": true})).await;
    assert_eq!(reply["result"]["context"]["biz_step"], "receiving");
    assert!(reply["result"]["context"].get("biz_transactions").is_none());
    scan(&mut pty, &["]d20109506000134352214"]).await;
    assert_eq!(
        next_event(&mut sub, "]d20109506000134352214").await["bizStep"],
        "receiving"
    );
    assert!(daemon.terminate().success());
}
