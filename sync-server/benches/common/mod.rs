//! What the server benchmarks share: a seeded generator, percentiles, the
//! CPU split read from `/proc`, the bench catalog, enrolled terminals that
//! sign their own chains, and a realistic cash sale.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Result, ensure};
use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;
use sentra_pg_harness::BenchDatabase;
use sentra_protocol::payload::{SaleCompleted, SaleLine, TenderRecord};
use sentra_protocol::wire::{DeviceKind, EnrollRequest, EnrollResponse, PROTOCOL_HEADER};
use sentra_protocol::{Entry, EntryPayload, Hash, Hlc, UnsignedEntry};
use sqlx::PgPool;
use uuid::Uuid;

// --------------------------------------------------------------- utilities

/// SplitMix64: a small, seeded generator so every run draws the same data.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub fn ms_to_time(ms: u64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis(ms as i64).unwrap_or_default()
}

#[derive(Clone, Copy)]
pub struct Stats {
    pub n: usize,
    pub p50: Duration,
    pub p95: Duration,
    pub p99: Duration,
    pub max: Duration,
}

pub fn stats(samples: &[Duration]) -> Stats {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    // Nearest-rank percentile.
    let pct = |q: f64| -> Duration {
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    };
    Stats {
        n: sorted.len(),
        p50: pct(0.50),
        p95: pct(0.95),
        p99: pct(0.99),
        max: sorted.last().copied().unwrap_or_default(),
    }
}

pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

pub fn thousands(n: f64) -> String {
    thousands_int(n.round() as i64)
}

/// An integer with thousands separators.
pub fn thousands_int(n: i64) -> String {
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

// ------------------------------------------------------------- CPU split

/// Clock ticks per second of `/proc` times (USER_HZ, 100 on Linux).
pub const TICKS: f64 = 100.0;

/// CPU time, in ticks, at one instant: the whole machine, this process (the
/// server and the clients) and the PostgreSQL processes of our own cluster.
#[derive(Clone, Copy, Default)]
pub struct CpuSnapshot {
    pub busy: u64,
    pub idle: u64,
    pub iowait: u64,
    pub this: u64,
    pub postgres: Option<u64>,
}

pub fn proc_times(stat: &str) -> Option<(u64, u64, u64, u64, u64)> {
    // Fields after the `(comm)`: state ppid ... utime(14) stime(15) cutime(16) cstime(17).
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    // `rest` starts at field 3 (state), so field k is f[k - 3].
    Some((num(1)?, num(11)?, num(12)?, num(13)?, num(14)?))
}

pub fn cpu_snapshot(postmaster: Option<u64>) -> CpuSnapshot {
    let mut s = CpuSnapshot::default();
    if let Ok(stat) = std::fs::read_to_string("/proc/stat")
        && let Some(line) = stat.lines().next()
    {
        let v: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|x| x.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal
        if v.len() >= 8 {
            s.idle = v[3];
            s.iowait = v[4];
            s.busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
        }
    }
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat")
        && let Some((_, u, st, _, _)) = proc_times(&stat)
    {
        s.this = u + st;
    }
    if let Some(pm) = postmaster {
        let mut total = 0;
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pm}/stat"))
            && let Some((_, u, st, cu, cs)) = proc_times(&stat)
        {
            // Children that exited were reaped by the postmaster: cutime.
            total += u + st + cu + cs;
        }
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for d in dir.flatten() {
                let name = d.file_name();
                let Some(pid) = name.to_str().and_then(|n| n.parse::<u64>().ok()) else {
                    continue;
                };
                if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    && let Some((ppid, u, st, _, _)) = proc_times(&stat)
                    && ppid == pm
                {
                    total += u + st;
                }
            }
        }
        s.postgres = Some(total);
    }
    s
}

