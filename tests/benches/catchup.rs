//! Catch-up benchmark: a terminal with 10,000 pending journal entries
//! delivers them through the branch relay to the cloud. Real release
//! binaries, a real PostgreSQL, real HTTP. Prints the wall time and
//! entries per second of the `sentra-term sync` rounds until every entry is
//! held by the cloud (target: at most 5 s).
//!
//! ```sh
//! cargo build --release -p sentra-sync -p sentra-terminal --bins
//! cargo bench -p sentra-e2e --bench catchup            # 10,000 entries
//! cargo bench -p sentra-e2e --bench catchup -- --entries 2000
//! ```

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use sentra_domain::{Money, PaymentMethod, Quantity, Tender};
use sentra_e2e::{Cloud, Relay, Till, catalog_csv};
use sentra_terminal::{ItemRequest, SaleRequest, Terminal};

const TARGET: Duration = Duration::from_secs(5);

fn main() -> Result<()> {
    let mut entries: u64 = 10_000;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        // cargo bench passes --bench too; what is not ours is ignored.
        if a == "--entries" {
            entries = args
                .next()
                .context("--entries N")?
                .parse()
                .context("--entries N")?;
        }
    }
    ensure!(entries >= 2, "--entries must be at least 2");
    let bin = sentra_e2e::bin_dir()?;
    if !bin.ends_with("release") {
        eprintln!(
            "warning: timing the {} binaries; build them with `cargo build --release --bins` for figures of record",
            bin.display()
        );
    }

    let cloud = Cloud::start()?;
    cloud.branch_create("JKT01")?;
    cloud.catalog_import(&catalog_csv(), None)?;
    let relay = Relay::start(&cloud.url(), Some(&cloud.enroll_code("JKT01", "relay")?))?;
    let till = Till::ready("JKT01", "T01")?;
    till.enroll(
        &cloud.url(),
        &cloud.enroll_code("JKT01", "terminal")?,
        Some(&relay.url()),
    )?;
    // Enrolled, catalog pulled, the shift_opened entry delivered: a clean
    // start with nothing pending.
    sync_to_cloud(&till, Duration::from_secs(60))?;
    let before = till.status()?;
    let start_seq = before["tip_seq"].as_u64().unwrap_or(0);

    // Ring the pending entries in-process (quicker than 10,000 processes).
    let made = Instant::now();
    ring(&till.data_dir, entries)?;
    let pending = till.status()?;
    let local = pending["entries"]["local"].as_u64().unwrap_or(0);
    ensure!(
        local == entries,
        "expected {entries} pending, status says {pending}"
    );
    eprintln!(
        "rang {entries} sales offline in {:.1} s; catching up through the relay…",
        made.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let rounds = sync_to_cloud(&till, Duration::from_secs(120))?;
    let wall = started.elapsed();
    let after = till.status()?;
    let tip = after["tip_seq"].as_u64().unwrap_or(0);
    ensure!(tip == start_seq + entries, "tip {tip}");
    let device = after["device_id"].as_str().context("device id")?;
    let held = cloud.count(&format!(
        "SELECT count(*) FROM journal WHERE device_id = '{device}'"
    ))?;
    ensure!(held as u64 == tip, "the cloud holds {held} of {tip}");

    let rate = entries as f64 / wall.as_secs_f64();
    println!("catch-up through the relay to the cloud");
    println!("  entries          {entries}");
    println!("  sync rounds      {rounds}");
    println!("  wall time        {:.2} s", wall.as_secs_f64());
    println!("  entries/s        {rate:.0}");
    println!(
        "  target           <= {:.0} s: {}",
        TARGET.as_secs_f64(),
        if wall <= TARGET { "met" } else { "MISSED" }
    );
    Ok(())
}

/// `sync` rounds until every entry is held by the cloud (exit 0); how many.
fn sync_to_cloud(till: &Till, limit: Duration) -> Result<u32> {
    let deadline = Instant::now() + limit;
    let mut rounds = 0;
    loop {
        rounds += 1;
        let r = till.run(&["--json", "sync", "--wait-ms", "10000"])?;
        let report = r.json()?;
        // Through the relay, or it is not this benchmark.
        ensure!(
            report["upstream"] == "relay",
            "the round went elsewhere: {report}"
        );
        if r.code == Some(0) {
            return Ok(rounds);
        }
        if Instant::now() > deadline {
            bail!("not caught up within {limit:?}: {r:?}");
        }
    }
}

fn ring(data_dir: &Path, n: u64) -> Result<()> {
    let mut t = Terminal::open(data_dir)?;
    let request = SaleRequest {
        items: vec![ItemRequest {
            code: "AQUA600".into(),
            quantity: Quantity::ONE,
            discount: None,
        }],
        cart_discount: None,
        tenders: vec![Tender {
            method: PaymentMethod::Cash,
            amount: Money::idr(4000),
            reference: None,
        }],
        cashier: None,
        discount_approved_by: None,
    };
    for _ in 0..n {
        t.sell(&request)?;
    }
    Ok(())
}
