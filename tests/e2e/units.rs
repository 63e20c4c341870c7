//! The files that put tracegate on a gateway, checked with the tools that will read them:
//! the unit with `systemd-analyze verify` (and its security review), sysusers.d and
//! tmpfiles.d applied for real to a scratch root, and the udev rules parsed by udev's syntax.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn tool(name: &str) -> PathBuf {
    ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not installed (package systemd): run ./scripts/test, which installs it"
            )
        })
}

#[test]
fn the_service_unit_passes_systemd_analyze_verify() {
    let unit = std::fs::read_to_string(repo("systemd/tracegate.service")).unwrap();
    for required in [
        "Type=notify",
        "WatchdogSec=",
        "Restart=on-failure",
        "StateDirectory=tracegate",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=\n",
        "DevicePolicy=closed",
        "LoadCredential=mqtt-password:",
    ] {
        assert!(
            unit.contains(required),
            "tracegate.service lacks {required:?}"
        );
    }
    // verify checks that ExecStart's binary exists: point it at the one just built.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tracegate.service");
    std::fs::write(
        &path,
        unit.replace("/usr/bin/tracegate", env!("CARGO_BIN_EXE_tracegate")),
    )
    .unwrap();
    let out = Command::new(tool("systemd-analyze"))
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // verify exits 0 on unknown keys and bad values ("… ignoring"): any output is a finding.
    assert!(out.status.success() && said.trim().is_empty(), "{said}");

    // The exposure score systemd computes from the sandboxing (0 best, 10 worst).
    let out = Command::new(tool("systemd-analyze"))
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&path)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    let score: f64 = report
        .lines()
        .find_map(|l| l.split("exposure level for tracegate.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{report}"));
    // 1.4 with the sandbox as shipped; what is left is what the daemon is for (devices,
    // sockets to the broker, the dialout group's ports) and ProcSubset= (the boot id lives in
    // /proc/sys). A change that loosens the sandbox fails here.
    assert!(score <= 1.4, "exposure {score}:\n{report}");
}

#[test]
fn sysusers_and_tmpfiles_create_the_user_directories_and_credential_files() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("etc")).unwrap();
    let status = Command::new(tool("systemd-sysusers"))
        .arg(format!("--root={}", root.path().display()))
        .arg(repo("systemd/tracegate.sysusers"))
        .status()
        .unwrap();
    assert!(status.success());
    let passwd = std::fs::read_to_string(root.path().join("etc/passwd")).unwrap();
    let user = passwd
        .lines()
        .find(|l| l.starts_with("tracegate:"))
        .expect("user tracegate");
    let uid: u32 = user.split(':').nth(2).unwrap().parse().unwrap();
    assert!(
        user.ends_with(":/var/lib/tracegate:/usr/sbin/nologin"),
        "{user}"
    );
    // A member of dialout, for RS-232 ports and on-board UARTs.
    let group = std::fs::read_to_string(root.path().join("etc/group")).unwrap();
    let dialout = group
        .lines()
        .find(|l| l.starts_with("dialout:"))
        .expect("group dialout");
    assert!(dialout.ends_with(":tracegate"), "{dialout}");

    // As the package's postinst and every boot run it.
    let create = || {
        let status = Command::new(tool("systemd-tmpfiles"))
            .arg("--create")
            .arg(format!("--root={}", root.path().display()))
            .arg(repo("systemd/tracegate.tmpfile"))
            .status()
            .unwrap();
        assert!(status.success());
    };
    create();
    let check = |path: &str, mode: u32, owner: u32| {
        let meta = std::fs::metadata(root.path().join(path)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, mode, "{path}");
        assert_eq!(meta.uid(), owner, "{path}");
    };
    check("var/lib/tracegate", 0o750, uid);
    check("etc/tracegate/credentials", 0o700, 0);
    check("etc/tracegate/credentials/mqtt-password", 0o600, 0);
    check("etc/tracegate/credentials/mqtt-client.key", 0o600, 0);

    // A password already written is never truncated by a later run (upgrade, reboot).
    std::fs::write(
        root.path().join("etc/tracegate/credentials/mqtt-password"),
        "s3cret\n",
    )
    .unwrap();
    create();
    assert_eq!(
        std::fs::read_to_string(root.path().join("etc/tracegate/credentials/mqtt-password"))
            .unwrap(),
        "s3cret\n"
    );
}

/// One `KEY{attr}OP"value"` term of a udev rule.
fn udev_term(term: &str) -> Result<(String, String, String), String> {
    let ops = ["==", "!=", "+=", "-=", ":=", "="];
    let (at, op) = ops
        .iter()
        .filter_map(|op| term.find(op).map(|i| (i, *op)))
        .min_by_key(|(i, op)| (*i, std::cmp::Reverse(op.len())))
        .ok_or_else(|| format!("no operator in {term:?}"))?;
    let key = term[..at].trim().to_string();
    let value = term[at + op.len()..].trim();
    if !(value.len() >= 2 && value.starts_with('"') && value.ends_with('"')) {
        return Err(format!("value of {key} is not quoted: {term:?}"));
    }
    Ok((key, op.to_string(), value[1..value.len() - 1].to_string()))
}

#[test]
fn udev_rules_are_well_formed() {
    // udev(7): keys that match and keys that assign.
    const MATCH: [&str; 8] = [
        "SUBSYSTEM",
        "KERNEL",
        "ATTRS",
        "ENV",
        "ACTION",
        "DRIVERS",
        "SUBSYSTEMS",
        "ATTR",
    ];
    const ASSIGN: [&str; 4] = ["GROUP", "MODE", "SYMLINK", "OWNER"];
    let text = std::fs::read_to_string(repo("systemd/60-tracegate.rules")).unwrap();
    let mut rules = 0;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        rules += 1;
        let mut assigns = 0;
        for term in line.split("\", ").map(|t| {
            if t.ends_with('"') {
                t.to_string()
            } else {
                format!("{t}\"")
            }
        }) {
            let (key, op, value) =
                udev_term(&term).unwrap_or_else(|e| panic!("line {}: {e}", n + 1));
            let name = key.split('{').next().unwrap();
            if MATCH.contains(&name) {
                assert!(op == "==" || op == "!=", "line {}: {key}{op}", n + 1);
            } else if ASSIGN.contains(&name) {
                assert!(op == "=" || op == "+=", "line {}: {key}{op}", n + 1);
                assigns += 1;
            } else {
                panic!("line {}: unknown udev key {key}", n + 1);
            }
            if name == "GROUP" {
                assert_eq!(value, "tracegate", "line {}", n + 1);
            }
            if name == "MODE" {
                assert_eq!(value, "0660", "line {}", n + 1);
            }
        }
        assert!(assigns > 0, "line {}: a rule that assigns nothing", n + 1);
    }
    assert!(rules >= 5, "{rules} rules");
}
