//! The installers (issue 14), checked with the real tools: the cashier
//! app's and the relay's `.msi` read back with `msiinfo` and `msiextract`,
//! their exes with `file` and `objdump`, a signed build with `osslsigncode
//! verify`, and the relay's `.deb` with `dpkg-deb` — then installed,
//! upgraded over itself and removed on this machine with `dpkg`, its data
//! dir kept. Both `.msi` files are installed, upgraded and uninstalled
//! under Wine; the relay's runs its real `sentra-sync.exe` as a Windows
//! service there, between a real till and a real cloud.
//!
//! They read what `scripts/build-installers.sh` built into
//! `target-installers/`, so they are ignored by a plain `cargo test`; the
//! test command builds the installers and runs them:
//! `cargo test -p sentra-e2e --test installers -- --ignored`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use sentra_e2e::{Cloud, Till, catalog_csv, healthy};

const UPGRADE_CODE: &str = "{6C1E6F1B-3A57-4D39-9C52-2B0E7C9A4F10}";
const RELAY_UPGRADE_CODE: &str = "{2E8B4C61-7F0D-4A9E-B3C5-81D6F2A0E7B4}";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The workspace version: the only place it is written.
fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// The same version with its last number one higher: an upgrade.
fn next_version() -> Result<String> {
    let mut parts: Vec<u64> = version()
        .split('.')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .context("numeric version")?;
    let last = parts.last_mut().context("a version has numbers")?;
    *last += 1;
    Ok(parts
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join("."))
}

fn output(cmd: &mut Command) -> Result<Output> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out)
}

