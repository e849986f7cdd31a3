//! The cloud when a part of it goes away for good, with real processes: two
//! `sentra-sync serve` behind HAProxy, PostgreSQL with a streaming standby,
//! a base backup and its restore. In every case the tills and the relay
//! keep every entry until the cloud holds it, so after their next rounds
//! each sale is in the cloud exactly once and the ledger equals the Z
//! reports (`docs/operations.md`, "The cloud: balancer, standby, backups";
//! `docs/sync-protocol.md`, "When the cloud forgets").
//!
//! Build the binaries first: `cargo build --workspace --bins`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use sentra_e2e::balancer::{Backends, Balancer};
use sentra_e2e::{Cloud, Relay, Till, catalog_csv};
use sentra_pg_harness::{Cluster, ClusterOptions, TestDatabase};

const BRANCH: &str = "JKT01";

/// What one till sold, by receipt number: the total.
type Sold = BTreeMap<String, i64>;

/// One cash sale; its receipt number and total.
fn sell_one(till: &Till, i: usize) -> Result<(String, i64)> {
    let (item, price) = [("AQUA600", 4000), ("TEH-BTL", 6000), ("IND-GRGx2", 7000)][i % 3];
    let sale = till.sell(&[item], &[&format!("cash:{price}")])?;
    let receipt = sale["receipt_no"]
        .as_str()
        .context("sale: no receipt_no")?
        .to_owned();
    let total = sale["total"].as_i64().context("sale: no total")?;
    Ok((receipt, total))
}

/// Each till sells `per_till` sales, pushing after each (a round may fail
/// while a part of the cloud is down: the entries stay on the till). Runs
/// `during` on this thread meanwhile, then returns what each till sold.
fn sell_while(
    tills: &[Till],
    per_till: usize,
    during: impl FnOnce() -> Result<()>,
) -> Result<Vec<Sold>> {
    let failed = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let workers: Vec<_> = tills
            .iter()
            .map(|till| {
                let failed = &failed;
                scope.spawn(move || -> Result<Sold> {
                    let mut sold = Sold::new();
                    for i in 0..per_till {
                        if failed.load(Ordering::Relaxed) {
                            bail!("stopped: another part of the test failed");
                        }
                        let (receipt, total) = sell_one(till, i)?;
                        sold.insert(receipt, total);
                        // Whatever this round's outcome, nothing is lost.
                        till.run(&["--json", "sync", "--wait-ms", "0"])?;
                    }
                    Ok(sold)
                })
            })
            .collect();
        let outcome = during();
        if outcome.is_err() {
            failed.store(true, Ordering::Relaxed);
        }
        let sold: Vec<Result<Sold>> = workers
            .into_iter()
            .map(|w| w.join().map_err(|_| anyhow!("a till's thread panicked"))?)
            .collect();
        outcome?;
        sold.into_iter().collect()
    })
}

fn psql(url: &str, sql: &str) -> Result<String> {
    sentra_pg_harness::psql(url, sql).map_err(|e| anyhow!("psql: {e}"))
}

/// Sales in the journal of the database at `url`.
fn count_sales(url: &str) -> Result<i64> {
    let n = psql(
        url,
        "SELECT count(*) FROM journal WHERE kind = 'sale_completed'",
    )?;
    n.trim().parse().with_context(|| format!("count: {n:?}"))
}

