//! What the head-office browser tests share: playwright-core from the lock
//! file, and office users made through the admin CLI (password on stdin).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, ensure};

use crate::{Cloud, binary, run_with_timeout};

/// The password every test office user gets.
pub const PASSWORD: &str = "kata-sandi-demo-1";

/// `tests/office`: the scripts and their `node_modules`.
pub fn office_dir() -> PathBuf {
    crate::package_dir().join("office")
}

/// playwright-core from the lock file, installed when missing.
pub fn ensure_playwright() -> Result<()> {
    let dir = office_dir();
    if dir
        .join("node_modules/playwright-core/package.json")
        .is_file()
    {
        return Ok(());
    }
    let mut cmd = Command::new("npm");
    cmd.args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir);
    let out = run_with_timeout(cmd, Duration::from_secs(300)).context("npm ci in tests/office")?;
    ensure!(
        out.status.success(),
        "npm ci in tests/office failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// `sentra-sync office-user add EMAIL --role ROLE [--branch B]`, password
/// [`PASSWORD`] on stdin.
pub fn office_user(cloud: &Cloud, email: &str, role: &str, branch: Option<&str>) -> Result<()> {
    let mut cmd = Command::new(binary("sentra-sync")?);
    cmd.arg("--database-url").arg(&cloud.db.url).args([
        "office-user",
        "add",
        email,
        "--role",
        role,
    ]);
    if let Some(b) = branch {
        cmd.args(["--branch", b]);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .context("stdin")?
        .write_all(format!("{PASSWORD}\n").as_bytes())?;
    let out = child.wait_with_output()?;
    ensure!(
        out.status.success(),
        "office-user add {email}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}
