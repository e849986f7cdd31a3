//! Issue 5's acceptance, end to end: real `sentra-term` terminals, a real
//! `sentra-sync relay`, the real cloud (`sentra-sync serve`) on a real
//! PostgreSQL, and a chaos proxy on the relay's uplink. Build the binaries
//! first: `cargo build --workspace --bins`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use sentra_e2e::{Cloud, Link, Mode, Relay, Till, catalog_csv};
use serde_json::Value;

const BRANCH: &str = "JKT01";

/// A branch: the cloud, the relay behind a breakable uplink, and tills
/// enrolled with the cloud and syncing through the relay.
struct Shop {
    cloud: Cloud,
    uplink: Link,
    relay: Relay,
    tills: Vec<Till>,
}

fn shop(tills: usize, relay_args: &[&str]) -> Result<Shop> {
    let cloud = Cloud::start()?;
    cloud.branch_create(BRANCH)?;
    cloud.catalog_import(&catalog_csv(), None)?;
    let uplink = Link::to(&cloud.url())?;
    let relay = Relay::start_with(
        &uplink.url(),
        Some(&cloud.enroll_code(BRANCH, "relay")?),
        relay_args,
    )?;
    let mut list = Vec::new();
    for n in 1..=tills {
        let till = Till::ready(BRANCH, &format!("T0{n}"))?;
        till.enroll(
            &cloud.url(),
            &cloud.enroll_code(BRANCH, "terminal")?,
            Some(&relay.url()),
        )?;
        let report = till.sync_until(0, Duration::from_secs(60))?;
        ensure!(report["upstream"] == "relay", "first sync: {report}");
        list.push(till);
    }
    Ok(Shop {
        cloud,
        uplink,
        relay,
        tills: list,
    })
}

/// Sale `i` of a till: tenders of every kind, in turn.
fn ring(till: &Till, device: &str, i: usize) -> Result<Value> {
    let reference = format!("{device}-{i:05}");
    match i % 4 {
        0 => till.sell(&["AQUA600"], &["cash:5000"]),
        1 => till.sell(&["AQUA600x2"], &[&format!("card:8000:APPR-{reference}")]),
        2 => till.sell(&["IND-GRGx3"], &[&format!("qris:10500:QR-{reference}")]),
        _ => till.sell(
            &["TEH-BTL", "IND-GRG"],
            &[&format!("voucher:5000:VCH-{reference}"), "cash:4500"],
        ),
    }
}

