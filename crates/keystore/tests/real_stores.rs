//! The real keyrings, not mocks: the Secret Service (GNOME Keyring inside a
//! private `dbus-run-session`), the Linux kernel session keyring (inside
//! `keyctl session -`), and the automatic fallback when there is no D-Bus.
//!
//! A session bus or session keyring must exist before a process starts, so each
//! `#[test]` here re-runs this test binary under the right wrapper with
//! `SENTRA_KEYSTORE_CHILD` set; the matching `child_*` test (ignored in normal
//! runs) then does the real work. Missing tools fail the test, naming the apt
//! package (`scripts/install-deps.sh` installs them).
#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sentra_keystore::{
    DbKey, KeyError, KeyLocation, KeyStoreKind, PROBE_TIMEOUT, SERVICE, choose, delete_key,
    load_key, store_key,
};

const CHILD_ENV: &str = "SENTRA_KEYSTORE_CHILD";

// ---------------------------------------------------------------- parents

#[test]
fn secret_service_real_keyring() {
    require_tool("dbus-run-session", "dbus (dbus-bin)");
    require_tool("gnome-keyring-daemon", "gnome-keyring");
    let home = isolated_home();
    // A private bus for this test only, and a throwaway login keyring in the
    // temporary HOME, unlocked with a known password.
    let script = r#"echo -n sentra-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null || exit 97
exec "$@""#;
    let mut cmd = Command::new("dbus-run-session");
    cmd.args(["--", "sh", "-c", script, "sh"]);
    run_child("secret_service", cmd, home.path(), &[]);
}

#[test]
fn keyutils_real_session_keyring() {
    require_tool("keyctl", "keyutils");
    let home = isolated_home();
    let mut cmd = Command::new("keyctl");
    cmd.args(["session", "-"]);
    run_child("keyutils", cmd, home.path(), &[]);
}

#[test]
fn auto_choice_without_dbus_falls_back_to_a_file_loudly() {
    let home = isolated_home();
    run_child("no_dbus", Command::new("env"), home.path(), &[]);
}

#[test]
fn probe_gives_up_quickly_on_a_bus_that_never_answers() {
    use std::os::unix::net::UnixListener;
    let home = isolated_home();
    let socket = home.path().join("silent-bus");
    let listener = UnixListener::bind(&socket).expect("bind a unix socket");
    // Accept connections and hold them open without ever saying a word.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let address = format!("unix:path={}", socket.display());
    run_child(
        "silent_bus",
        Command::new("env"),
        home.path(),
        &[("DBUS_SESSION_BUS_ADDRESS", address.as_str())],
    );
}

// ---------------------------------------------------------------- children

#[test]
#[ignore = "child: run by secret_service_real_keyring inside dbus-run-session"]
fn child_secret_service() {
    if !is_child("secret_service") {
        return;
    }
    let account = unique_account();
    let started = Instant::now();
    let choice = choose(None, None, &account).expect("auto choice");
    println!("probe + choose took {:?}", started.elapsed());
    assert_eq!(choice.location.kind, KeyStoreKind::Os, "{choice:?}");
    assert!(choice.warning.is_none(), "{choice:?}");
    let forced = choose(Some(KeyStoreKind::Os), None, &account).expect("Os requested");
    assert_eq!(forced.location, choice.location);

    let loc = choice.location;
    let started = Instant::now();
    exercise_store(&loc, &["Secret Service", &account]);
    println!(
        "secret service store/load/delete cycle took {:?}",
        started.elapsed()
    );

    // The entry is an ordinary Secret Service item holding the key as hex,
    // which is what an operator backs up (`secret-tool lookup ...`).
    if which("secret-tool").is_some() {
        let key = DbKey::generate().expect("key");
        store_key(&loc, &key).expect("store");
        let out = Command::new("secret-tool")
            .args(["lookup", "service", SERVICE, "username", &account])
            .output()
            .expect("secret-tool");
        assert!(out.status.success(), "secret-tool lookup failed: {out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            key.to_hex().as_str()
        );
        delete_key(&loc).expect("delete");
    } else {
        println!("note: secret-tool (libsecret-tools) not installed; lookup check skipped");
    }
}