/// The retention commands of `docs/operations.md` 9.3: the first WAL file
/// a base backup needs, read from its `backup_label` with the document's
/// `sed`, is one `pg_archivecleanup` keeps (a dry run lists only older ones).
fn retention_keeps_what_the_backup_needs(
    backup: &std::path::Path,
    primary: &Cluster,
) -> Result<()> {
    let doc = std::fs::read_to_string(sentra_e2e::package_dir().join("../docs/operations.md"))?;
    let sed = r#"sed -n 's/^START WAL LOCATION: .*(file \(.*\))$/\1/p' "$oldest/backup_label""#;
    ensure!(
        doc.contains(sed),
        "docs/operations.md names the backup's first WAL file with: {sed}"
    );
    let script = sed.replace("\"$oldest/backup_label\"", "\"$1\"");
    let out = std::process::Command::new("sh")
        .args(["-c", &script, "sh"])
        .arg(backup.join("backup_label"))
        .output()?;
    let first_wal = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    ensure!(
        first_wal.len() == 24,
        "no WAL file in backup_label: {first_wal:?}"
    );
    let archive = primary.archive_dir().context("the primary archives")?;
    // Archiving is asynchronous: wait for the backup's first segment.
    wait_until(
        "the backup's first WAL segment archived",
        Duration::from_secs(60),
        || Ok(archive.join(&first_wal).exists()),
    )?;
    let dry = std::process::Command::new(
        sentra_pg_harness::server_program("pg_archivecleanup").map_err(|e| anyhow!("{e}"))?,
    )
    .arg("-n")
    .arg(&archive)
    .arg(&first_wal)
    .output()?;
    ensure!(
        dry.status.success(),
        "pg_archivecleanup: {}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let would_remove = String::from_utf8_lossy(&dry.stdout);
    ensure!(
        would_remove
            .lines()
            .all(|l| !l.ends_with(&first_wal) && l < &*archive.join(&first_wal).to_string_lossy()),
        "pg_archivecleanup would remove WAL the backup needs: {would_remove}"
    );
    Ok(())
}

/// Uses up `n` transaction ids, as that many pushes would.
fn burn_transaction_ids(cloud: &Cloud, n: u32) -> Result<()> {
    cloud.sql(&format!(
        "DO $$ BEGIN FOR i IN 1..{n} LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$"
    ))?;
    Ok(())
}

/// Polls until `cond` holds (a condition, never a fixed sleep).
fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> Result<bool>) -> Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        if cond()? {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{what}: not within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The sales the cloud holds, by receipt: how many times and the total.
fn sales_in_cloud(cloud: &Cloud) -> Result<BTreeMap<String, (i64, i64)>> {
    let rows = cloud.sql(
        "SELECT payload->>'receipt_no', count(*), max((payload->>'total')::bigint)
         FROM journal WHERE kind = 'sale_completed' GROUP BY 1 ORDER BY 1",
    )?;
    let mut held = BTreeMap::new();
    for line in rows.lines().filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('|').collect();
        ensure!(cols.len() == 3, "unexpected row {line:?}");
        held.insert(cols[0].to_owned(), (cols[1].parse()?, cols[2].parse()?));
    }
    Ok(held)
}

/// Closes every till's shift (counting exactly what it expects), brings
/// every entry to the cloud, and checks: each sale a till made is in the
/// cloud once, with its total, and nothing else is; each is in the ledger's
/// projection once; the ledger equals the sum of the Z reports.
fn check_exactly_once(cloud: &Cloud, tills: &[Till], sold: &[Sold]) -> Result<usize> {
    let (mut z_net, mut z_count) = (0_i64, 0_i64);
    for till in tills {
        till.sync_until(0, Duration::from_secs(90))
            .context("before the Z report")?;
        let x = till.json(&["report", "x"])?;
        let expected = x["expected_cash"].as_i64().context("X: expected_cash")?;
        let z = till.close_shift(expected)?;
        z_net += z["sales_total"].as_i64().context("Z: sales_total")?
            - z["refunds_total"].as_i64().context("Z: refunds_total")?;
        z_count += z["sales_count"].as_i64().context("Z: sales_count")?;
        till.sync_until(0, Duration::from_secs(90))
            .context("after the Z report")?;
    }
    let mut all = Sold::new();
    for s in sold {
        all.extend(s.iter().map(|(k, v)| (k.clone(), *v)));
    }
    let held = sales_in_cloud(cloud)?;
    let doubled: Vec<_> = held.iter().filter(|(_, (n, _))| *n != 1).collect();
    ensure!(doubled.is_empty(), "sales held more than once: {doubled:?}");
    let missing: Vec<_> = all.keys().filter(|k| !held.contains_key(*k)).collect();
    ensure!(missing.is_empty(), "sales the cloud lost: {missing:?}");
    let extra: Vec<_> = held.keys().filter(|k| !all.contains_key(*k)).collect();
    ensure!(extra.is_empty(), "sales no till made: {extra:?}");
    for (receipt, total) in &all {
        ensure!(
            held[receipt].1 == *total,
            "{receipt}: the cloud holds {}, the till sold {total}",
            held[receipt].1
        );
    }
    let projected = cloud.count(
        "SELECT count(*) FROM (SELECT receipt_no FROM sales GROUP BY 1 HAVING count(*) = 1) s",
    )?;
    ensure!(
        projected == all.len() as i64 && cloud.count("SELECT count(*) FROM sales")? == projected,
        "the ledger's sales are not one per receipt: {projected} of {}",
        all.len()
    );
    cloud.ensure_ledger_equals(BRANCH, z_net, z_count)?;
    println!(
        "{} sales, each in the cloud once; ledger {z_net} over {z_count} sales = the Z reports",
        all.len()
    );
    Ok(all.len())
}

