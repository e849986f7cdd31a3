//! The terminal's sync client through a real branch relay (`sentra-sync
//! relay`), with the relay's link to the cloud behind a chaos proxy: relay
//! first, the cloud directly when the relay is gone, and never the cloud
//! when the relay answers with its uplink down. Build the binaries first:
//! `cargo build --workspace --bins`.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use sentra_e2e::{Cloud, Link, Mode, Relay, Till, catalog_csv};

struct Branch {
    cloud: Cloud,
    uplink: Link,
    relay: Relay,
    till: Till,
}

/// Cloud with JKT01 and the catalog; a relay reaching the cloud through a
/// proxy; a terminal enrolled with the cloud and syncing through the relay.
fn branch() -> Result<Branch> {
    branch_with(&[])
}

/// As [`branch`], with extra `sentra-sync relay` arguments.
fn branch_with(relay_args: &[&str]) -> Result<Branch> {
    let cloud = Cloud::start()?;
    cloud.branch_create("JKT01")?;
    cloud.catalog_import(&catalog_csv(), None)?;
    let uplink = Link::to(&cloud.url())?;
    let relay = Relay::start_with(
        &uplink.url(),
        Some(&cloud.enroll_code("JKT01", "relay")?),
        relay_args,
    )?;
    let till = Till::ready("JKT01", "T01")?;
    let code = cloud.enroll_code("JKT01", "terminal")?;
    till.enroll(&cloud.url(), &code, Some(&relay.url()))?;
    // The relay learns of a newly enrolled terminal by asking the cloud for
    // its device list when an unknown credential arrives: the very first
    // round goes through the relay.
    let (code, report, run) = till.sync()?;
    let report = report.with_context(|| format!("no report: {run:?}"))?;
    ensure!(
        code == Some(0) && report["upstream"] == "relay",
        "first round: {report}"
    );
    Ok(Branch {
        cloud,
        uplink,
        relay,
        till,
    })
}

#[test]
fn through_the_relay_every_entry_reaches_the_cloud() -> Result<()> {
    let b = branch()?;
    b.till.sell(&["IND-GRGx2"], &["cash:7000"])?;
    b.till.sell(&["TEH-BTL"], &["card:6000:A1"])?;
    let report = b.till.sync_until(0, Duration::from_secs(60))?;
    assert_eq!(report["upstream"], "relay", "{report}");
    assert_eq!(report["outcome"], "ok", "{report}");
    let status = b.till.status()?;
    assert_eq!(status["relay_acked_seq"], status["tip_seq"]);
    assert_eq!(status["cloud_acked_seq"], status["tip_seq"]);
    assert_eq!(status["last_upstream"], "relay");
    assert_eq!(b.cloud.count("SELECT count(*) FROM sales")?, 2);
    // Pulled through the relay too: a price set in the cloud arrives.
    b.cloud.price_set("TEH-BTL", 6100, None)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        b.till.sync_until(0, Duration::from_secs(60))?;
        let shown = b.till.json(&["catalog", "show", "TEH-BTL"])?;
        if shown[0]["unit_price"] == 6100 {
            break;
        }
        if Instant::now() > deadline {
            bail!("the new price never arrived through the relay: {shown}");
        }
    }
    Ok(())
}

#[test]
fn with_the_uplink_down_the_relay_holds_the_entries_and_the_cloud_is_not_tried() -> Result<()> {
    let b = branch()?;
    b.uplink.set_mode(Mode::Cut);
    b.till.sell(&["AQUA600"], &["cash:4000"])?;
    let (code, report, run) = b.till.sync()?;
    // The cloud itself is up: had the terminal gone round the relay, the
    // entry would be in the cloud and sync would exit 0.
    assert_eq!(code, Some(3), "held by the relay only: {run:?}");
    let report = report.context("report")?;
    assert_eq!(report["outcome"], "uplink_down", "{report}");
    assert_eq!(report["upstream"], "relay");
    let status = b.till.status()?;
    assert_eq!(status["entries"]["relay_only"], 1, "{status}");
    assert_eq!(status["entries"]["local"], 0);
    assert_eq!(status["last_outcome"], "uplink_down");

    b.uplink.set_mode(Mode::Forward);
    b.till.sync_until(0, Duration::from_secs(90))?;
    assert_eq!(b.cloud.count("SELECT count(*) FROM sales")?, 1);
    Ok(())
}