/// Rings `n` sales on every till at once (one thread per till).
fn ring_all(tills: &[Till], n: usize) -> Result<()> {
    std::thread::scope(|s| {
        let handles: Vec<_> = tills
            .iter()
            .enumerate()
            .map(|(t, till)| {
                s.spawn(move || -> Result<()> {
                    let device = format!("T0{}", t + 1);
                    for i in 0..n {
                        ring(till, &device, i)?;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("a till thread panicked"))??;
        }
        Ok(())
    })
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

/// Closes every till's shift (counting exactly the expected cash) and sums
/// the Z reports' takings per payment method.
fn close_all(tills: &[Till]) -> Result<BTreeMap<String, i64>> {
    let mut sum = BTreeMap::new();
    for till in tills {
        let x = till.json(&["report", "x"])?;
        let z = till.close_shift(int(&x["expected_cash"]))?;
        let payments = z["payments"].as_object().context("Z payments")?;
        for (method, amount) in payments {
            *sum.entry(method.clone()).or_insert(0) += int(amount);
        }
    }
    sum.retain(|_, v| *v != 0);
    Ok(sum)
}

fn ledger_payments(cloud: &Cloud) -> Result<BTreeMap<String, i64>> {
    let ledger = cloud.ledger(BRANCH)?;
    let mut out: BTreeMap<String, i64> = ledger["payments"]
        .as_object()
        .context("ledger payments")?
        .iter()
        .map(|(k, v)| (k.clone(), int(v)))
        .collect();
    out.retain(|_, v| *v != 0);
    Ok(out)
}

/// Every till's chain, entry for entry, is in the cloud once.
fn assert_each_entry_once(shop: &Shop) -> Result<()> {
    for till in &shop.tills {
        let status = till.status()?;
        let device = status["device_id"].as_str().context("device id")?;
        let tip = int(&status["tip_seq"]);
        let held = shop.cloud.count(&format!(
            "SELECT count(*) FROM journal WHERE device_id = '{device}'"
        ))?;
        let distinct = shop.cloud.count(&format!(
            "SELECT count(DISTINCT seq) FROM journal WHERE device_id = '{device}' AND seq BETWEEN 1 AND {tip}"
        ))?;
        ensure!(
            held == tip && distinct == tip,
            "device {device}: tip {tip}, cloud holds {held} ({distinct} distinct)"
        );
    }
    Ok(())
}

fn relay_health(relay: &Relay) -> Result<Value> {
    let addr = relay.url();
    let out = std::process::Command::new("curl")
        .args(["-fsS", &format!("{addr}/health")])
        .output()?;
    ensure!(out.status.success(), "relay /health failed");
    Ok(serde_json::from_slice(&out.stdout)?)
}

fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> Result<bool>) -> Result<()> {
    let deadline = Instant::now() + limit;
    while !done()? {
        if Instant::now() > deadline {
            bail!("{what}: not within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

#[test]
fn uplink_cut_while_three_terminals_ring_500_sales_each_then_every_sale_is_in_the_cloud_once()
-> Result<()> {
    let shop = shop(3, &[])?;
    let sales_before = shop.cloud.count("SELECT count(*) FROM sales")?;
    shop.uplink.set_mode(Mode::Cut);
    ring_all(&shop.tills, 500)?;
    // The relay takes everything while the uplink is down: held by the
    // relay, not yet the cloud (exit 3), and the cloud saw none of it.
    for till in &shop.tills {
        let report = till.sync_until(3, Duration::from_secs(60))?;
        ensure!(report["upstream"] == "relay", "{report}");
        ensure!(report["uplink"] == "down", "{report}");
        ensure!(int(&report["entries"]["local"]) == 0, "{report}");
    }
    ensure!(shop.cloud.count("SELECT count(*) FROM sales")? == sales_before);
    ensure!(int(&relay_health(&shop.relay)?["pending_entries"]) >= 1500);

    shop.uplink.set_mode(Mode::Forward);
    let z = close_all(&shop.tills)?;
    for till in &shop.tills {
        till.sync_until(0, Duration::from_secs(120))?;
    }
    ensure!(shop.cloud.count("SELECT count(*) FROM sales")? == 1500);
    assert_each_entry_once(&shop)?;
    let ledger = shop.cloud.ledger(BRANCH)?;
    ensure!(int(&ledger["sales_count"]) == 1500, "{ledger}");
    let payments = ledger_payments(&shop.cloud)?;
    ensure!(
        payments == z,
        "ledger {payments:?} != sum of Z reports {z:?}"
    );
    for method in ["cash", "card", "qris", "voucher"] {
        ensure!(
            payments.get(method).copied().unwrap_or(0) > 0,
            "no {method} takings"
        );
    }
    println!("ledger per method = sum of 3 Z reports: {payments:?}");
    Ok(())
}

#[test]
fn the_relay_killed_mid_forward_loses_nothing_and_doubles_nothing() -> Result<()> {
    // Small batches over a slow uplink, so the kill lands mid-forward.
    let mut shop = shop(3, &["--forward-batch", "25"])?;
    shop.uplink.set_mode(Mode::Cut);
    ring_all(&shop.tills, 150)?;
    for till in &shop.tills {
        till.sync_until(3, Duration::from_secs(60))?;
    }
    let total: i64 = 3 * 150;
    shop.uplink.set_delay(Duration::from_millis(40));
    shop.uplink.set_mode(Mode::Forward);
    wait_until(Duration::from_secs(60), "forwarding starts", || {
        Ok(shop.cloud.count("SELECT count(*) FROM sales")? > 0)
    })?;
    shop.relay.server.kill();
    let at_kill = shop.cloud.count("SELECT count(*) FROM sales")?;
    ensure!(
        at_kill < total,
        "the kill came too late: {at_kill} of {total}"
    );
    shop.uplink.set_delay(Duration::ZERO);
    shop.relay.restart()?;
    for till in &shop.tills {
        till.sync_until(0, Duration::from_secs(120))?;
    }
    ensure!(shop.cloud.count("SELECT count(*) FROM sales")? == total);
    assert_each_entry_once(&shop)?;
    println!("killed with {at_kill} of {total} sales forwarded; after restart all {total}, once");
    Ok(())
}

#[test]
fn with_the_relay_down_terminals_deliver_straight_to_the_cloud_and_later_copies_count_once()
-> Result<()> {
    let mut shop = shop(3, &[])?;
    shop.uplink.set_mode(Mode::Cut);
    ring_all(&shop.tills, 40)?;
    for till in &shop.tills {
        till.sync_until(3, Duration::from_secs(60))?;
    }
    // The relay holds 3 × 40 the cloud has not seen; then it goes down.
    shop.relay.server.stop();
    shop.uplink.set_mode(Mode::Forward);
    ring_all(&shop.tills, 10)?;
    for till in &shop.tills {
        let report = till.sync_until(0, Duration::from_secs(60))?;
        ensure!(report["upstream"] == "cloud", "{report}");
    }
    ensure!(shop.cloud.count("SELECT count(*) FROM sales")? == 150);
    let duplicates_before = shop.cloud.count("SELECT count(*) FROM journal")?;
    // The relay returns with its copies of the first 120 sales.
    shop.relay.restart()?;
    wait_until(
        Duration::from_secs(60),
        "the relay forwards its copies",
        || Ok(int(&relay_health(&shop.relay)?["pending_entries"]) == 0),
    )?;
    ensure!(shop.cloud.count("SELECT count(*) FROM journal")? == duplicates_before);
    ensure!(shop.cloud.count("SELECT count(*) FROM sales")? == 150);
    let z = close_all(&shop.tills)?;
    for till in &shop.tills {
        till.sync_until(0, Duration::from_secs(60))?;
    }
    assert_each_entry_once(&shop)?;
    ensure!(ledger_payments(&shop.cloud)? == z);
    Ok(())
}

#[test]
fn an_entry_altered_on_the_way_is_refused_and_alerted_and_the_rest_is_kept() -> Result<()> {
    let shop = shop(2, &[])?;
    shop.uplink.set_mode(Mode::Cut);
    ring_all(&shop.tills, 5)?;
    for till in &shop.tills {
        till.sync_until(3, Duration::from_secs(60))?;
    }
    // One byte of T01's third sale changes between the relay and the cloud.
    shop.uplink
        .tamper_once(b"JKT01-T01-000003", b"JKT01-T01-000008")?;
    shop.uplink.set_mode(Mode::Forward);
    wait_until(Duration::from_secs(60), "the alert", || {
        Ok(shop
            .cloud
            .count("SELECT count(*) FROM alerts WHERE kind = 'refused_entry'")?
            >= 1)
    })?;
    ensure!(shop.uplink.tampered());
    let reason = shop
        .cloud
        .sql("SELECT details->>'reason' FROM alerts WHERE kind = 'refused_entry' LIMIT 1")?;
    ensure!(reason.trim() == "hash_mismatch", "{reason}");
    ensure!(
        shop.cloud
            .count("SELECT count(*) FROM sales WHERE receipt_no = 'JKT01-T01-000008'")?
            == 0,
        "the altered sale must never be stored"
    );
    // The genuine entry is still on the relay: it is resent and accepted,
    // and every other entry is kept.
    for till in &shop.tills {
        till.sync_until(0, Duration::from_secs(60))?;
    }
    ensure!(shop.cloud.count("SELECT count(*) FROM sales")? == 10);
    assert_each_entry_once(&shop)?;
    Ok(())
}

fn unit_price(till: &Till, sku: &str) -> Result<i64> {
    let shown = till.json(&["catalog", "show", sku])?;
    shown[0]["unit_price"]
        .as_i64()
        .with_context(|| format!("no unit_price in {shown}"))
}

#[test]
fn a_price_changed_in_the_cloud_reaches_three_terminals_through_the_relay_in_one_round()
-> Result<()> {
    let mut shop = shop(3, &[])?;
    shop.cloud.price_set("AQUA600", 4500, None)?;
    for till in &shop.tills {
        let (code, report, run) = till.sync()?;
        ensure!(code == Some(0), "{run:?}");
        let report = report.context("report")?;
        ensure!(report["upstream"] == "relay", "{report}");
        ensure!(unit_price(till, "AQUA600")? == 4500);
    }
    // Offline (no relay, no cloud), a price change cannot reach T01: it
    // sells at the old price, and the cloud flags it when the sale arrives.
    shop.relay.server.stop();
    shop.cloud.stop();
    shop.cloud.price_set("AQUA600", 5000, None)?;
    let t1 = &shop.tills[0];
    let sale = t1.sell(&["AQUA600"], &["cash:4500"])?;
    let receipt = sale["receipt_no"].as_str().context("receipt")?.to_owned();
    let (code, _, _) = t1.sync()?;
    ensure!(code == Some(4), "offline sync must exit 4, got {code:?}");
    shop.cloud.restart()?;
    shop.relay.restart()?;
    t1.sync_until(0, Duration::from_secs(60))?;
    let stale = shop.cloud.sql(&format!(
        "SELECT details->>'charged', details->>'in_force' FROM conflicts
         WHERE kind = 'stale_price' AND details->>'receipt_no' = '{receipt}'"
    ))?;
    ensure!(
        stale.trim() == "4500|5000",
        "stale_price conflict: {stale:?}"
    );
    ensure!(unit_price(t1, "AQUA600")? == 5000);
    Ok(())
}

#[test]
fn a_terminal_of_another_branch_is_refused_by_the_relay() -> Result<()> {
    let cloud = Cloud::start()?;
    cloud.branch_create("JKT01")?;
    cloud.branch_create("BDG01")?;
    cloud.catalog_import(&catalog_csv(), None)?;
    let relay_b = Relay::start(&cloud.url(), Some(&cloud.enroll_code("BDG01", "relay")?))?;
    let till_a = Till::ready("JKT01", "T01")?;
    till_a.enroll(
        &cloud.url(),
        &cloud.enroll_code("JKT01", "terminal")?,
        Some(&relay_b.url()),
    )?;
    till_a.sell(&["AQUA600"], &["cash:4000"])?;
    let (code, report, run) = till_a.sync()?;
    let report = report.context(format!("{run:?}"))?;
    let relay_error = report["relay_error"].as_str().unwrap_or_default();
    ensure!(
        relay_error.contains("unknown_to_relay") && relay_error.contains("BDG01"),
        "{report}"
    );
    // The relay stored nothing of it; the terminal went to the cloud.
    ensure!(int(&relay_health(&relay_b)?["pending_entries"]) == 0);
    ensure!(report["upstream"] == "cloud" && code == Some(0), "{report}");
    Ok(())
}

#[test]
fn a_sale_never_waits_for_a_hung_relay() -> Result<()> {
    // The terminals reach the relay over a LAN link that can hang: the
    // relay's port accepts, then nothing comes back.
    let cloud = Cloud::start()?;
    cloud.branch_create(BRANCH)?;
    cloud.catalog_import(&catalog_csv(), None)?;
    let relay = Relay::start(&cloud.url(), Some(&cloud.enroll_code(BRANCH, "relay")?))?;
    let lan = Link::to(&relay.url())?;
    let till = Till::ready(BRANCH, "T01")?;
    till.enroll(
        &cloud.url(),
        &cloud.enroll_code(BRANCH, "terminal")?,
        Some(&lan.url()),
    )?;
    till.sync_until(0, Duration::from_secs(60))?;
    let tip_before = int(&till.status()?["tip_seq"]);

    lan.set_mode(Mode::Pause);
    let mut watch = till.spawn(&["sync", "--watch", "--interval-ms", "100"])?;
    // The loop is now stuck on the hung link, again and again; every sale
    // must still complete (a round holding the database across the
    // network would make them fail with "database is locked").
    for i in 0..30 {
        ring(&till, "T01", i)?;
    }
    let status = till.status()?;
    ensure!(int(&status["tip_seq"]) == tip_before + 30, "{status}");

    // The link recovers: the same loop delivers them.
    lan.set_mode(Mode::Forward);
    till.wait_for_status(Duration::from_secs(120), |s| {
        s["entries"]["local"] == 0 && s["entries"]["relay_only"] == 0
    })?;
    watch.terminate(Duration::from_secs(15));
    ensure!(cloud.count("SELECT count(*) FROM sales")? == 30);
    Ok(())
}