fn run(program: &str, args: &[&str]) -> Result<String> {
    let out = output(Command::new(program).args(args).current_dir(root()))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn built(name: &str) -> Result<PathBuf> {
    built_in("target-installers", name)
}

/// What `scripts/build-installers.sh --out DIR` built. Each test that builds
/// again uses a `DIR` of its own, so none rewrites what another reads.
fn built_in(dir: &str, name: &str) -> Result<PathBuf> {
    let p = root().join(dir).join(name);
    ensure!(
        p.exists(),
        "{} is missing: run scripts/build-installers.sh first (the test command does)",
        p.display()
    );
    Ok(p)
}

fn msi() -> Result<PathBuf> {
    built(&format!("SentraPOS-{}-x64.msi", version()))
}

fn relay_msi() -> Result<PathBuf> {
    built(&format!("SentraRelay-{}-x64.msi", version()))
}

/// A table of the `.msi` as rows of columns (after the three header lines).
fn table(msi: &Path, name: &str) -> Result<Vec<Vec<String>>> {
    let text = run("msiinfo", &["export", &msi.to_string_lossy(), name])?;
    Ok(text
        .lines()
        .skip(3)
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect())
}

fn property(msi: &Path, name: &str) -> Result<String> {
    table(msi, "Property")?
        .into_iter()
        .find(|r| r.first().map(String::as_str) == Some(name))
        .and_then(|r| r.get(1).cloned())
        .with_context(|| format!("property {name}"))
}

/// DLLs every Windows 10/11 has (the exe may import these) — anything else
/// must ship beside the exe.
const WINDOWS_DLLS: &[&str] = &[
    "advapi32.dll",
    "api-ms-win-core-synch-l1-2-0.dll",
    "api-ms-win-core-winrt-error-l1-1-0.dll",
    "bcrypt.dll",
    "bcryptprimitives.dll",
    "combase.dll",
    "comctl32.dll",
    "crypt32.dll",
    "dwmapi.dll",
    "gdi32.dll",
    "imm32.dll",
    "kernel32.dll",
    "msvcrt.dll",
    "ntdll.dll",
    "ole32.dll",
    "oleaut32.dll",
    "propsys.dll",
    "rpcrt4.dll",
    // The SSPI DLL, in every Windows: sqlx's PostgreSQL driver asks it for
    // the user name (whoami 2, since sqlx 0.9.1).
    "secur32.dll",
    "shell32.dll",
    "shlwapi.dll",
    "user32.dll",
    "userenv.dll",
    "uxtheme.dll",
    "version.dll",
    "winmm.dll",
    "ws2_32.dll",
];

/// Extracts the `.msi` into a temp dir and returns the install folder.
fn extract(msi: &Path) -> Result<(tempfile::TempDir, PathBuf)> {
    extract_to(msi, "Sentra POS")
}

/// As [`extract`], for the install folder named `folder`.
fn extract_to(msi: &Path, folder: &str) -> Result<(tempfile::TempDir, PathBuf)> {
    let dir = tempfile::tempdir()?;
    run(
        "msiextract",
        &["-C", &dir.path().to_string_lossy(), &msi.to_string_lossy()],
    )?;
    let app = dir.path().join(folder);
    Ok((dir, app))
}

/// The DLLs a PE file imports, lower-case (`objdump -p`).
fn imports(exe: &Path) -> Result<Vec<String>> {
    let dump = run(
        "x86_64-w64-mingw32-objdump",
        &["-p", &exe.to_string_lossy()],
    )?;
    Ok(dump
        .lines()
        .filter_map(|l| l.trim().strip_prefix("DLL Name: "))
        .map(str::to_ascii_lowercase)
        .collect())
}

/// Version, identity and Add/Remove Programs of an `.msi`.
fn assert_identity(msi: &Path, upgrade_code: &str, name: &str) -> Result<()> {
    assert_eq!(property(msi, "ProductVersion")?, version());
    assert_eq!(property(msi, "UpgradeCode")?, upgrade_code);
    assert_eq!(property(msi, "ProductName")?, name);
    assert_eq!(property(msi, "Manufacturer")?, "Sentra");
    assert_eq!(property(msi, "ALLUSERS")?, "1", "per machine");
    assert!(property(msi, "ARPHELPLINK")?.starts_with("https://"));
    Ok(())
}

/// Each `(name, property)` is a string value the `.msi` writes under
/// `HKLM\key` (Root 2) from that property.
fn assert_writes(msi: &Path, key: &str, values: &[(&str, &str)]) -> Result<()> {
    let registry = table(msi, "Registry")?;
    for (name, prop) in values {
        assert!(
            registry
                .iter()
                .any(|r| r[1] == "2" && r[2] == key && r[3] == *name && r[4] == *prop),
            "{name}: {registry:?}"
        );
    }
    Ok(())
}

/// The `.msi`'s files, by name, and its install folder's parent.
fn files_and_folder(msi: &Path) -> Result<(Vec<String>, String)> {
    let mut files: Vec<String> = table(msi, "File")?
        .into_iter()
        .filter_map(|r| r.get(2).cloned())
        .collect();
    files.sort();
    let dirs = table(msi, "Directory")?;
    let install = dirs
        .iter()
        .find(|r| r[0] == "INSTALLDIR")
        .context("INSTALLDIR")?;
    // No component lives in a data folder: install, upgrade, repair and
    // uninstall cannot touch the data.
    for r in table(msi, "Component")? {
        assert!(
            !["LocalAppDataFolder", "AppDataFolder", "CommonAppDataFolder"]
                .contains(&r[2].as_str()),
            "component {} is in {}",
            r[0],
            r[2]
        );
    }
    Ok((files, install[1].clone()))
}

/// A newer `.msi` replaces this one, an older one is refused.
fn assert_major_upgrade(msi: &Path, code: &str) -> Result<()> {
    let upgrade = table(msi, "Upgrade")?;
    for found in ["WIX_UPGRADE_DETECTED", "WIX_DOWNGRADE_DETECTED"] {
        assert!(
            upgrade.iter().any(|r| r[0] == code && r[6] == found),
            "{found}: {upgrade:?}"
        );
    }
    let launch = table(msi, "LaunchCondition")?;
    assert!(
        launch
            .iter()
            .any(|r| r[0] == "NOT WIX_DOWNGRADE_DETECTED" && r[1].contains("newer version")),
        "{launch:?}"
    );
    Ok(())
}

/// The exe is the staged one, of `kind` (`file -b`), importing only DLLs
/// Windows has and `shipped`.
fn assert_exe(exe: &Path, staged: &str, kind: &str, shipped: &[&str]) -> Result<()> {
    assert!(
        std::fs::read(exe)? == std::fs::read(built(staged)?)?,
        "the .msi holds the staged {staged}"
    );
    let found = run("file", &["-b", &exe.to_string_lossy()])?;
    assert!(found.starts_with(kind), "{} is {found}", exe.display());
    let imports = imports(exe)?;
    assert!(imports.len() > 3, "{imports:?}");
    for dll in &imports {
        assert!(
            WINDOWS_DLLS.contains(&dll.as_str()) || shipped.contains(&dll.as_str()),
            "{} imports {dll}, which Windows does not have and the .msi does not ship",
            exe.display()
        );
    }
    Ok(())
}

#[test]
#[ignore = "needs scripts/build-installers.sh; the test command runs it"]
fn the_app_msi_installs_the_app_and_nothing_else_where_it_should() -> Result<()> {
    let msi = msi()?;

    // Version, identity, Add/Remove Programs.
    assert_identity(&msi, UPGRADE_CODE, "Sentra POS")?;
    assert_eq!(property(&msi, "ARPPRODUCTICON")?, "SentraPOS.ico");
    let conf = std::fs::read_to_string(root().join("src-tauri/tauri.conf.json"))?;
    assert!(
        !conf.contains("\"version\""),
        "the version is kept once, in Cargo.toml"
    );

    // Files: the exe and its loader, under Program Files, nothing missing
    // and nothing else.
    let (files, folder) = files_and_folder(&msi)?;
    assert_eq!(files, ["WebView2Loader.dll", "sentra-pos.exe"]);
    assert_eq!(folder, "ProgramFiles64Folder");

    // Major upgrade: newer replaces, older is refused with a message.
    assert_major_upgrade(&msi, UPGRADE_CODE)?;
    let launch = table(&msi, "LaunchCondition")?;
    // WebView2: refused with what to install when it is missing.
    assert!(
        launch
            .iter()
            .any(|r| r[0].contains("WEBVIEW2_MACHINE") && r[1].contains("WebView2 Runtime")),
        "{launch:?}"
    );
    let searched: Vec<String> = table(&msi, "RegLocator")?
        .into_iter()
        .map(|r| r[2].clone())
        .collect();
    assert!(
        searched
            .iter()
            .all(|k| k.contains("{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}"))
            && searched.len() == 2,
        "{searched:?}"
    );

    // Shortcuts: Start menu and desktop, to the installed exe.
    let shortcuts = table(&msi, "Shortcut")?;
    for dir in ["ProgramMenuDir", "DesktopFolder"] {
        assert!(
            shortcuts
                .iter()
                .any(|r| r[1] == dir && r[4] == "[INSTALLDIR]sentra-pos.exe"),
            "{dir}: {shortcuts:?}"
        );
    }

    // Fleet roll-out properties, written where the app reads them.
    assert_writes(
        &msi,
        r"Software\Sentra\Sentra POS\Install",
        &[
            ("ServerUrl", "[SERVERURL]"),
            ("RelayUrl", "[RELAYURL]"),
            ("Branch", "[BRANCH]"),
            ("TillName", "[TILLNAME]"),
            ("Printer", "[PRINTER]"),
            ("DataDir", "[DATADIR]"),
        ],
    )?;

    // The exe inside: the shipped one, a 64-bit GUI program that imports
    // only what Windows has or what is shipped beside it.
    let (_dir, app) = extract(&msi)?;
    assert!(app.join("WebView2Loader.dll").exists());
    assert_exe(
        &app.join("sentra-pos.exe"),
        "app/sentra-pos.exe",
        "PE32+ executable (GUI) x86-64",
        &["webview2loader.dll"],
    )?;
    Ok(())
}

#[test]
#[ignore = "needs scripts/build-installers.sh; the test command runs it"]
fn the_relay_msi_installs_the_relay_as_a_service_that_starts_and_restarts() -> Result<()> {
    let msi = relay_msi()?;

    assert_identity(&msi, RELAY_UPGRADE_CODE, "Sentra POS Relay")?;

    // One file, the relay, under Program Files; nothing in a data folder.
    let (files, folder) = files_and_folder(&msi)?;
    assert_eq!(files, ["sentra-sync.exe"]);
    assert_eq!(folder, "ProgramFiles64Folder");

    // The service: its own process, started automatically, as LocalSystem,
    // running the installed relay with the service flag.
    let services = table(&msi, "ServiceInstall")?;
    let [service] = services.as_slice() else {
        bail!("one service: {services:?}");
    };
    assert_eq!(service[1], "SentraRelay", "name");
    assert_eq!(service[3], "16", "SERVICE_WIN32_OWN_PROCESS");
    assert_eq!(service[4], "2", "SERVICE_AUTO_START");
    assert_eq!(service[5], "1", "SERVICE_ERROR_NORMAL");
    assert_eq!(service[8], "LocalSystem");
    assert_eq!(service[10], "relay --windows-service");
    assert_eq!(
        service[11], "RelayService",
        "installed with the exe's component"
    );
    let components = table(&msi, "Component")?;
    let exe_component = components
        .iter()
        .find(|r| r[0] == "RelayService")
        .context("RelayService component")?;
    assert_eq!(exe_component[5], "SentraSyncExe", "the exe is its key");
    // Started at install; stopped at install and uninstall (so an upgrade
    // replaces a stopped exe); removed at uninstall; the installer waits.
    let controls = table(&msi, "ServiceControl")?;
    let [control] = controls.as_slice() else {
        bail!("one service control: {controls:?}");
    };
    assert_eq!(control[1], "SentraRelay");
    let event: u32 = control[2].parse()?;
    let (start_install, stop_install, stop_uninstall, remove_uninstall) = (0x1, 0x2, 0x20, 0x80);
    for bit in [
        start_install,
        stop_install,
        stop_uninstall,
        remove_uninstall,
    ] {
        assert!(event & bit != 0, "event {event:#x} lacks {bit:#x}");
    }
    assert_eq!(control[4], "1", "wait");

    // Restart on failure: `sc failure` after the service is installed and
    // before it starts, as the system (deferred, not impersonated), and a
    // failure of it fails the install.
    let actions = table(&msi, "CustomAction")?;
    let restart = actions
        .iter()
        .find(|r| r[0] == "RestartOnFailure")
        .context("RestartOnFailure")?;
    let kind: u32 = restart[1].parse()?;
    let (deferred, no_impersonate, ignore_result) = (0x400, 0x800, 0x40);
    assert!(
        kind & deferred != 0 && kind & no_impersonate != 0,
        "type {kind:#x}"
    );
    assert!(kind & ignore_result == 0, "its result is checked");
    assert!(
        restart[3].starts_with("failure SentraRelay ") && restart[3].contains("actions= restart/"),
        "{restart:?}"
    );
    let sequence = table(&msi, "InstallExecuteSequence")?;
    let at = |action: &str| -> Result<u32> {
        sequence
            .iter()
            .find(|r| r[0] == action)
            .with_context(|| format!("{action} in {sequence:?}"))?[2]
            .parse()
            .context("sequence number")
    };
    assert!(at("InstallServices")? < at("RestartOnFailure")?);
    assert!(at("RestartOnFailure")? < at("StartServices")?);
    assert!(at("InstallInitialize")? < at("CloseFirewall")?);
    assert!(at("OpenFirewall")? < at("InstallFinalize")?);

    // Its settings: written where the service reads them, remembered by a
    // search of the same values, and UPSTREAM required.
    assert_writes(
        &msi,
        r"Software\Sentra\Sentra POS Relay",
        &[
            ("Upstream", "[UPSTREAM]"),
            ("Listen", "[LISTEN]"),
            ("DataDir", "[RELAYDATA]"),
            ("EnrollCode", "[ENROLLCODE]"),
        ],
    )?;
    let remembered: Vec<String> = table(&msi, "AppSearch")?
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(remembered, ["UPSTREAM", "LISTEN", "RELAYDATA"]);
    // In the 64-bit view, where the settings are written (wixl 0.101 reads
    // the 32-bit one unless told).
    for r in table(&msi, "RegLocator")? {
        let kind: u32 = r[4].parse()?;
        assert!(kind & 0x10 != 0, "{r:?} searches the 32-bit view");
    }
    let launch = table(&msi, "LaunchCondition")?;
    assert!(
        launch
            .iter()
            .any(|r| r[0] == "Installed OR UPSTREAM" && r[1].contains("UPSTREAM=https://")),
        "{launch:?}"
    );
    assert_major_upgrade(&msi, RELAY_UPGRADE_CODE)?;

    // The exe inside: the shipped one, a 64-bit console program (a service
    // has no window) importing only what Windows has.
    let (_dir, app) = extract_to(&msi, "Sentra POS Relay")?;
    assert_exe(
        &app.join("sentra-sync.exe"),
        "relay/sentra-sync.exe",
        "PE32+ executable (console) x86-64",
        &[],
    )?;
    Ok(())
}

/// A throwaway self-signed code-signing certificate (PEM cert and key).
fn throwaway_certificate(dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    run(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=Sentra POS test signing",
            "-addext",
            "extendedKeyUsage=codeSigning",
            "-keyout",
            &key.to_string_lossy(),
            "-out",
            &cert.to_string_lossy(),
        ],
    )?;
    Ok((cert, key))
}