#[test]
fn with_the_relay_gone_the_terminal_goes_straight_to_the_cloud() -> Result<()> {
    let mut b = branch()?;
    b.relay.server.kill();
    b.till.sell(&["BERAS-KGx2"], &["cash:29000"])?;
    let started = Instant::now();
    let (code, report, run) = b.till.sync()?;
    assert_eq!(code, Some(0), "{run:?}");
    assert!(started.elapsed() < Duration::from_secs(20));
    let report = report.context("report")?;
    assert_eq!(report["outcome"], "relay_unreachable", "{report}");
    assert_eq!(report["upstream"], "cloud");
    assert!(report["relay_error"].is_string());
    let status = b.till.status()?;
    assert_eq!(status["last_upstream"], "cloud");
    assert_eq!(status["last_outcome"], "relay_unreachable");
    assert_eq!(b.cloud.count("SELECT count(*) FROM sales")?, 1);

    // The relay comes back: it is used again, and the entries the cloud
    // already holds are simply acknowledged.
    b.relay.restart()?;
    let report = b.till.sync_until(0, Duration::from_secs(60))?;
    assert_eq!(report["upstream"], "relay", "{report}");
    assert_eq!(
        b.cloud.count("SELECT count(*) FROM sales")?,
        1,
        "each sale once"
    );
    Ok(())
}

#[test]
fn clearing_the_relay_syncs_straight_to_the_cloud() -> Result<()> {
    let b = branch()?;
    let cleared = b.till.json(&["set-relay", "--none"])?;
    assert!(cleared["relay_url"].is_null());
    b.till.sell(&["TEH-BTL"], &["cash:6000"])?;
    let (code, report, run) = b.till.sync()?;
    assert_eq!(code, Some(0), "{run:?}");
    let report = report.context("report")?;
    assert_eq!(report["upstream"], "cloud");
    assert_eq!(report["outcome"], "ok");
    assert!(b.till.status()?["relay_url"].is_null());
    drop(b.relay);
    Ok(())
}

#[test]
fn a_relay_that_holds_the_entries_but_does_not_move_them_on_is_gone_round() -> Result<()> {
    let b = branch()?;
    b.uplink.set_mode(Mode::Cut);
    b.till.sell(&["AQUA600"], &["cash:4000"])?;
    // Within the stall time: the relay's word stands (uplink down).
    let (code, report, run) = b.till.run_sync(&["--relay-stall-ms", "600000"])?;
    assert_eq!(code, Some(3), "{run:?}");
    assert_eq!(report.context("report")?["outcome"], "uplink_down");
    // The cloud's ack has not moved for longer than that: straight to the
    // cloud as well (the cloud is up; only the relay's uplink is cut).
    let (code, report, run) = b.till.run_sync(&["--relay-stall-ms", "1"])?;
    assert_eq!(code, Some(0), "{run:?}");
    let report = report.context("report")?;
    assert_eq!(report["outcome"], "ok", "{report}");
    assert_eq!(report["upstream"], "cloud", "{report}");
    assert!(
        report["relay_error"]
            .as_str()
            .is_some_and(|e| e.contains("has not moved")),
        "{report}"
    );
    assert_eq!(b.cloud.count("SELECT count(*) FROM sales")?, 1);
    // The relay forwards its copy later: still one sale.
    b.uplink.set_mode(Mode::Forward);
    b.till.sync_until(0, Duration::from_secs(60))?;
    assert_eq!(b.cloud.count("SELECT count(*) FROM sales")?, 1);
    Ok(())
}

