//! The systemd unit in `installer/` is one systemd accepts, and every
//! setting it passes through the environment is one `sentra-sync relay`
//! reads.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

const UNIT: &str = "../installer/sentra-relay.service";

#[test]
fn the_relay_unit_names_only_settings_the_relay_reads() {
    let unit = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(UNIT)).unwrap();
    let help = Command::new(env!("CARGO_BIN_EXE_sentra-sync"))
        .args(["relay", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    let mut seen = 0;
    for line in unit.lines().filter(|l| l.starts_with("Environment=")) {
        let name = line["Environment=".len()..].split('=').next().unwrap();
        assert!(
            help.contains(&format!("env: {name}=")),
            "{name} is not read by `sentra-sync relay`:\n{help}"
        );
        seen += 1;
    }
    assert!(seen >= 5, "the unit sets {seen} variables");
    assert!(unit.contains("LoadCredentialEncrypted=sentra-relay-db-key"));
    assert!(unit.contains("SENTRA_KEY_FILE=%d/sentra-relay-db-key"));
}

#[test]
fn systemd_accepts_the_relay_unit() {
    let Ok(out) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("systemd-analyze is not installed; the unit was not verified");
        return;
    };
    assert!(out.status.success());
    let dir = tempfile::tempdir().unwrap();
    let unit = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(UNIT)).unwrap();
    // Point ExecStart at the binary just built, so verify can check it.
    let unit = unit.replace(
        "/usr/local/bin/sentra-sync",
        env!("CARGO_BIN_EXE_sentra-sync"),
    );
    let path = dir.path().join("sentra-relay.service");
    std::fs::write(&path, unit).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // verify succeeds on unknown keys too, with a warning: any output is a
    // problem.
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify:\n{stderr}"
    );
}