#[test]
#[ignore = "needs scripts/build-installers.sh; the test command runs it"]
fn a_build_with_a_certificate_is_signed_and_one_without_says_it_is_not() -> Result<()> {
    msi()?;
    let certs = tempfile::tempdir()?;
    let (cert, key) = throwaway_certificate(certs.path())?;
    let out = "target-installers/signed";
    let signed = output(
        Command::new(root().join("scripts/build-installers.sh"))
            .args(["--no-build", "--out", out])
            .env("SENTRA_SIGN_CERT", &cert)
            .env("SENTRA_SIGN_KEY", &key)
            .current_dir(root()),
    )?;
    assert!(
        !String::from_utf8_lossy(&signed.stderr).contains("UNSIGNED"),
        "a signed build does not warn"
    );
    let msi = root()
        .join(out)
        .join(format!("SentraPOS-{}-x64.msi", version()));
    let (_dir, app) = extract(&msi)?;
    let relay_msi = root()
        .join(out)
        .join(format!("SentraRelay-{}-x64.msi", version()));
    let (_relay_dir, relay) = extract_to(&relay_msi, "Sentra POS Relay")?;
    let ca = cert.to_string_lossy();
    for file in [
        msi.clone(),
        app.join("sentra-pos.exe"),
        relay_msi.clone(),
        relay.join("sentra-sync.exe"),
    ] {
        let verified = run(
            "osslsigncode",
            &["verify", "-CAfile", &ca, "-in", &file.to_string_lossy()],
        )?;
        assert!(
            verified.contains("Signature verification: ok"),
            "{}: {verified}",
            file.display()
        );
    }
    // The unsigned build is not: verification fails, and the build said so.
    let plain = msi_unsigned_build_stderr()?;
    assert!(plain.contains("UNSIGNED"), "{plain}");
    let unsigned = Command::new("osslsigncode")
        .args(["verify", "-CAfile", &ca, "-in"])
        .arg(self::msi()?)
        .output()?;
    assert!(!unsigned.status.success(), "the default build is unsigned");
    Ok(())
}