#[test]
fn a_terminal_the_relay_parked_hears_the_clouds_refusal_first_hand() -> Result<()> {
    // The relay must not learn of the revocation from its device list first.
    let b = branch_with(&["--refresh-secs", "3600"])?;
    let device = b.till.status()?["device_id"]
        .as_str()
        .context("device id")?
        .to_owned();
    b.cloud.admin(&["device", "revoke", &device])?;
    b.till.sell(&["AQUA600"], &["cash:4000"])?;
    let (code, report, run) = b.till.sync()?;
    assert_eq!(code, Some(3), "held by the relay, not the cloud: {run:?}");
    let report = report.context("report")?;
    assert_eq!(report["outcome"], "cloud_refusing", "{report}");
    assert_eq!(report["error_code"], "device_revoked", "{report}");
    assert!(
        report["relay_error"]
            .as_str()
            .is_some_and(|e| e.contains("parked")),
        "{report}"
    );
    let status = b.till.status()?;
    assert!(
        status["relay_parked"]
            .as_str()
            .is_some_and(|p| p.starts_with("device_revoked")),
        "{status}"
    );
    let health: serde_json::Value = serde_json::from_str(&b.relay.server.get("/health")?)?;
    assert_eq!(
        health["parked_devices"][0]["device_id"],
        device.as_str(),
        "{health}"
    );
    Ok(())
}

