//! End-to-end test harness: a real mosquitto per test on a free loopback port, the real
//! `tracegate` binary as a child process, a real MQTT subscriber, simulated devices on ptys.
#![allow(dead_code)] // each test binary uses a different part of the harness

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::Value;
use tokio::sync::mpsc;

pub mod cutfs;
pub mod epcis_repository;
pub mod epcis_schema;
pub mod nats;
pub mod reference;

/// A command that runs `program`, a binary built for the test target, through the runner
/// in `TRACEGATE_TEST_RUNNER` when one is set (e.g. `qemu-aarch64 -L /usr/aarch64-linux-gnu`
/// when the tests themselves run under qemu-user: there is no binfmt_misc to start a foreign
/// binary directly). `scripts/cross` sets it.
pub fn target_command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    match std::env::var("TRACEGATE_TEST_RUNNER") {
        Ok(runner) if !runner.trim().is_empty() => {
            let mut words = runner.split_whitespace();
            let mut command = Command::new(words.next().expect("non-empty runner"));
            command.args(words).arg(program);
            command
        }
        _ => Command::new(program),
    }
}

/// A command running the `tracegate` binary under test: the one cargo built for this test
/// run, or the one `TRACEGATE_TEST_BINARY` names — `scripts/cross` points it at the
/// release binary that is packaged, so the binary that ships is the binary that was tested.
pub fn tracegate_command() -> Command {
    match std::env::var_os("TRACEGATE_TEST_BINARY") {
        Some(binary) if !binary.is_empty() => target_command(binary),
        _ => target_command(env!("CARGO_BIN_EXE_tracegate")),
    }
}

/// A free TCP port on 127.0.0.1, never the same one twice in this test process.
///
/// The kernel's "free" port is free only when asked: the listener is closed before the test
/// binds it, and a bind to port 0 from a test running in parallel may be handed the same
/// number again. Two brokers then race for one port, and the loser's test talks to the
/// winner's broker (seen in CI: one test received the other's events). A ledger of every
/// port handed out in this process rules that out; `Broker` also checks that the listener
/// it reached is its own process (see `Broker::launch`).
pub fn free_port() -> u16 {
    static HANDED_OUT: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if !handed_out.contains(&port) {
            handed_out.push(port);
            return port;
        }
    }
}