fn msi_unsigned_build_stderr() -> Result<String> {
    let out = output(
        Command::new(root().join("scripts/build-installers.sh"))
            .args(["--no-build", "--out", "target-installers/unsigned"])
            .env_remove("SENTRA_SIGN_PFX")
            .env_remove("SENTRA_SIGN_CERT")
            .env_remove("SENTRA_SIGN_KEY")
            .current_dir(root()),
    )?;
    Ok(String::from_utf8_lossy(&out.stderr).into_owned())
}

fn deb(version: &str) -> Result<PathBuf> {
    built(&format!("sentra-relay_{version}_amd64.deb"))
}

/// The upgrade's `.deb`: the same build packaged as the next version.
const NEXT: &str = "target-installers/next";

fn next_deb(version: &str) -> Result<PathBuf> {
    built_in(NEXT, &format!("sentra-relay_{version}_amd64.deb"))
}

#[test]
#[ignore = "needs scripts/build-installers.sh; the test command runs it"]
fn the_relay_deb_holds_the_service_and_its_binary() -> Result<()> {
    let deb = deb(version())?;
    let info = run("dpkg-deb", &["--info", &deb.to_string_lossy()])?;
    for want in [
        "Package: sentra-relay".to_owned(),
        format!("Version: {}", version()),
        "Architecture: amd64".to_owned(),
    ] {
        assert!(info.contains(&want), "{want}:\n{info}");
    }
    for script in ["postinst", "prerm", "postrm"] {
        assert!(info.contains(script), "{script}:\n{info}");
    }
    let contents = run("dpkg-deb", &["--contents", &deb.to_string_lossy()])?;
    for want in [
        "./usr/bin/sentra-sync",
        "./lib/systemd/system/sentra-relay.service",
        "./usr/share/doc/sentra-relay/operations.md",
    ] {
        assert!(contents.contains(want), "{want}:\n{contents}");
    }
    assert!(
        !contents.contains("./var/lib/"),
        "the package ships no data dir:\n{contents}"
    );
    // The unit runs the packaged binary, restarts it, and reads its key
    // from systemd credentials.
    let dir = tempfile::tempdir()?;
    run(
        "dpkg-deb",
        &["-x", &deb.to_string_lossy(), &dir.path().to_string_lossy()],
    )?;
    let unit = std::fs::read_to_string(dir.path().join("lib/systemd/system/sentra-relay.service"))?;
    for want in [
        "ExecStart=/usr/bin/sentra-sync relay",
        "Restart=always",
        "LoadCredentialEncrypted=sentra-relay-db-key",
        "StateDirectory=sentra-relay",
        "User=sentra-relay",
    ] {
        assert!(unit.contains(want), "{want}:\n{unit}");
    }
    Ok(())
}

/// Purges the relay package when the test ends, however it ends.
struct Purge;

impl Drop for Purge {
    fn drop(&mut self) {
        let _ = Command::new("dpkg")
            .args(["--purge", "sentra-relay"])
            .output();
    }
}

fn installed_version() -> Option<String> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${Status} ${Version}", "sentra-relay"])
        .output()
        .ok()?;
    let s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.strip_prefix("install ok installed ").map(str::to_owned)
}

