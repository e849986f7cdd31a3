//! `sentra-term` with its database key in the real OS keyrings: the Secret
//! Service (GNOME keyring on a private D-Bus session) and the Linux kernel
//! session keyring. Each test runs a short script of real commands inside
//! the session those stores need.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn require_tool(tool: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "`{tool}` not found: install the apt package {package} (scripts/install-deps.sh test)"
    );
}

/// Run `script` under `wrapper` with an isolated HOME and no inherited bus.
fn run(wrapper: &[&str], script: &str, home: &Path, data_dir: &Path) -> Output {
    for dir in ["config", "data", "run"] {
        std::fs::create_dir_all(home.join(dir)).unwrap();
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(home.join("run"), std::fs::Permissions::from_mode(0o700)).unwrap();
    let mut cmd = Command::new(wrapper[0]);
    cmd.args(&wrapper[1..])
        .args(["sh", "-c", script, "sh"])
        .env("T", common::bin())
        .env("CATALOG", common::CATALOG)
        .env("SENTRA_DATA_DIR", data_dir)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_RUNTIME_DIR", home.join("run"))
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("GNOME_KEYRING_CONTROL")
        .env_remove("SENTRA_KEY_STORE")
        .env_remove("SENTRA_KEY_FILE");
    cmd.output().unwrap()
}

fn describe(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn secret_service_holds_the_key_and_a_missing_entry_is_reported() {
    require_tool("dbus-run-session", "dbus");
    require_tool("gnome-keyring-daemon", "gnome-keyring");
    require_tool("secret-tool", "libsecret-tools");
    let home = tempfile::tempdir().unwrap();
    let data_dir = home.path().join("till");
    // Default key store (no --key-store): with a Secret Service answering,
    // init must choose it and print no fallback warning.
    let script = r#"
set -e
echo -n sentra-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null
"$T" init --branch JKT01 --device T05 2>init.err
cat init.err >&2
"$T" catalog import "$CATALOG" >/dev/null
"$T" shift open --float 100000 >/dev/null
"$T" sell --item AQUA600x2 --pay cash:10000 >/dev/null
"$T" journal verify
echo "MANIFEST $(grep -o '"kind": *"[a-z_]*"' "$SENTRA_DATA_DIR/sentra-terminal.json")"
account=$(grep -o '"account": *"[^"]*"' "$SENTRA_DATA_DIR/sentra-terminal.json" | sed 's/.*: *"//; s/"$//')
test "$(secret-tool lookup service sentra-pos username "$account" | wc -c)" -eq 64
echo KEY-IN-KEYRING
secret-tool clear service sentra-pos username "$account"
set +e
"$T" journal verify
echo "VERIFY-AFTER-CLEAR $?"
"#;
    let cwd_script = format!("cd '{}' && {script}", home.path().display());
    let out = run(
        &["dbus-run-session", "--"],
        &cwd_script,
        home.path(),
        &data_dir,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        !stderr.contains("WARNING"),
        "no fallback warning expected: {}",
        describe(&out)
    );
    assert!(
        stdout.contains("journal OK: 2 entries"),
        "{}",
        describe(&out)
    );
    assert!(
        stdout.contains("MANIFEST \"kind\": \"os\""),
        "{}",
        describe(&out)
    );
    assert!(stdout.contains("KEY-IN-KEYRING"), "{}", describe(&out));
    assert!(
        stdout.contains("VERIFY-AFTER-CLEAR 1"),
        "{}",
        describe(&out)
    );
    assert!(
        stderr.contains("error: the database key could not be loaded")
            && stderr.contains("left untouched"),
        "{}",
        describe(&out)
    );
    assert!(!stderr.contains("panicked"), "{}", describe(&out));
    // The database itself is still there, intact, for when the key is restored.
    assert!(data_dir.join("journal.db").metadata().unwrap().len() >= 4096);
}

#[test]
fn kernel_session_keyring_holds_the_key() {
    require_tool("keyctl", "keyutils");
    let home = tempfile::tempdir().unwrap();
    let data_dir = home.path().join("till");
    let script = r#"
set -e
"$T" init --branch JKT01 --device T06 --key-store keyutils
"$T" catalog import "$CATALOG" >/dev/null
"$T" shift open --float 100000 >/dev/null
"$T" sell --item IND-GRGx3 --pay cash:20000 >/dev/null
"$T" sell --item TEH-BTL --pay qris:6000:QR-1 >/dev/null
"$T" journal verify
"$T" --json report x
"#;
    let out = run(&["keyctl", "session", "-"], script, home.path(), &data_dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        stdout.contains("journal OK: 3 entries"),
        "{}",
        describe(&out)
    );
    assert!(stdout.contains("\"sales_count\": 2"), "{}", describe(&out));
    // Nothing about the key is in the data dir but the manifest's pointer.
    let manifest = std::fs::read_to_string(data_dir.join("sentra-terminal.json")).unwrap();
    assert!(manifest.contains("\"keyutils\""), "{manifest}");
}

#[test]
fn without_a_keyring_init_falls_back_to_a_key_file_and_says_so_loudly() {
    let home = tempfile::tempdir().unwrap();
    let data_dir = home.path().join("till");
    // No session bus at all: a headless box.
    let script = r#"
"$T" init --branch JKT01 --device T07 || exit 1
"$T" catalog import "$CATALOG" >/dev/null
"$T" shift open --float 1000 >/dev/null
"$T" journal verify
"#;
    let out = run(&["env"], script, home.path(), &data_dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(stderr.contains("WARNING"), "{}", describe(&out));
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(data_dir.join("sentra-terminal.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["key"]["kind"], "file");
    let key_file = std::path::PathBuf::from(manifest["key"]["file"].as_str().unwrap());
    // Outside the data dir, where the warning says it is, readable only by us.
    assert!(!key_file.starts_with(&data_dir), "{}", key_file.display());
    assert!(
        stderr.contains(&*key_file.to_string_lossy()),
        "{}",
        describe(&out)
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = key_file.metadata().unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}
