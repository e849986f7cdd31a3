//! The terminal's sync client against the real cloud server, straight (no
//! relay): real `sentra-term` and `sentra-sync` processes, a real
//! PostgreSQL. Build the binaries first: `cargo build --workspace --bins`.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use sentra_e2e::{Cloud, Till, catalog_csv};
use serde_json::Value;

/// A cloud with branch JKT01 and the shared catalog, and a terminal of that
/// branch, enrolled, with a shift open.
fn enrolled_till(cloud: &Cloud, device: &str) -> Result<Till> {
    let till = Till::ready("JKT01", device)?;
    let code = cloud.enroll_code("JKT01", "terminal")?;
    let enrolled = till.enroll(&cloud.url(), &code, None)?;
    ensure!(enrolled["branch"] == "JKT01", "{enrolled}");
    Ok(till)
}

fn cloud_with_catalog() -> Result<Cloud> {
    let cloud = Cloud::start()?;
    cloud.branch_create("JKT01")?;
    cloud.catalog_import(&catalog_csv(), None)?;
    Ok(cloud)
}

fn unit_price(till: &Till, sku: &str) -> Result<i64> {
    let shown = till.json(&["catalog", "show", sku])?;
    shown[0]["unit_price"]
        .as_i64()
        .with_context(|| format!("no unit_price in {shown}"))
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

#[test]
fn sales_reach_the_cloud_and_its_ledger_matches_the_z_report() -> Result<()> {
    let cloud = cloud_with_catalog()?;
    let till = enrolled_till(&cloud, "T01")?;
    till.sell(&["IND-GRGx2", "AQUA600"], &["cash:20000"])?;
    till.sell(&["TEH-BTL"], &["card:6000:APPR01"])?;
    till.sell(&["BERAS-KGx1.5"], &["qris:21750:QR77"])?;
    till.sell(&["AQUA600x3"], &["cash:5000", "card:7000:APPR02"])?;
    let x = till.json(&["report", "x"])?;
    let z = till.close_shift(int(&x["expected_cash"]))?;

    let (code, report, run) = till.sync()?;
    assert_eq!(code, Some(0), "{run:?}");
    let report = report.context("no round report")?;
    assert_eq!(report["outcome"], "ok", "{report}");
    assert_eq!(report["upstream"], "cloud");
    assert_eq!(report["entries"]["local"], 0);

    let ledger = cloud.ledger("JKT01")?;
    let z_payments = z["payments"].as_object().context("Z payments")?;
    let cloud_payments = ledger["payments"].as_object().context("ledger payments")?;
    for (method, amount) in z_payments {
        assert_eq!(
            cloud_payments.get(method),
            Some(amount),
            "{method}: {ledger} vs {z}"
        );
    }
    for (method, amount) in cloud_payments {
        // The Z report leaves out a method that nets to zero.
        if int(amount) != 0 {
            assert_eq!(z_payments.get(method), Some(amount), "{method}");
        }
    }
    assert_eq!(ledger["sales_count"], z["sales_count"]);
    assert_eq!(ledger["gross"], z["gross"]);
    assert_eq!(ledger["tax"], z["tax"]);
    assert_eq!(
        int(&ledger["net"]),
        int(&z["sales_total"]) - int(&z["refunds_total"])
    );

    let status = till.status()?;
    assert_eq!(status["enrolled"], true);
    assert_eq!(status["entries"]["cloud"], status["tip_seq"]);
    assert_eq!(status["last_outcome"], "ok");
    assert_eq!(status["last_upstream"], "cloud");
    assert!(
        !till.ok(&["status"])?.contains("credential"),
        "status never shows the credential"
    );
    Ok(())
}

#[test]
fn with_the_cloud_down_sales_go_on_and_sync_catches_up_once_it_is_back() -> Result<()> {
    let mut cloud = cloud_with_catalog()?;
    let till = enrolled_till(&cloud, "T01")?;
    till.sell(&["IND-GRG"], &["cash:3500"])?;
    let (code, _, run) = till.sync()?;
    assert_eq!(code, Some(0), "{run:?}");

    cloud.stop();
    let sale = till.sell(&["TEH-BTL"], &["cash:10000"])?;
    assert_eq!(sale["change"], 4000, "the sale does not need the network");
    let started = Instant::now();
    let (code, report, run) = till.sync()?;
    assert_eq!(code, Some(4), "entries only here: {run:?}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "a down cloud is noticed quickly, took {:?}",
        started.elapsed()
    );
    let report = report.context("no round report")?;
    assert_eq!(report["outcome"], "cloud_unreachable", "{report}");
    let status = till.status()?;
    assert_eq!(status["last_outcome"], "cloud_unreachable", "{status}");
    assert_eq!(status["last_error"]["kind"], "cloud_unreachable");
    assert!(int(&status["entries"]["local"]) >= 1, "{status}");
    let human = till.ok(&["status"])?;
    assert!(human.contains("cloud_unreachable"), "{human}");

    cloud.restart()?;
    let (code, report, run) = till.sync()?;
    assert_eq!(code, Some(0), "{run:?}");
    assert_eq!(report.context("report")?["outcome"], "ok");
    let status = till.status()?;
    assert_eq!(status["entries"]["local"], 0);
    let tip = int(&status["tip_seq"]);
    assert_eq!(cloud.count("SELECT count(*) FROM journal")?, tip);
    assert_eq!(
        cloud.count("SELECT count(*) FROM sales")?,
        2,
        "each sale once"
    );
    assert_eq!(
        cloud.count("SELECT count(DISTINCT receipt_no) FROM sales")?,
        2
    );
    // A further round has nothing to send and changes nothing.
    let (code, report, _) = till.sync()?;
    assert_eq!(code, Some(0));
    assert_eq!(report.context("report")?["stored"], 0);
    assert_eq!(cloud.count("SELECT count(*) FROM journal")?, tip);
    Ok(())
}

#[test]
fn a_price_set_in_the_cloud_reaches_the_terminal_after_one_sync() -> Result<()> {
    let cloud = cloud_with_catalog()?;
    cloud.branch_create("BDG01")?;
    let till = enrolled_till(&cloud, "T01")?;
    assert_eq!(unit_price(&till, "TEH-BTL")?, 6000);
    cloud.price_set("TEH-BTL", 6500, None)?;
    cloud.price_set("AQUA600", 4200, Some("JKT01"))?;
    // Another branch's price never reaches this one.
    cloud.price_set("IND-GRG", 9999, Some("BDG01"))?;
    let (code, report, run) = till.sync()?;
    assert_eq!(code, Some(0), "{run:?}");
    assert!(int(&report.context("report")?["pulled"]) > 0);
    assert_eq!(unit_price(&till, "TEH-BTL")?, 6500);
    assert_eq!(unit_price(&till, "AQUA600")?, 4200);
    assert_eq!(unit_price(&till, "IND-GRG")?, 3500);
    // And the next sale uses it.
    let sale = till.sell(&["TEH-BTL"], &["cash:6500"])?;
    assert_eq!(sale["total"], 6500);
    Ok(())
}

#[test]
fn a_sale_rung_offline_at_the_old_price_raises_stale_price_in_the_cloud() -> Result<()> {
    let mut cloud = cloud_with_catalog()?;
    let till = enrolled_till(&cloud, "T01")?;
    let (code, _, run) = till.sync()?;
    assert_eq!(code, Some(0), "{run:?}");

    // Head office changes the price while the branch is cut off.
    cloud.stop();
    cloud.price_set("TEH-BTL", 7000, None)?;
    let sale = till.sell(&["TEH-BTL"], &["cash:6000"])?;
    let receipt = sale["receipt_no"].as_str().context("receipt")?.to_owned();
    assert_eq!(sale["total"], 6000, "the till still has the old price");

    cloud.restart()?;
    let (code, report, run) = till.sync()?;
    assert_eq!(code, Some(0), "{run:?}");
    let report = report.context("report")?;
    let conflicts = report["conflicts"].as_array().context("conflicts")?;
    assert!(
        conflicts.iter().any(|c| c["kind"] == "stale_price"),
        "{report}"
    );
    assert_eq!(
        cloud.count(&format!(
            "SELECT count(*) FROM conflicts WHERE kind = 'stale_price'
               AND details->>'receipt_no' = '{receipt}'
               AND (details->>'charged')::bigint = 6000
               AND (details->>'in_force')::bigint = 7000"
        ))?,
        1
    );
    // The sale is kept all the same, and the till now has the new price.
    assert_eq!(
        cloud.count(&format!(
            "SELECT count(*) FROM sales WHERE receipt_no = '{receipt}'"
        ))?,
        1
    );
    assert_eq!(unit_price(&till, "TEH-BTL")?, 7000);
    Ok(())
}

#[test]
fn sync_before_enrollment_exits_1_and_says_what_to_do() -> Result<()> {
    let till = Till::init("JKT01", "T01")?;
    let r = till.run(&["sync"])?;
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("not enrolled"), "{}", r.stderr);
    assert!(r.stderr.contains("sentra-term enroll"), "{}", r.stderr);
    let status = till.status()?;
    assert_eq!(status["enrolled"], false);
    assert_eq!(status["entries"]["local"], 0);
    let r = till.run(&["enroll", "--server", "ftp://example.com", "--code", "X"])?;
    assert_eq!(r.code, Some(1));
    assert!(
        r.stderr.contains("only http:// and https://"),
        "{}",
        r.stderr
    );
    Ok(())
}