/// The path of a system binary, looking in PATH and the sbin directories (Debian installs
/// mosquitto in /usr/sbin, which is not in a normal user's PATH).
pub fn require(binary: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(binary))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{binary}` is not installed: run the tests with ./scripts/test, which installs it"
            )
        })
}

/// Sends `signal` to the process `pid`.
pub fn signal(pid: u32, signal: i32) {
    // SAFETY: kill(2) with a pid we spawned; no memory is involved.
    unsafe {
        libc::kill(pid as i32, signal);
    }
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A mosquitto broker of the test's own, on a free loopback port, with persistence in a
/// temporary directory so a stop/start keeps sessions and retained messages (as a broker
/// restarted by its operator does).
pub struct Broker {
    pub port: u16,
    pub dir: tempfile::TempDir,
    binary: PathBuf,
    conf: PathBuf,
    child: Option<Child>,
}

impl Broker {
    /// Starts a broker sized for the tests' volumes.
    pub fn start() -> Broker {
        Broker::start_with("")
    }

    /// Starts a broker with extra config lines (e.g. a TLS listener).
    pub fn start_with(extra: &str) -> Broker {
        Broker::start_on(free_port(), extra)
    }

    /// Starts a broker on `port` (for a gateway configured before its broker exists).
    pub fn start_on(port: u16, extra: &str) -> Broker {
        let binary = require("mosquitto");
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("mosquitto.conf");
        let text = format!(
            "listener {port} 127.0.0.1\n\
             allow_anonymous true\n\
             persistence true\n\
             persistence_location {dir}/\n\
             autosave_interval 1\n\
             # Room for a slow subscriber's backlog: the tests count every message.\n\
             max_queued_messages 1000000\n\
             max_queued_bytes 0\n\
             max_inflight_messages 0\n\
             message_size_limit 0\n\
             # Running as root, stay root so the persistence directory stays writable.\n\
             user root\n\
             log_dest file {dir}/mosquitto.log\n\
             log_type error\nlog_type warning\nlog_type notice\nlog_type information\n\
             {extra}\n",
            dir = dir.path().display()
        );
        std::fs::write(&conf, text).unwrap();
        let mut broker = Broker {
            port,
            dir,
            binary,
            conf,
            child: None,
        };
        broker.launch();
        broker
    }

    fn launch(&mut self) {
        // mosquitto logs "mosquitto version … running" once every listener is bound.
        let running = |log: String| log.lines().filter(|l| l.ends_with(" running")).count();
        let launches_before = running(self.log());
        let child = Command::new(&self.binary)
            .arg("-c")
            .arg(&self.conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto");
        self.child = Some(child);
        // Up when this mosquitto says it runs (its listeners bound) and the port answers: an
        // answer alone could come from another process that got the port first, and this
        // mosquitto would then exit "address in use".
        let deadline = Instant::now() + Duration::from_secs(10);
        while running(self.log()) == launches_before
            || std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err()
        {
            self.assert_running();
            assert!(
                Instant::now() < deadline,
                "mosquitto did not start:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Panics with the broker's log when its process has exited.
    fn assert_running(&mut self) {
        let child = self.child.as_mut().expect("launched");
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "mosquitto on port {} exited ({status}); is the port taken by another process?\n{}",
                self.port,
                self.log()
            );
        }
    }

    /// The broker's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Stops the broker as its operator would (SIGTERM: sessions and retained messages saved,
    /// Last Wills of connected clients published).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(child.id(), libc::SIGTERM);
            wait_with_timeout(&mut child, Duration::from_secs(10)).expect("mosquitto stops");
        }
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// The broker's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A real MQTT subscriber (rumqttc), QoS 1, persistent session: it survives broker restarts and
/// gets what was queued for it meanwhile.
pub struct Subscriber {
    rx: mpsc::UnboundedReceiver<(String, Vec<u8>)>,
    task: tokio::task::JoinHandle<()>,
    client: AsyncClient,
}

impl Subscriber {
    /// Connects to `port`, subscribes to `filters`, and returns once the broker confirmed.
    pub async fn connect(port: u16, filters: &[&str]) -> Subscriber {
        let mut options = MqttOptions::new(format!("test-sub-{}", free_port()), "127.0.0.1", port);
        options
            .set_clean_session(false)
            .set_keep_alive(Duration::from_secs(5))
            .set_max_packet_size(64 * 1024 * 1024, 4 * 1024 * 1024);
        let (client, mut eventloop) = AsyncClient::new(options, 100);
        let publisher = client.clone();
        let filters: Vec<String> = filters.iter().map(|f| f.to_string()).collect();
        let (tx, rx) = mpsc::unbounded_channel();
        let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                        if !ack.session_present {
                            for f in &filters {
                                client.subscribe(f.clone(), QoS::AtLeastOnce).await.unwrap();
                            }
                        }
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = ready_tx.send(());
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        if tx.send((p.topic.clone(), p.payload.to_vec())).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(10), ready_rx.recv())
            .await
            .expect("subscribed within 10 s");
        Subscriber {
            rx,
            task,
            client: publisher,
        }
    }

    /// Publishes `payload` on `topic` at QoS 1 (a platform sending a command).
    pub async fn publish(&self, topic: &str, payload: &[u8]) {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload.to_vec())
            .await
            .unwrap();
    }

    /// Waits for the retained status of the daemon with process id `pid` saying online. The
    /// daemon subscribes to its command topic before it publishes that status, so from then
    /// on a command reaches it: this is what a platform waits for before sending one.
    /// Other messages read meanwhile are dropped. Needs a subscription to the status topic.
    pub async fn wait_online(&mut self, pid: u32) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some((topic, payload)) = self.next(Duration::from_millis(200)).await
                && topic.ends_with("/status")
                && let Ok(status) = serde_json::from_slice::<Value>(&payload)
                && status["online"] == true
                && status["daemon"]["pid"] == pid
            {
                return;
            }
        }
        panic!("no online status from the daemon with pid {pid} in 30 s");
    }

    /// The next message, or `None` after `timeout` without one.
    pub async fn next(&mut self, timeout: Duration) -> Option<(String, Vec<u8>)> {
        tokio::time::timeout(timeout, self.rx.recv())
            .await
            .ok()
            .flatten()
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Events received on an events topic, in arrival order, with every status message seen.
#[derive(Default)]
pub struct Received {
    pub events: Vec<Value>,
    pub statuses: Vec<Value>,
    pub documents: usize,
    /// Events per document, in arrival order.
    pub batch_sizes: Vec<usize>,
    /// Command replies by request id (the reply topic's last level), in arrival order.
    pub replies: std::collections::HashMap<String, Vec<Value>>,
    /// Distinct `tg:rawData` values in first-arrival order, kept as messages arrive so that
    /// a wait condition costs nothing per message.
    first: Vec<String>,
    seen_raw: std::collections::HashSet<String>,
}

impl Received {
    /// Files one message.
    pub fn add(&mut self, topic: &str, payload: &[u8]) {
        let doc: Value = serde_json::from_slice(payload).expect("payload is JSON");
        if topic.ends_with("/events") {
            assert_eq!(
                doc["type"], "EPCISDocument",
                "events topic carries EPCIS documents"
            );
            let list = doc["epcisBody"]["eventList"].as_array().expect("eventList");
            self.documents += 1;
            self.batch_sizes.push(list.len());
            for event in list {
                let raw = event["tg:rawData"].as_str().unwrap_or_default();
                if self.seen_raw.insert(raw.to_string()) {
                    self.first.push(raw.to_string());
                }
            }
            self.events.extend(list.iter().cloned());
        } else if topic.ends_with("/status") {
            self.statuses.push(doc);
        } else if let Some((_, id)) = topic.split_once("/reply/") {
            self.replies.entry(id.to_string()).or_default().push(doc);
        }
    }

    /// The final reply (state done or failed) to request `id`, if it has arrived.
    pub fn final_reply(&self, id: &str) -> Option<&Value> {
        self.replies
            .get(id)?
            .iter()
            .find(|r| r["state"] == "done" || r["state"] == "failed")
    }

    /// Distinct `tg:rawData` values in first-arrival order.
    pub fn first_arrivals(&self) -> Vec<String> {
        self.first.clone()
    }

    /// How many distinct `tg:rawData` values have arrived.
    pub fn distinct_reads(&self) -> usize {
        self.first.len()
    }

    /// Whether a read with `tg:rawData` `raw` has arrived.
    pub fn has_read(&self, raw: &str) -> bool {
        self.seen_raw.contains(raw)
    }

    /// Receives until every eventID in `want` has arrived, failing after `timeout` with how
    /// many are missing. Checks only what each message adds: a test that waits for tens of
    /// thousands of events must not rescan all of them per message (quadratic, and under
    /// qemu's emulation slow enough to miss its deadline).
    pub async fn collect_event_ids(
        &mut self,
        sub: &mut Subscriber,
        timeout: Duration,
        want: impl IntoIterator<Item = String>,
    ) {
        self.collect_field(sub, timeout, "eventID", want).await;
    }

    /// As [`Received::collect_event_ids`], for the reads with these `tg:rawData` values.
    pub async fn collect_raw_reads(
        &mut self,
        sub: &mut Subscriber,
        timeout: Duration,
        want: impl IntoIterator<Item = String>,
    ) {
        self.collect_field(sub, timeout, "tg:rawData", want).await;
    }

    /// Receives until an event with each value of `want` in `field` has arrived.
    async fn collect_field(
        &mut self,
        sub: &mut Subscriber,
        timeout: Duration,
        field: &str,
        want: impl IntoIterator<Item = String>,
    ) {
        let mut missing: std::collections::HashSet<String> = want.into_iter().collect();
        let mut checked = 0;
        let deadline = Instant::now() + timeout;
        loop {
            for event in &self.events[checked..] {
                if let Some(value) = event[field].as_str() {
                    missing.remove(value);
                }
            }
            checked = self.events.len();
            if missing.is_empty() {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out: {} events received, {} wanted still missing, e.g. {:?}",
                self.events.len(),
                missing.len(),
                missing.iter().take(5).collect::<Vec<_>>()
            );
            if let Some((topic, payload)) = sub.next(left).await {
                self.add(&topic, &payload);
            }
        }
    }

    /// Receives until `done(self)` holds, failing after `timeout`.
    pub async fn collect_until(
        &mut self,
        sub: &mut Subscriber,
        timeout: Duration,
        mut done: impl FnMut(&Received) -> bool,
    ) {
        let deadline = Instant::now() + timeout;
        while !done(self) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out: {} events, {} statuses, replies: {:?}",
                self.events.len(),
                self.statuses.len(),
                {
                    let mut replies: Vec<_> = self.replies.iter().collect();
                    replies.sort_by(|a, b| a.0.cmp(b.0));
                    replies.truncate(20);
                    replies
                }
            );
            if let Some((topic, payload)) = sub.next(left).await {
                self.add(&topic, &payload);
            }
        }
    }
}

/// A config file for a test gateway.
pub struct TestConfig {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl TestConfig {
    /// Writes a config with gateway `gw`, the outbox in a temporary directory, the broker on
    /// `port`, and `rest` appended (store settings, devices …).
    pub fn new(port: u16, store_extra: &str, rest: &str) -> TestConfig {
        TestConfig::with_mqtt(port, "", store_extra, rest)
    }

    /// As [`TestConfig::new`], with `mqtt_extra` lines in `[mqtt]` (`failover_hosts`, say).
    pub fn with_mqtt(port: u16, mqtt_extra: &str, store_extra: &str, rest: &str) -> TestConfig {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tracegate.toml");
        let text = format!(
            "[gateway]\nid = \"gw-test\"\n\n\
             [location]\nread_point = \"urn:epc:id:sgln:9506000134.00.0\"\n\n\
             [store]\npath = \"outbox.db\"\n{store_extra}\n\n\
             [mqtt]\nhost = \"127.0.0.1\"\nport = {port}\nkeep_alive_s = 5\nreconnect_min_ms = 100\nreconnect_max_s = 1\nstatus_interval_s = 1\n{mqtt_extra}\n\n\
             [clock]\nsync_check = \"trust\"\n\n\
             {rest}\n"
        );
        std::fs::write(&path, text).unwrap();
        TestConfig { dir, path }
    }

    /// The outbox path.
    pub fn outbox(&self) -> PathBuf {
        self.dir.path().join("outbox.db")
    }
}

/// `config/demo.toml` (every simulated device kind) with its outbox in `dir`, its broker at
/// `port`, its templates where they are shipped and its scanners at tens of reads/s.
pub fn demo_config(dir: &std::path::Path, port: u16) -> std::path::PathBuf {
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../config/demo.toml"))
            .unwrap();
    let labels = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/labels");
    let text = shipped
        .replace(
            "path = \"../target/tracegate-demo/outbox.db\"",
            &format!("path = \"{}\"", dir.join("outbox.db").display()),
        )
        .replace(
            "templates = \"labels\"",
            &format!("templates = \"{labels}\""),
        )
        .replace(
            "port = 1883",
            &format!("port = {port}\nreconnect_max_s = 2"),
        )
        .replace("status_interval_s = 10", "status_interval_s = 5")
        .replace("rate_per_s = 2.0", "rate_per_s = 30.0")
        .replace("rate_per_s = 1.0", "rate_per_s = 10.0")
        .replace("rate_per_s = 0.5", "rate_per_s = 5.0");
    assert!(text.contains("rate_per_s = 30.0") && text.contains(&format!("port = {port}")));
    let path = dir.join("tracegate.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A serial scanner device section on `port`.
pub fn serial_scanner(id: &str, port: &Path) -> String {
    format!(
        "[[devices]]\nid = \"{id}\"\nkind = \"serial-scanner\"\nport = \"{}\"\nbaud = 115200\n",
        port.display()
    )
}

/// Publishes command `name` with `body` (its `id` set to `id`) on gateway `gw-test`'s command
/// topic.
pub async fn send_command(sub: &Subscriber, name: &str, id: &str, body: Value) {
    send_command_to(sub, "tracegate/gw-test", name, id, body).await;
}

/// Publishes command `name` with `body` (its `id` set to `id`) on `{gateway}/cmd/{name}`, the
/// gateway named with its topic prefix (`plant-2/trace/gw-line-3`).
pub async fn send_command_to(sub: &Subscriber, gateway: &str, name: &str, id: &str, body: Value) {
    let mut body = body;
    body["id"] = Value::String(id.to_string());
    sub.publish(
        &format!("{gateway}/cmd/{name}"),
        body.to_string().as_bytes(),
    )
    .await;
}

/// The tracegate daemon as a child process, logging to a file.
pub struct Daemon {
    child: Option<Child>,
    pub config: PathBuf,
    log: PathBuf,
}

impl Daemon {
    /// Starts `tracegate run --config config`.
    pub fn start(config: &Path) -> Daemon {
        Daemon::start_with_env(config, &[])
    }

    /// Starts `tracegate run --config config` with extra environment variables (as systemd
    /// sets `NOTIFY_SOCKET` and `WATCHDOG_USEC`).
    pub fn start_with_env(config: &Path, env: &[(&str, &str)]) -> Daemon {
        let log = config.with_extension(format!("log.{}", free_port()));
        let file = std::fs::File::create(&log).unwrap();
        let child = tracegate_command()
            .args(["run", "--config"])
            .arg(config)
            .env("TRACEGATE_LOG", "debug,rumqttc=info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("start tracegate");
        Daemon {
            child: Some(child),
            config: config.to_path_buf(),
            log,
        }
    }

    /// The daemon's status report, over its control socket.
    pub async fn status(&self) -> Option<Value> {
        let config = tracegate::config::Config::load_for_tools(
            &self.config,
            &tracegate::capture::devices::builtin(),
        )
        .ok()?;
        tracegate::commands::control::request(
            &config.control_socket(),
            &serde_json::json!({"cmd": "status"}),
        )
        .await
        .ok()
    }

    /// The daemon's process id (that of its runner, which is the same process, under qemu).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Polls the status report until `done` holds for it, and returns that report. Fails
    /// the test after `within`, saying what was awaited and showing the last report.
    pub async fn wait_status(
        &self,
        within: Duration,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let status = self.status().await;
            if let Some(status) = &status
                && done(status)
            {
                return status.clone();
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not within {within:?}; last status: {}; log:\n{}",
                status.map_or_else(|| "no answer".to_string(), |s| s.to_string()),
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the daemon's log contains `needle`, failing the test after `within` with
    /// the log shown.
    pub async fn wait_log(&self, within: Duration, needle: &str) {
        let deadline = Instant::now() + within;
        while !self.log().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "{needle:?} not logged within {within:?}; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the daemon answers and every device is up.
    pub async fn wait_devices_up(&self) {
        self.wait_status(Duration::from_secs(20), "devices up", |status| {
            let devices = status["devices"].as_array().cloned().unwrap_or_default();
            devices.iter().all(|d| d["state"] == "up")
        })
        .await;
    }

    /// SIGTERM and wait for a clean exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        signal(child.id(), libc::SIGTERM);
        wait_with_timeout(&mut child, Duration::from_secs(20))
            .unwrap_or_else(|| panic!("tracegate did not stop in 20 s; log:\n{}", self.log()))
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("running");
        signal(child.id(), libc::SIGKILL);
        let _ = child.wait();
    }

    /// The file the daemon logs to.
    pub fn log_path(&self) -> PathBuf {
        self.log.clone()
    }

    /// Everything the daemon logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            let mut err = std::io::stderr();
            let _ = writeln!(err, "---- tracegate log ----\n{}", self.log());
        }
    }
}

/// Runs `tracegate` with `args` and returns (exit code, stdout, stderr).
pub fn tracegate(args: &[&str]) -> (i32, String, String) {
    let out = tracegate_command()
        .args(args)
        .output()
        .expect("run tracegate");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A TCP proxy between the gateway and the broker that can cut the uplink: existing
/// connections are closed (as a dropped mobile link or a rebooted router does) and new ones
/// refused until it is restored.
pub struct Proxy {
    pub port: u16,
    up: std::sync::Arc<tokio::sync::watch::Sender<Link>>,
    task: tokio::task::JoinHandle<()>,
}

/// The state of a [`Proxy`]'s link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Bytes flow.
    Up,
    /// Connections are closed and refused (RST / FIN: the peer notices at once).
    Cut,
    /// Connections stay open but nothing flows, either way, and new ones are accepted and
    /// held the same way: a dead mobile link or a hung NAT, which only keepalives detect.
    Stalled,
}

impl Proxy {
    /// Forwards 127.0.0.1:{port} to 127.0.0.1:{target}.
    pub async fn start(target: u16) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (up, _) = tokio::sync::watch::channel(Link::Up);
        let up = std::sync::Arc::new(up);
        let up2 = up.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                let mut link = up2.subscribe();
                let now = *link.borrow_and_update();
                match now {
                    Link::Cut => continue, // dropped: the connection closes at once
                    Link::Stalled => {
                        // Held open, never answered, until the link changes.
                        tokio::spawn(async move {
                            let _ = link.changed().await;
                            drop(inbound);
                        });
                        continue;
                    }
                    Link::Up => {}
                }
                tokio::spawn(async move {
                    let Ok(mut outbound) =
                        tokio::net::TcpStream::connect(("127.0.0.1", target)).await
                    else {
                        return;
                    };
                    let changed = tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => return,
                        changed = link.wait_for(|l| *l != Link::Up) => changed.map(|l| *l),
                    };
                    if !matches!(changed, Ok(Link::Stalled)) {
                        return; // cut: both sockets close
                    }
                    // Stalled: keep both sockets open, move nothing, until the link changes.
                    let _ = link.wait_for(|l| *l != Link::Stalled).await;
                });
            }
        });
        Proxy { port, up, task }
    }

    /// Cuts the link: open connections close, new ones are refused.
    pub fn cut(&self) {
        self.up.send_replace(Link::Cut);
    }

    /// Stalls the link: connections stay open, nothing flows, no RST.
    pub fn stall(&self) {
        self.up.send_replace(Link::Stalled);
    }

    /// Restores the link (a stalled connection is closed then: the peer has long given up).
    pub fn restore(&self) {
        self.up.send_replace(Link::Up);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Sends `codes` from a simulated scanner on `pty` as fast as the line takes them; returns
/// once all are written.
pub async fn scan<C: AsRef<[u8]>>(
    pty: &mut tracegate_drivers::sim::VirtualSerialPort,
    codes: &[C],
) {
    let frames = codes
        .iter()
        .map(|c| tracegate_drivers::sim::SimFrame::new(c.as_ref()));
    let sent = tracegate_drivers::sim::ScannerSim::default()
        .run(
            pty.master(),
            frames,
            &tokio_util::sync::CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(sent as usize, codes.len(), "every code written to the pty");
}

/// Sends `codes` from a simulated scanner on `pty`, paced at `per_second`, in the background.
pub fn scan_in_background(
    mut pty: tracegate_drivers::sim::VirtualSerialPort,
    codes: Vec<String>,
    per_second: f64,
) -> (
    tokio::task::JoinHandle<tracegate_drivers::sim::VirtualSerialPort>,
    tokio_util::sync::CancellationToken,
) {
    let cancel = tokio_util::sync::CancellationToken::new();
    let stop = cancel.clone();
    let task = tokio::spawn(async move {
        let sim = tracegate_drivers::sim::ScannerSim::default().with_rate(per_second);
        let frames = codes
            .into_iter()
            .map(|c| tracegate_drivers::sim::SimFrame::new(c.into_bytes()));
        sim.run(pty.master(), frames, &stop).await.unwrap();
        pty
    });
    (task, cancel)
}

/// `n` distinct codes with a test-specific prefix.
pub fn codes(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i:06}")).collect()
}

/// One HTTP/1.1 request on loopback, the connection closed after it: (status, headers with
/// lower-cased names, body). Status 0 when the server answered nothing readable (it closed the
/// connection on a request it refused).
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Vec<(String, String)>, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).to_string();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect();
    (status, headers, body.to_string())
}

/// Scraping the Prometheus endpoint as Prometheus does, and reading what it says.
pub mod prometheus {
    use prometheus_parse::{Scrape, Value};
    use std::collections::HashMap;

    /// `GET path` over HTTP/1.1; (status code, headers, body).
    pub fn http_get(port: u16, path: &str) -> (u16, HashMap<String, String>, String) {
        let (status, headers, body) = super::http(port, "GET", path, &[], "");
        (status, headers.into_iter().collect(), body)
    }

    /// Parses `body` as Prometheus text, insisting that every sample line was understood.
    pub fn parse_strictly(body: &str) -> Scrape {
        let scrape = Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).unwrap();
        let sample_lines = body
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .count();
        let parsed: usize = scrape
            .samples
            .iter()
            .map(|s| match &s.value {
                Value::Histogram(buckets) => buckets.len(),
                _ => 1,
            })
            .sum();
        assert_eq!(
            parsed, sample_lines,
            "lines the parser did not take:\n{body}"
        );
        scrape
    }

    pub fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
        let sample = scrape
            .samples
            .iter()
            .find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
            .unwrap_or_else(|| panic!("no sample {metric} {labels:?}"));
        match sample.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
            _ => panic!("{metric} is not a single value"),
        }
    }
}
