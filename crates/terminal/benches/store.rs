//! Store benchmarks of the terminal (issue 3, "Benchmarks"): figures printed
//! as a table, not timed tests. Run with
//!
//! ```text
//! cargo bench -p sentra-terminal --bench store              # full
//! cargo bench -p sentra-terminal --bench store -- --quick   # CI smoke
//! cargo bench -p sentra-terminal --bench store -- --strict  # exit 1 on FAIL
//! ```
//!
//! Everything runs on a real SQLCipher database in a temp dir (`--dir PATH`
//! picks where), with the key in a key file (no keyring needed). What each
//! figure means is in `docs/benchmarks.md`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use rusqlite::{Connection, TransactionBehavior, params};
use sentra_domain::{Money, PaymentMethod, Quantity, Tender};
use sentra_keystore::{DbKey, KeyStoreKind};
use sentra_terminal::{InitOptions, ItemRequest, SaleRequest, Terminal};

// ------------------------------------------------------------------ config

struct Config {
    quick: bool,
    strict: bool,
    explore: bool,
    dir: Option<PathBuf>,
    /// Timed sales (and as many raw inserts); plus `warmup` untimed ones.
    sales: usize,
    warmup: usize,
    products: usize,
    queries: usize,
    opens: usize,
}

const USAGE: &str = "store bench: [--quick] [--strict] [--explore] [--dir PATH] \
[--products N] [--sales N] [--queries N]
  --quick      200 sales, a 10,000-product catalog, 500 queries, 10 opens (CI smoke);
               the default when run without `--bench` (as by `cargo test --benches`)
  --full       full mode even without `--bench` (running the binary directly)
  --strict     exit 1 if any target is missed
  --explore    also time variants of the store settings and search SQL (evidence
               for suggested changes; see docs/benchmarks.md)
  --dir PATH   make the temp dir under PATH (default: $TMPDIR), to bench a given disk
  --products, --sales, --queries  override the counts";

impl Config {
    fn from_args() -> Result<Config> {
        let mut cfg = Config {
            quick: false,
            strict: false,
            explore: false,
            dir: None,
            sales: 2_000,
            warmup: 200,
            products: 100_000,
            queries: 5_000,
            opens: 50,
        };
        let mut overrides: Vec<(String, usize)> = Vec::new();
        let (mut bench, mut full) = (false, false);
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => cfg.quick = true,
                "--strict" => cfg.strict = true,
                "--explore" => cfg.explore = true,
                "--dir" => cfg.dir = Some(args.next().context("--dir needs a path")?.into()),
                "--products" | "--sales" | "--queries" => {
                    let n = args
                        .next()
                        .and_then(|n| n.parse().ok())
                        .with_context(|| format!("{arg} needs a number"))?;
                    overrides.push((arg, n));
                }
                // `cargo bench` passes `--bench`; `cargo test --benches` does
                // not, and then only the quick smoke runs (unless `--full`).
                "--bench" => bench = true,
                "--full" => full = true,
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                other => bail!("unknown argument {other:?}\n{USAGE}"),
            }
        }
        if !bench && !full {
            cfg.quick = true;
        }
        if cfg.quick {
            cfg.sales = 200;
            cfg.warmup = 20;
            cfg.products = 10_000;
            cfg.queries = 500;
            cfg.opens = 10;
        }
        for (arg, n) in overrides {
            match arg.as_str() {
                "--products" => cfg.products = n.max(100),
                "--sales" => {
                    cfg.sales = n.max(1);
                    cfg.warmup = (n / 10).max(1);
                }
                _ => cfg.queries = n.max(1),
            }
        }
        Ok(cfg)
    }
}

// --------------------------------------------------------------- utilities

/// SplitMix64: a small, seeded generator so every run draws the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Latency samples of one figure.
struct Samples(Vec<Duration>);

impl Samples {
    fn new(capacity: usize) -> Samples {
        Samples(Vec::with_capacity(capacity))
    }