#[test]
#[ignore = "child: run by keyutils_real_session_keyring inside `keyctl session -`"]
fn child_keyutils() {
    if !is_child("keyutils") {
        return;
    }
    let account = unique_account();
    let choice = choose(Some(KeyStoreKind::Keyutils), None, &account).expect("keyutils");
    assert_eq!(choice.location.kind, KeyStoreKind::Keyutils);
    let warning = choice.warning.clone().expect("keyutils must warn");
    assert!(warning.contains("VOLATILE"), "{warning}");

    let loc = choice.location;
    let key = DbKey::generate().expect("key");
    store_key(&loc, &key).expect("store");
    // It really is in the kernel's session keyring.
    let description = format!("keyring-rs:{account}@{SERVICE}");
    let out = Command::new("keyctl")
        .args(["search", "@s", "user", &description])
        .output()
        .expect("keyctl search");
    assert!(out.status.success(), "not in the session keyring: {out:?}");
    delete_key(&loc).expect("delete");
    wait_until_gone(&loc);

    let started = Instant::now();
    exercise_store(&loc, &["session keyring", "volatile", &account]);
    println!(
        "keyutils store/load/delete cycle took {:?}",
        started.elapsed()
    );
}

#[test]
#[ignore = "child: run by auto_choice_without_dbus_falls_back_to_a_file_loudly"]
fn child_no_dbus() {
    if !is_child("no_dbus") {
        return;
    }
    let config = PathBuf::from(std::env::var_os("XDG_CONFIG_HOME").expect("XDG_CONFIG_HOME"));
    let account = "db-key:0190abcd-ef01";
    let started = Instant::now();
    let choice = choose(None, None, account).expect("auto choice");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "no bus must be seen at once"
    );
    let expected = config.join("sentra-pos/keys/db-key_0190abcd-ef01.key");
    assert_eq!(choice.location.kind, KeyStoreKind::File);
    assert_eq!(choice.location.file.as_deref(), Some(expected.as_path()));
    let warning = choice.warning.expect("fallback must warn");
    println!("{warning}");
    for needle in [
        "NOT in an OS keyring",
        "D-Bus",
        expected.to_str().expect("utf-8 path"),
        "0600",
        "systemd credentials",
        "--key-file",
    ] {
        assert!(
            warning.contains(needle),
            "warning lacks {needle:?}:\n{warning}"
        );
    }
    // An explicit key file wins over the default, still with the warning.
    let explicit = config.join("elsewhere.key");
    let choice = choose(None, Some(explicit.clone()), account).expect("auto");
    assert_eq!(choice.location.file, Some(explicit));
    assert!(choice.warning.is_some());
    // File requested without a path: the same default, also warned about.
    let choice = choose(Some(KeyStoreKind::File), None, account).expect("file");
    assert_eq!(choice.location.file.as_deref(), Some(expected.as_path()));
    assert!(choice.warning.is_some());
    // Asking for the OS keyring where there is none is a clear error.
    let err = choose(Some(KeyStoreKind::Os), None, account).expect_err("no keyring");
    assert!(matches!(err, KeyError::Unavailable(_)), "{err:?}");
    assert!(err.to_string().contains("D-Bus"), "{err}");
    // So is loading from a recorded OS location in a session without a bus.
    let os = KeyLocation {
        kind: KeyStoreKind::Os,
        service: SERVICE.to_owned(),
        account: account.to_owned(),
        file: None,
    };
    let err = load_key(&os).expect_err("no bus");
    assert!(matches!(err, KeyError::Unavailable(_)), "{err:?}");
    assert!(err.to_string().contains("user session"), "{err}");

    // And the fallback file works end to end.
    let loc = choose(None, None, account).expect("auto").location;
    exercise_store(&loc, &[expected.to_str().expect("utf-8 path")]);
}