pub fn cpu_split(a: CpuSnapshot, b: CpuSnapshot, wall: Duration, sales: usize) -> String {
    let secs = |t: u64| t as f64 / TICKS;
    let per_sale = |t: u64| t as f64 / TICKS / sales.max(1) as f64 * 1e6;
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut out = format!(
        "CPU over {:.1} s wall × {cores} cores: busy {:.1} s, idle {:.1} s (of which iowait {:.1} s); \
         bench process (server + clients) {:.1} s",
        wall.as_secs_f64(),
        secs(b.busy.saturating_sub(a.busy)),
        secs(b.idle.saturating_sub(a.idle) + b.iowait.saturating_sub(a.iowait)),
        secs(b.iowait.saturating_sub(a.iowait)),
        secs(b.this.saturating_sub(a.this)),
    );
    if let (Some(pa), Some(pb)) = (a.postgres, b.postgres) {
        let pg = pb.saturating_sub(pa);
        let other = b
            .busy
            .saturating_sub(a.busy)
            .saturating_sub(b.this.saturating_sub(a.this))
            .saturating_sub(pg);
        let _ = write!(
            out,
            ", postgres {:.1} s, everything else {:.1} s",
            secs(pg),
            secs(other)
        );
        let _ = write!(
            out,
            "; per sale: bench process {:.0} µs, postgres {:.0} µs",
            per_sale(b.this.saturating_sub(a.this)),
            per_sale(pg)
        );
    } else {
        let _ = write!(
            out,
            "; per sale: bench process {:.0} µs, rest of the machine {:.0} µs",
            per_sale(b.this.saturating_sub(a.this)),
            per_sale(
                b.busy
                    .saturating_sub(a.busy)
                    .saturating_sub(b.this.saturating_sub(a.this))
            )
        );
    }
    out
}

// ------------------------------------------------------------- the database

/// The same database through the cluster's Unix socket (own cluster only).
pub fn socket_url(db: &BenchDatabase) -> Option<String> {
    let cluster = db.own_cluster()?;
    let name = db.url().rsplit('/').next()?;
    Some(format!(
        "postgres://postgres@localhost:{}/{name}?host={}",
        cluster.port(),
        cluster.socket_dir().display()
    ))
}

/// The postmaster's pid, when it is our own cluster (for the CPU split).
pub fn postmaster(db: &BenchDatabase) -> Option<u64> {
    std::fs::read_to_string(db.own_cluster()?.data_dir().join("postmaster.pid"))
        .ok()
        .and_then(|s| s.lines().next().and_then(|l| l.trim().parse().ok()))
}

// ---------------------------------------------------------------- catalog

pub struct Item {
    pub sku: String,
    pub name: String,
    pub price: i64,
}

pub fn catalog(n: usize) -> Vec<Item> {
    let mut rng = Rng(0x5E47_7A00_0000_0001);
    (0..n)
        .map(|i| Item {
            sku: format!("SKU{i:06}"),
            name: format!("Item {i}"),
            // Rp 1.000 to Rp 50.900, in steps of Rp 100.
            price: 1_000 + (rng.below(500) as i64) * 100,
        })
        .collect()
}

/// Three price rows per item, so the stale-price look-up has history to
/// skip: an old chain-wide price (30 days ago), the current chain-wide price
/// (1 day ago, the one terminals charge) and a chain-wide price that only
/// takes effect in 30 days.
pub async fn load_catalog(pool: &PgPool, items: &[Item], push_branch: i32) -> Result<()> {
    let skus: Vec<&str> = items.iter().map(|i| i.sku.as_str()).collect();
    let names: Vec<&str> = items.iter().map(|i| i.name.as_str()).collect();
    let prices: Vec<i64> = items.iter().map(|i| i.price).collect();
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO products (sku, name, tax_category)
         SELECT s, n, 'standard' FROM UNNEST($1::text[], $2::text[]) AS u(s, n)",
    )
    .bind(&skus)
    .bind(&names)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO prices (sku, branch_id, price, effective_from)
         SELECT s, NULL, p + v.delta, now() + v.shift
         FROM UNNEST($1::text[], $2::bigint[]) AS u(s, p)
         CROSS JOIN (VALUES (500::bigint, interval '-30 days'), (0, interval '-1 day'),
                            (1000, interval '30 days')) AS v(delta, shift)",
    )
    .bind(&skus)
    .bind(&prices)
    .execute(&mut *tx)
    .await?;
    // Plenty of counted stock (count_generation 1): nothing is oversold.
    sqlx::query(
        "INSERT INTO stock_levels (branch_id, sku, on_hand_milli, count_generation)
         SELECT $1, s, 1000000000000, 1 FROM UNNEST($2::text[]) AS u(s)",
    )
    .bind(push_branch)
    .bind(&skus)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    sqlx::query("ANALYZE prices").execute(pool).await?;
    sqlx::query("ANALYZE stock_levels").execute(pool).await?;
    Ok(())
}

// ------------------------------------------------------------ the devices

/// One enrolled terminal: its key, credential and chain tip.
pub struct Terminal {
    pub branch: String,
    pub key: SigningKey,
    pub device_id: Uuid,
    pub credential: String,
    pub shift_id: Uuid,
    pub seq: u64,
    pub prev: Hash,
    pub counter: u32,
    pub http: reqwest::Client,
}