    fn time<T>(&mut self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let start = Instant::now();
        let out = f()?;
        self.0.push(start.elapsed());
        Ok(out)
    }

    fn stats(&self) -> Stats {
        let mut sorted = self.0.clone();
        sorted.sort_unstable();
        // Nearest-rank percentile.
        let pct = |q: f64| -> Duration {
            let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
            sorted[rank - 1]
        };
        let total: Duration = sorted.iter().sum();
        Stats {
            n: sorted.len(),
            p50: pct(0.50),
            p99: pct(0.99),
            max: sorted.last().copied().unwrap_or_default(),
            per_sec: sorted.len() as f64 / total.as_secs_f64(),
        }
    }
}

#[derive(Clone, Copy)]
struct Stats {
    n: usize,
    p50: Duration,
    p99: Duration,
    max: Duration,
    /// Operations per second of busy time (n / sum of latencies).
    per_sec: f64,
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

struct Report {
    rows: Vec<[String; 8]>,
    failed: Vec<String>,
}

impl Report {
    fn row(&mut self, figure: &str, s: &Stats, target: Option<(&str, bool)>) {
        let (target, verdict) = match target {
            Some((t, ok)) => {
                if !ok {
                    self.failed.push(figure.to_owned());
                }
                (t.to_owned(), if ok { "PASS" } else { "FAIL" }.to_owned())
            }
            None => (String::new(), String::new()),
        };
        self.rows.push([
            figure.to_owned(),
            s.n.to_string(),
            ms(s.p50),
            ms(s.p99),
            ms(s.max),
            format!("{:.0}/s", s.per_sec),
            target,
            verdict,
        ]);
    }

    fn line(&mut self, figure: &str, value: String, target: Option<(&str, bool)>) {
        let (target, verdict) = match target {
            Some((t, ok)) => {
                if !ok {
                    self.failed.push(figure.to_owned());
                }
                (t.to_owned(), if ok { "PASS" } else { "FAIL" }.to_owned())
            }
            None => (String::new(), String::new()),
        };
        self.rows.push([
            figure.to_owned(),
            String::new(),
            value,
            String::new(),
            String::new(),
            String::new(),
            target,
            verdict,
        ]);
    }