#[test]
#[ignore = "needs scripts/build-installers.sh and root; the test command runs it"]
fn the_relay_deb_installs_upgrades_and_removes_keeping_the_journal() -> Result<()> {
    ensure!(
        run("id", &["-u"])?.trim() == "0",
        "installing a .deb needs root"
    );
    ensure!(
        installed_version().is_none() && !Path::new("/var/lib/sentra-relay").exists(),
        "a sentra-relay is already installed on this machine (or its data dir is \
         left): this test installs and purges its own, so it will not run here"
    );
    let _purge = Purge;
    let data = Path::new("/var/lib/sentra-relay");

    // Install.
    run("dpkg", &["-i", &deb(version())?.to_string_lossy()])?;
    assert_eq!(installed_version().as_deref(), Some(version()));
    run("getent", &["passwd", "sentra-relay"])?;
    let meta = std::fs::metadata(data)?;
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    assert_eq!(meta.permissions().mode() & 0o777, 0o700, "data dir mode");
    let uid: u32 = run("id", &["-u", "sentra-relay"])?.trim().parse()?;
    assert_eq!(meta.uid(), uid, "the data dir belongs to the service user");
    let help = run("/usr/bin/sentra-sync", &["relay", "--help"])?;
    assert!(help.contains("SENTRA_RELAY_DATA_DIR"), "{help}");

    // A journal in the data dir survives an upgrade…
    let journal = data.join("relay.db");
    std::fs::write(&journal, b"the branch's journal")?;
    let next = next_version()?;
    output(
        Command::new(root().join("scripts/build-installers.sh"))
            .args(["--no-build", "--version", &next, "--out", NEXT])
            .current_dir(root()),
    )?;
    run("dpkg", &["-i", &next_deb(&next)?.to_string_lossy()])?;
    assert_eq!(installed_version().as_deref(), Some(next.as_str()));
    assert_eq!(std::fs::read(&journal)?, b"the branch's journal");
    // …and a reinstall of the same version…
    run("dpkg", &["-i", &next_deb(&next)?.to_string_lossy()])?;
    assert_eq!(std::fs::read(&journal)?, b"the branch's journal");

    // …and removal, which takes the program and leaves the data.
    run("dpkg", &["--remove", "sentra-relay"])?;
    assert!(!Path::new("/usr/bin/sentra-sync").exists());
    assert_eq!(std::fs::read(&journal)?, b"the branch's journal");
    // A reinstall finds it where it was.
    run("dpkg", &["-i", &deb(version())?.to_string_lossy()])?;
    assert_eq!(std::fs::read(&journal)?, b"the branch's journal");

    // Only a purge deletes it.
    run("dpkg", &["--purge", "sentra-relay"])?;
    assert!(!data.exists(), "purge deletes the data dir");
    assert!(installed_version().is_none());
    Ok(())
}

/// A private Wine prefix (a Windows of its own) for the `.msi` tests.
struct Wine {
    prefix: tempfile::TempDir,
}

impl Wine {
    fn new() -> Result<Wine> {
        let wine = Wine {
            prefix: tempfile::tempdir()?,
        };
        std::fs::create_dir_all(wine.home())?;
        output(wine.command("wineboot").arg("--init"))?;
        Ok(wine)
    }

    /// Wine links the Windows desktop and documents to the home's: a home
    /// of its own keeps the shortcuts off this machine's desktop.
    fn home(&self) -> PathBuf {
        self.prefix.path().join("home")
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("WINEPREFIX", self.prefix.path().join("wine"))
            .env("HOME", self.home())
            .env("WINEARCH", "win64")
            .env("WINEDEBUG", "-all")
            // No Mono or Gecko downloads (there is no network to get them),
            // and no Linux menu entries for the shortcuts.
            .env("WINEDLLOVERRIDES", "mscoree,mshtml,winemenubuilder.exe=")
            .current_dir(root());
        c
    }

    /// `wine msiexec ARGS /qn`, with a verbose log: Ok(log) when it
    /// succeeded, Err(log) when it did not.
    ///
    /// Wine itself now and then fails to start a process: the new process
    /// dies while Wine sets it up and CreateProcess returns
    /// ERROR_INTERNAL_ERROR ("ShellExecuteEx failed: Internal error." from
    /// `wine msiexec`; seen in CI, and as `Os { code: 1359 }` when tests
    /// cross-compiled for Windows spawn processes under Wine). msiexec then
    /// never ran and wrote no log, which is neither the installer's success
    /// nor its refusal: that start, and only that, is tried once more.
    fn msiexec(&self, args: &[&str]) -> Result<Result<String, String>> {
        let log = self.prefix.path().join("msiexec.log");
        for attempt in 1..=2 {
            let _ = std::fs::remove_file(&log);
            let status = self
                .command("wine")
                .arg("msiexec")
                .args(args)
                .args(["/qn", "/l*v"])
                .arg(&log)
                .status()?;
            let text = std::fs::read(&log)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            if text.is_empty() {
                eprintln!("wine could not start msiexec ({status}), attempt {attempt}");
                continue;
            }
            return Ok(if status.success() {
                Ok(text)
            } else {
                Err(text)
            });
        }
        bail!("wine could not start msiexec twice; no log was written")
    }

    fn c(&self) -> PathBuf {
        self.prefix.path().join("wine/drive_c")
    }