/// A branch with its catalog and `n` tills enrolled at `url` (a balancer
/// or a server), through `relay` when given.
fn tills_at(cloud: &Cloud, url: &str, n: usize, relay: Option<&str>) -> Result<Vec<Till>> {
    let mut tills = Vec::new();
    for i in 0..n {
        let till = Till::ready(BRANCH, &format!("T{:02}", i + 1))?;
        let code = cloud.enroll_code(BRANCH, "terminal")?;
        till.enroll(url, &code, relay)?;
        till.sync_until(0, Duration::from_secs(60))?;
        tills.push(till);
    }
    Ok(tills)
}

fn branch(cloud: &Cloud) -> Result<()> {
    cloud.branch_create(BRANCH)?;
    cloud.catalog_import(&catalog_csv(), None)
}

/// A database of its own on `cluster`.
fn database(cluster: &Cluster) -> Result<TestDatabase> {
    let name = "sentra";
    let url = cluster
        .create_database(name, None)
        .map_err(|e| anyhow!("create database: {e}"))?;
    Ok(TestDatabase::existing(url, name.to_owned()))
}

/// A second server on the cloud's database, HAProxy in front of both, the
/// branch, and three tills enrolled through the balancer.
fn two_servers_behind_a_balancer(
    cloud: &mut Cloud,
) -> Result<(sentra_e2e::Service, Balancer, Vec<Till>)> {
    let second = cloud.serve_another()?;
    let balancer = Balancer::start(&Backends::Http(vec![cloud.server.addr, second.addr]))?;
    branch(cloud)?;
    let tills = tills_at(cloud, &balancer.url(), 3, None)?;
    Ok((second, balancer, tills))
}

#[test]
fn a_server_killed_behind_the_balancer_loses_and_doubles_nothing() -> Result<()> {
    let mut cloud = Cloud::start()?;
    let (_second, _balancer, tills) = two_servers_behind_a_balancer(&mut cloud)?;

    let sold = sell_while(&tills, 16, || {
        // Mid-run, with pushes going to both servers: SIGKILL one.
        wait_until("10 sales in the cloud", Duration::from_secs(120), || {
            Ok(sales_in_cloud(&cloud)?.len() >= 10)
        })?;
        cloud.server.kill();
        println!(
            "server 1 killed with {} sales in the cloud",
            sales_in_cloud(&cloud)?.len()
        );
        Ok(())
    })?;
    let n = check_exactly_once(&cloud, &tills, &sold)?;
    ensure!(n == 48, "48 sales made, {n} checked");
    Ok(())
}

#[test]
fn the_primary_killed_and_the_standby_promoted_during_pushes_loses_and_doubles_nothing()
-> Result<()> {
    let primary = Cluster::start_with(ClusterOptions {
        fast: true,
        archive: false,
    })
    .map_err(|e| anyhow!("primary: {e}"))?;
    // The database first, so the standby's copy has it.
    let db = database(&primary)?;
    let standby = Cluster::standby_of(&primary).map_err(|e| anyhow!("standby: {e}"))?;
    let pg = Balancer::start(&Backends::Postgres {
        primary: ([127, 0, 0, 1], primary.port()).into(),
        standby: ([127, 0, 0, 1], standby.port()).into(),
    })?;
    let db = TestDatabase::existing(
        format!("postgres://postgres@{}/{}", pg.addr, db.name),
        db.name.clone(),
    );
    let mut cloud = Cloud::on_database(db, &[])?;
    let (_second, _balancer, tills) = two_servers_behind_a_balancer(&mut cloud)?;

    let sold = sell_while(&tills, 16, || {
        wait_until("10 sales in the cloud", Duration::from_secs(120), || {
            Ok(sales_in_cloud(&cloud)?.len() >= 10)
        })?;
        // Asynchronous replication loses what the standby had not yet
        // received. Make that certain: cut the stream, let the primary
        // acknowledge more sales, then kill it.
        let standby_url = standby.url_for("sentra");
        psql(&standby_url, "ALTER SYSTEM SET primary_conninfo = ''")?;
        psql(&standby_url, "SELECT pg_reload_conf()")?;
        wait_until(
            "the standby stops receiving",
            Duration::from_secs(30),
            || Ok(psql(&standby_url, "SELECT count(*) FROM pg_stat_wal_receiver")? == "0"),
        )?;
        let on_standby = count_sales(&standby_url)?;
        wait_until(
            "more sales acknowledged by the primary alone",
            Duration::from_secs(120),
            || Ok(count_sales(&primary.url_for("sentra"))? >= on_standby + 6),
        )?;
        let acked_by_primary = count_sales(&primary.url_for("sentra"))?;
        primary.kill().map_err(|e| anyhow!("kill: {e}"))?;
        // The scripted promotion of docs/operations.md; the servers find
        // the new primary through the database balancer by themselves.
        standby.promote().map_err(|e| anyhow!("promote: {e}"))?;
        println!(
            "primary killed holding {acked_by_primary} sales, standby promoted holding \
             {on_standby}: at least {} acknowledged sales lost with the primary",
            acked_by_primary - on_standby
        );
        Ok(())
    })?;
    let in_recovery =
        sentra_pg_harness::psql(&standby.url_for("sentra"), "SELECT pg_is_in_recovery()")
            .map_err(|e| anyhow!("psql: {e}"))?;
    ensure!(in_recovery == "f", "the standby is not the primary");
    let n = check_exactly_once(&cloud, &tills, &sold)?;
    ensure!(n == 48, "48 sales made, {n} checked");
    Ok(())
}

