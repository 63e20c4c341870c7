//! Running a reference implementation tracegate did not write: a Python script of
//! `tests/interop/` in the venv `./scripts/test` makes (`target/interop-venv`).
#![allow(dead_code)] // each test binary uses a different part

use std::path::PathBuf;
use std::process::Command;

/// The venv's Python; the test fails saying how to install it when it is missing.
pub fn python() -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/interop-venv/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: run ./scripts/test, which installs the reference implementations",
        venv.display()
    );
    venv
}

/// Runs `tests/interop/{script}` with `args`; its standard output. `name` names the
/// implementation in the failure message.
pub fn run(name: &str, script: &str, args: &[&str]) -> String {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/interop")
        .join(script);
    let out = Command::new(python())
        .arg(script)
        .args(args)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