impl Terminal {
    pub fn sign<P: EntryPayload + serde::Serialize>(
        &mut self,
        p: &P,
        wall_ms: u64,
    ) -> Result<Entry> {
        self.seq += 1;
        self.counter += 1;
        let e = UnsignedEntry::with_payload(
            Uuid::now_v7(),
            &self.branch,
            self.device_id,
            self.seq,
            Hlc {
                wall_ms,
                counter: self.counter,
            },
            p,
            self.prev,
        )?
        .sign(&self.key)?;
        self.prev = e.hash;
        Ok(e)
    }
}

pub fn http_client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(1)
        // The server closes a connection idle for 10 s: never reuse one
        // that may be closing as we send.
        .pool_idle_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(120))
        .build()?)
}

pub async fn enroll(pool: &PgPool, url: &str, branch: &str, n: usize) -> Result<Terminal> {
    let code = sentra_sync::admin::enroll_code::create(
        pool,
        branch,
        DeviceKind::Terminal,
        Duration::from_secs(600),
    )
    .await?;
    let mut seed = [0u8; 32];
    let mut rng = Rng(0xD1CE_0000 + n as u64);
    for chunk in seed.chunks_mut(8) {
        chunk.copy_from_slice(&rng.next().to_le_bytes());
    }
    let key = SigningKey::from_bytes(&seed);
    let device_id = Uuid::now_v7();
    let req = EnrollRequest {
        code,
        name: format!("Till {}", n + 1),
        public_key: hex::encode(key.verifying_key().as_bytes()),
        device_id: Some(device_id),
    };
    let http = http_client()?;
    let resp = http
        .post(format!("{url}/v1/enroll"))
        .header(PROTOCOL_HEADER, "1")
        .json(&req)
        .send()
        .await?;
    let status = resp.status();
    let text = resp.text().await?;
    ensure!(status.is_success(), "enroll {n}: HTTP {status}: {text}");
    let r: EnrollResponse = serde_json::from_str(&text)?;
    ensure!(
        r.device_id == device_id,
        "enroll {n}: another device id came back"
    );
    Ok(Terminal {
        branch: branch.to_owned(),
        key,
        device_id,
        credential: r.credential,
        shift_id: Uuid::now_v7(),
        seq: 0,
        prev: Hash::ZERO,
        counter: 0,
        http,
    })
}

/// A consistent 3-line cash sale at the current prices (tax inclusive at
/// 11 %), paid with notes rounded up to the next Rp 50.000.
pub fn sale(rng: &mut Rng, items: &[Item], receipt_no: String, shift_id: Uuid) -> SaleCompleted {
    basket(rng, items, receipt_no, shift_id, 3)
}

/// A cash sale of `lines` distinct items (at most the catalog's size).
pub fn basket(
    rng: &mut Rng,
    items: &[Item],
    receipt_no: String,
    shift_id: Uuid,
    lines: usize,
) -> SaleCompleted {
    let lines_wanted = lines.clamp(1, items.len().max(1));
    let mut picked: Vec<usize> = Vec::with_capacity(lines_wanted);
    while picked.len() < lines_wanted {
        let i = rng.below(items.len());
        if !picked.contains(&i) {
            picked.push(i);
        }
    }
    let lines: Vec<SaleLine> = picked
        .iter()
        .enumerate()
        .map(|(n, &i)| {
            let item = &items[i];
            let q = 1000 * (1 + rng.below(3) as i64);
            let gross = item.price * q / 1000;
            let tax = gross * 11 / 111;
            SaleLine {
                line_no: n as u32 + 1,
                sku: item.sku.clone(),
                name: item.name.clone(),
                quantity_milli: q,
                unit_price: item.price,
                tax_category: "standard".into(),
                tax_rate: "11".into(),
                discount: None,
                gross,
                line_discount: 0,
                cart_discount_share: 0,
                net: gross,
                tax,
                total: gross,
            }
        })
        .collect();
    let total: i64 = lines.iter().map(|l| l.total).sum();
    let tax: i64 = lines.iter().map(|l| l.tax).sum();
    let paid = (total + 49_999) / 50_000 * 50_000;
    SaleCompleted {
        receipt_no,
        shift_id,
        currency: "IDR".into(),
        tax_mode: "inclusive".into(),
        lines,
        cart_discount: None,
        gross: total,
        discounts: 0,
        tax,
        total,
        tenders: vec![TenderRecord {
            method: "cash".into(),
            amount: paid,
            reference: None,
        }],
        paid,
        change: paid - total,
        cashier: Some("Siti".into()),
        discount_approved_by: None,
    }
}
