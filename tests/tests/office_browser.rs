//! The head-office pages in a real browser: headless Chromium (Debian's
//! `chromium`) driven by playwright-core (`tests/office/e2e.mjs`) against the
//! real `sentra-sync serve`, with data made the way a chain makes it — real
//! tills (`sentra-term`) selling, voiding, refunding, closing shifts and
//! syncing. The script checks the overview against `sentra-sync ledger
//! --json`, a receipt's proof (and a row this test tampers with), a finance
//! user's decision in the audit log, and a manager kept to their branch.
//!
//! `SENTRA_OFFICE_SCREENSHOTS=DIR` also saves a picture of every page
//! (`scripts/office-screenshots.sh`).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use sentra_e2e::office::{PASSWORD, ensure_playwright, office_dir, office_user};
use sentra_e2e::{Cloud, Till, catalog_csv, run_with_timeout};
use serde_json::{Value, json};

fn enrolled(cloud: &Cloud, branch: &str) -> Result<Till> {
    let till = Till::ready(branch, "T01")?;
    let code = cloud.enroll_code(branch, "terminal")?;
    till.enroll(&cloud.url(), &code, None)?;
    Ok(till)
}

fn receipt_of(sale: &Value) -> Result<String> {
    sale["receipt_no"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no receipt_no in {sale}"))
}

/// One row of `cloud.sql`, split on `|`.
fn row(cloud: &Cloud, sql: &str) -> Result<Vec<String>> {
    let out = cloud.sql(sql)?;
    let line = out
        .lines()
        .next()
        .with_context(|| format!("no row: {sql}"))?;
    Ok(line.split('|').map(str::to_owned).collect())
}

#[test]
fn head_office_pages_in_headless_chromium() -> Result<()> {
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
    let tampered = jkt.sell(&["TEH-BTL"], &["card:6000:APPR01"])?;
    jkt.sell(&["BERAS-KGx1.5"], &["qris:21750:QR77"])?;
    let voided = jkt.sell(&["AQUA600"], &["cash:4000"])?;
    jkt.ok(&["void", &receipt_of(&voided)?, "--reason", "salah input"])?;
    jkt.ok(&["refund", &receipt_of(&first)?, "--item", "AQUA600"])?;
    // The chain-wide price moves on; this till sells at the old one.
    cloud.price_set("TEH-BTL", 6500, None)?;
    jkt.sell(&["TEH-BTL"], &["cash:6000"])?;
    let x = jkt.json(&["report", "x"])?;
    let expected = x["expected_cash"].as_i64().context("expected_cash")?;
    jkt.close_shift(expected - 25_000)?; // short: past the variance threshold

    let bdg_sale = bdg.sell(&["TEH-BTLx2"], &["cash:12000"])?;
    bdg.sell(&["IND-GRG"], &["qris:3500:QR1"])?;

    for (name, till) in [("JKT01", &jkt), ("BDG01", &bdg)] {
        let (code, _, run) = till.sync()?;
        ensure!(code == Some(0), "{name} sync: {run:?}");
    }
    let stale = cloud.count("SELECT count(*) FROM conflicts WHERE kind = 'stale_price'")?;
    ensure!(stale >= 1, "no stale_price conflict to resolve");

    for (email, role, branch) in [
        ("admin@sentra.test", "admin", None),
        ("finance@sentra.test", "finance", None),
        ("auditor@sentra.test", "auditor", None),
        ("manager.jkt@sentra.test", "manager", Some("JKT01")),
    ] {
        office_user(&cloud, email, role, branch)?;
    }

    let good_receipt = receipt_of(&first)?;
    let good = row(
        &cloud,
        &format!("SELECT entry_id, total FROM sales WHERE receipt_no = '{good_receipt}'"),
    )?;
    let bad_receipt = receipt_of(&tampered)?;
    let bad = row(
        &cloud,
        &format!("SELECT entry_id, device_id FROM sales WHERE receipt_no = '{bad_receipt}'"),
    )?;
    let bdg_receipt = receipt_of(&bdg_sale)?;
    let bdg_row = row(
        &cloud,
        &format!("SELECT entry_id, device_id FROM sales WHERE receipt_no = '{bdg_receipt}'"),
    )?;
    // Change one stored journal row behind the server's back.
    cloud.sql(&format!(
        "UPDATE journal SET payload = jsonb_set(payload, '{{total}}', '1') WHERE entry_id = '{}'",
        bad[0]
    ))?;

    let mut ledgers = serde_json::Map::new();
    for b in ["JKT01", "BDG01"] {
        ledgers.insert(b.into(), cloud.ledger(b)?);
    }
    let user = |email: &str| json!({ "email": email, "password": PASSWORD });
    let fixture = json!({
        "url": cloud.url(),
        "from": "2000-01-01",
        "to": "2100-12-31",
        "users": {
            "admin": user("admin@sentra.test"),
            "finance": user("finance@sentra.test"),
            "auditor": user("auditor@sentra.test"),
            "manager": user("manager.jkt@sentra.test"),
        },
        "ledgers": ledgers,
        "receipts": {
            "good": { "receipt_no": good_receipt, "entry_id": good[0], "total": good[1], "sku": "IND-GRG" },
            "tampered": { "receipt_no": bad_receipt, "branch": "JKT01", "entry_id": bad[0], "device_id": bad[1] },
        },
        "bdg": { "receipt_no": bdg_receipt, "sale_entry_id": bdg_row[0], "device_id": bdg_row[1] },
    });
    let dir = tempfile::tempdir()?;
    let fixture_file = dir.path().join("fixture.json");
    std::fs::write(&fixture_file, serde_json::to_vec_pretty(&fixture)?)?;

    let mut cmd = Command::new("node");
    cmd.arg(office_dir().join("e2e.mjs"))
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
        "the browser test failed ({}):\n{stdout}\n{stderr}\nserver log:\n{}",
        out.status,
        cloud.server.log_text()
    );
    Ok(())
}