    /// The products named `name` in Add/Remove Programs.
    fn installed(&self, name: &str) -> Result<Vec<String>> {
        let out = output(self.command("wine").args(["uninstaller", "--list"]))?;
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.trim_end().ends_with(&format!("|||{name}")))
            .map(str::to_owned)
            .collect())
    }

    /// `reg query KEY` (64-bit view): its text, or None when the key is missing.
    fn reg(&self, key: &str) -> Result<Option<String>> {
        let out = self
            .command("wine")
            .args(["reg", "query", key, "/reg:64"])
            .output()?;
        Ok(out
            .status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned()))
    }

    /// One value of `reg query KEY` (`NAME  REG_TYPE  DATA`): its data.
    fn reg_value(&self, key: &str, name: &str) -> Result<String> {
        let text = self
            .reg(key)?
            .with_context(|| format!("{key} is missing"))?;
        text.lines()
            .find_map(|l| {
                let mut cols = l.trim().splitn(3, "    ");
                (cols.next() == Some(name)).then(|| cols.nth(1).unwrap_or("").trim().to_owned())
            })
            .with_context(|| format!("{name} in {text}"))
    }

    /// Lets current Rust programs run here: Wine 8 lacks the
    /// `bcryptprimitives.dll` (ProcessPrng) that Windows 10 and 11 have and
    /// Rust's standard library imports, so a stand-in built from
    /// `tests/wine/bcryptprimitives.c` goes into this prefix's system32.
    fn run_rust_programs(&self) -> Result<()> {
        let src = root().join("tests/wine");
        let dll = self.c().join("windows/system32/bcryptprimitives.dll");
        output(
            Command::new("x86_64-w64-mingw32-gcc")
                .args(["-shared", "-O2", "-o"])
                .arg(&dll)
                .arg(src.join("bcryptprimitives.c"))
                .arg(src.join("bcryptprimitives.def"))
                .arg("-ladvapi32"),
        )?;
        Ok(())
    }

    /// A value the installer wrote under `HKLM\Software\Sentra\Sentra POS\Install`.
    fn install_setting(&self, name: &str) -> Result<String> {
        self.reg_value(r"HKLM\Software\Sentra\Sentra POS\Install", name)
    }
}

#[test]
#[ignore = "needs scripts/build-installers.sh and wine; the test command runs it"]
fn the_app_msi_installs_upgrades_and_uninstalls_under_wine_keeping_the_till_s_data() -> Result<()> {
    let msi = msi()?;
    let msi = msi.to_string_lossy();
    let wine = Wine::new()?;
    let app = wine.c().join("Program Files/Sentra POS");

    // No WebView2 runtime: refused by the launch condition, nothing installed.
    let refused = wine.msiexec(&["/i", &msi])?;
    let log = refused.err().context("installed without WebView2")?;
    assert!(
        log.contains("LaunchConditions. Return value 0"),
        "refused by its launch condition:\n{log}"
    );
    assert!(!app.exists());

    // With the runtime (registered as its installer does), a silent install
    // with fleet properties.
    output(wine.command("wine").args([
        "reg",
        "add",
        r"HKLM\SOFTWARE\Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}",
        "/v",
        "pv",
        "/t",
        "REG_SZ",
        "/d",
        "131.0.2903.70",
        "/f",
        "/reg:32",
    ]))?;
    wine.msiexec(&[
        "/i",
        &msi,
        "SERVERURL=https://sync.example.com",
        "RELAYURL=http://192.168.1.10:8090",
        "BRANCH=JKT01",
        "TILLNAME=T01",
        "PRINTER=192.168.1.50:9100",
    ])?
    .map_err(|log| anyhow::anyhow!("install failed:\n{log}"))?;
    assert!(app.join("sentra-pos.exe").exists());
    assert!(app.join("WebView2Loader.dll").exists());
    assert_eq!(wine.installed("Sentra POS")?.len(), 1);
    assert_eq!(
        wine.install_setting("ServerUrl")?,
        "https://sync.example.com"
    );
    assert_eq!(wine.install_setting("Branch")?, "JKT01");
    assert_eq!(wine.install_setting("TillName")?, "T01");
    assert_eq!(wine.install_setting("ProductVersion")?, version());
    let lnk: Vec<String> = walk(&wine.c(), 12)
        .into_iter()
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .filter(|p| p.ends_with("/Sentra POS.lnk"))
        .collect();
    for place in ["/Start Menu/Programs/Sentra POS/", "/Desktop/"] {
        assert!(
            lnk.iter().any(|p| p.contains(place)),
            "a shortcut in {place}: {lnk:?}"
        );
    }

    // The till's data, where the app keeps it (the user's local app data).
    let data = wine.c().join("users/root/AppData/Local/id.sentra.pos/till");
    std::fs::create_dir_all(&data)?;
    std::fs::write(data.join("till.db"), b"the till's journal")?;

    // Version N+1 over N: one product, the new version, the data kept.
    let next = next_version()?;
    let out = "target-installers/wine-next";
    output(
        Command::new(root().join("scripts/build-installers.sh"))
            .args(["--no-build", "--version", &next, "--out", out])
            .current_dir(root()),
    )?;
    let newer = built_in(out, &format!("SentraPOS-{next}-x64.msi"))?;
    wine.msiexec(&["/i", &newer.to_string_lossy()])?
        .map_err(|log| anyhow::anyhow!("upgrade failed:\n{log}"))?;
    assert_eq!(
        wine.installed("Sentra POS")?.len(),
        1,
        "one product registered"
    );
    assert_eq!(wine.install_setting("ProductVersion")?, next);
    assert!(app.join("sentra-pos.exe").exists());
    assert_eq!(std::fs::read(data.join("till.db"))?, b"the till's journal");

    // Back to N: refused, N+1 stays.
    let log = wine
        .msiexec(&["/i", &msi])?
        .err()
        .context("a downgrade was installed")?;
    assert!(log.contains("WIX_DOWNGRADE_DETECTED = {"), "{log}");
    assert_eq!(wine.install_setting("ProductVersion")?, next);

    // Uninstall: the program goes, the till's data stays.
    wine.msiexec(&["/x", &newer.to_string_lossy()])?
        .map_err(|log| anyhow::anyhow!("uninstall failed:\n{log}"))?;
    assert!(!app.join("sentra-pos.exe").exists());
    assert!(wine.installed("Sentra POS")?.is_empty());
    assert_eq!(std::fs::read(data.join("till.db"))?, b"the till's journal");
    Ok(())
}