/// The till's price of `sku`, a cashier's active flag and a tax rate, read
/// straight from its database.
fn till_values(till: &Till, sku: &str, cashier: &str, tax: &str) -> Result<(i64, i64, String)> {
    let t = sentra_terminal::Terminal::open(&till.data_dir)?;
    Ok(t.connection().query_row(
        "SELECT (SELECT unit_price FROM products WHERE sku = ?1),
                (SELECT active FROM cashiers WHERE name = ?2),
                (SELECT percent FROM tax_rates WHERE category = ?3)",
        [sku, cashier, tax],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?)
}

/// Defect 5 of issue 11: master data pulled through the relay is the
/// cloud's, signed; a relay (or anyone on the LAN) that alters a price, a
/// cashier row or a tax rate on the way is caught — nothing of the page is
/// applied, the old value stays, the terminal says so — and the genuine
/// change arrives later.
#[test]
fn a_relay_that_alters_master_data_is_caught_and_the_old_values_are_kept() -> Result<()> {
    let cloud = Cloud::start()?;
    cloud.branch_create("JKT01")?;
    cloud.catalog_import(&catalog_csv(), None)?;
    cloud.admin(&[
        "user", "add", "--name", "Siti", "--pin", "4821", "--branch", "JKT01",
    ])?;
    let relay = Relay::start(&cloud.url(), Some(&cloud.enroll_code("JKT01", "relay")?))?;
    // The shop's LAN between till and relay, and the till's own line to the
    // cloud (cut while the relay lies, so nothing can fix it behind our back).
    let lan = Link::to(&relay.url())?;
    let direct = Link::to(&cloud.url())?;
    let till = Till::ready("JKT01", "T01")?;
    till.enroll(
        &direct.url(),
        &cloud.enroll_code("JKT01", "terminal")?,
        Some(&lan.url()),
    )?;
    let (code, report, run) = till.sync()?;
    let report = report.with_context(|| format!("no report: {run:?}"))?;
    ensure!(code == Some(0) && report["upstream"] == "relay", "{report}");
    ensure!(
        till_values(&till, "TEH-BTL", "Siti", "standard")? == (6000, 1, "11".to_owned()),
        "first pull"
    );

    let mut expected = (6000, 1, "11".to_owned());
    // Each: what head office changes, and how the relay alters it.
    let cases: [(&str, &[u8], &[u8]); 3] = [
        (
            "UPDATE prices SET price = 6500 WHERE sku = 'TEH-BTL'",
            b"\"price\":6500",
            b"\"price\":1500",
        ),
        (
            "UPDATE cashiers SET active = false WHERE name = 'Siti'",
            b"\"active\":false",
            b"\"active\":true ",
        ),
        (
            "UPDATE tax_rates SET rate = '12', nominal_rate = '12', dpp_numerator = 1, dpp_denominator = 1 WHERE category = 'standard'",
            b"\"rate\":\"12\"",
            b"\"rate\":\"00\"",
        ),
    ];
    for (change, genuine, forged) in cases {
        direct.set_mode(Mode::Cut);
        cloud.sql(change)?;
        lan.tamper_response_once(genuine, forged)?;
        let (_, report, run) = till.sync()?;
        let report = report.with_context(|| format!("no report: {run:?}"))?;
        ensure!(
            lan.tampered(),
            "{change}: the relay's answer was not altered: {report}"
        );
        let refused = report["master_data_refused"].as_str().unwrap_or_default();
        ensure!(
            refused.contains("relay") && refused.contains("not the cloud's"),
            "{change}: the alteration was not caught: {report}"
        );
        ensure!(
            till_values(&till, "TEH-BTL", "Siti", "standard")? == expected,
            "{change}: an altered value was applied"
        );
        let status = till.status()?;
        ensure!(
            status["master_data_alert"]["upstream"] == "relay",
            "{change}: no alert: {status}"
        );

        // The relay serves the genuine change next time; the alert ends.
        direct.set_mode(Mode::Forward);
        let (code, report, run) = till.sync()?;
        let report = report.with_context(|| format!("no report: {run:?}"))?;
        ensure!(code == Some(0), "{change}: {report}");
        match genuine[1] {
            b'p' => expected.0 = 6500,
            b'a' => expected.1 = 0,
            _ => expected.2 = "12".to_owned(),
        }
        let now = till_values(&till, "TEH-BTL", "Siti", "standard")?;
        ensure!(
            now == expected,
            "{change}: the genuine change did not arrive: {now:?}, not {expected:?}: {report}"
        );
        ensure!(
            till.status()?["master_data_alert"].is_null(),
            "{change}: the alert outlived a clean pull"
        );
    }
    // Head office heard of each, through the till's journal.
    let alerts = cloud.sql(
        "SELECT details->>'upstream', details->>'entity', details->>'problem' FROM alerts
         WHERE kind = 'master_data_refused' ORDER BY seq",
    )?;
    ensure!(
        alerts.trim()
            == "relay|price|bad_signature\nrelay|user|bad_signature\nrelay|tax|bad_signature",
        "alerts in the cloud: {alerts}"
    );
    Ok(())
}

/// The relay never holds a secret that works at the cloud: a terminal talks
/// to its relay with a relay credential the cloud refuses, and the relay
/// learns only its hash.
#[test]
fn the_relay_credential_does_not_work_at_the_cloud() -> Result<()> {
    let b = branch()?;
    let t = sentra_terminal::Terminal::open(&b.till.data_dir)?;
    let (cloud_credential, relay_credential): (String, String) = t.connection().query_row(
        "SELECT credential, relay_credential FROM sync_state",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    drop(t);
    ensure!(cloud_credential != relay_credential);
    let at = |base: &str, credential: &str| -> Result<String> {
        let out = std::process::Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
            .args(["-H", "sentra-protocol: 1"])
            .args(["-H", &format!("authorization: Bearer {credential}")])
            .arg(format!("{base}/v1/head"))
            .output()?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    ensure!(
        at(&b.cloud.url(), &relay_credential)? == "401",
        "the cloud took the relay credential"
    );
    ensure!(at(&b.relay.url(), &relay_credential)? == "200");
    ensure!(at(&b.cloud.url(), &cloud_credential)? == "200");
    ensure!(
        at(&b.relay.url(), &cloud_credential)? == "401",
        "the relay took the cloud credential"
    );
    Ok(())
}

/// What `catalog show` says is on hand of `sku` (thousandths; null: none).
fn on_hand(till: &Till, sku: &str) -> Result<serde_json::Value> {
    Ok(till.json(&["catalog", "show", sku])?[0]["on_hand_milli"].clone())
}

/// Stock on hand, item 5 of issue 15: products pulled from the cloud show
/// the cloud's level (they showed 0), and each till adds its own sales the
/// cloud has not counted yet — exactly once, before and after the cloud has
/// them, with the uplink down too.
#[test]
fn stock_on_hand_is_the_clouds_level_plus_the_tills_own_sales_counted_once() -> Result<()> {
    let cloud = Cloud::start()?;
    cloud.branch_create("JKT01")?;
    cloud.catalog_import(&catalog_csv(), Some("JKT01"))?;
    let uplink = Link::to(&cloud.url())?;
    let relay = Relay::start_with(
        &uplink.url(),
        Some(&cloud.enroll_code("JKT01", "relay")?),
        &[],
    )?;
    // Tills with no catalog of their own: everything comes from the cloud.
    let mut tills = Vec::new();
    for name in ["T01", "T02"] {
        let till = Till::init("JKT01", name)?;
        let code = cloud.enroll_code("JKT01", "terminal")?;
        till.enroll(&cloud.url(), &code, Some(&relay.url()))?;
        till.sync_until(0, Duration::from_secs(60))?;
        till.ok(&["shift", "open", "--float", "500000"])?;
        tills.push(till);
    }
    let (t1, t2) = (&tills[0], &tills[1]);
    for t in [t1, t2] {
        t.sync_until(0, Duration::from_secs(60))?;
        assert_eq!(on_hand(t, "IND-GRG")?, 240_000, "the cloud's level");
    }

    // T01 sells 2 offline: it counts its own sale at once; T02 cannot know.
    t1.sell(&["IND-GRGx2"], &["cash:7000"])?;
    assert_eq!(on_hand(t1, "IND-GRG")?, 238_000);
    assert_eq!(on_hand(t2, "IND-GRG")?, 240_000);

    // Delivered and counted by the cloud: still 238, not 236 (once).
    t1.sync_until(0, Duration::from_secs(60))?;
    t1.sync_until(0, Duration::from_secs(60))?;
    assert_eq!(on_hand(t1, "IND-GRG")?, 238_000);
    // T02 hears of it from the cloud.
    t2.sync_until(0, Duration::from_secs(60))?;
    assert_eq!(on_hand(t2, "IND-GRG")?, 238_000);

    // The uplink goes down; T02 sells 3. The relay cannot fetch levels, so
    // each till keeps the ones it has plus its own sales.
    uplink.set_mode(Mode::Cut);
    t2.sell(&["IND-GRGx3"], &["cash:10500"])?;
    let (code, report, _) = t2.sync()?;
    assert_eq!(code, Some(3), "held by the relay: {report:?}");
    let report = report.context("report")?;
    assert!(
        report["stock_problem"].is_string(),
        "says why no levels came: {report}"
    );
    assert_eq!(on_hand(t2, "IND-GRG")?, 235_000);
    assert_eq!(on_hand(t1, "IND-GRG")?, 238_000);

    // Back up: both tills, and the cloud, agree.
    uplink.set_mode(Mode::Forward);
    t2.sync_until(0, Duration::from_secs(90))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        t1.sync_until(0, Duration::from_secs(60))?;
        t2.sync_until(0, Duration::from_secs(60))?;
        let shown = (on_hand(t1, "IND-GRG")?, on_hand(t2, "IND-GRG")?);
        if shown == (235_000.into(), 235_000.into()) {
            break;
        }
        if Instant::now() > deadline {
            bail!("the tills never agreed on 235: {shown:?}");
        }
    }
    let level = cloud.sql("SELECT on_hand_milli FROM stock_levels WHERE sku = 'IND-GRG'")?;
    assert_eq!(level.trim(), "235000");
    Ok(())
}
