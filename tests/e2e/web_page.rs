//! The commissioning page in a real browser: Debian's chromium, driven through chromedriver
//! (WebDriver, by fantoccini), against the daemon with a scanner on a pty, a simulated LLRP
//! dock door, a stack light and a simulated ZPL printer the test owns (so it counts labels).
//!
//! - the page loads; a scan on the pty appears without a reload within 1 s; a refused scan
//!   appears with its reason in words; the RFID reader's passes fill the tag table;
//! - a test print's preview is drawn, and a real print reaches the printer once;
//! - an output toggled on the page changes `tracegate status`;
//! - with a password: nothing is shown or done until signed in — the HTTP API itself refuses,
//!   not only the page; wrong passwords are limited; a cross-site POST is refused;
//!   no secret from the config is in any page or response;
//! - screenshots at desktop and phone width land in target/web-screenshots/.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tracegate_drivers::sim::{SimPrinter, SimPrinterConfig, VirtualSerialPort};

use crate::support::{Broker, Daemon, TestConfig, free_port, http, require, scan, serial_scanner};

const GOOD: &str = "]d201095060001343522101";
const BAD_CHECK_DIGIT: &str = "]d201095060001343532102";
const PASSWORD: &str = "dock-door-7f3a";
const MQTT_PASSWORD: &str = "mqtt-s3cret-91b2";

const TEMPLATE: &str = "^XA\n^FO50,50^A0N,40,40^FDLOT {{ lot }}{% if reprint %} REPRINT{% endif %}^FS\n^FO50,120^BY2^BCN,80,Y,N,N^FD{{ lot }}^FS\n^PQ{{ copies }}\n^XZ\n";

/// chromedriver on a free port, stopped on drop.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start() -> Driver {
        let binary = require("chromedriver");
        require("chromium");
        let port = free_port();
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver { child, port }
    }

    async fn browser(&self, width: u32, height: u32) -> Client {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", format!("--window-size={width},{height}"),
                         "--lang=en-US"],
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The session cookie (`name=value`) and CSRF token a local caller is given.
fn local_session(port: u16) -> (String, String) {
    let (status, headers, body) = http(port, "GET", "/api/session", &[], "");
    assert_eq!(status, 200, "{body}");
    let cookie = headers
        .iter()
        .find(|(k, _)| k == "set-cookie")
        .map(|(_, v)| v.split(';').next().unwrap().to_string())
        .expect("a session cookie");
    let csrf = serde_json::from_str::<Value>(&body).unwrap()["csrf"]
        .as_str()
        .unwrap()
        .to_string();
    (cookie, csrf)
}

async fn wait_for(c: &Client, css: &str, within: Duration) -> fantoccini::elements::Element {
    c.wait()
        .at_most(within)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} did not appear within {within:?}: {e}"))
}