    fn render(&self) -> String {
        let header = [
            "figure", "n", "p50", "p99", "max", "rate", "target", "result",
        ];
        let mut width = header.map(str::len);
        for row in &self.rows {
            for (w, cell) in width.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let mut put = |cells: &[String]| {
            let mut line = String::new();
            for (i, (cell, w)) in cells.iter().zip(width).enumerate() {
                // Text columns left-aligned, figures right-aligned.
                if i == 0 || i >= 6 {
                    let _ = write!(line, "{cell:<w$}  ");
                } else {
                    let _ = write!(line, "{cell:>w$}  ");
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        };
        put(&header.map(str::to_owned));
        put(&width.map(|w| "-".repeat(w)));
        for row in &self.rows {
            put(row);
        }
        out
    }
}

fn progress(what: &str) {
    eprint!("  {what} ... ");
    let _ = std::io::stderr().flush();
}

// ----------------------------------------------------------------- catalog

const BRANDS: &[&str] = &[
    "Indomie",
    "Sedaap",
    "Sarimi",
    "Supermi",
    "Aqua",
    "Ades",
    "Sosro",
    "Sariwangi",
    "Kapal Api",
    "Torabika",
    "Nescafe",
    "ABC",
    "Bango",
    "Sasa",
    "Royco",
    "Masako",
    "Bimoli",
    "Filma",
    "Sunco",
    "Rose Brand",
    "Gulaku",
    "Frisian Flag",
    "Indomilk",
    "Ultra",
    "Dancow",
    "Khong Guan",
    "Roma",
    "Tango",
    "Chitato",
    "Qtela",
    "Lifebuoy",
    "Lux",
    "Nuvo",
    "Pepsodent",
    "Ciptadent",
    "Sunsilk",
    "Rinso",
    "Attack",
    "So Klin",
    "Sunlight",
    "Mama Lemon",
    "Baygon",
    "Zwitsal",
    "Teh Pucuk",
    "Pocari",
    "Yakult",
    "Cimory",
    "Sido Muncul",
    "Tolak Angin",
    "Garuda",
    "Dua Kelinci",
    "Happy Tos",
    "Silverqueen",
    "Beng Beng",
    "Taro",
    "Oreo",
    "Nextar",
    "Kacang Garuda",
    "Sania",
    "Tropical",
];
const KINDS: &[&str] = &[
    "Mie Goreng",
    "Mie Kuah",
    "Air Mineral",
    "Teh Manis",
    "Teh Melati",
    "Kopi Susu",
    "Kopi Hitam",
    "Kecap Manis",
    "Kecap Asin",
    "Saus Sambal",
    "Saus Tomat",
    "Minyak Goreng",
    "Gula Pasir",
    "Beras Pandan",
    "Tepung Terigu",
    "Susu Kental Manis",
    "Susu UHT",
    "Biskuit Kelapa",
    "Wafer",
    "Keripik Kentang",
    "Kacang Atom",
    "Sabun Mandi",
    "Sabun Cuci",
    "Sampo",
    "Pasta Gigi",
    "Sikat Gigi",
    "Deterjen Bubuk",
    "Pewangi Pakaian",
    "Obat Nyamuk",
    "Minuman Isotonik",
    "Bumbu Penyedap",
    "Kaldu Ayam",
    "Sarden",
    "Kornet",
    "Roti Tawar",
    "Selai Kacang",
    "Cokelat",
    "Permen",
    "Jamu",
    "Tisu Wajah",
];
const VARIANTS: &[&str] = &[
    "Original",
    "Pedas",
    "Ekstra Pedas",
    "Rendang",
    "Ayam Bawang",
    "Soto",
    "Kari Ayam",
    "Jeruk",
    "Melati",
    "Stroberi",
    "Cokelat",
    "Vanila",
    "Melon",
    "Durian",
    "Pandan",
    "Kelapa",
    "Jahe",
    "Mint",
    "Lemon",
    "Anggur",
    "Mangga",
    "Sapi Lada Hitam",
    "Rumput Laut",
    "Keju",
    "Balado",
    "Jagung Bakar",
    "Lavender",
    "Sereh",
    "Kemasan Hemat",
    "Isi Ulang",
];
const SIZES: &[&str] = &[
    "85g", "75g", "120g", "250g", "500g", "1kg", "5kg", "200ml", "330ml", "450ml", "600ml", "1L",
    "1.5L", "2L", "isi 10", "isi 24", "sachet", "pouch", "botol", "kaleng",
];

/// An EAN-13 with a valid check digit, unique per `i`.
fn ean13(prefix: &str, i: usize) -> String {
    let body = format!("{prefix}{i:0w$}", w = 12 - prefix.len());
    let sum: u32 = body
        .bytes()
        .enumerate()
        .map(|(k, b)| u32::from(b - b'0') * if k % 2 == 0 { 1 } else { 3 })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

struct Catalog {
    /// Every barcode in the file.
    barcodes: Vec<String>,
    /// SKU, price of a sample of products (for sales).
    priced: Vec<(String, i64)>,
}

/// Write a catalog of `n` products to `path`: names built from word lists,
/// unique SKUs, unique EAN-13 barcodes (one product in ten has a second).
fn write_catalog(path: &Path, n: usize, rng: &mut Rng) -> Result<Catalog> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "sku,barcode,name,price,tax_category,stock")?;
    let mut barcodes = Vec::with_capacity(n + n / 10);
    let mut priced = Vec::new();
    for i in 0..n {
        let sku = format!("SKU{i:06}");
        let mut codes = ean13("899", i);
        barcodes.push(codes.clone());
        if i % 10 == 0 {
            let second = ean13("2", i);
            barcodes.push(second.clone());
            codes = format!("{codes}|{second}");
        }
        let name = format!(
            "{} {} {} {}",
            rng.pick(BRANDS),
            rng.pick(KINDS),
            rng.pick(VARIANTS),
            rng.pick(SIZES)
        );
        let price = (1 + rng.below(400)) as i64 * 500;
        let tax = if rng.below(10) == 0 {
            "exempt"
        } else {
            "standard"
        };
        let stock = 100 + rng.below(900);
        writeln!(out, "{sku},{codes},{name},{price},{tax},{stock}")?;
        if i % 50 == 0 {
            priced.push((sku, price));
        }
    }
    out.flush()?;
    Ok(Catalog { barcodes, priced })
}

// ------------------------------------------------------------------- sales

fn sale_request(catalog: &Catalog, rng: &mut Rng) -> SaleRequest {
    let mut items = Vec::with_capacity(3);
    let mut total = 0i64;
    for _ in 0..3 {
        let (sku, price) = rng.pick(&catalog.priced);
        let units = 1 + rng.below(3) as i64;
        total += price * units;
        items.push(ItemRequest {
            code: sku.clone(),
            quantity: Quantity::from_units(units),
            discount: None,
        });
    }
    // Prices include tax (the default), so the total is the sum; the
    // customer hands over notes rounded up to the next Rp 50.000.
    let cash = (total / 50_000 + 1) * 50_000;
    SaleRequest {
        items,
        cart_discount: None,
        tenders: vec![Tender {
            method: PaymentMethod::Cash,
            amount: Money::idr(cash),
            reference: None,
        }],
        cashier: Some("BENCH".into()),
        discount_approved_by: None,
    }
}

/// A plain table in its own SQLCipher database, opened exactly as
/// `store::open_existing` + `store::prepare` open the terminal's.
fn raw_database(path: &Path, key: &DbKey) -> Result<Connection> {
    // Created and keyed exactly as `init` creates the terminal's database,
    // with the same session settings.
    let conn = sentra_terminal::store::create_new(path, key)?;
    sentra_terminal::store::configure(&conn)?;
    conn.execute_batch(
        "CREATE TABLE raw (id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, body TEXT NOT NULL) STRICT;",
    )?;
    Ok(conn)
}

fn raw_insert(conn: &mut Connection, i: usize, body: &str) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.prepare_cached("INSERT INTO raw (at_ms, body) VALUES (?1, ?2)")?
        .execute(params![i as i64, body])?;
    tx.commit()?;
    Ok(())
}

// -------------------------------------------------------------------- main

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned());
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into());
    format!(
        "{cpus} CPUs ({cpu}), {}, load average {load} at start",
        std::env::consts::OS
    )
}

