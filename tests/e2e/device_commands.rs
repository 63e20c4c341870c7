//! Commands from the platform reach a simulated scanner and a simulated output and are
//! answered (received, then done or failed); every malformed, unknown, oversized or
//! mis-addressed command gets an error reply naming the problem, and a burst is answered in
//! full, while the scanner's reads keep flowing to a real subscriber.

use std::time::Duration;

use crate::support::{
    Broker, Daemon, Received, Subscriber, TestConfig, codes, scan_in_background, send_command,
    serial_scanner, tracegate,
};
use serde_json::{Value, json};
use tracegate_drivers::sim::VirtualSerialPort;

const LIGHT: &str = "[[devices]]\nid = \"light-1\"\nkind = \"sim-output\"\nlines = [\"red\", \"green\", \"buzzer\"]\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_reach_scanners_and_outputs_and_every_bad_one_is_answered() {
    let broker = Broker::start();
    let pty = VirtualSerialPort::new().unwrap();
    let devices = format!("{}{LIGHT}", serial_scanner("door", pty.path()));
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
    let daemon = Daemon::start(&config.path);
    daemon.wait_devices_up().await;
    sub.wait_online(daemon.pid()).await;

    let sent = codes("CMD", 600);
    let (scanning, _stop) = scan_in_background(pty, sent.clone(), 300.0);
    let mut got = Received::default();

    // An output: received at once, then done with the line's new level, which status shows.
    send_command(
        &sub,
        "output",
        "o1",
        json!({"device": "light-1", "line": "red", "for_ms": 60000}),
    )
    .await;
    got.collect_until(&mut sub, Duration::from_secs(10), |r| {
        r.final_reply("o1").is_some()
    })
    .await;
    let replies = &got.replies["o1"];
    assert_eq!(replies[0]["state"], "received", "{replies:?}");
    assert_eq!(
        replies[1]["result"],
        json!({"device": "light-1", "line": "red", "on": true, "shown": "on"})
    );
    daemon
        .wait_status(Duration::from_secs(10), "red light on", |s| {
            s["devices"][1]["outputs"]["red"] == true
        })
        .await;

    // Host bytes to the scanner, between its reads.
    send_command(&sub, "send", "s1", json!({"device": "door", "data": "B"})).await;

    // Every bad command is answered, naming the problem.
    let big = "x".repeat(2 * 1024 * 1024);
    let bad: Vec<(&str, &str, Value, &str)> = vec![
        ("launch", "b1", json!({}), "unknown command \"launch\""),
        (
            "output",
            "b2",
            json!({"device": "light-9", "line": "red"}),
            "no device \"light-9\"",
        ),
        (
            "output",
            "b3",
            json!({"device": "light-1", "line": "blue"}),
            "no output line \"blue\"",
        ),
        (
            "output",
            "b4",
            json!({"device": "light-1", "line": 5}),
            "invalid type",
        ),
        (
            "output",
            "b5",
            json!({"device": "door", "line": "red"}),
            "cannot do `output`",
        ),
        ("ping", "b6", json!({"pad": big}), "limited to 65536 bytes"),
        (
            "output",
            "b7",
            json!({"device": "light-1", "line": "red", "for_ms": 0}),
            "for_ms",
        ),
    ];
    for (name, id, body, _) in &bad {
        send_command(&sub, name, id, body.clone()).await;
    }
    sub.publish("tracegate/gw-test/cmd/ping", b"{not json")
        .await;
    got.collect_until(&mut sub, Duration::from_secs(20), |r| {
        r.final_reply("s1").is_some()
            && bad.iter().all(|(_, id, _, _)| r.final_reply(id).is_some())
            && r.final_reply("_").is_some()
    })
    .await;
    assert_eq!(got.final_reply("s1").unwrap()["result"]["sent_bytes"], 1);
    for (_, id, _, expect) in &bad {
        let reply = got.final_reply(id).unwrap();
        assert_eq!(reply["ok"], false, "{id}: {reply}");
        assert!(
            reply["error"].as_str().unwrap().contains(expect),
            "{id}: expected {expect:?} in {reply}"
        );
    }
    assert!(
        got.final_reply("_").unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("not JSON")
    );

    // A burst: every ping is answered (done, or failed busy — a reply either way).
    for i in 0..500 {
        send_command(&sub, "ping", &format!("p{i}"), json!({})).await;
    }
    got.collect_until(&mut sub, Duration::from_secs(30), |r| {
        (0..500).all(|i| r.final_reply(&format!("p{i}")).is_some())
    })
    .await;

    // The same router from the command line, through the control socket.
    let config_arg = config.path.to_str().unwrap();
    let (code, out, err) =
        tracegate(&["cmd", "--config", config_arg, "output", "light-1", "green"]);
    assert_eq!(code, 0, "{out}{err}");
    let reply: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(reply["state"], "done");
    assert_eq!(reply["result"]["on"], true);
    let (code, _, err) = tracegate(&["cmd", "--config", config_arg, "output", "light-1", "blue"]);
    assert_eq!(code, 1);
    assert!(err.contains("no output line \"blue\""), "{err}");

    // The scanner's reads all arrived meanwhile.
    let mut pty = scanning.await.unwrap();
    got.collect_until(&mut sub, Duration::from_secs(30), |r| {
        r.distinct_reads() >= sent.len()
    })
    .await;
    assert_eq!(got.first_arrivals(), sent);
    assert_eq!(
        pty.receive(1, Duration::from_secs(5)).await.unwrap(),
        b"B",
        "the host bytes reached the scanner"
    );
    // Every bad command counted: refused before anything was done (unknown, malformed twice,
    // oversized — and any ping of the burst answered busy), or carried out and failed (no
    // such device or line, a device that cannot do it, a zero pulse). Which of the two a
    // ping burst adds to depends on the machine's pace, so only the sure part is asserted.
    let status = daemon.status().await.unwrap();
    let commands = &status["commands"];
    let refused = commands["refused_total"].as_u64().unwrap();
    let failed = commands["failed_total"].as_u64().unwrap();
    assert!(refused >= 4 && refused + failed >= 8, "{status}");
    assert!(
        !daemon.log().contains("panicked"),
        "no panic: {}",
        daemon.log()
    );
}
