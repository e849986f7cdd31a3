//! Head office runs the chain from the browser (issue 13), in real headless
//! Chromium (`tests/office/manage.mjs`, playwright-core) against a real
//! `sentra-sync serve`, with real tills (`sentra-term`) on the other side:
//! a price scheduled in the page reaches a till with `sentra-term sync` and
//! applies at its time; a CSV import with bad lines is refused whole with
//! the lines named; a branch's NPWP and footer set in the page are pulled by
//! a till; an enrollment code made in the page enrolls a till; a device
//! revoked in the page is refused at its next push; a PIN reset in the page
//! signs the cashier in at a till after a sync; a manager cannot change
//! another branch's prices or devices, nor see office users. Afterwards
//! every change is checked in the audit log with its old and new values.
//!
//! `SENTRA_OFFICE_SCREENSHOTS=DIR` also saves a picture of every new page.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use sentra_e2e::office::{PASSWORD, ensure_playwright, office_dir, office_user};
use sentra_e2e::{Cloud, Till, binary, catalog_csv, run_with_timeout};
use serde_json::json;

#[test]
fn head_office_runs_the_chain_from_the_browser() -> Result<()> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).is_file() {
        bail!("{chromium} is missing: run scripts/install-deps.sh test (Debian package chromium)");
    }
    ensure_playwright()?;

    let cloud = Cloud::start()?;
    cloud.branch_create("JKT01")?;
    cloud.branch_create("BDG01")?;
    cloud.catalog_import(&catalog_csv(), None)?;
    cloud.admin(&[
        "user", "add", "--branch", "JKT01", "--name", "Siti", "--pin", "1234",
    ])?;

    // T01 sells at JKT01; T02 waits for the code head office will make.
    let t01 = Till::ready("JKT01", "T01")?;
    t01.enroll(&cloud.url(), &cloud.enroll_code("JKT01", "terminal")?, None)?;
    let (code, _, run) = t01.sync()?;
    ensure!(code == Some(0), "first sync: {run:?}");
    let t02 = Till::ready("JKT01", "T02")?;
    let bdg = Till::ready("BDG01", "B01")?;
    bdg.enroll(&cloud.url(), &cloud.enroll_code("BDG01", "terminal")?, None)?;
    let bdg_device = bdg.json(&["info"])?["device_id"]
        .as_str()
        .context("device_id")?
        .to_owned();

    for (email, role, branch) in [
        ("admin@sentra.test", "admin", None),
        ("manager.jkt@sentra.test", "manager", Some("JKT01")),
    ] {
        office_user(&cloud, email, role, branch)?;
    }

    let dir = tempfile::tempdir()?;
    let fixture = json!({
        "url": cloud.url(),
        "term": binary("sentra-term")?,
        "tmp": dir.path(),
        "tills": { "t01": t01.data_dir, "t02": t02.data_dir },
        "bdg_device": bdg_device,
        "users": {
            "admin": { "email": "admin@sentra.test", "password": PASSWORD },
            "manager": { "email": "manager.jkt@sentra.test", "password": PASSWORD },
        },
    });
    let fixture_file = dir.path().join("fixture.json");
    std::fs::write(&fixture_file, serde_json::to_vec_pretty(&fixture)?)?;
    let mut cmd = Command::new("node");
    cmd.arg(office_dir().join("manage.mjs"))
        .current_dir(office_dir())
        .env("OFFICE_FIXTURE", &fixture_file)
        .env("CHROMIUM", &chromium);
    if let Some(shots) = std::env::var_os("SENTRA_OFFICE_SCREENSHOTS") {
        cmd.env("OFFICE_SCREENSHOTS", shots);
    }
    let out = run_with_timeout(cmd, Duration::from_secs(400))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    ensure!(
        out.status.success(),
        "the browser test failed ({}):\n{stdout}\n{stderr}\nserver log:\n{}",
        out.status,
        cloud.server.log_text()
    );

    // The manager's attempts changed nothing of BDG01.
    ensure!(
        cloud.count(&format!(
            "SELECT count(*) FROM devices WHERE device_id = '{bdg_device}' AND revoked_at IS NULL"
        ))? == 1,
        "BDG01's device was revoked by a JKT01 manager"
    );
    ensure!(
        cloud.count(
            "SELECT count(*) FROM prices p JOIN branches b USING (branch_id) WHERE b.code = 'BDG01'"
        )? == 0,
        "a JKT01 manager set a BDG01 price"
    );
    // Every change is in the audit log with what it was and what it became.
    for (action, needs_old) in [
        ("price_set", true),
        ("catalog_import", false),
        ("catalog_import_applied", false),
        ("branch_settings", true),
        ("enroll_code_created", false),
        ("device_revoked", true),
        ("cashier_pin_reset", true),
        ("cashier_added", false),
        ("office_user_added", false),
        ("office_user_changed", true),
        ("product_update", true),
    ] {
        let n = cloud.count(&format!(
            "SELECT count(*) FROM audit_log WHERE action = '{action}' AND new_value IS NOT NULL
                 AND ({} OR old_value IS NOT NULL)",
            !needs_old
        ))?;
        ensure!(n >= 1, "no audit record {action} with old and new values");
    }
    let settings = cloud.sql(
        "SELECT old_value->>'npwp' IS NULL, new_value->>'npwp' FROM audit_log
         WHERE action = 'branch_settings' ORDER BY audit_id LIMIT 1",
    )?;
    ensure!(
        settings.trim() == "t|012345678901000",
        "branch settings audit: {settings}"
    );
    Ok(())
}