/// The mount (device, fs type) that holds `path`, from /proc/mounts.
fn filesystem(path: &Path) -> String {
    let Ok(path) = path.canonicalize() else {
        return "?".into();
    };
    let Ok(mounts) = std::fs::read_to_string("/proc/mounts") else {
        return "?".into();
    };
    mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 3 && path.starts_with(f[1]))
                .then(|| (f[1].len(), format!("{} {} on {}", f[0], f[2], f[1])))
        })
        .max_by_key(|(len, _)| *len)
        .map_or_else(|| "?".into(), |(_, s)| s)
}

/// The FTS5 query `catalog::search` builds (quoted prefix terms).
fn fts_query(text: &str) -> String {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| format!("\"{w}\"*"))
        .collect::<Vec<_>>()
        .join(" AND ")
}

const SEARCH_VARIANTS: [(&str, &str); 4] = [
    (
        "as in catalog.rs: join, ORDER BY f.rank, p.name",
        "SELECT p.sku, p.name, p.unit_price, p.tax_category,
                COALESCE((SELECT on_hand_milli FROM stock s WHERE s.sku = p.sku), 0)
         FROM products_fts f JOIN products p ON p.rowid = f.rowid
         WHERE products_fts MATCH ?1 ORDER BY f.rank, p.name LIMIT ?2",
    ),
    (
        "rank inside FTS, LIMIT, then join",
        "SELECT p.sku, p.name, p.unit_price, p.tax_category,
                COALESCE((SELECT on_hand_milli FROM stock s WHERE s.sku = p.sku), 0)
         FROM (SELECT rowid, rank FROM products_fts WHERE products_fts MATCH ?1
               ORDER BY rank LIMIT ?2) f
         JOIN products p ON p.rowid = f.rowid ORDER BY f.rank, p.name",
    ),
    (
        "no rank: first matches in rowid order",
        "SELECT p.sku, p.name, p.unit_price, p.tax_category,
                COALESCE((SELECT on_hand_milli FROM stock s WHERE s.sku = p.sku), 0)
         FROM (SELECT rowid FROM products_fts WHERE products_fts MATCH ?1 LIMIT ?2) f
         JOIN products p ON p.rowid = f.rowid ORDER BY p.name",
    ),
    (
        "bounded: first 200 matches, shortest names first",
        "SELECT p.sku, p.name, p.unit_price, p.tax_category,
                COALESCE((SELECT on_hand_milli FROM stock s WHERE s.sku = p.sku), 0)
         FROM (SELECT rowid FROM products_fts WHERE products_fts MATCH ?1 LIMIT 200) f
         JOIN products p ON p.rowid = f.rowid ORDER BY length(p.name), p.name LIMIT ?2",
    ),
];

