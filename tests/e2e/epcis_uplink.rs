//! Events straight into an EPCIS 2.0 repository (`[epcis]`): the real binary, a simulated
//! scanner on a pty, and the tests' capture interface (`support::epcis_repository`), which
//! checks every request against GS1's REST bindings and every document against the EPCIS
//! 2.0 schema. Each failure the REST bindings define is switched on in the repository and
//! the outcome asserted where it counts: what the repository holds, in what order, once.

use std::time::Duration;

use serde_json::Value;

use crate::support::epcis_repository::{Duplicates, Repository};
use crate::support::{Daemon, prometheus, scan, serial_scanner, tracegate};
use tracegate_drivers::sim::VirtualSerialPort;

/// A config with `[epcis]` (the repository at `url`, `extra` lines in it) and no `[mqtt]`.
fn config(
    dir: &std::path::Path,
    url: &str,
    extra: &str,
    pty: &std::path::Path,
) -> std::path::PathBuf {
    let path = dir.join("tracegate.toml");
    let text = format!(
        "[gateway]\nid = \"gw-epcis\"\n\n\
         [location]\nread_point = \"urn:epc:id:sgln:9506000134.00.0\"\n\n\
         [store]\npath = \"outbox.db\"\n\n\
         [epcis]\nurl = \"{url}\"\nretry_min_ms = 50\nretry_max_s = 1\n{extra}\n\n\
         [clock]\nsync_check = \"trust\"\n\n\
         {}\n",
        serial_scanner("scanner-1", pty)
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// GS1 DataMatrix reads (AIM ]d2, GTIN + serial) with serials from `first`.
fn reads(first: usize, n: usize) -> Vec<String> {
    (first..first + n)
        .map(|i| format!("]d20109506000134352217{i:06}"))
        .collect()
}

/// The raw reads the repository holds, in capture order.
fn held(repository: &Repository) -> Vec<String> {
    repository.with(|s| {
        s.events
            .iter()
            .map(|e| e["tg:rawData"].as_str().unwrap_or_default().to_string())
            .collect()
    })
}

async fn wait_held(repository: &Repository, daemon: &Daemon, n: usize, within: Duration) {
    let deadline = std::time::Instant::now() + within;
    while repository.with(|s| s.events.len()) < n {
        assert!(
            std::time::Instant::now() < deadline,
            "the repository holds {} of {n} events; requests: {:?}; log:\n{}",
            repository.with(|s| s.events.len()),
            repository.with(|s| s
                .requests
                .iter()
                .rev()
                .take(20)
                .cloned()
                .collect::<Vec<_>>()),
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn no_violations(repository: &Repository) {
    let violations = repository.with(|s| s.violations.clone());
    assert!(
        violations.is_empty(),
        "requests or documents off the standard: {violations:#?}"
    );
}

/// Waits until all `reads` reads were committed and each was delivered or set aside (a read
/// is counted before its commit, so "none undelivered" alone can be seen too early).
async fn drained(daemon: &Daemon, reads: u64) -> Value {
    daemon
        .wait_status(Duration::from_secs(30), "outbox drained", |s| {
            let q = &s["queue"];
            q["undelivered"] == 0
                && q["delivered_total"].as_u64().unwrap_or(0)
                    + q["set_aside_total"].as_u64().unwrap_or(0)
                    == reads
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_read_reaches_the_repository_in_order_once_with_basic_auth() {
    let repository = Repository::start().await;
    // RFC 7617: "gw-dock-01:s3cret" in base64.
    repository.faults(|f| {
        f.credential = Some((
            "authorization".into(),
            "Basic Z3ctZG9jay0wMTpzM2NyZXQ=".into(),
        ));
        f.capture_limit = Some(40);
        f.running_polls = 2;
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("epcis.secret"), "s3cret\n").unwrap();
    let mut pty = VirtualSerialPort::new().unwrap();
    let path = config(
        dir.path(),
        &repository.url(),
        "username = \"gw-dock-01\"\npassword_file = \"epcis.secret\"",
        pty.path(),
    );
    let metrics_port = crate::support::free_port();
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(&format!(
        "\n[metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n"
    ));
    std::fs::write(&path, text).unwrap();
    let (code, out, err) = tracegate(&["check-config", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("events to the EPCIS repository"), "{out}");
    let daemon = Daemon::start(&path);
    daemon.wait_devices_up().await;
    let codes = reads(0, 300);
    scan(&mut pty, &codes).await;
    wait_held(&repository, &daemon, 300, Duration::from_secs(60)).await;
    assert_eq!(held(&repository), codes, "every read, in scan order, once");
    let status = drained(&daemon, 300).await;
    let uplink = &status["uplink"];
    assert_eq!(uplink["kind"], "epcis");
    assert_eq!(uplink["url"], format!("{}capture", repository.url()));
    assert!(
        !uplink.to_string().contains("s3cret"),
        "no secret in status"
    );
    let epcis = &uplink["epcis"];
    assert_eq!(epcis["events_captured_total"], 300);
    assert_eq!(epcis["limits"]["events"], 40, "the announced capture limit");
    assert_eq!(epcis["jobs_running"], 0);
    assert!(epcis["last_success_at"].is_string());
    // Within the limit: no POST carried more than 40 events (else it was answered 413).
    assert!(repository.with(|s| !s.requests.iter().any(|r| r.ends_with("→ 413"))));
    assert!(repository.with(|s| s.posts) >= 300 / 40);
    // `tracegate status` says where events go and how it is going (no broker line: none).
    let (code, human, err) = tracegate(&["status", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        human.contains(&format!(
            "epcis    delivering to {}capture",
            repository.url()
        )),
        "{human}"
    );
    assert!(human.contains("300 captured (0 already held)"), "{human}");
    assert!(!human.contains("broker   "), "{human}");
    // The same figures in the metrics, as for MQTT.
    let (code, _, body) = prometheus::http_get(metrics_port, "/metrics");
    assert_eq!(code, 200);
    let scrape = prometheus::parse_strictly(&body);
    assert_eq!(
        prometheus::value(&scrape, "tracegate_epcis_events_captured_total", &[]),
        300.0
    );
    assert_eq!(
        prometheus::value(&scrape, "tracegate_epcis_connected", &[]),
        1.0
    );
    assert_eq!(
        prometheus::value(&scrape, "tracegate_epcis_jobs_running", &[]),
        0.0
    );
    assert_eq!(
        prometheus::value(&scrape, "tracegate_uplink_offline_seconds", &[]),
        0.0
    );
    no_violations(&repository);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_fails_under_rollback_sets_aside_only_the_refused_events() {
    let repository = Repository::start().await;
    let codes = reads(100, 60);
    // Two reads the repository refuses inside the capture job, naming none of them.
    let refused = [codes[17].clone(), codes[42].clone()];
    repository.faults(|f| f.refuse_in_job = refused.iter().map(|c| c[3..].to_string()).collect());
    let dir = tempfile::tempdir().unwrap();
    let mut pty = VirtualSerialPort::new().unwrap();
    let daemon = Daemon::start(&config(dir.path(), &repository.url(), "", pty.path()));
    daemon.wait_devices_up().await;
    scan(&mut pty, &codes).await;
    let status = drained(&daemon, 60).await;
    let want: Vec<String> = codes
        .iter()
        .filter(|c| !refused.contains(c))
        .cloned()
        .collect();
    assert_eq!(held(&repository), want, "all the others, in order");
    assert_eq!(status["uplink"]["epcis"]["set_aside_total"], 2);
    assert!(
        status["uplink"]["epcis"]["failures"]["job_failed"]
            .as_u64()
            .unwrap()
            >= 1
    );
    let (code, out, err) = tracegate(&[
        "events",
        "set-aside",
        "--config",
        daemon_config(&dir).as_str(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("the EPCIS repository refused it: Event refused"),
        "{out}"
    );
    no_violations(&repository);
}

fn daemon_config(dir: &tempfile::TempDir) -> String {
    dir.path().join("tracegate.toml").display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_refused_at_receipt_is_split_and_the_refused_event_set_aside() {
    let repository = Repository::start().await;
    let codes = reads(200, 30);
    let refused = codes[9].clone();
    repository.faults(|f| f.reject_at_receipt = vec![refused[3..].to_string()]);
    let dir = tempfile::tempdir().unwrap();
    let mut pty = VirtualSerialPort::new().unwrap();
    let daemon = Daemon::start(&config(dir.path(), &repository.url(), "", pty.path()));
    daemon.wait_devices_up().await;
    scan(&mut pty, &codes).await;
    let status = drained(&daemon, 30).await;
    let want: Vec<String> = codes.iter().filter(|c| **c != refused).cloned().collect();
    assert_eq!(held(&repository), want);
    assert_eq!(status["uplink"]["epcis"]["set_aside_total"], 1);
    assert!(
        status["uplink"]["epcis"]["failures"]["rejected"]
            .as_u64()
            .unwrap()
            >= 1
    );
    daemon
        .wait_log(Duration::from_secs(5), "event SET ASIDE")
        .await;
    no_violations(&repository);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_read_as_refused_and_nothing_is_lost() {
    let repository = Repository::start().await;
    repository.faults(|f| f.credential = Some(("api-key".into(), "right".into())));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("key"), "wrong").unwrap();
    let mut pty = VirtualSerialPort::new().unwrap();
    let path = config(
        dir.path(),
        &repository.url(),
        "header = { name = \"API-KEY\", value_file = \"key\" }",
        pty.path(),
    );
    let mut daemon = Daemon::start(&path);
    daemon.wait_devices_up().await;
    let codes = reads(300, 20);
    scan(&mut pty, &codes).await;
    let status = daemon
        .wait_status(Duration::from_secs(20), "credentials refused", |s| {
            // Held, not lost: every read waits in the outbox.
            s["uplink"]["epcis"]["credentials_refused"].is_string()
                && s["queue"]["undelivered"] == 20
        })
        .await;
    assert_eq!(status["uplink"]["epcis"]["connected"], false);
    daemon
        .wait_log(Duration::from_secs(5), "REFUSED this gateway's credential")
        .await;
    assert!(
        !daemon.log().contains("cannot deliver"),
        "a refusal is not an outage"
    );
    // The operator fixes the key; a restart reads it: everything goes.
    daemon.terminate();
    std::fs::write(dir.path().join("key"), "right").unwrap();
    let daemon = Daemon::start(&path);
    wait_held(&repository, &daemon, 20, Duration::from_secs(30)).await;
    assert_eq!(held(&repository), codes);
    no_violations(&repository);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_413_makes_documents_smaller_and_a_415_switches_the_content_type() {
    let repository = Repository::start().await;
    repository.faults(|f| {
        f.hidden_event_limit = Some(7);
        f.content_types = Some(vec!["application/ld+json".into()]);
    });
    let dir = tempfile::tempdir().unwrap();
    let mut pty = VirtualSerialPort::new().unwrap();
    let daemon = Daemon::start(&config(dir.path(), &repository.url(), "", pty.path()));
    daemon.wait_devices_up().await;
    let codes = reads(400, 50);
    scan(&mut pty, &codes).await;
    let status = drained(&daemon, 50).await;
    assert_eq!(held(&repository), codes);
    let epcis = &status["uplink"]["epcis"];
    assert!(
        epcis["failures"]["too_large"].as_u64().unwrap() >= 1,
        "{epcis}"
    );
    assert!(
        epcis["failures"]["unsupported_type"].as_u64().unwrap() >= 1,
        "{epcis}"
    );
    assert!(epcis["limits"]["events"].as_u64().unwrap() <= 7, "{epcis}");
    assert_eq!(epcis["limits"]["content_type"], "application/ld+json");
    no_violations(&repository);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_and_an_answer_lost_after_capture_are_retried_with_the_same_event_ids() {
    for duplicates in [Duplicates::Ignore, Duplicates::Refuse] {
        let repository = Repository::start().await;
        repository.faults(|f| {
            f.server_errors = 3;
            f.close_after_capture = 1;
            f.duplicates = duplicates;
        });
        let dir = tempfile::tempdir().unwrap();
        let mut pty = VirtualSerialPort::new().unwrap();
        let daemon = Daemon::start(&config(dir.path(), &repository.url(), "", pty.path()));
        daemon.wait_devices_up().await;
        let codes = reads(500, 40);
        scan(&mut pty, &codes).await;
        let status = drained(&daemon, 40).await;
        assert_eq!(
            held(&repository),
            codes,
            "{duplicates:?}: each once, in order"
        );
        let epcis = &status["uplink"]["epcis"];
        assert!(
            epcis["failures"]["server_error"].as_u64().unwrap() >= 3,
            "{epcis}"
        );
        assert!(
            epcis["failures"]["unreachable"].as_u64().unwrap() >= 1,
            "{epcis}"
        );
        assert_eq!(
            epcis["set_aside_total"], 0,
            "{duplicates:?}: nothing set aside"
        );
        // The batch whose answer was lost went again, with the same eventIDs.
        assert!(repository.with(|s| s.events_posted) > 40);
        if duplicates == Duplicates::Refuse {
            assert!(
                epcis["already_captured_total"].as_u64().unwrap() >= 1,
                "{epcis}"
            );
        }
        no_violations(&repository);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repository_that_forgets_its_jobs_gets_the_events_again_at_the_retry_pace() {
    let repository = Repository::start().await;
    repository.faults(|f| f.forget_jobs = true);
    let dir = tempfile::tempdir().unwrap();
    let mut pty = VirtualSerialPort::new().unwrap();
    let daemon = Daemon::start(&config(dir.path(), &repository.url(), "", pty.path()));
    daemon.wait_devices_up().await;
    let codes = reads(800, 5);
    scan(&mut pty, &codes).await;
    // Every job answers 404. Six POSTs: with retry_min_ms = 50 doubling (jitter only adds),
    // at least 50 + 100 + 200 + 400 + 800 ms apart in all; re-posting at once after each
    // 404 would take a few milliseconds.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while repository.with(|s| s.posted_at.len()) < 6 {
        assert!(std::time::Instant::now() < deadline, "{}", daemon.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (first, sixth) = repository.with(|s| (s.posted_at[0], s.posted_at[5]));
    assert!(
        sixth - first >= Duration::from_millis(1_500),
        "six POSTs within {:?}: the uplink re-posted without waiting",
        sixth - first
    );
    daemon
        .wait_status(Duration::from_secs(10), "lost jobs counted", |s| {
            s["uplink"]["epcis"]["failures"]["job_lost"]
                .as_u64()
                .unwrap_or(0)
                >= 5
        })
        .await;
    let status = daemon.status().await.unwrap();
    assert_eq!(
        status["queue"]["undelivered"], 5,
        "nothing taken for delivered"
    );
    // The repository keeps its jobs again: each event once, in order.
    repository.faults(|f| f.forget_jobs = false);
    drained(&daemon, 5).await;
    assert_eq!(held(&repository), codes);
    no_violations(&repository);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repository_slower_than_the_request_timeout_gets_the_same_events_again() {
    let repository = Repository::start().await;
    // The first POST is answered after 2.5 s, past the gateway's 1 s timeout; the
    // repository captures it all the same.
    repository.faults(|f| f.stall = Some((1, Duration::from_millis(2500))));
    let dir = tempfile::tempdir().unwrap();
    let mut pty = VirtualSerialPort::new().unwrap();
    let path = config(
        dir.path(),
        &repository.url(),
        "request_timeout_s = 1",
        pty.path(),
    );
    let daemon = Daemon::start(&path);
    daemon.wait_devices_up().await;
    let codes = reads(550, 30);
    scan(&mut pty, &codes).await;
    let status = drained(&daemon, 30).await;
    assert_eq!(held(&repository), codes, "each once, in order");
    let epcis = &status["uplink"]["epcis"];
    assert!(
        epcis["failures"]["unreachable"]
            .as_u64()
            .is_some_and(|n| n >= 1),
        "{epcis}; requests {:?}",
        repository.with(|s| s.requests.clone())
    );
    assert!(repository.with(|s| s.events_posted) > repository.with(|s| s.captured_total));
    daemon.wait_log(Duration::from_secs(5), "timed out").await;
    no_violations(&repository);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_403_reads_as_a_refused_credential_too() {
    let repository = Repository::start().await;
    repository.faults(|f| f.forbid = true);
    let dir = tempfile::tempdir().unwrap();
    let mut pty = VirtualSerialPort::new().unwrap();
    let daemon = Daemon::start(&config(dir.path(), &repository.url(), "", pty.path()));
    daemon.wait_devices_up().await;
    scan(&mut pty, &reads(560, 5)).await;
    let status = daemon
        .wait_status(Duration::from_secs(20), "refused", |s| {
            s["uplink"]["epcis"]["credentials_refused"]
                .as_str()
                .is_some_and(|r| r.contains("HTTP 403"))
                && s["queue"]["undelivered"] == 5
        })
        .await;
    assert!(
        status["uplink"]["epcis"]["failures"]["credentials_refused"]
            .as_u64()
            .is_some_and(|n| n >= 1)
    );
    // Lifted: everything goes (after the slow retry, at least 5 s).
    repository.faults(|f| f.forbid = false);
    wait_held(&repository, &daemon, 5, Duration::from_secs(30)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_while_a_job_runs_asks_for_that_job_instead_of_posting_again() {
    let repository = Repository::start().await;
    // The job stays running until the daemon is killed.
    repository.faults(|f| f.running_polls = usize::MAX);
    let dir = tempfile::tempdir().unwrap();
    let mut pty = VirtualSerialPort::new().unwrap();
    let path = config(dir.path(), &repository.url(), "", pty.path());
    let mut daemon = Daemon::start(&path);
    daemon.wait_devices_up().await;
    let codes = reads(600, 25);
    scan(&mut pty, &codes).await;
    daemon
        .wait_status(Duration::from_secs(20), "a job running", |s| {
            s["uplink"]["epcis"]["jobs_running"] == 1 && s["queue"]["undelivered"] == 25
        })
        .await;
    // The job is kept in the outbox (committed with the writer's next group).
    let db = rusqlite::Connection::open(dir.path().join("outbox.db")).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let kept: Option<String> = db
            .query_row(
                "SELECT value FROM settings WHERE name = 'epcis.job'",
                [],
                |r| r.get(0),
            )
            .ok();
        if let Some(kept) = kept {
            assert!(kept.contains("/capture/job1"), "{kept}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the job was never kept"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(db);
    daemon.kill();
    // The repository finishes the job while the gateway is down.
    {
        let mut state = repository.state.lock().unwrap();
        for job in state.jobs.values_mut() {
            job.running_polls = 0;
        }
        state.faults.running_polls = 0;
    }
    let daemon = Daemon::start(&path);
    daemon
        .wait_log(Duration::from_secs(20), "asking for the capture job")
        .await;
    wait_held(&repository, &daemon, 25, Duration::from_secs(30)).await;
    assert_eq!(held(&repository), codes);
    // The job's events were not posted again: each event was posted once.
    assert_eq!(
        repository.with(|s| s.events_posted),
        25,
        "no second POST of the same events"
    );
    let status = daemon
        .wait_status(Duration::from_secs(20), "drained", |s| {
            s["queue"]["undelivered"] == 0
        })
        .await;
    // This daemon's count: the kept job's events and the rest.
    assert_eq!(status["uplink"]["epcis"]["events_captured_total"], 25);
    no_violations(&repository);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repository_away_for_a_while_leaves_the_outbox_holding_and_status_saying_how_long() {
    let mut repository = Repository::start().await;
    let port = repository.port;
    let state = repository.state.clone();
    repository.stop();
    let dir = tempfile::tempdir().unwrap();
    let mut pty = VirtualSerialPort::new().unwrap();
    let daemon = Daemon::start(&config(
        dir.path(),
        &format!("http://127.0.0.1:{port}/"),
        "",
        pty.path(),
    ));
    daemon.wait_devices_up().await;
    let codes = reads(700, 30);
    scan(&mut pty, &codes).await;
    let status = daemon
        .wait_status(Duration::from_secs(20), "offline for a while", |s| {
            s["uplink"]["epcis"]["offline_s"]
                .as_u64()
                .is_some_and(|s| s >= 2)
                && s["queue"]["undelivered"] == 30
        })
        .await;
    assert!(status["uplink"]["epcis"]["offline_since"].is_string());
    assert!(
        status["uplink"]["epcis"]["failures"]["unreachable"]
            .as_u64()
            .unwrap()
            >= 1
    );
    let repository = Repository::start_on(port, state).await;
    wait_held(&repository, &daemon, 30, Duration::from_secs(30)).await;
    assert_eq!(held(&repository), codes);
    drained(&daemon, 30).await;
    no_violations(&repository);
}

#[test]
fn check_config_names_a_wrong_url_a_missing_secret_and_a_secret_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let pty = std::path::Path::new("/dev/null");
    let cases = [
        ("epcis.example.com", "", "not a URL"),
        ("https://epcis.example.com/", "", "[epcis.tls] is not set"),
        (
            "http://127.0.0.1:1/",
            "username = \"u\"\npassword_file = \"missing.secret\"",
            "epcis.password_file: cannot read",
        ),
        (
            "http://127.0.0.1:1/",
            "password = \"hunter2\"",
            "a secret is not written in the config file",
        ),
        (
            "http://127.0.0.1:1/",
            "token_file = \"t\"\nheader = { name = \"K\", value_file = \"v\" }",
            "give one way to authenticate",
        ),
    ];
    for (url, extra, says) in cases {
        let path = config(dir.path(), url, extra, pty);
        let (code, out, err) = tracegate(&["check-config", path.to_str().unwrap()]);
        assert_ne!(code, 0, "{url} {extra}: accepted: {out}");
        assert!(err.contains(says), "{url} {extra}: {err}");
    }
}

#[test]
fn the_shipped_epcis_example_config_is_valid() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/epcis.toml");
    let (code, out, err) = tracegate(&["check-config", path]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("events to the EPCIS repository http://127.0.0.1:8090/capture"),
        "{out}"
    );
}

/// Writes `{name}.pem` (and `{name}.key`): a CA when `issuer` is `None`, else a leaf for
/// `sans` signed by it.
fn pki(
    dir: &std::path::Path,
    name: &str,
    sans: &[&str],
    issuer: Option<&rcgen::CertifiedIssuer<'static, rcgen::KeyPair>>,
) -> Option<rcgen::CertifiedIssuer<'static, rcgen::KeyPair>> {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut params =
        CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    match issuer {
        None => {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
            std::fs::write(dir.join(format!("{name}.pem")), ca.pem()).unwrap();
            Some(ca)
        }
        Some(ca) => {
            let key = KeyPair::generate().unwrap();
            let cert = params.signed_by(&key, ca).unwrap();
            std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
            std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_the_repositorys_ca_is_pinned_and_a_client_certificate_presented() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = pki(d, "ca", &[], None).unwrap();
    pki(d, "other-ca", &[], None);
    pki(d, "repository", &["localhost", "127.0.0.1"], Some(&ca));
    pki(d, "client", &["gw-epcis"], Some(&ca));
    let repository = Repository::start_tls(
        Default::default(),
        &d.join("repository.pem"),
        &d.join("repository.key"),
        Some(&d.join("ca.pem")),
    )
    .await;
    assert!(repository.url().starts_with("https://"));
    let mut pty = VirtualSerialPort::new().unwrap();
    let tls = |ca: &str| {
        format!("\n[epcis.tls]\nca = \"{ca}.pem\"\ncert = \"client.pem\"\nkey = \"client.key\"\n")
    };
    // [epcis.tls] is a sub-table: it goes after the [epcis] keys, before [clock].
    let path = config(d, &repository.url(), &tls("ca"), pty.path());
    let daemon = Daemon::start(&path);
    daemon.wait_devices_up().await;
    let codes = reads(800, 20);
    scan(&mut pty, &codes).await;
    wait_held(&repository, &daemon, 20, Duration::from_secs(30)).await;
    assert_eq!(held(&repository), codes);
    drop(daemon);

    // A repository whose certificate another CA signed is not trusted: nothing goes, and
    // status says why.
    let mut pty = VirtualSerialPort::new().unwrap();
    let other = tempfile::tempdir().unwrap();
    for file in ["other-ca.pem", "client.pem", "client.key"] {
        std::fs::copy(d.join(file), other.path().join(file)).unwrap();
    }
    let path = config(
        other.path(),
        &repository.url(),
        &tls("other-ca"),
        pty.path(),
    );
    let daemon = Daemon::start(&path);
    daemon.wait_devices_up().await;
    scan(&mut pty, &reads(900, 3)).await;
    let status = daemon
        .wait_status(Duration::from_secs(20), "certificate refused", |s| {
            s["uplink"]["epcis"]["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("certificate"))
                && s["queue"]["undelivered"] == 3
        })
        .await;
    assert_eq!(status["uplink"]["epcis"]["connected"], false);
    assert_eq!(repository.with(|s| s.events.len()), 20);
}

/// With `[epcis]` and `[mqtt]` both, events go one way only: to the repository. The broker
/// carries the retained status (which reports the repository's figures) and no event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_broker_too_events_go_only_to_the_repository_and_status_through_the_broker() {
    let repository = Repository::start().await;
    let broker = crate::support::Broker::start();
    let mut sub = crate::support::Subscriber::connect(
        broker.port,
        &["tracegate/gw-epcis/events", "tracegate/gw-epcis/status"],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut pty = VirtualSerialPort::new().unwrap();
    let mqtt = format!(
        "\n[mqtt]\nhost = \"127.0.0.1\"\nport = {}\nkeep_alive_s = 5\nreconnect_min_ms = 100\nreconnect_max_s = 1\nstatus_interval_s = 1\n",
        broker.port
    );
    let path = config(dir.path(), &repository.url(), &mqtt, pty.path());
    let (code, out, err) = tracegate(&["check-config", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("status and commands through broker"), "{out}");
    let daemon = Daemon::start(&path);
    daemon.wait_devices_up().await;
    let codes = reads(950, 20);
    scan(&mut pty, &codes).await;
    wait_held(&repository, &daemon, 20, Duration::from_secs(30)).await;
    assert_eq!(held(&repository), codes);
    // A status published after the repository captured all 20: anything the gateway had
    // published as events would have reached the subscriber before it.
    let mut got = crate::support::Received::default();
    got.collect_until(&mut sub, Duration::from_secs(20), |r| {
        r.statuses
            .last()
            .is_some_and(|s| s["uplink"]["epcis"]["events_captured_total"] == 20)
    })
    .await;
    assert_eq!(got.documents, 0, "no event went through the broker");
    let status = got.statuses.last().unwrap();
    assert_eq!(status["uplink"]["kind"], "epcis");
    assert_eq!(status["broker"]["connected"], true);
    no_violations(&repository);
}
