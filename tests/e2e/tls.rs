//! MQTT over TLS with rustls: the broker's CA pinned, a client certificate presented, events
//! delivered; a broker certificate from another CA is refused and the reason is in status.

use std::path::Path;
use std::time::Duration;

use crate::support::{
    Broker, Daemon, Received, Subscriber, TestConfig, codes, free_port, scan_in_background,
    serial_scanner,
};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use tracegate_drivers::sim::VirtualSerialPort;

/// Writes `{name}.pem` and `{name}.key` for a leaf certificate signed by `ca`.
fn leaf(dir: &Path, name: &str, sans: &[&str], ca: &CertifiedIssuer<'_, KeyPair>) {
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    let cert = params.signed_by(&key, ca).unwrap();
    std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
    std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
}

fn ca(dir: &Path, name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    std::fs::write(dir.join(format!("{name}.pem")), ca.pem()).unwrap();
    ca
}

struct Setup {
    _pki: tempfile::TempDir,
    broker: Broker,
    tls_port: u16,
    pki_dir: std::path::PathBuf,
}

fn broker_with_tls() -> Setup {
    let pki = tempfile::tempdir().unwrap();
    let dir = pki.path();
    let ca_cert = ca(dir, "ca");
    ca(dir, "other-ca");
    leaf(dir, "server", &["localhost", "127.0.0.1"], &ca_cert);
    leaf(dir, "client", &["gw-test"], &ca_cert);
    let tls_port = free_port();
    let broker = Broker::start_with(&format!(
        "listener {tls_port} 127.0.0.1\ncafile {d}/ca.pem\ncertfile {d}/server.pem\nkeyfile {d}/server.key\nrequire_certificate true\n",
        d = dir.display()
    ));
    Setup {
        pki_dir: dir.to_path_buf(),
        _pki: pki,
        broker,
        tls_port,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_go_over_tls_with_a_client_certificate() {
    let s = broker_with_tls();
    let pty = VirtualSerialPort::new().unwrap();
    let d = s.pki_dir.display();
    let config = TestConfig::new(
        s.tls_port,
        "",
        &format!(
            "[mqtt.tls]\nca = \"{d}/ca.pem\"\ncert = \"{d}/client.pem\"\nkey = \"{d}/client.key\"\n\n{}",
            serial_scanner("scanner-1", pty.path())
        ),
    );
    let mut sub = Subscriber::connect(s.broker.port, &["tracegate/gw-test/events"]).await;
    let daemon = Daemon::start(&config.path);
    daemon.wait_devices_up().await;
    let sent = codes("TLS", 100);
    let (scanner, _stop) = scan_in_background(pty, sent.clone(), 0.0);
    let _pty = scanner.await.unwrap();
    let mut got = Received::default();
    got.collect_until(&mut sub, Duration::from_secs(30), |r| {
        r.distinct_reads() >= sent.len()
    })
    .await;
    assert_eq!(got.first_arrivals(), sent);
    assert_eq!(daemon.status().await.unwrap()["broker"]["connected"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_certificate_from_another_ca_is_refused() {
    let s = broker_with_tls();
    let d = s.pki_dir.display();
    let config = TestConfig::new(
        s.tls_port,
        "",
        &format!(
            "[mqtt.tls]\nca = \"{d}/other-ca.pem\"\ncert = \"{d}/client.pem\"\nkey = \"{d}/client.key\"\n"
        ),
    );
    let daemon = Daemon::start(&config.path);
    let status = daemon
        .wait_status(Duration::from_secs(20), "TLS error reported", |s| {
            s["broker"]["last_error"].is_string()
        })
        .await;
    assert_eq!(status["broker"]["connected"], false);
    let error = status["broker"]["last_error"].as_str().unwrap();
    assert!(error.to_lowercase().contains("certificate"), "{error}");
    assert_eq!(
        daemon.status().await.unwrap()["broker"]["connects_total"],
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_commissioning_page_is_served_over_https_with_a_certificate() {
    let s = broker_with_tls();
    let d = s.pki_dir.display();
    let web = free_port();
    let config = TestConfig::new(
        s.broker.port,
        "",
        &format!(
            "[web]\nlisten = \"127.0.0.1:{web}\"\ncertificate = \"{d}/server.pem\"\nprivate_key = \"{d}/server.key\"\n"
        ),
    );
    let daemon = Daemon::start(&config.path);
    daemon
        .wait_log(
            Duration::from_secs(30),
            &format!("commissioning page on https://127.0.0.1:{web}/"),
        )
        .await;
    let curl = |args: &[&str]| {
        let out = std::process::Command::new(crate::support::require("curl"))
            .args(["-sS", "-i", "--max-time", "10"])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    let url = format!("https://127.0.0.1:{web}/api/session");
    let (ok, answer) = curl(&["--cacert", &format!("{d}/ca.pem"), &url]);
    assert!(ok && answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.contains("; Secure"),
        "the session cookie is Secure over HTTPS: {answer}"
    );
    // A client that trusts another CA refuses the page's certificate; plain HTTP gets nothing.
    let (ok, _) = curl(&["--cacert", &format!("{d}/other-ca.pem"), &url]);
    assert!(!ok, "a certificate from another CA is not trusted");
    let (_, answer) = curl(&[&format!("http://127.0.0.1:{web}/api/session")]);
    assert!(!answer.contains("200 OK"), "{answer}");
    // Still served to the trusting client after the failed handshakes.
    let (ok, _) = curl(&["--cacert", &format!("{d}/ca.pem"), &url]);
    assert!(ok);
}