/// Evidence for suggested changes: the same work under other settings or
/// SQL, set through the terminal's own connection (no library change).
#[allow(clippy::too_many_arguments)]
fn explore(
    cfg: &Config,
    till: &mut Terminal,
    raw: &mut Connection,
    catalog: &Catalog,
    requests: &[SaleRequest],
    rng: &mut Rng,
    query: &dyn Fn(&mut Rng) -> String,
) -> Result<()> {
    let mut table = Report {
        rows: Vec::new(),
        failed: Vec::new(),
    };
    // -- search SQL variants, default page cache then a large one
    let n = cfg.queries.min(2_000);
    let queries: Vec<String> = (0..n).map(|_| query(rng)).collect();
    for cache in ["-2000", "-65536"] {
        till.connection()
            .execute_batch(&format!("PRAGMA cache_size = {cache};"))?;
        for (label, sql) in SEARCH_VARIANTS {
            let conn = till.connection();
            let mut stmt = conn.prepare(sql)?;
            let run = |stmt: &mut rusqlite::Statement<'_>, q: &str| -> Result<usize> {
                let rows =
                    stmt.query_map(params![fts_query(q), 20i64], |r| r.get::<_, String>(0))?;
                Ok(rows.count())
            };
            for q in queries.iter().take(n / 10) {
                run(&mut stmt, q)?;
            }
            let mut t = Samples::new(n);
            for q in &queries {
                t.time(|| run(&mut stmt, q))?;
            }
            table.row(
                &format!("search SQL, cache {cache} KiB: {label}"),
                &t.stats(),
                None,
            );
        }
        let mut t = Samples::new(n);
        for q in &queries {
            t.time(|| Ok(till.search_products(q, 20)?))?;
        }
        table.row(
            &format!("search_products, cache {cache} KiB"),
            &t.stats(),
            None,
        );
        let mut t = Samples::new(n);
        for _ in 0..n {
            let code = rng.pick(catalog.barcodes.as_slice());
            t.time(|| Ok(till.find_product(code)?))?;
        }
        table.row(
            &format!("find_product, cache {cache} KiB"),
            &t.stats(),
            None,
        );
    }

    // -- sale vs raw under other settings (applied to both connections)
    let n = (cfg.sales / 2).max(100);
    let body = "x".repeat(200);
    let variants: [(&str, &str, Option<usize>); 4] = [
        (
            "as in store.rs",
            "PRAGMA cache_size = -2000; PRAGMA wal_autocheckpoint = 1000;",
            None,
        ),
        (
            "cache_size -65536",
            "PRAGMA cache_size = -65536; PRAGMA wal_autocheckpoint = 1000;",
            None,
        ),
        (
            "checkpoint off the commit path",
            "PRAGMA cache_size = -2000; PRAGMA wal_autocheckpoint = 0;",
            Some(100),
        ),
        (
            "both",
            "PRAGMA cache_size = -65536; PRAGMA wal_autocheckpoint = 0;",
            Some(100),
        ),
    ];
    // Pages written per commit: WAL frames appended by n commits, with
    // checkpoints off so the log only grows.
    {
        let off = "PRAGMA wal_autocheckpoint = 0; PRAGMA wal_checkpoint(TRUNCATE);";
        till.connection().execute_batch(off)?;
        raw.execute_batch(off)?;
        let frames = |c: &Connection| -> Result<i64> {
            Ok(c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))?)
        };
        let k = 100;
        for (i, request) in requests.iter().take(k).enumerate() {
            till.sell(request)?;
            raw_insert(raw, i, &body)?;
        }
        let (fs, fr) = (frames(till.connection())?, frames(raw)?);
        table.line(
            "WAL frames (4 KiB pages) written per commit: sale / raw",
            format!("{:.1} / {:.1}", fs as f64 / k as f64, fr as f64 / k as f64),
            None,
        );
    }
    for (label, pragmas, checkpoint_every) in variants {
        till.connection().execute_batch(pragmas)?;
        raw.execute_batch(pragmas)?;
        let mut sale_t = Samples::new(n);
        let mut raw_t = Samples::new(n);
        let mut ckpt_t = Samples::new(n);
        for i in 0..n + n / 10 {
            let request = &requests[i % requests.len()];
            if i < n / 10 {
                till.sell(request)?;
                raw_insert(raw, i, &body)?;
                continue;
            }
            sale_t.time(|| Ok(till.sell(request)?))?;
            raw_t.time(|| raw_insert(raw, i, &body))?;
            if let Some(every) = checkpoint_every
                && i % every == 0
            {
                ckpt_t.time(|| {
                    till.connection()
                        .execute_batch("PRAGMA wal_checkpoint(PASSIVE);")?;
                    raw.execute_batch("PRAGMA wal_checkpoint(PASSIVE);")?;
                    Ok(())
                })?;
            }
        }
        let (sale, raw_s) = (sale_t.stats(), raw_t.stats());
        table.row(&format!("sale, {label}"), &sale, None);
        table.row(&format!("raw, {label}"), &raw_s, None);
        table.line(
            &format!("ratio, {label}"),
            format!("{:.2}", sale.per_sec / raw_s.per_sec),
            None,
        );
        if !ckpt_t.0.is_empty() {
            table.row(
                &format!("idle checkpoint (both dbs), {label}"),
                &ckpt_t.stats(),
                None,
            );
        }
    }
    let reset = "PRAGMA cache_size = -2000; PRAGMA wal_autocheckpoint = 1000;";
    till.connection().execute_batch(reset)?;
    raw.execute_batch(reset)?;
    println!("\nexplore (not targets; evidence for docs/benchmarks.md):");
    print!("{}", table.render());
    Ok(())
}

