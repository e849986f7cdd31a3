//! A terminal killed (SIGKILL) at random moments while it pulls a large
//! catalog: every restart opens cleanly, the journal and projections check,
//! and the next round finishes the pull with every product priced as the
//! cloud says — a page and its cursor are never half applied. Build the
//! binaries first: `cargo build --workspace --bins`.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use sentra_e2e::{Cloud, Till};

const PRODUCTS: usize = 3000;

/// A small deterministic generator; the seed is printed so a failure can be
/// replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn a_terminal_killed_mid_pull_resumes_without_losing_or_mixing_a_page() -> Result<()> {
    let cloud = Cloud::start()?;
    cloud.branch_create("JKT01")?;
    let dir = tempfile::tempdir()?;
    let csv = dir.path().join("big.csv");
    let mut text = String::from("sku,barcode,name,price,tax_category,stock\n");
    for i in 0..PRODUCTS {
        writeln!(
            text,
            "P{i:05},899{i:010},Produk nomor {i},{},standard,",
            1000 + i
        )?;
    }
    std::fs::write(&csv, text)?;
    cloud.catalog_import(&csv, None)?;

    let till = Till::init("JKT01", "T01")?;
    till.ok(&["shift", "open", "--float", "0"])?;
    let code = cloud.enroll_code("JKT01", "terminal")?;
    till.enroll(&cloud.url(), &code, None)?;

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos() as u64;
    println!("seed {seed}");
    let mut rng = Lcg(seed);
    let mut killed = 0;
    for _ in 0..6 {
        let mut sync = till.spawn(&["sync", "--wait-ms", "0"])?;
        let delay = Duration::from_millis(rng.next() % 1500);
        let started = Instant::now();
        while started.elapsed() < delay && sync.exited().is_none() {
            std::thread::yield_now();
        }
        if sync.exited().is_none() {
            sync.kill();
            killed += 1;
        }
        // Whatever moment it died at, the terminal opens and is whole.
        till.ok(&["journal", "verify"])?;
        till.ok(&["journal", "check"])?;
        let status = till.status()?;
        ensure!(status["enrolled"] == true, "{status}");
        // What a committed page leaves: a pulled product with a price is on
        // sale, never half there.
        let t = sentra_terminal::Terminal::open(&till.data_dir)?;
        let (pulled, on_sale, stranded): (i64, i64, i64) = t.connection().query_row(
            "SELECT (SELECT count(*) FROM pulled_products),
                    (SELECT count(*) FROM products),
                    (SELECT count(*) FROM pulled_products pp
                     WHERE NOT EXISTS (SELECT 1 FROM products p WHERE p.sku = pp.sku)
                       AND EXISTS (SELECT 1 FROM prices r WHERE r.sku = pp.sku))",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        println!("after {delay:?}: {pulled} pulled, {on_sale} on sale");
        assert_eq!(stranded, 0);
    }
    println!("killed {killed} of 6 rounds mid-flight");

    let (code, report, run) = till.sync()?;
    assert_eq!(code, Some(0), "{run:?}");
    assert_eq!(report.context("report")?["outcome"], "ok");
    let t = sentra_terminal::Terminal::open(&till.data_dir)?;
    let wrong: i64 = t.connection().query_row(
        "SELECT count(*) FROM products
         WHERE sku LIKE 'P%' AND unit_price <> 1000 + CAST(substr(sku, 2) AS INTEGER)",
        [],
        |r| r.get(0),
    )?;
    let (products, barcodes): (i64, i64) = t.connection().query_row(
        "SELECT (SELECT count(*) FROM products WHERE sku LIKE 'P%'),
                (SELECT count(*) FROM barcodes WHERE sku LIKE 'P%')",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    assert_eq!((products, barcodes), (PRODUCTS as i64, PRODUCTS as i64));
    assert_eq!(wrong, 0, "every product has the cloud's price");
    drop(t);
    let shown = till.json(&["catalog", "show", "8990000002999"])?;
    assert_eq!(shown[0]["sku"], "P02999");
    assert_eq!(shown[0]["unit_price"], 3999);
    // Nothing more to pull: the cursor was kept with the last page.
    let (_, report, _) = till.sync()?;
    assert_eq!(report.context("report")?["pulled"], 0);
    Ok(())
}