const SERVICE_KEY: &str = r"HKLM\System\CurrentControlSet\Services\SentraRelay";
const RELAY_SETTINGS: &str = r"HKLM\Software\Sentra\Sentra POS Relay";

/// A port nothing listens on now.
fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Waits until `/health` at `addr` answers 200 (`want`) or stops answering.
fn wait_health(addr: SocketAddr, want: bool, what: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while healthy(addr) != want {
        ensure!(
            Instant::now() < deadline,
            "{what}: /health at {addr} still {}",
            !want
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

#[test]
#[ignore = "needs scripts/build-installers.sh, wine and the workspace binaries; the test command runs it"]
fn the_relay_msi_runs_the_relay_as_a_windows_service_under_wine_and_keeps_its_journal() -> Result<()>
{
    let msi = relay_msi()?;
    let msi = msi.to_string_lossy();
    let cloud = Cloud::start()?;
    cloud.branch_create("JKT01")?;
    cloud.catalog_import(&catalog_csv(), None)?;
    let wine = Wine::new()?;
    wine.run_rust_programs()?;
    let program = wine
        .c()
        .join("Program Files/Sentra POS Relay/sentra-sync.exe");
    let data = wine.c().join("ProgramData/Sentra/Relay");
    let port = free_port()?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let relay_url = format!("http://{addr}");

    // Not told where the cloud is: refused, nothing installed.
    let log = wine
        .msiexec(&["/i", &msi])?
        .err()
        .context("installed without UPSTREAM")?;
    assert!(log.contains("LaunchConditions. Return value 0"), "{log}");
    assert!(!program.exists());

    // A silent install with the fleet values. The installer waits for the
    // service to run, and the service runs once it has enrolled with the
    // cloud and listens.
    let code = cloud.enroll_code("JKT01", "relay")?;
    let log = wine
        .msiexec(&[
            "/i",
            &msi,
            &format!("UPSTREAM={}", cloud.url()),
            &format!("ENROLLCODE={code}"),
            &format!("LISTEN={addr}"),
        ])?
        .map_err(|log| anyhow::anyhow!("install failed:\n{log}"))?;
    assert!(log.contains("RestartOnFailure. Return value 1"), "{log}");
    wait_health(addr, true, "after install")?;
    assert!(program.exists());
    assert_eq!(wine.installed("Sentra POS Relay")?.len(), 1);
    let image = wine.reg_value(SERVICE_KEY, "ImagePath")?;
    // Windows Installer quotes the path; Wine's does not.
    assert!(
        image
            .replace('"', "")
            .ends_with(r"\Sentra POS Relay\sentra-sync.exe relay --windows-service"),
        "{image}"
    );
    assert_eq!(wine.reg_value(SERVICE_KEY, "Start")?, "0x2", "automatic");
    assert_eq!(wine.reg_value(SERVICE_KEY, "ObjectName")?, "LocalSystem");
    assert_eq!(wine.reg_value(RELAY_SETTINGS, "Upstream")?, cloud.url());
    assert_eq!(
        wine.reg_value(RELAY_SETTINGS, "DataDir")?,
        r"C:\ProgramData\Sentra\Relay"
    );
    // Its data dir, made by the relay itself, and its log there.
    let manifest = std::fs::read(data.join("sentra-relay.json"))?;
    assert!(data.join("relay.db").exists());
    let logs: Vec<PathBuf> = walk(&data.join("logs"), 0);
    assert!(
        logs.iter()
            .any(|l| std::fs::read_to_string(l).is_ok_and(|t| t.contains("relay service running"))),
        "{logs:?}"
    );
    assert_eq!(
        cloud.count("SELECT count(*) FROM devices WHERE kind = 'relay'")?,
        1,
        "enrolled once"
    );

    // A till's sale reaches the cloud through the service.
    let till = Till::ready("JKT01", "T01")?;
    till.enroll(
        &cloud.url(),
        &cloud.enroll_code("JKT01", "terminal")?,
        Some(&relay_url),
    )?;
    till.sell(&["TEH-BTL"], &["cash:6000"])?;
    let report = till.sync_until(0, Duration::from_secs(60))?;
    assert_eq!(report["upstream"], "relay", "{report}");
    assert_eq!(cloud.count("SELECT count(*) FROM sales")?, 1);

    // Version N+1 over N, with no values given: the remembered ones, the
    // same relay (no second enrollment: its code was one-time), its journal
    // kept, one product registered — and it relays again.
    let next = next_version()?;
    let out = "target-installers/wine-relay-next";
    output(
        Command::new(root().join("scripts/build-installers.sh"))
            .args(["--no-build", "--version", &next, "--out", out])
            .current_dir(root()),
    )?;
    let newer = built_in(out, &format!("SentraRelay-{next}-x64.msi"))?;
    let newer = newer.to_string_lossy();
    wine.msiexec(&["/i", &newer])?.map_err(|log| {
        anyhow::anyhow!(
            "upgrade failed:\n{log}\nthe relay's logs:\n{}",
            log_tails(&data.join("logs"))
        )
    })?;
    wait_health(addr, true, "after the upgrade")?;
    assert_eq!(wine.installed("Sentra POS Relay")?.len(), 1, "one product");
    assert_eq!(wine.reg_value(RELAY_SETTINGS, "ProductVersion")?, next);
    assert_eq!(wine.reg_value(RELAY_SETTINGS, "Upstream")?, cloud.url());
    assert_eq!(
        wine.reg_value(RELAY_SETTINGS, "EnrollCode")?,
        "",
        "not kept"
    );
    assert_eq!(std::fs::read(data.join("sentra-relay.json"))?, manifest);
    assert_eq!(
        cloud.count("SELECT count(*) FROM devices WHERE kind = 'relay'")?,
        1
    );
    till.sell(&["AQUA600"], &["cash:4000"])?;
    let report = till.sync_until(0, Duration::from_secs(60))?;
    assert_eq!(report["upstream"], "relay", "{report}");
    assert_eq!(cloud.count("SELECT count(*) FROM sales")?, 2);

    // Back to N: refused, N+1 stays and keeps running.
    let log = wine
        .msiexec(&["/i", &msi])?
        .err()
        .context("a downgrade was installed")?;
    assert!(log.contains("WIX_DOWNGRADE_DETECTED = {"), "{log}");
    assert_eq!(wine.reg_value(RELAY_SETTINGS, "ProductVersion")?, next);
    assert!(healthy(addr));

    // Uninstall: the service stops and goes, the program goes, the branch's
    // journal stays.
    wine.msiexec(&["/x", &newer])?
        .map_err(|log| anyhow::anyhow!("uninstall failed:\n{log}"))?;
    wait_health(addr, false, "after uninstall")?;
    assert!(wine.reg(SERVICE_KEY)?.is_none(), "the service is removed");
    assert!(!program.exists());
    assert!(wine.installed("Sentra POS Relay")?.is_empty());
    assert_eq!(std::fs::read(data.join("sentra-relay.json"))?, manifest);
    assert!(data.join("relay.db").exists());
    Ok(())
}

impl Drop for Wine {
    /// Stops this prefix's wineserver before its directory goes, so it
    /// does not write its registry into a deleted prefix.
    fn drop(&mut self) {
        let _ = self.command("wineserver").arg("-k").status();
        let _ = self.command("wineserver").arg("-w").status();
    }
}

/// The last lines of every log under `dir`, for a failure message.
fn log_tails(dir: &Path) -> String {
    walk(dir, 0)
        .iter()
        .map(|l| {
            let text = std::fs::read_to_string(l).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(30)..].join("\n");
            format!("== {}\n{tail}", l.display())
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every file under `dir`, following Wine's links to its home, `depth`
/// levels down at most.
fn walk(dir: &Path, depth: usize) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if depth > 0 {
                out.extend(walk(&p, depth - 1));
            }
        } else {
            out.push(p);
        }
    }
    out
}

/// `docs/operations.md` §8 states what the relay's installer does: each
/// figure and name it gives is the installer's (`installer/SentraRelay.wxs`).
#[test]
fn operations_section_8_says_what_the_relay_msi_does() -> Result<()> {
    let doc = std::fs::read_to_string(root().join("docs/operations.md"))?;
    let section = doc
        .split("\n## ")
        .find(|s| s.starts_with("8. The relay on a Windows mini-PC"))
        .context("operations.md has §8, the relay on Windows")?;
    let wxs = std::fs::read_to_string(root().join("installer/SentraRelay.wxs"))?;
    // An attribute of the element whose Id is `id`.
    let attr = |id: &str, name: &str| -> Result<String> {
        let at = wxs
            .find(&format!("Id=\"{id}\""))
            .with_context(|| format!("{id} in the .wxs"))?;
        let start = wxs[..at].rfind('<').context("element start")?;
        let end = at + wxs[at..].find('>').context("element end")?;
        let element = &wxs[start..end];
        let key = format!("{name}=");
        let from = element
            .find(&key)
            .with_context(|| format!("{id} has no {name}"))?
            + key.len();
        let quote = element[from..].chars().next().context("a quoted value")?;
        let value = &element[from + 1..];
        Ok(value[..value.find(quote).context("closing quote")?].to_owned())
    };

    let name = attr("SentraRelayService", "Name")?;
    let args = attr("SentraRelayService", "Arguments")?;
    assert!(section.contains(&format!("**{name}**")), "service {name}");
    assert!(
        section.contains(&format!("`sentra-sync.exe {args}`")),
        "{args}"
    );
    assert!(section.contains(&attr("SentraRelayService", "DisplayName")?));
    assert_eq!(attr("SentraRelayService", "Start")?, "auto");
    assert!(section.contains("**automatic start**"));
    assert!(section.contains(&attr("SentraRelayService", "Account")?));

    // Defaults and the settings' key.
    let listen = attr("DefaultListen", "Value")?;
    assert!(
        section.contains(&format!("| `{listen}` |")),
        "LISTEN default {listen}"
    );
    let data =
        attr("DefaultRelayData", "Value")?.replace("[CommonAppDataFolder]", r"C:\ProgramData\");
    assert!(
        section.contains(&format!("| `{data}` |")),
        "RELAYDATA default {data}"
    );
    let key = attr("RememberUpstream", "Key")?;
    assert!(section.contains(&format!("`HKLM\\{key}`")), "{key}");
    for property in ["UPSTREAM", "ENROLLCODE", "LISTEN", "RELAYDATA"] {
        assert!(
            wxs.contains(&format!("[{property}]"))
                && section.contains(&format!("| `{property}` |")),
            "{property}"
        );
    }

    // The restart actions, in words.
    let failure = attr("RestartOnFailure", "ExeCommand")?;
    let delays: Vec<u64> = failure
        .split("actions= ")
        .nth(1)
        .context("actions=")?
        .split('/')
        .filter_map(|p| p.parse::<u64>().ok())
        .collect();
    let [first, second, then] = delays.as_slice() else {
        bail!("three restart delays: {failure}");
    };
    let said = format!(
        "restart after {} s, then {} s, then every {} s",
        first / 1000,
        second / 1000,
        then / 1000
    );
    assert!(section.contains(&said), "§8 should say: {said}");
    assert!(failure.contains("reset= 86400") && section.contains("resets\nafter a day"));
    Ok(())
}