fn run(cfg: &Config) -> Result<Report> {
    let root = match &cfg.dir {
        Some(dir) => tempfile::tempdir_in(dir)?,
        None => tempfile::tempdir()?,
    };
    let data_dir = root.path().join("data");
    let key_file = root.path().join("keys").join("db.key");
    let mut rng = Rng(0x5E47_2A00_0000_0003);
    let mut report = Report {
        rows: Vec::new(),
        failed: Vec::new(),
    };

    // ---- set-up: init, catalog, shift
    progress(&format!("writing a {}-product catalog", cfg.products));
    let csv = root.path().join("catalog.csv");
    let catalog = write_catalog(&csv, cfg.products, &mut rng)?;
    eprintln!("{} barcodes", catalog.barcodes.len());
    let (mut till, _) = Terminal::init(
        &data_dir,
        &InitOptions {
            branch: "JKT01".into(),
            device_name: "T02".into(),
            key_store: Some(KeyStoreKind::File),
            key_file: Some(key_file.clone()),
            ..InitOptions::default()
        },
    )?;
    let key = sentra_keystore::load_key(&till.manifest().key)?;
    {
        let conn = till.connection();
        let sqlite: String = conn.query_row("SELECT sqlite_version()", [], |r| r.get(0))?;
        let cipher: String = conn.query_row("PRAGMA cipher_version", [], |r| r.get(0))?;
        eprintln!("  SQLite {sqlite}, SQLCipher {cipher}");
    }
    progress("importing the catalog");
    let started = Instant::now();
    let summary = till.import_catalog(&csv)?;
    let import = started.elapsed();
    eprintln!(
        "{} products in {:.2} s",
        summary.products,
        import.as_secs_f64()
    );
    report.line(
        &format!("catalog import ({} products, one tx)", summary.products),
        format!("{:.2} s", import.as_secs_f64()),
        None,
    );
    till.open_shift(500_000, Some("BENCH".into()))?;

    // ---- 1 + 2: durable sale vs raw one-row insert, interleaved so both
    // see the same disk.
    progress(&format!(
        "{} sales and {} raw inserts (+{} warm-up each)",
        cfg.sales, cfg.sales, cfg.warmup
    ));
    let mut raw = raw_database(&root.path().join("raw.db"), &key)?;
    let body = "x".repeat(200);
    let requests: Vec<SaleRequest> = (0..cfg.warmup + cfg.sales)
        .map(|_| sale_request(&catalog, &mut rng))
        .collect();
    let mut sale_t = Samples::new(cfg.sales);
    let mut raw_t = Samples::new(cfg.sales);
    for (i, request) in requests.iter().enumerate() {
        if i < cfg.warmup {
            till.sell(request)?;
            raw_insert(&mut raw, i, &body)?;
            continue;
        }
        sale_t.time(|| Ok(till.sell(request)?))?;
        raw_t.time(|| raw_insert(&mut raw, i, &body))?;
    }
    eprintln!("done");
    let sale = sale_t.stats();
    let raw_s = raw_t.stats();
    report.row(
        "sale: 3-line cash, durable",
        &sale,
        Some(("p99 <= 5 ms", sale.p99 <= Duration::from_millis(5))),
    );
    report.row("raw: one-row insert tx, same settings", &raw_s, None);
    let ratio = sale.per_sec / raw_s.per_sec;
    report.line(
        "sale/raw throughput ratio",
        format!("{ratio:.2}"),
        Some((">= 0.50", ratio >= 0.5)),
    );
    // ---- 3: catalog look-up
    progress(&format!("{} barcode look-ups", cfg.queries));
    let mut by_code = Samples::new(cfg.queries);
    for _ in 0..cfg.queries.div_ceil(10) {
        // warm-up
        let code = rng.pick(catalog.barcodes.as_slice());
        till.find_product(code)?;
    }
    for _ in 0..cfg.queries {
        let code = rng.pick(&catalog.barcodes);
        let found = by_code.time(|| Ok(till.find_product(code)?))?;
        if found.is_none() {
            bail!("barcode {code} was imported but not found");
        }
    }
    eprintln!("done");
    let s = by_code.stats();
    report.row(
        &format!(
            "find_product by barcode ({}k products)",
            cfg.products / 1000
        ),
        &s,
        Some(("p99 <= 10 ms", s.p99 <= Duration::from_millis(10))),
    );

    progress(&format!("{} name searches", cfg.queries));
    let words: Vec<Vec<&str>> = [BRANDS, KINDS, VARIANTS]
        .iter()
        .map(|list| list.iter().flat_map(|w| w.split(' ')).collect())
        .collect();
    let query = |rng: &mut Rng| -> String {
        // One or two words, each cut to a prefix of 2 characters or more, as
        // a cashier types them: "indo", "mie gor", "kop sus".
        let n = 1 + rng.below(2);
        let mut parts = Vec::new();
        for k in 0..n {
            let list = (k + rng.below(3)) % 3;
            let word = *rng.pick(&words[list]);
            let len = word.chars().count();
            let take = if len <= 2 {
                len
            } else {
                2 + rng.below(len - 1)
            };
            parts.push(word.chars().take(take).collect::<String>().to_lowercase());
        }
        parts.join(" ")
    };
    for _ in 0..cfg.queries.div_ceil(10) {
        let q = query(&mut rng);
        till.search_products(&q, 20)?;
    }
    let mut by_name = Samples::new(cfg.queries);
    let mut empty = 0usize;
    let mut slowest = (Duration::ZERO, String::new());
    for _ in 0..cfg.queries {
        let q = query(&mut rng);
        let start = Instant::now();
        let found = till.search_products(&q, 20)?;
        let took = start.elapsed();
        by_name.0.push(took);
        if found.is_empty() {
            empty += 1;
        }
        if took > slowest.0 {
            slowest = (took, q);
        }
    }
    eprintln!(
        "done ({empty} with no match; slowest {:?} {})",
        slowest.1,
        ms(slowest.0)
    );
    let s = by_name.stats();
    report.row(
        &format!(
            "search_products by name prefix, limit 20 ({}k)",
            cfg.products / 1000
        ),
        &s,
        Some(("p99 <= 10 ms", s.p99 <= Duration::from_millis(10))),
    );

    if cfg.explore {
        explore(
            cfg, &mut till, &mut raw, &catalog, &requests, &mut rng, &query,
        )?;
    }
    drop(raw);

    // ---- 4: opening the encrypted store
    drop(till);
    progress(&format!(
        "{} opens with key, {} opens from key file",
        cfg.opens, cfg.opens
    ));
    let mut with_key = Samples::new(cfg.opens);
    let mut from_file = Samples::new(cfg.opens);
    for i in 0..cfg.opens + 3 {
        let warm = i < 3;
        let start = Instant::now();
        let t = Terminal::open_with_key(&data_dir, &key)?;
        let took = start.elapsed();
        drop(t);
        if !warm {
            with_key.0.push(took);
        }
        let start = Instant::now();
        let t = Terminal::open(&data_dir)?;
        let took = start.elapsed();
        drop(t);
        if !warm {
            from_file.0.push(took);
        }
    }
    eprintln!("done");
    let s = with_key.stats();
    report.row(
        "Terminal::open_with_key",
        &s,
        Some(("p99 <= 50 ms", s.p99 <= Duration::from_millis(50))),
    );
    let s = from_file.stats();
    report.row(
        "Terminal::open (key file read incl.)",
        &s,
        Some(("p99 <= 50 ms", s.p99 <= Duration::from_millis(50))),
    );
    let db = std::fs::metadata(data_dir.join("journal.db"))?.len();
    report.line(
        "database size after the run",
        format!("{:.1} MiB", db as f64 / (1024.0 * 1024.0)),
        None,
    );
    Ok(report)
}

fn main() -> ExitCode {
    let cfg = match Config::from_args() {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let where_ = cfg.dir.clone().unwrap_or_else(std::env::temp_dir);
    eprintln!(
        "sentra-terminal store bench ({} mode)\n  machine: {}\n  temp dir under {} ({})",
        if cfg.quick { "quick" } else { "full" },
        machine(),
        where_.display(),
        filesystem(&where_)
    );
    match run(&cfg) {
        Ok(report) => {
            println!();
            print!("{}", report.render());
            println!(
                "\nrate = operations per second of busy time (n / sum of latencies); \
                 sales and raw inserts are interleaved one for one."
            );
            if report.failed.is_empty() {
                println!("all targets met");
                ExitCode::SUCCESS
            } else {
                println!("targets missed: {}", report.failed.join("; "));
                if cfg.strict {
                    ExitCode::FAILURE
                } else {
                    ExitCode::SUCCESS
                }
            }
        }
        Err(e) => {
            eprintln!("\nerror: {e:#}");
            ExitCode::FAILURE
        }
    }
}
