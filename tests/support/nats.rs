//! A real clustered MQTT broker for the tests: three `nats-server` nodes on loopback ports,
//! routed to each other, with JetStream and the MQTT listener on each.
//!
//! NATS speaks MQTT 3.1.1 (QoS 0 and 1, retained messages, wills) on top of JetStream. With
//! `mqtt { stream_replicas: 3 }` the streams that hold MQTT sessions and QoS 1 messages are
//! replicated to every node, so the loss of the node a client is connected to loses nothing;
//! without it they live on one node and its loss breaks the sessions it held.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

use super::{free_port, require, signal, wait_with_timeout};

/// One node of the cluster.
pub struct NatsNode {
    /// Its MQTT port on 127.0.0.1.
    pub mqtt_port: u16,
    name: String,
    conf: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

/// A NATS cluster with JetStream and MQTT, in a temporary directory of its own.
pub struct NatsCluster {
    /// The nodes, in the order they were configured.
    pub nodes: Vec<NatsNode>,
    binary: PathBuf,
    _dir: tempfile::TempDir,
}

impl NatsCluster {
    /// Starts `n` nodes and returns once each serves MQTT and a QoS 1 message published on the
    /// first node reaches a subscriber on the last (routes up, JetStream leaders elected, MQTT
    /// streams created with their replicas).
    pub async fn start(n: usize) -> NatsCluster {
        let binary = require("nats-server");
        let dir = tempfile::tempdir().unwrap();
        let route_ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let routes: Vec<String> = route_ports
            .iter()
            .map(|p| format!("nats-route://127.0.0.1:{p}"))
            .collect();
        let mut nodes = Vec::new();
        for (i, route_port) in route_ports.iter().enumerate() {
            let name = format!("n{}", i + 1);
            let mqtt_port = free_port();
            let conf = dir.path().join(format!("{name}.conf"));
            let store = dir.path().join(format!("{name}-js"));
            let text = format!(
                "server_name: {name}\n\
                 listen: 127.0.0.1:{client}\n\
                 jetstream {{ store_dir: \"{store}\" }}\n\
                 cluster {{\n  name: tracegate-test\n  listen: 127.0.0.1:{route_port}\n  routes: [{routes}]\n}}\n\
                 mqtt {{ listen: 127.0.0.1:{mqtt_port}, stream_replicas: {n} }}\n",
                client = free_port(),
                store = store.display(),
                routes = routes.join(", "),
            );
            std::fs::write(&conf, text).unwrap();
            nodes.push(NatsNode {
                mqtt_port,
                log: dir.path().join(format!("{name}.log")),
                name,
                conf,
                child: None,
            });
        }
        let mut cluster = NatsCluster {
            nodes,
            binary,
            _dir: dir,
        };
        for i in 0..n {
            cluster.launch(i);
        }
        for i in 0..n {
            cluster.wait_serving(i);
        }
        cluster.wait_replicating().await;
        cluster
    }

    fn launch(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log)
            .unwrap();
        let child = Command::new(&self.binary)
            .arg("-c")
            .arg(&node.conf)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start nats-server");
        node.child = Some(child);
    }

    /// Waits for node `i` to say its MQTT listener is up.
    fn wait_serving(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let wanted = format!(
            "Listening for MQTT clients on mqtt://127.0.0.1:{}",
            node.mqtt_port
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let log = std::fs::read_to_string(&node.log).unwrap_or_default();
            // A restarted node appends to the same log: look at its latest start only.
            let latest = log.rsplit("Starting nats-server").next().unwrap_or("");
            if latest.contains(&wanted) && latest.contains("Server is ready") {
                return;
            }
            if let Ok(Some(status)) = node.child.as_mut().unwrap().try_wait() {
                panic!("nats-server {} exited ({status}):\n{log}", node.name);
            }
            assert!(
                Instant::now() < deadline,
                "nats-server {} did not start:\n{log}",
                node.name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until a QoS 1 message published on the first node reaches the last one.
    async fn wait_replicating(&self) {
        let first = self.nodes.first().unwrap().mqtt_port;
        let last = self.nodes.last().unwrap().mqtt_port;
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut tries = 0;
        while Instant::now() < deadline {
            tries += 1;
            if probe(first, last, tries).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        panic!("the NATS cluster did not carry MQTT messages between nodes within 60 s");
    }

    /// Kills node `i` (SIGKILL: no goodbye to its clients or its peers).
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            signal(child.id(), libc::SIGKILL);
            wait_with_timeout(&mut child, Duration::from_secs(10)).expect("nats-server dies");
        }
    }

    /// Starts node `i` again on its ports and store, and waits for its MQTT listener.
    pub fn restart(&mut self, i: usize) {
        self.kill(i);
        self.launch(i);
        self.wait_serving(i);
    }

    /// Every node's log, for a failing test.
    pub fn logs(&self) -> String {
        self.nodes
            .iter()
            .map(|n| {
                let log = std::fs::read_to_string(&n.log).unwrap_or_default();
                format!("--- {} ---\n{log}", n.name)
            })
            .collect()
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// Publishes one QoS 1 message on `from` and waits (3 s) for it at a subscriber on `to`.
async fn probe(from: u16, to: u16, attempt: usize) -> bool {
    let topic = format!("tracegate-probe/{attempt}");
    let mut options = MqttOptions::new(format!("probe-sub-{attempt}"), "127.0.0.1", to);
    options.set_keep_alive(Duration::from_secs(5));
    let (sub, mut sub_loop) = AsyncClient::new(options, 10);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    let subscribed = async {
        loop {
            match sub_loop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    sub.subscribe(topic.clone(), QoS::AtLeastOnce).await.ok()?;
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => return Some(()),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    };
    if tokio::time::timeout_at(deadline, subscribed)
        .await
        .ok()
        .flatten()
        .is_none()
    {
        return false;
    }
    let mut options = MqttOptions::new(format!("probe-pub-{attempt}"), "127.0.0.1", from);
    options.set_keep_alive(Duration::from_secs(5));
    let (publisher, mut pub_loop) = AsyncClient::new(options, 10);
    if publisher
        .publish(topic.clone(), QoS::AtLeastOnce, false, "probe")
        .await
        .is_err()
    {
        return false;
    }
    let delivered = async {
        loop {
            tokio::select! {
                event = pub_loop.poll() => if event.is_err() { return false },
                event = sub_loop.poll() => match event {
                    Ok(Event::Incoming(Packet::Publish(p))) if p.topic == topic => return true,
                    Ok(_) => {}
                    Err(_) => return false,
                },
            }
        }
    };
    tokio::time::timeout_at(deadline, delivered)
        .await
        .unwrap_or(false)
}