#[test]
#[ignore = "child: run by probe_gives_up_quickly_on_a_bus_that_never_answers"]
fn child_silent_bus() {
    if !is_child("silent_bus") {
        return;
    }
    let started = Instant::now();
    let choice = choose(None, None, "db-key:silent").expect("auto choice");
    let took = started.elapsed();
    println!("probe against a silent bus gave up after {took:?}");
    assert_eq!(choice.location.kind, KeyStoreKind::File);
    assert!(took < PROBE_TIMEOUT + Duration::from_secs(2), "{took:?}");
    let warning = choice.warning.expect("warning");
    assert!(warning.contains("within"), "{warning}");
}

// ---------------------------------------------------------------- shared

/// Missing, store, load, refuse overwrite, delete, missing again.
fn exercise_store(loc: &KeyLocation, missing_mentions: &[&str]) {
    let err = load_key(loc).expect_err("nothing stored yet");
    assert!(matches!(err, KeyError::Missing { .. }), "{err:?}");
    let msg = err.to_string();
    for needle in missing_mentions
        .iter()
        .copied()
        .chain(["database was left untouched", "backup"])
    {
        assert!(
            msg.contains(needle),
            "Missing message lacks {needle:?}: {msg}"
        );
    }

    let key = DbKey::generate().expect("key");
    store_key(loc, &key).expect("store");
    let loaded = load_key(loc).expect("load");
    assert_eq!(loaded.as_bytes(), key.as_bytes());
    assert_eq!(loaded.fingerprint(), key.fingerprint());

    let other = DbKey::generate().expect("key");
    let err = store_key(loc, &other).expect_err("must not overwrite");
    assert!(matches!(err, KeyError::AlreadyExists(_)), "{err:?}");
    assert_eq!(load_key(loc).expect("load").as_bytes(), key.as_bytes());

    delete_key(loc).expect("delete");
    wait_until_gone(loc);
    assert!(matches!(delete_key(loc), Err(KeyError::Missing { .. })));
}

/// keyutils caches lookups briefly after an invalidation (see the keyring
/// crate's docs), so allow a moment for a deleted key to disappear.
fn wait_until_gone(loc: &KeyLocation) {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match load_key(loc) {
            Err(KeyError::Missing { .. }) => return,
            other if Instant::now() > deadline => panic!("key still there: {other:?}"),
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

fn is_child(name: &str) -> bool {
    std::env::var(CHILD_ENV).is_ok_and(|v| v == name)
}

fn unique_account() -> String {
    let mut bytes = [0u8; 8];
    getrandom_fill(&mut bytes);
    format!("db-key:test-{}", hex_of(&bytes))
}

fn getrandom_fill(bytes: &mut [u8]) {
    // A fresh key is a handy random source that needs no extra dependency.
    let key = DbKey::generate().expect("random");
    let n = bytes.len();
    bytes.copy_from_slice(&key.as_bytes()[..n]);
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A temporary HOME with XDG dirs inside it, so tests never touch the real
/// user's keyrings or config.
fn isolated_home() -> tempfile::TempDir {
    let home = tempfile::tempdir().expect("tempdir");
    for dir in ["config", "data", "run"] {
        std::fs::create_dir(home.path().join(dir)).expect("mkdir");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            home.path().join("run"),
            std::fs::Permissions::from_mode(0o700),
        )
        .expect("chmod");
    }
    home
}

/// Runs `child_<name>` from this test binary under `wrapper`, in an isolated
/// environment with no inherited session bus, and requires that it passed.
fn run_child(name: &str, mut wrapper: Command, home: &Path, extra_env: &[(&str, &str)]) {
    let exe = std::env::current_exe().expect("current test binary");
    let test_name = format!("child_{name}");
    wrapper
        .arg(exe)
        .args([
            &test_name,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, name)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_RUNTIME_DIR", home.join("run"))
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("GNOME_KEYRING_CONTROL");
    for (key, value) in extra_env {
        wrapper.env(key, value);
    }
    let started = Instant::now();
    let out = wrapper.output().expect("start the child test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("--- child {name} ({:?}) ---\n{stdout}", started.elapsed());
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "child test {test_name} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
}

fn require_tool(tool: &str, apt_package: &str) {
    assert!(
        which(tool).is_some(),
        "`{tool}` not found: install the apt package {apt_package} \
         (scripts/install-deps.sh does it) — this test exercises the real keyring"
    );
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(tool))
            .find(|p| p.is_file())
    })
}
