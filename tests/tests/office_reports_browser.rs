//! The head-office reports in a real browser: headless Chromium driven by
//! playwright-core (`tests/office/reports.mjs`) against the real
//! `sentra-sync serve`, with data from real tills (`sentra-term`) that sell,
//! void, refund and sync. The script picks reports with the page's own form,
//! checks their totals against `sentra-sync ledger --json`, downloads the CSV
//! and XLSX through the links, reads the PPN return, and keeps a manager to
//! their branch. `SENTRA_OFFICE_SCREENSHOTS=DIR` also saves pictures of the
//! reports page and the PPN return (`scripts/office-screenshots.sh`).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use sentra_e2e::office::{PASSWORD, ensure_playwright, office_dir, office_user};
use sentra_e2e::{Cloud, Till, catalog_csv, run_with_timeout};
use serde_json::json;

fn enrolled(cloud: &Cloud, branch: &str) -> Result<Till> {
    let till = Till::ready(branch, "T01")?;
    let code = cloud.enroll_code(branch, "terminal")?;
    till.enroll(&cloud.url(), &code, None)?;
    Ok(till)
}

#[test]
fn reports_and_exports_in_headless_chromium() -> Result<()> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).is_file() {
        bail!("{chromium} is missing: run scripts/install-deps.sh test (Debian package chromium)");
    }
    ensure_playwright()?;

    let cloud = Cloud::start()?;
    cloud.branch_create("JKT01")?;
    cloud.branch_create("BDG01")?;
    cloud.catalog_import(&catalog_csv(), None)?;
    let jkt = enrolled(&cloud, "JKT01")?;
    let bdg = enrolled(&cloud, "BDG01")?;

    let first = jkt.sell(&["IND-GRGx2", "AQUA600"], &["cash:20000"])?;
    jkt.sell(&["BERAS-KGx1.5"], &["qris:21750:QR77"])?;
    jkt.sell(&["TEH-BTL", "IND-GRG"], &["card:9500:APPR01"])?;
    let voided = jkt.sell(&["AQUA600"], &["cash:4000"])?;
    let receipt = |v: &serde_json::Value| -> Result<String> {
        v["receipt_no"]
            .as_str()
            .map(str::to_owned)
            .context("no receipt_no")
    };
    jkt.ok(&["void", &receipt(&voided)?, "--reason", "salah input"])?;
    jkt.ok(&["refund", &receipt(&first)?, "--item", "AQUA600"])?;
    let x = jkt.json(&["report", "x"])?;
    let expected = x["expected_cash"].as_i64().context("expected_cash")?;
    jkt.close_shift(expected - 2_500)?;
    bdg.sell(&["TEH-BTLx2"], &["cash:12000"])?;
    bdg.sell(&["BERAS-KGx2"], &["qris:29000:QR1"])?;
    for (name, till) in [("JKT01", &jkt), ("BDG01", &bdg)] {
        let (code, _, run) = till.sync()?;
        ensure!(code == Some(0), "{name} sync: {run:?}");
    }
    for (email, role, branch) in [
        ("finance@sentra.test", "finance", None),
        ("manager.jkt@sentra.test", "manager", Some("JKT01")),
    ] {
        office_user(&cloud, email, role, branch)?;
    }
    let mut ledgers = serde_json::Map::new();
    for b in ["JKT01", "BDG01"] {
        ledgers.insert(b.into(), cloud.ledger(b)?);
    }
    let user = |email: &str| json!({ "email": email, "password": PASSWORD });
    let fixture = json!({
        "url": cloud.url(),
        "users": {
            "finance": user("finance@sentra.test"),
            "manager": user("manager.jkt@sentra.test"),
        },
        "ledgers": ledgers,
    });
    let dir = tempfile::tempdir()?;
    let fixture_file = dir.path().join("fixture.json");
    std::fs::write(&fixture_file, serde_json::to_vec_pretty(&fixture)?)?;

    let mut cmd = Command::new("node");
    cmd.arg(office_dir().join("reports.mjs"))
        .current_dir(office_dir())
        .env("OFFICE_FIXTURE", &fixture_file)
        .env("CHROMIUM", &chromium);
    if let Some(shots) = std::env::var_os("SENTRA_OFFICE_SCREENSHOTS") {
        cmd.env("OFFICE_SCREENSHOTS", shots);
    }
    let out = run_with_timeout(cmd, Duration::from_secs(300))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    ensure!(
        out.status.success(),
        "the reports browser test failed ({}):\n{stdout}\n{stderr}\nserver log:\n{}",
        out.status,
        cloud.server.log_text()
    );
    Ok(())
}