#[test]
fn a_code_of_another_branch_is_refused_and_nothing_is_stored() -> Result<()> {
    let cloud = Cloud::start()?;
    cloud.branch_create("JKT01")?;
    cloud.branch_create("BDG01")?;
    let till = Till::init("JKT01", "T01")?;
    let code = cloud.enroll_code("BDG01", "terminal")?;
    let r = till.run(&["enroll", "--server", &cloud.url(), "--code", &code])?;
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("branch BDG01"), "{}", r.stderr);
    assert!(
        r.stderr.contains("sentra-sync device revoke"),
        "{}",
        r.stderr
    );
    let status = till.status()?;
    assert_eq!(status["enrolled"], false);
    assert!(status["server_url"].is_null());
    Ok(())
}

#[test]
fn the_watch_loop_delivers_sales_rung_while_it_runs_and_stops_on_sigterm() -> Result<()> {
    let mut cloud = cloud_with_catalog()?;
    let till = enrolled_till(&cloud, "T01")?;
    let mut watch = till.spawn(&["--json", "sync", "--watch", "--interval-ms", "200"])?;
    // Sales go on while the loop holds its own connection.
    till.sell(&["IND-GRG"], &["cash:3500"])?;
    till.sell(&["AQUA600"], &["qris:4000:Q9"])?;
    let all_in_cloud = |s: &Value| s["tip_seq"] == 3 && s["entries"]["cloud"] == 3;
    till.wait_for_status(Duration::from_secs(60), all_in_cloud)?;

    // The cloud goes away and comes back: the loop resumes by itself.
    cloud.stop();
    till.sell(&["TEH-BTL"], &["cash:6000"])?;
    till.wait_for_status(Duration::from_secs(60), |s| {
        s["last_outcome"] == "cloud_unreachable"
    })?;
    cloud.restart()?;
    till.wait_for_status(Duration::from_secs(60), |s| {
        s["tip_seq"] == 4 && s["entries"]["cloud"] == 4
    })?;
    assert_eq!(cloud.count("SELECT count(*) FROM sales")?, 3);

    let status = watch.terminate(Duration::from_secs(15));
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "stderr: {}",
        watch.stderr_text()
    );
    let rounds: Vec<Value> = watch
        .stdout_text()
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .context("every round is one JSON line")?;
    assert!(rounds.iter().any(|r| r["outcome"] == "ok"));
    assert!(rounds.iter().any(|r| r["outcome"] == "cloud_unreachable"));
    Ok(())
}