/// Runs `script` until it returns true (a condition on the page), or panics after `within`.
async fn wait_true(c: &Client, script: &str, within: Duration, what: &str) {
    let deadline = Instant::now() + within;
    loop {
        let value = c.execute(script, vec![]).await.unwrap_or(Value::Null);
        if value == Value::Bool(true) {
            return;
        }
        assert!(Instant::now() < deadline, "{what} within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/web-screenshots"
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn config(
    broker: u16,
    web: u16,
    scanner: &VirtualSerialPort,
    printer: &SimPrinter,
    web_extra: &str,
) -> TestConfig {
    let llrp = "[[devices]]\nid = \"dock-door\"\nkind = \"sim-llrp-reader\"\npass_every_ms = 1500\ntags_per_pass = 3\n\
                zones = [{ name = \"inside\", antennas = [1] }, { name = \"outside\", antennas = [2] }]\n\
                direction = { inside = \"inside\", outside = \"outside\" }\n";
    let rest = format!(
        "[web]\nlisten = \"127.0.0.1:{web}\"\n{web_extra}\n\n[printing]\ntemplates = \"labels\"\n\n\
         {}accept = [\"gs1\"]\n\n{llrp}\n\
         [[devices]]\nid = \"light\"\nkind = \"sim-output\"\nlines = [\"red\", \"green\"]\n\n\
         [[devices]]\nid = \"line-printer\"\nkind = \"label-printer\"\nlanguage = \"zpl\"\naddress = \"{}\"\nstatus_interval_ms = 1000\n",
        serial_scanner("line", scanner.path()),
        printer.addr.unwrap(),
    );
    let config = TestConfig::with_mqtt(broker, "", "", &rest);
    let labels = config.dir.path().join("labels");
    std::fs::create_dir(&labels).unwrap();
    std::fs::write(labels.join("case.zpl"), TEMPLATE).unwrap();
    config
}

/// What every test here runs against: a broker, the test's own simulated ZPL printer, a
/// scanner's pty and the daemon's config (a free port for the page, `web_extra` in `[web]`).
struct Rig {
    broker: Broker,
    printer: SimPrinter,
    scanner: VirtualSerialPort,
    web: u16,
    config: TestConfig,
}

impl Rig {
    async fn new(web_extra: &str) -> Rig {
        let broker = Broker::start();
        let printer = SimPrinter::start_zpl(SimPrinterConfig::default())
            .await
            .unwrap();
        let scanner = VirtualSerialPort::new().unwrap();
        let web = free_port();
        let config = config(broker.port, web, &scanner, &printer, web_extra);
        Rig {
            broker,
            printer,
            scanner,
            web,
            config,
        }
    }
}

/// `device`'s output `line` in a status report.
fn output<'a>(status: &'a Value, device: &str, line: &str) -> &'a Value {
    status["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == device)
        .map_or(&Value::Null, |d| &d["outputs"][line])
}

/// Waits until `tracegate status` shows `device`'s `line` on.
async fn wait_on(daemon: &Daemon, device: &str, line: &str) {
    daemon
        .wait_status(
            Duration::from_secs(10),
            &format!("{device} {line} on"),
            |s| output(s, device, line) == true,
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_reads_tags_and_devices_live_and_acts_through_the_router() {
    // Bound whole: the broker and the simulators live as long as the test.
    let Rig {
        broker: _broker,
        printer,
        mut scanner,
        web,
        config,
    } = Rig::new("").await;
    let daemon = Daemon::start(&config.path);
    daemon.wait_devices_up().await;
    let driver = Driver::start();
    let c = driver.browser(1366, 1000).await;

    c.goto(&format!("http://127.0.0.1:{web}/")).await.unwrap();
    wait_for(&c, "#device-line", Duration::from_secs(10)).await;
    assert_eq!(c.title().await.unwrap(), "tracegate · gw-test");

    // A scan appears without a reload, within a second of reaching the pty.
    let sent = Instant::now();
    scan(&mut scanner, &[GOOD]).await;
    wait_true(
        &c,
        &format!("return [...document.querySelectorAll('#reads tr[data-outcome=recorded]')].some(r => r.textContent.includes('{GOOD}'))"),
        Duration::from_secs(5),
        "the scan on the page",
    )
    .await;
    let shown_after = sent.elapsed();
    assert!(
        shown_after < Duration::from_secs(1),
        "shown after {shown_after:?}"
    );
    let row = c
        .find(Locator::Css("#reads tr[data-outcome=recorded]"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(row.contains("GTIN 09506000134352"), "its meaning: {row}");
    assert!(
        row.contains("urn:uuid:") || row.contains("ni:///"),
        "the event it became: {row}"
    );

    // A refused scan, with its reason in words.
    scan(&mut scanner, &[BAD_CHECK_DIGIT]).await;
    let refused = wait_for(
        &c,
        "#reads tr[data-outcome=refused]",
        Duration::from_secs(5),
    )
    .await;
    let text = refused.text().await.unwrap();
    assert!(
        text.contains("REFUSED") && text.contains("check digit"),
        "{text}"
    );

    // The dock door's passes fill the tag table.
    c.find(Locator::Css("#tags-details summary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_true(
        &c,
        "return document.querySelectorAll('.tag-table[data-device=dock-door] tbody tr').length >= 3",
        Duration::from_secs(15),
        "three tags in the dock door's table",
    )
    .await;
    let tags = c
        .find(Locator::Css(".tag-table[data-device=dock-door]"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(tags.contains("urn:epc:id:sgtin:"), "EPC URIs: {tags}");
    assert!(tags.contains("dBm"), "peak RSSI: {tags}");

    // Toggle an output on the page: `tracegate status` shows the line on.
    c.find(Locator::Css(
        "#device-light button[data-action=toggle][data-line=red]",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    wait_on(&daemon, "light", "red").await;

    wait_true(
        &c,
        "const l = document.querySelector('#device-light span.line[data-line=red]'); return !!l && l.textContent.startsWith('red on')",
        Duration::from_secs(5),
        "the page showing the line on",
    )
    .await;

    // A test print: the preview drawn, then one label through the durable queue.
    c.find(Locator::Css("#print-details summary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Id("print-vars"))
        .await
        .unwrap()
        .send_keys("lot=A17")
        .await
        .unwrap();
    c.find(Locator::Id("preview-button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_true(
        &c,
        "const i = document.getElementById('preview'); return !i.hidden && i.complete && i.naturalWidth > 100",
        Duration::from_secs(20),
        "the label's preview drawn",
    )
    .await;
    assert_eq!(printer.printed(), 0, "a preview prints nothing");
    c.find(Locator::Css("#print-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_true(
        &c,
        "return document.getElementById('print-result').textContent.includes('confirmed')",
        Duration::from_secs(30),
        "the print confirmed",
    )
    .await;
    assert_eq!(printer.printed(), 1);
    assert!(String::from_utf8_lossy(&printer.received()).contains("^FDLOT A17^FS"));

    // A reload from the page, with its report.
    c.find(Locator::Css("#config-details summary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Id("reload"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_true(
        &c,
        "const r = document.getElementById('reload-result'); return r.classList.contains('good') && r.textContent.includes('done')",
        Duration::from_secs(20),
        "the reload's report",
    )
    .await;

    // Chinese, from the switch.
    c.find(Locator::Id("lang"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_true(&c, "return document.documentElement.lang === 'zh-CN' && document.body.textContent.includes('实时读取')", Duration::from_secs(5), "the page in Chinese").await;

    let dir = screenshots();
    std::fs::write(dir.join("desktop-zh.png"), c.screenshot().await.unwrap()).unwrap();
    c.find(Locator::Id("lang"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    std::fs::write(dir.join("desktop.png"), c.screenshot().await.unwrap()).unwrap();
    c.set_window_size(390, 1600).await.unwrap();
    std::fs::write(dir.join("phone.png"), c.screenshot().await.unwrap()).unwrap();

    // Every action was answered and counted as a command.
    let status = daemon.status().await.unwrap();
    assert!(
        status["commands"]["received_total"].as_u64().unwrap() >= 2,
        "{}",
        status["commands"]
    );
    // A cross-site form POST from another page in the same browser (the classic CSRF: a
    // text/plain form whose body reads as JSON): refused, and the light stays as it was.
    let form = format!(
        "data:text/html,<form id=f method=post enctype=text/plain action='http://127.0.0.1:{web}/api/command/output'>\
         <input name='{{\"device\":\"light\",\"line\":\"green\",\"state\":\"on\",\"x\":\"' value='\"}}'></form>\
         <script>document.getElementById('f').submit()</script>"
    );
    c.goto(&form).await.unwrap();
    wait_true(
        &c,
        "return location.href.startsWith('http://127.0.0.1') && document.body.textContent.includes('refused')",
        Duration::from_secs(10),
        "the cross-site form refused",
    )
    .await;
    let answer = c
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(answer.contains("\"ok\":false"), "{answer}");
    let status = daemon.status().await.unwrap();
    assert_eq!(
        output(&status, "light", "green"),
        false,
        "the cross-site form switched nothing"
    );

    // Which browser the run drove, for the record (`--nocapture` shows it).
    let version = Command::new(require("chromium"))
        .arg("--version")
        .output()
        .unwrap();
    eprintln!(
        "browser: {}",
        String::from_utf8_lossy(&version.stdout).trim()
    );
    c.close().await.unwrap();

    // The language from the browser's Accept-Language.
    let (_, _, html) = http(
        web,
        "GET",
        "/",
        &[("Accept-Language", "zh-CN,zh;q=0.9,en;q=0.8")],
        "",
    );
    assert!(html.contains("<html lang=\"zh-CN\">"), "{html}");
    let (_, _, html) = http(
        web,
        "GET",
        "/",
        &[("Accept-Language", "en-GB,en;q=0.9")],
        "",
    );
    assert!(html.contains("<html lang=\"en\">"));

    // The same page without a browser: a cross-site POST is refused, even with the session's
    // cookie and token; so is one without the token.
    let (cookie, csrf) = local_session(web);
    let body = r#"{"device":"light","line":"green","state":"on"}"#;
    let json = ("Content-Type", "application/json");
    let (code, _, answer) = http(
        web,
        "POST",
        "/api/command/output",
        &[
            json,
            ("Cookie", &cookie),
            ("X-CSRF-Token", &csrf),
            ("Origin", "http://evil.example"),
        ],
        body,
    );
    assert_eq!(code, 403, "{answer}");
    let (code, _, answer) = http(
        web,
        "POST",
        "/api/command/output",
        &[
            json,
            ("Cookie", &cookie),
            ("X-CSRF-Token", &csrf),
            ("Sec-Fetch-Site", "cross-site"),
        ],
        body,
    );
    assert_eq!(code, 403, "{answer}");
    let (code, _, answer) = http(
        web,
        "POST",
        "/api/command/output",
        &[json, ("Cookie", &cookie)],
        body,
    );
    assert_eq!(code, 403, "{answer}");
    let (code, _, answer) = http(
        web,
        "POST",
        "/api/command/output",
        &[
            ("Content-Type", "text/plain"),
            ("Cookie", &cookie),
            ("X-CSRF-Token", &csrf),
        ],
        body,
    );
    assert_eq!(code, 415, "a form's body type: {answer}");
    let status = daemon.status().await.unwrap();
    assert_eq!(
        output(&status, "light", "green"),
        false,
        "no refused request switched it"
    );
    // The same request from the page's own origin does.
    let (code, _, answer) = http(
        web,
        "POST",
        "/api/command/output",
        &[
            json,
            ("Cookie", &cookie),
            ("X-CSRF-Token", &csrf),
            ("Origin", &format!("http://127.0.0.1:{web}")),
        ],
        body,
    );
    assert_eq!(
        (
            code,
            serde_json::from_str::<Value>(&answer).unwrap()["ok"].clone()
        ),
        (200, json!(true)),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_password_nothing_is_shown_or_done_until_the_operator_signs_in() {
    let dir = tempfile::tempdir().unwrap();
    let password_file = dir.path().join("web-password");
    std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    let mqtt_password = dir.path().join("mqtt-password");
    std::fs::write(&mqtt_password, MQTT_PASSWORD).unwrap();
    let Rig {
        broker: _broker,
        printer: _printer,
        scanner: _scanner,
        web,
        config,
    } = Rig::new(&format!("password_file = \"{}\"", password_file.display())).await;
    // A broker password in the config too: it must not reach any page either.
    let text = std::fs::read_to_string(&config.path).unwrap().replace(
        "status_interval_s = 1\n",
        &format!(
            "status_interval_s = 1\nusername = \"gw\"\npassword_file = \"{}\"\n",
            mqtt_password.display()
        ),
    );
    std::fs::write(&config.path, text).unwrap();
    let daemon = Daemon::start(&config.path);
    daemon
        .wait_log(Duration::from_secs(30), "commissioning page on")
        .await;

    // The API itself refuses, not only the page.
    let json = ("Content-Type", "application/json");
    let body = r#"{"device":"light","line":"red","state":"on"}"#;
    let (code, headers, answer) = http(web, "GET", "/api/session", &[], "");
    assert_eq!(code, 200);
    assert!(
        !headers.iter().any(|(k, _)| k == "set-cookie"),
        "no session without the password"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&answer).unwrap()["signed_in"],
        false
    );
    for (method, path, body) in [
        ("GET", "/api/status", ""),
        ("GET", "/api/events", ""),
        ("GET", "/api/live", ""),
        ("POST", "/api/command/output", body),
        ("POST", "/api/command/reload", "{}"),
    ] {
        let (code, _, answer) = http(web, method, path, &[json], body);
        assert_eq!(code, 401, "{method} {path}: {answer}");
    }
    // A guessed token is no session.
    let (code, _, _) = http(
        web,
        "POST",
        "/api/command/output",
        &[
            json,
            ("Cookie", &format!("tracegate_{web}=00")),
            ("X-CSRF-Token", "00"),
        ],
        body,
    );
    assert_eq!(code, 401);

    // The page: signed out, a wrong password refused, the right one lets the operator act.
    let driver = Driver::start();
    let c = driver.browser(1366, 900).await;
    c.goto(&format!("http://127.0.0.1:{web}/")).await.unwrap();
    wait_for(&c, "#sign-in:not([hidden])", Duration::from_secs(10)).await;
    assert!(
        c.find(Locator::Css("#device-light")).await.is_err(),
        "no devices shown before sign-in"
    );
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys("wrong")
        .await
        .unwrap();
    c.find(Locator::Css("#sign-in button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_true(
        &c,
        "return document.getElementById('sign-in-error').textContent.includes('wrong password')",
        Duration::from_secs(5),
        "the wrong password refused",
    )
    .await;
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .clear()
        .await
        .unwrap();
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    c.find(Locator::Css("#sign-in button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(
        &c,
        "#device-light button[data-action=toggle][data-line=red]",
        Duration::from_secs(10),
    )
    .await
    .click()
    .await
    .unwrap();
    wait_on(&daemon, "light", "red").await;

    // No secret in any page or response the signed-in browser gets.
    let pages = c
        .execute_async(
            "const done = arguments[0];
             Promise.all(['/', '/app.js', '/app.css', '/api/session', '/api/status', '/api/events?limit=100']
               .map(p => fetch(p).then(r => r.text()))).then(texts => done(texts.join('\\n')));",
            vec![],
        )
        .await
        .unwrap();
    let pages = pages.as_str().unwrap();
    assert!(pages.contains("gw-test"), "the pages were read");
    assert!(!pages.contains(PASSWORD), "the page's password leaked");
    assert!(
        !pages.contains(MQTT_PASSWORD),
        "the broker's password leaked"
    );
    c.close().await.unwrap();

    // Every refusal so far is counted, and shows in status.
    let page = daemon.status().await.unwrap()["page"].clone();
    assert!(page["refused_total"].as_u64().unwrap() >= 7, "{page}");
    assert_eq!(page["sign_ins_total"], 1, "{page}");
    assert!(page["actions_total"].as_u64().unwrap() >= 1, "{page}");

    // Wrong passwords are limited per address.
    let origin = format!("http://127.0.0.1:{web}");
    let mut codes = Vec::new();
    for _ in 0..7 {
        let (code, _, _) = http(
            web,
            "POST",
            "/api/sign-in",
            &[json, ("Origin", &origin)],
            r#"{"password":"guess"}"#,
        );
        codes.push(code);
    }
    assert_eq!(
        codes,
        [401, 401, 401, 401, 401, 429, 429],
        "5 tries, then wait"
    );
    let (code, headers, _) = http(
        web,
        "POST",
        "/api/sign-in",
        &[json],
        &format!(r#"{{"password":"{PASSWORD}"}}"#),
    );
    assert_eq!(code, 429, "even the right one, until the window has passed");
    assert!(headers.iter().any(|(k, _)| k == "retry-after"));
    let log = daemon.log();
    assert!(
        !log.contains(PASSWORD) && !log.contains(MQTT_PASSWORD),
        "no secret in the log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_are_refused_and_the_page_and_capture_carry_on() {
    let Rig {
        broker: _broker,
        printer: _printer,
        mut scanner,
        web,
        config,
    } = Rig::new("").await;
    let daemon = Daemon::start(&config.path);
    daemon
        .wait_log(Duration::from_secs(30), "commissioning page on")
        .await;
    let (cookie, csrf) = local_session(web);
    let acting = |extra: &'static str| -> Vec<(&'static str, String)> {
        vec![
            ("Content-Type", extra.to_string()),
            ("Cookie", cookie.clone()),
            ("X-CSRF-Token", csrf.clone()),
        ]
    };
    let post = |path: &str, headers: &[(&'static str, String)], body: &str| {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        http(web, "POST", path, &headers, body)
    };

    // Oversized headers: 431, not a crash.
    let big = "x".repeat(20 * 1024);
    let (code, _, _) = http(web, "GET", "/", &[("X-Big", &big)], "");
    assert!(code == 431 || code == 0, "oversized headers: {code}");
    // Bad JSON, a non-object, an oversized body, an unknown command, a bad argument.
    let json = acting("application/json");
    assert_eq!(post("/api/command/output", &json, "{not json").0, 400);
    assert_eq!(post("/api/command/output", &json, "[1,2]").0, 400);
    let huge = format!("{{\"pad\":\"{}\"}}", "x".repeat(100 * 1024));
    assert_eq!(post("/api/command/output", &json, &huge).0, 413);
    let (code, _, answer) = post("/api/command/launch-missiles", &json, "{}");
    assert_eq!(code, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&answer).unwrap()["ok"],
        false,
        "{answer}"
    );
    let (_, _, answer) = post(
        "/api/command/output",
        &json,
        r#"{"device":"light","line":"../../etc","state":"on"}"#,
    );
    assert_eq!(
        serde_json::from_str::<Value>(&answer).unwrap()["ok"],
        false,
        "{answer}"
    );
    assert_eq!(
        post(
            "/api/preview",
            &json,
            r#"{"printer":"nope","template":"case"}"#
        )
        .0,
        422
    );
    // Wrong methods and paths, garbage instead of HTTP.
    assert_eq!(http(web, "DELETE", "/api/status", &[], "").0, 405);
    assert_eq!(http(web, "GET", "/api/command/output", &[], "").0, 405);
    assert_eq!(http(web, "GET", "/etc/passwd", &[], "").0, 404);
    {
        let mut s = TcpStream::connect(("127.0.0.1", web)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"\x16\x03\x01\x00\xff garbage \r\n\r\n")
            .unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        assert!(
            out.is_empty() || out.starts_with(b"HTTP/1.1 400"),
            "{}",
            String::from_utf8_lossy(&out)
        );
    }

    // Slowloris: connections that never finish their headers take every slot, then are
    // closed by the header timeout; the page answers again.
    // Three kinds: headers begun and never ended, nothing sent at all, and a request
    // answered and then the connection kept idle.
    let mut held = Vec::new();
    for i in 0..80 {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", web)) {
            match i % 3 {
                0 => {
                    let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n");
                }
                1 => {}
                _ => {
                    let _ = s.write_all(b"GET /favicon.svg HTTP/1.1\r\nHost: x\r\n\r\n");
                }
            }
            held.push(s);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (code, _, _) = http(web, "GET", "/api/session", &[], "");
        if code == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the page never answered again");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Every held connection is closed by the server in the end (read to its end: 0).
    let mut open: Vec<TcpStream> = held;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !open.is_empty() {
        assert!(
            Instant::now() < deadline,
            "{} held connections still open after 30 s",
            open.len()
        );
        open.retain_mut(|s| {
            s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
            let mut b = [0u8; 4096];
            loop {
                match s.read(&mut b) {
                    Ok(0) => return false,
                    Ok(_) => continue,
                    Err(_) => return true,
                }
            }
        });
    }

    // Capture went on throughout.
    scan(&mut scanner, &[GOOD]).await;
    daemon
        .wait_status(Duration::from_secs(10), "the scan captured", |s| {
            s["devices"][0]["reads_total"] == 1
        })
        .await;
    assert!(!daemon.log().contains("panicked"), "no handler panicked");
}