#[test]
fn a_restore_to_a_backup_taken_before_the_sales_gets_every_sale_back_once() -> Result<()> {
    let options = ClusterOptions {
        fast: true,
        archive: true,
    };
    let primary = Cluster::start_with(options).map_err(|e| anyhow!("primary: {e}"))?;
    let mut cloud = Cloud::on_database(database(&primary)?, &[])?;
    branch(&cloud)?;
    let relay = Relay::start(&cloud.url(), Some(&cloud.enroll_code(BRANCH, "relay")?))?;
    let tills = tills_at(&cloud, &cloud.url(), 2, Some(&relay.url()))?;

    // The nightly base backup, before the day's sales.
    let backups = tempfile::tempdir()?;
    let backup = backups.path().join("base");
    primary
        .base_backup(&backup)
        .map_err(|e| anyhow!("base backup: {e}"))?;

    retention_keeps_what_the_backup_needs(&backup, &primary)?;

    let sold = sell_while(&tills, 8, || Ok(()))?;
    // Head office changes a price after the backup (a change the restore
    // will lose), well after the backup's transactions.
    burn_transaction_ids(&cloud, 100)?;
    cloud.price_set("IND-GRG", 3600, None)?;
    for till in &tills {
        // Every sale acknowledged by the cloud (through the relay), and the
        // price pulled.
        wait_until("the price at the till", Duration::from_secs(60), || {
            till.sync_until(0, Duration::from_secs(90))?;
            Ok(till.json(&["catalog", "show", "IND-GRG"])?[0]["unit_price"] == 3600)
        })?;
    }
    ensure!(
        sales_in_cloud(&cloud)?.len() == 16,
        "the day's sales reached the cloud"
    );

    // The database is lost; it is restored to the backup.
    primary.kill().map_err(|e| anyhow!("kill: {e}"))?;
    let restore_began = Instant::now();
    let archive = primary.archive_dir().context("the primary archives")?;
    let restored =
        Cluster::restore_from(&backup, &archive, options).map_err(|e| anyhow!("restore: {e}"))?;
    cloud.switch_database(TestDatabase::existing(
        restored.url_for("sentra"),
        "sentra".into(),
    ))?;
    println!(
        "restored and serving again {:.1} s after the database was lost",
        restore_began.elapsed().as_secs_f64()
    );
    ensure!(
        sales_in_cloud(&cloud)?.is_empty(),
        "the restored cloud holds none of the day's sales"
    );
    let caught_up = Instant::now();

    // Head office re-enters a price at once; then the cloud runs more
    // transactions than it had lost (the tills' pushes would), so the
    // cursors from before the restore are no longer ahead of it.
    cloud.price_set("TEH-BTL", 6500, None)?;
    burn_transaction_ids(&cloud, 300)?;

    // The tills' and the relay's next rounds bring them all back.
    let n = check_exactly_once(&cloud, &tills, &sold)?;
    ensure!(n == 16, "16 sales made, {n} checked");
    println!(
        "every sale back {:.1} s after the restored cloud came up (tills' and relay's rounds, Z reports included)",
        caught_up.elapsed().as_secs_f64()
    );

    // Master data flows again, and nothing the restored cloud wrote is
    // skipped: the price re-entered right after the restore (a transaction
    // id below the cursors the relay and tills held) and one set now both
    // reach the tills through the relay.
    cloud.price_set("BERAS-KG", 15000, None)?;
    for till in &tills {
        wait_until(
            "the restored cloud's prices at the till",
            Duration::from_secs(60),
            || {
                till.sync_until(0, Duration::from_secs(60))?;
                let teh = till.json(&["catalog", "show", "TEH-BTL"])?;
                let beras = till.json(&["catalog", "show", "BERAS-KG"])?;
                Ok(teh[0]["unit_price"] == 6500 && beras[0]["unit_price"] == 15000)
            },
        )?;
    }
    drop(relay);
    Ok(())
}
