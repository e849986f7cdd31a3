//! Push benchmark of the sync server: sales per second through the real
//! `/v1/push` (HTTP over loopback, the real server in-process, a durable
//! PostgreSQL), next to a raw `COPY` of the same rows into the same tables.
//! Figures printed as a table, not a timed test. Run with
//!
//! ```text
//! cargo bench -p sentra-sync --bench push              # full
//! cargo bench -p sentra-sync --bench push -- --quick   # smoke
//! cargo bench -p sentra-sync --bench push -- --strict  # exit 1 on MISS
//! ```
//!
//! Three timed phases, all entries signed beforehand (signing is the
//! client's cost):
//!
//! 1. push flat out: every client (an enrolled terminal of one branch, with
//!    its own HTTP connection) pushes its batches of 3-line cash sales one
//!    after another;
//! 2. raw: the same rows `COPY`ed into journal, sales, sale_lines,
//!    sale_payments and stock_movements of a second branch, one transaction
//!    per batch, as many connections as clients;
//! 3. push paced: the clients push more batches at a fixed offered load
//!    (open loop), latency counted from when each batch was due.
//!
//! PostgreSQL is a throwaway durable cluster (`sentra_pg_harness::Cluster::start`,
//! fsync on, on disk) unless `DATABASE_URL` is set; then a fresh database is
//! made on that server. What each figure means is in `docs/benchmarks.md`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use sentra_pg_harness::BenchDatabase;
use sentra_protocol::payload::ShiftOpened;
use sentra_protocol::wire::{PROTOCOL_HEADER, PushResponse};
use sentra_sync::config::{RulesConfig, ServeConfig};
use sqlx::{Connection as _, PgConnection, PgPool};
use tokio::sync::Barrier;
use uuid::Uuid;

mod common;

use common::{
    Item, Rng, Stats, Terminal, catalog, cpu_snapshot, cpu_split, enroll, http_client,
    load_average, load_catalog, ms, ms_to_time, now_ms, postmaster, sale, socket_url, stats,
    thousands,
};

// ------------------------------------------------------------------ config

const TARGET_SALES_PER_SEC: f64 = 5_000.0;
const TARGET_P99: Duration = Duration::from_millis(100);
const PUSH_BRANCH: &str = "PUSH01";
const COPY_BRANCH: &str = "COPY01";
const TZ: &str = "Asia/Jakarta";

struct Config {
    quick: bool,
    strict: bool,
    clients: usize,
    /// Batches per client.
    batches: usize,
    /// Sales per batch (one push, one COPY transaction).
    batch_size: usize,
    skus: usize,
    /// The server's PostgreSQL pool (`ServeConfig::max_connections`).
    pool: u32,
    /// The server's pool connects through the cluster's Unix socket (own
    /// cluster only); TCP by default.
    server_socket: bool,
    /// The COPY baseline connects through the cluster's Unix socket (own
    /// cluster only); TCP by default, as the server.
    copy_socket: bool,
    /// Offered load of the paced phase, sales per second (0: no paced phase).
    rate: f64,
    /// Batches per client in the paced phase.
    paced_batches: usize,
    /// How often the server folds the report summaries' deltas, ms.
    fold_ms: u64,
}

const USAGE: &str = "push bench: [--quick] [--full] [--strict] [--clients N] [--batches N] \
[--batch-size N] [--skus N] [--rate N] [--paced-batches N] [--pool N] [--fold-ms N] [--server-socket] \
[--copy-socket]
  --quick        16 clients x 3 batches (smoke); the default when run without `--bench`
                 (as by `cargo test --benches`)
  --full         full mode even without `--bench` (running the binary directly)
  --strict       exit 1 if a target is missed (a failed check always exits 1)
  --clients N    concurrent clients, each its own enrolled terminal (default 16)
  --batches N    batches per client (default 50; 3 with --quick)
  --batch-size N sales per batch (default 100)
  --skus N       catalog size (default 10,000)
  --rate N       offered load of the paced (open-loop) phase in sales/s (default 2,500; 0: skip)
  --paced-batches N  batches per client in the paced phase (default half of --batches; 2 with --quick)
  --pool N       the server's PostgreSQL pool size (default 24)
  --fold-ms N    how often the server folds the report summaries, ms (default 5000, as `serve`)
  --server-socket  the server's pool connects through the cluster's Unix socket (default TCP)
  --copy-socket  the COPY baseline connects through the cluster's Unix socket (default TCP,
                 as the server)
Environment: DATABASE_URL (use that server: a fresh database is made on it)";

impl Config {
    fn from_args() -> Result<Config> {
        let mut cfg = Config {
            quick: false,
            strict: false,
            clients: 16,
            batches: 50,
            batch_size: 100,
            skus: 10_000,
            pool: 24,
            server_socket: false,
            copy_socket: false,
            rate: 2_500.0,
            paced_batches: 25,
            fold_ms: 5_000,
        };
        let mut paced_set = false;
        let mut overrides: Vec<(String, usize)> = Vec::new();
        let (mut bench, mut full) = (false, false);
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => cfg.quick = true,
                "--strict" => cfg.strict = true,
                "--server-socket" => cfg.server_socket = true,
                "--copy-socket" => cfg.copy_socket = true,
                "--clients" | "--batches" | "--batch-size" | "--skus" | "--pool" | "--rate"
                | "--paced-batches" | "--fold-ms" => {
                    let n = args
                        .next()
                        .and_then(|n| n.parse().ok())
                        .with_context(|| format!("{arg} needs a number"))?;
                    overrides.push((arg, n));
                }
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
            cfg.batches = 3;
            cfg.paced_batches = 2;
        }
        for (arg, n) in overrides {
            if arg == "--rate" {
                cfg.rate = n as f64;
                continue;
            }
            let n = n.max(1);
            match arg.as_str() {
                "--paced-batches" => {
                    cfg.paced_batches = n;
                    paced_set = true;
                }
                "--clients" => cfg.clients = n.min(200),
                "--batches" => cfg.batches = n,
                "--batch-size" => cfg.batch_size = n.min(999),
                "--skus" => cfg.skus = n.max(10),
                "--fold-ms" => cfg.fold_ms = n as u64,
                _ => cfg.pool = u32::try_from(n).unwrap_or(u32::MAX),
            }
        }
        if !paced_set && !cfg.quick {
            cfg.paced_batches = (cfg.batches / 2).max(1);
        }
        if cfg.rate <= 0.0 {
            cfg.paced_batches = 0;
        }
        Ok(cfg)
    }

    fn sales(&self) -> usize {
        self.clients * self.batches * self.batch_size
    }

    fn paced_sales(&self) -> usize {
        self.clients * self.paced_batches * self.batch_size
    }
}

fn push_body(entries_json: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(entries_json.len() + 48);
    body.extend_from_slice(format!("{{\"sent_at_ms\":{},\"entries\":", now_ms()).as_bytes());
    body.extend_from_slice(entries_json);
    body.push(b'}');
    body
}

async fn push(t: &Terminal, url: &str, entries_json: &[u8]) -> Result<(Duration, PushResponse)> {
    let body = push_body(entries_json);
    let start = Instant::now();
    let resp = t
        .http
        .post(format!("{url}/v1/push"))
        .header(PROTOCOL_HEADER, "1")
        .header("content-type", "application/json")
        .bearer_auth(&t.credential)
        .body(body)
        .send()
        .await?;
    let status = resp.status();
    let bytes = resp.bytes().await?;
    let took = start.elapsed();
    ensure!(
        status.is_success(),
        "push: HTTP {status}: {}",
        String::from_utf8_lossy(&bytes)
    );
    Ok((took, serde_json::from_slice(&bytes)?))
}

/// Whether a push stored exactly the batch and acknowledged all of it.
fn check_ack(r: &PushResponse, device_id: Uuid, n: usize, last_seq: u64) -> Result<()> {
    ensure!(
        r.stored == n as u64
            && r.duplicates == 0
            && r.refused.is_empty()
            && r.quarantined.is_empty()
            && r.conflicts.is_empty()
            && r.acks.len() == 1
            && r.acks[0].device_id == device_id
            && r.acks[0].acked_seq == last_seq
            && r.acks[0].expected_seq.is_none(),
        "incomplete ack for device {device_id} (want {n} stored up to seq {last_seq}): \
         stored {}, duplicates {}, refused {:?}, quarantined {:?}, conflicts {:?}, acks {:?}",
        r.stored,
        r.duplicates,
        r.refused.first(),
        r.quarantined.first(),
        r.conflicts.first(),
        r.acks
    );
    Ok(())
}

// ------------------------------------------------------ pre-signed batches

/// One batch as the push sends it: the `entries` JSON array.
struct PushBatch {
    entries_json: Vec<u8>,
    last_seq: u64,
}

/// The same batch as the COPY baseline writes it: text-format rows, one
/// buffer per table of [`COPY_STATEMENTS`].
struct CopyBatch([Vec<u8>; 5]);

const COPY_STATEMENTS: [&str; 5] = [
    "COPY journal (branch_id, device_id, seq, entry_id, format, kind, hlc_wall_ms, hlc_counter, \
     prev_hash, hash, signature, payload, received_at, occurred_at) FROM STDIN",
    "COPY sales (branch_id, entry_id, receipt_no, device_id, seq, shift_id, occurred_at, \
     business_date, cashier, gross, discounts, tax, total, paid, change) FROM STDIN",
    "COPY sale_lines (branch_id, sale_entry_id, line_no, sku, name, quantity_milli, unit_price, \
     tax_rate, gross, line_discount, cart_discount_share, net, tax, total) FROM STDIN",
    "COPY sale_payments (branch_id, sale_entry_id, tender_no, method, amount, reference) FROM STDIN",
    "COPY stock_movements (branch_id, entry_id, line_index, sku, delta_milli, reason, occurred_at) \
     FROM STDIN",
];

/// Appends one text-format COPY field (escaped) and its separator.
fn field(out: &mut Vec<u8>, value: &str, last: bool) {
    for b in value.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
    out.push(if last { b'\n' } else { b'\t' });
}

fn row(out: &mut Vec<u8>, values: &[&str]) {
    for (i, v) in values.iter().enumerate() {
        field(out, v, i + 1 == values.len());
    }
}

fn bytea(b: &[u8]) -> String {
    format!("\\x{}", hex::encode(b))
}

/// Signs one client's batches and writes the COPY rows of the same entries
/// (for branch `copy_branch`).
fn sign_batches(
    t: &mut Terminal,
    client: usize,
    cfg: &Config,
    items: &[Item],
    copy_branch: i32,
    tz: chrono_tz::Tz,
) -> Result<Signed> {
    let mut rng = Rng(0xBA7C_0000 + client as u64);
    let b = copy_branch.to_string();
    let shift = t.shift_id.to_string();
    let device = t.device_id.to_string();
    let mut out = Signed {
        push: Vec::with_capacity(cfg.batches),
        copy: Vec::with_capacity(cfg.batches),
        paced: Vec::with_capacity(cfg.paced_batches),
    };
    for n in 0..cfg.batches + cfg.paced_batches {
        let with_copy = n < cfg.batches;
        let mut entries = Vec::with_capacity(cfg.batch_size);
        let mut copy: [Vec<u8>; 5] = Default::default();
        for k in 0..cfg.batch_size {
            let receipt = format!(
                "{PUSH_BRANCH}-T{:02}-{:06}",
                client + 1,
                n * cfg.batch_size + k + 1
            );
            let s = sale(&mut rng, items, receipt, t.shift_id);
            let wall = now_ms();
            let e = t.sign(&s, wall)?;
            if !with_copy {
                entries.push(e);
                continue;
            }
            let at = ms_to_time(wall).to_rfc3339();
            let id = e.id.to_string();
            let seq = e.seq.to_string();
            row(
                &mut copy[0],
                &[
                    &b,
                    &device,
                    &seq,
                    &id,
                    &e.format.to_string(),
                    e.kind.as_str(),
                    &e.hlc.wall_ms.to_string(),
                    &e.hlc.counter.to_string(),
                    &bytea(&e.prev_hash.0),
                    &bytea(&e.hash.0),
                    &bytea(&e.signature.0),
                    &e.payload.to_string(),
                    &at,
                    &at,
                ],
            );
            let date = sentra_ledger::rules::business_date(wall as i64, tz).to_string();
            row(
                &mut copy[1],
                &[
                    &b,
                    &id,
                    &s.receipt_no,
                    &device,
                    &seq,
                    &shift,
                    &at,
                    &date,
                    s.cashier.as_deref().unwrap_or(""),
                    &s.gross.to_string(),
                    &s.discounts.to_string(),
                    &s.tax.to_string(),
                    &s.total.to_string(),
                    &s.paid.to_string(),
                    &s.change.to_string(),
                ],
            );
            for l in &s.lines {
                row(
                    &mut copy[2],
                    &[
                        &b,
                        &id,
                        &l.line_no.to_string(),
                        &l.sku,
                        &l.name,
                        &l.quantity_milli.to_string(),
                        &l.unit_price.to_string(),
                        &l.tax_rate,
                        &l.gross.to_string(),
                        &l.line_discount.to_string(),
                        &l.cart_discount_share.to_string(),
                        &l.net.to_string(),
                        &l.tax.to_string(),
                        &l.total.to_string(),
                    ],
                );
                row(
                    &mut copy[4],
                    &[
                        &b,
                        &id,
                        &(l.line_no - 1).to_string(),
                        &l.sku,
                        &(-l.quantity_milli).to_string(),
                        "sale",
                        &at,
                    ],
                );
            }
            for (i, p) in s.tenders.iter().enumerate() {
                copy[3].extend_from_slice(
                    format!("{b}\t{id}\t{i}\t{}\t{}\t\\N\n", p.method, p.amount).as_bytes(),
                );
            }
            entries.push(e);
        }
        let batch = PushBatch {
            entries_json: serde_json::to_vec(&entries)?,
            last_seq: t.seq,
        };
        if with_copy {
            out.push.push(batch);
            out.copy.push(CopyBatch(copy));
        } else {
            out.paced.push(batch);
        }
    }
    Ok(out)
}

/// One client's pre-signed batches: for the saturated push, the same rows
/// for the COPY baseline, and for the paced push (the chain goes on).
struct Signed {
    push: Vec<PushBatch>,
    copy: Vec<CopyBatch>,
    paced: Vec<PushBatch>,
}

// ------------------------------------------------------------- timed phases

struct Phase {
    wall: Duration,
    latencies: Vec<Duration>,
    errors: Vec<String>,
    cpu: String,
}

/// Every client pushes its batches one after another, as fast as it can
/// (closed loop); latency is from send to the full response.
///
/// With `rate` set, the clients are paced instead (open loop): batch `k` of
/// client `i` is due at `(k + i / clients) × interval` after the start, with
/// `interval = clients × batch_size / rate`, and its latency counts from
/// when it was due, so a server that falls behind is charged for the
/// queueing too.
async fn push_phase(
    terminals: &[Arc<Terminal>],
    batches: Vec<Vec<PushBatch>>,
    url: &str,
    batch_size: usize,
    rate: Option<f64>,
    postmaster: Option<u64>,
) -> Phase {
    let clients = terminals.len();
    let barrier = Arc::new(Barrier::new(clients + 1));
    let interval = rate.map(|r| Duration::from_secs_f64((clients * batch_size) as f64 / r));
    let mut tasks = Vec::new();
    for (i, (t, bs)) in terminals.iter().zip(batches).enumerate() {
        let t = t.clone();
        let barrier = barrier.clone();
        let url = url.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(bs.len());
            barrier.wait().await;
            let start = Instant::now();
            for (k, b) in bs.iter().enumerate() {
                let due =
                    interval.map(|iv| start + iv.mul_f64(k as f64 + i as f64 / clients as f64));
                if let Some(due) = due {
                    tokio::time::sleep_until(due.into()).await;
                }
                let (took, r) = push(&t, &url, &b.entries_json).await?;
                lat.push(due.map_or(took, |d| d.elapsed()));
                check_ack(&r, t.device_id, batch_size, b.last_seq)?;
            }
            anyhow::Ok(lat)
        }));
    }
    run_phase(tasks, barrier, postmaster, batch_size).await
}

async fn copy_phase(
    url: &str,
    batches: Vec<Vec<CopyBatch>>,
    batch_size: usize,
    postmaster: Option<u64>,
) -> Result<Phase> {
    let barrier = Arc::new(Barrier::new(batches.len() + 1));
    let mut tasks = Vec::new();
    for bs in batches {
        let barrier = barrier.clone();
        let mut conn = PgConnection::connect(url).await?;
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(bs.len());
            barrier.wait().await;
            for b in &bs {
                let start = Instant::now();
                let mut tx = conn.begin().await?;
                for (stmt, data) in COPY_STATEMENTS.iter().zip(&b.0) {
                    let mut copy = tx.copy_in_raw(stmt).await?;
                    copy.send(data.as_slice()).await?;
                    copy.finish().await?;
                }
                tx.commit().await?;
                lat.push(start.elapsed());
            }
            conn.close().await?;
            anyhow::Ok(lat)
        }));
    }
    Ok(run_phase(tasks, barrier, postmaster, batch_size).await)
}

async fn run_phase(
    tasks: Vec<tokio::task::JoinHandle<Result<Vec<Duration>>>>,
    barrier: Arc<Barrier>,
    postmaster: Option<u64>,
    batch_size: usize,
) -> Phase {
    let cpu0 = cpu_snapshot(postmaster);
    let start = Instant::now();
    barrier.wait().await;
    let mut latencies = Vec::new();
    let mut errors = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        match t.await {
            Ok(Ok(l)) => latencies.extend(l),
            Ok(Err(e)) => errors.push(format!("client {}: {e:#}", i + 1)),
            Err(e) => errors.push(format!("client {}: task failed: {e}", i + 1)),
        }
    }
    let wall = start.elapsed();
    let cpu1 = cpu_snapshot(postmaster);
    let cpu = cpu_split(cpu0, cpu1, wall, latencies.len() * batch_size);
    Phase {
        wall,
        latencies,
        errors,
        cpu,
    }
}

// -------------------------------------------------------------------- main

struct Counts {
    journal: i64,
    sales: i64,
    lines: i64,
    payments: i64,
    movements: i64,
    conflicts: i64,
    quarantined: i64,
}

async fn counts(pool: &PgPool, branch: i32) -> Result<Counts> {
    let row: (i64, i64, i64, i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM journal WHERE branch_id = $1),
                (SELECT count(*) FROM sales WHERE branch_id = $1),
                (SELECT count(*) FROM sale_lines WHERE branch_id = $1),
                (SELECT count(*) FROM sale_payments WHERE branch_id = $1),
                (SELECT count(*) FROM stock_movements WHERE branch_id = $1),
                (SELECT count(*) FROM conflicts WHERE branch_id = $1),
                (SELECT count(*) FROM journal WHERE branch_id = $1 AND quarantine_reason IS NOT NULL)",
    )
    .bind(branch)
    .fetch_one(pool)
    .await?;
    Ok(Counts {
        journal: row.0,
        sales: row.1,
        lines: row.2,
        payments: row.3,
        movements: row.4,
        conflicts: row.5,
        quarantined: row.6,
    })
}

struct Checks(Vec<(String, bool)>);

impl Checks {
    fn check(&mut self, what: String, ok: bool) {
        self.0.push((what, ok));
    }

    fn counts(&mut self, label: &str, c: &Counts, journal: i64, sales: i64) {
        self.check(
            format!(
                "{label}: journal holds {} entries (expected {journal})",
                c.journal
            ),
            c.journal == journal,
        );
        self.check(
            format!("{label}: {} sales (expected {sales})", c.sales),
            c.sales == sales,
        );
        self.check(
            format!("{label}: {} sale lines (expected {})", c.lines, 3 * sales),
            c.lines == 3 * sales,
        );
        self.check(
            format!("{label}: {} sale payments (expected {sales})", c.payments),
            c.payments == sales,
        );
        self.check(
            format!(
                "{label}: {} stock movements (expected {})",
                c.movements,
                3 * sales
            ),
            c.movements == 3 * sales,
        );
    }
}

fn print_phase(name: &str, p: &Phase, sales: usize) -> (f64, Stats) {
    let s = stats(&p.latencies);
    let rate = sales as f64 / p.wall.as_secs_f64();
    println!(
        "| {name} | {} | {} | {:.2} s | {} | {} | {} | {} | {} |",
        thousands(sales as f64),
        s.n,
        p.wall.as_secs_f64(),
        thousands(rate),
        ms(s.p50),
        ms(s.p95),
        ms(s.p99),
        ms(s.max),
    );
    (rate, s)
}

async fn run(cfg: &Config, db: &BenchDatabase) -> Result<bool> {
    let tz: chrono_tz::Tz = TZ
        .parse()
        .map_err(|e| anyhow::anyhow!("time zone {TZ}: {e}"))?;
    let setup_started = Instant::now();
    let server_url = match (cfg.server_socket, socket_url(db)) {
        (true, Some(u)) => u,
        (true, None) => {
            bail!("--server-socket needs the bench's own cluster (DATABASE_URL is set)")
        }
        (false, _) => db.url().to_owned(),
    };
    let copy_url = match (cfg.copy_socket, socket_url(db)) {
        (true, Some(u)) => u,
        (true, None) => {
            bail!("--copy-socket needs the bench's own cluster (DATABASE_URL is set)")
        }
        (false, _) => db.url().to_owned(),
    };
    let via = |u: &str| {
        if u.contains("host=/") {
            "Unix socket"
        } else {
            "TCP"
        }
    };
    let config = ServeConfig {
        database_url: server_url.clone(),
        listen: "127.0.0.1:0".parse()?,
        max_connections: cfg.pool,
        rules: RulesConfig::default(),
        sweep_interval: Duration::from_secs(3600),
        fold_interval: Duration::from_millis(cfg.fold_ms),
        shutdown_grace: Duration::from_secs(30),
        limits: Default::default(),
        office: Default::default(),
    };
    let running = sentra_sync::http::start(&config).await?;
    let url = format!("http://{}", running.addr);
    let probe = http_client()?;
    let mut healthy = false;
    for _ in 0..400 {
        if let Ok(r) = probe.get(format!("{url}/health")).send().await
            && r.status().is_success()
        {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    ensure!(healthy, "the server never became healthy");

    let pool = sentra_sync::db::connect(db.url(), 4).await?;
    let settings: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, setting || COALESCE(unit, '') FROM pg_settings
         WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_level',
                        'shared_buffers', 'max_wal_size', 'checkpoint_timeout', 'wal_sync_method')
         ORDER BY name",
    )
    .fetch_all(&pool)
    .await?;
    let version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&pool)
        .await?;
    let push_branch = sentra_sync::admin::branch::create(&pool, PUSH_BRANCH, "Bench push", TZ)
        .await?
        .branch_id;
    let copy_branch = sentra_sync::admin::branch::create(&pool, COPY_BRANCH, "Bench COPY", TZ)
        .await?
        .branch_id;
    let items = catalog(cfg.skus);
    load_catalog(&pool, &items, push_branch).await?;

    // Enroll, and open a shift on each terminal (pushed on its own).
    let mut terminals = Vec::with_capacity(cfg.clients);
    for n in 0..cfg.clients {
        let mut t = enroll(&pool, &url, PUSH_BRANCH, n).await?;
        let opened = t.sign(
            &ShiftOpened {
                shift_id: t.shift_id,
                opening_float: 500_000,
                cashier: Some("Siti".into()),
            },
            now_ms(),
        )?;
        let (_, r) = push(&t, &url, &serde_json::to_vec(&[opened])?).await?;
        check_ack(&r, t.device_id, 1, 1)?;
        terminals.push(t);
    }
    let setup = setup_started.elapsed();

    // Sign everything before the clock starts: signing is the client's cost.
    let signing_started = Instant::now();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut signed: Vec<Signed> = Vec::with_capacity(cfg.clients);
    std::thread::scope(|scope| -> Result<()> {
        let per = cfg.clients.div_ceil(cores);
        let handles: Vec<_> = terminals
            .chunks_mut(per)
            .enumerate()
            .map(|(chunk, ts)| {
                let items = &items;
                scope.spawn(move || -> Result<Vec<Signed>> {
                    ts.iter_mut()
                        .enumerate()
                        .map(|(i, t)| sign_batches(t, chunk * per + i, cfg, items, copy_branch, tz))
                        .collect()
                })
            })
            .collect();
        for h in handles {
            let done = h
                .join()
                .map_err(|_| anyhow::anyhow!("a signing thread panicked"))??;
            signed.extend(done);
        }
        Ok(())
    })?;
    let signing = signing_started.elapsed();
    let terminals: Vec<Arc<Terminal>> = terminals.into_iter().map(Arc::new).collect();
    let n_batches = cfg.clients * cfg.batches;
    let body_bytes: usize = signed
        .iter()
        .flat_map(|s| &s.push)
        .map(|b| b.entries_json.len())
        .sum();
    let mut push_batches = Vec::with_capacity(cfg.clients);
    let mut copy_batches = Vec::with_capacity(cfg.clients);
    let mut paced_batches = Vec::with_capacity(cfg.clients);
    for s in signed {
        push_batches.push(s.push);
        copy_batches.push(s.copy);
        paced_batches.push(s.paced);
    }

    println!(
        "## sentra-sync push bench ({})\n",
        if cfg.quick { "quick" } else { "full" }
    );
    println!(
        "- {} clients (enrolled terminals of one branch) × {} batches × {} sales (3 lines, cash) \
         = {} sales; catalog {} SKUs × 3 prices; server pool {} connections; report \
         summaries folded every {} ms",
        cfg.clients,
        cfg.batches,
        cfg.batch_size,
        thousands(cfg.sales() as f64),
        thousands(cfg.skus as f64),
        cfg.pool,
        cfg.fold_ms
    );
    if cfg.paced_batches > 0 {
        println!(
            "- paced phase: {} batches per client at {} sales/s offered",
            cfg.paced_batches,
            thousands(cfg.rate)
        );
    }
    println!("- PostgreSQL {version}: {}", db.describe());
    println!(
        "- settings: {}",
        settings
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "- server → PostgreSQL over {}; COPY baseline over {}",
        via(&server_url),
        via(&copy_url)
    );
    println!(
        "- setup {:.1} s; signing {} entries {:.1} s (before timing); push body {:.0} KiB per batch",
        setup.as_secs_f64(),
        thousands((cfg.sales() + cfg.paced_sales()) as f64),
        signing.as_secs_f64(),
        body_bytes as f64 / n_batches as f64 / 1024.0
    );
    println!("- load average at start: {}\n", load_average());

    let postmaster = postmaster(db);
    let mut checks = Checks(Vec::new());
    let sales = cfg.sales() as i64;

    println!("| phase | sales | batches | wall | sales/s | batch p50 | p95 | p99 | max |");
    println!("|---|---|---|---|---|---|---|---|---|");
    sqlx::query("CHECKPOINT").execute(&pool).await?;
    let push_p = push_phase(
        &terminals,
        push_batches,
        &url,
        cfg.batch_size,
        None,
        postmaster,
    )
    .await;
    let (push_rate, push_s) = print_phase(
        &format!("push: POST /v1/push, {} clients flat out", cfg.clients),
        &push_p,
        cfg.sales(),
    );
    sqlx::query("CHECKPOINT").execute(&pool).await?;
    let copy_p = copy_phase(&copy_url, copy_batches, cfg.batch_size, postmaster).await?;
    let (copy_rate, _) = print_phase(
        "raw: COPY of the same rows into 5 tables",
        &copy_p,
        cfg.sales(),
    );
    let paced = if cfg.paced_batches > 0 {
        sqlx::query("CHECKPOINT").execute(&pool).await?;
        let p = push_phase(
            &terminals,
            paced_batches,
            &url,
            cfg.batch_size,
            Some(cfg.rate),
            postmaster,
        )
        .await;
        let (_, st) = print_phase(
            &format!(
                "push paced at {} sales/s (latency from when due)",
                thousands(cfg.rate)
            ),
            &p,
            cfg.paced_sales(),
        );
        Some((p, st))
    } else {
        None
    };
    println!();
    println!("- push/COPY throughput ratio: {:.2}", push_rate / copy_rate);
    println!(
        "- flat out, {} clients are always in flight, so the mean batch latency is {} clients ÷ {:.1} \
         batches/s = {}; a p99 ≤ {} there needs ≥ {} sales/s",
        cfg.clients,
        cfg.clients,
        push_rate / cfg.batch_size as f64,
        ms(Duration::from_secs_f64(
            cfg.clients as f64 * cfg.batch_size as f64 / push_rate
        )),
        ms(TARGET_P99),
        thousands(cfg.clients as f64 * cfg.batch_size as f64 / TARGET_P99.as_secs_f64())
    );
    println!("- push flat out: {}", push_p.cpu);
    println!("- COPY: {}", copy_p.cpu);
    if let Some((p, _)) = &paced {
        println!("- push paced: {}", p.cpu);
    }

    // Checks.
    let paced_phase = paced.as_ref().map(|(p, _)| p);
    for e in push_p
        .errors
        .iter()
        .chain(&copy_p.errors)
        .chain(paced_phase.iter().flat_map(|p| &p.errors))
        .take(5)
    {
        checks.check(e.clone(), false);
    }
    checks.check(
        format!(
            "push: every ack complete ({} of {n_batches} batches)",
            push_s.n
        ),
        push_p.errors.is_empty() && push_s.n == n_batches,
    );
    if let Some(p) = paced_phase {
        let want = cfg.clients * cfg.paced_batches;
        checks.check(
            format!(
                "paced push: every ack complete ({} of {want} batches)",
                p.latencies.len()
            ),
            p.errors.is_empty() && p.latencies.len() == want,
        );
    }
    let pushed = sales + cfg.paced_sales() as i64;
    let c = counts(&pool, push_branch).await?;
    checks.counts("push", &c, pushed + cfg.clients as i64, pushed);
    checks.check(
        format!("push: {} conflicts raised (expected 0)", c.conflicts),
        c.conflicts == 0,
    );
    checks.check(
        format!("push: {} entries quarantined (expected 0)", c.quarantined),
        c.quarantined == 0,
    );
    // The report summaries hold every pushed line once, folded or not.
    let folded = sentra_sync::ingest::summaries::fold(&pool).await?;
    let (summed, left): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COALESCE(sum(lines), 0)::bigint FROM item_yearly_rollup
                 WHERE branch_id = $1),
                (SELECT count(*) FROM item_rollup_delta WHERE branch_id = $1)",
    )
    .bind(push_branch)
    .fetch_one(&pool)
    .await?;
    checks.check(
        format!(
            "push: report summaries hold {summed} lines (expected {}; {folded} deltas were \
             left for the last fold, {left} after it)",
            c.lines
        ),
        summed == c.lines && left == 0,
    );
    let c = counts(&pool, copy_branch).await?;
    checks.check(
        format!(
            "COPY: every batch committed ({} of {n_batches})",
            copy_p.latencies.len()
        ),
        copy_p.errors.is_empty() && copy_p.latencies.len() == n_batches,
    );
    checks.counts("COPY", &c, sales, sales);

    let mut failed = false;
    println!("\nchecks:");
    for (what, ok) in &checks.0 {
        println!("  {} {what}", if *ok { "ok  " } else { "FAIL" });
        failed |= !ok;
    }
    println!("\ntargets (push flat out):");
    let mut missed = false;
    for (what, value, ok) in [
        (
            format!("throughput ≥ {} sales/s", thousands(TARGET_SALES_PER_SEC)),
            format!("{} sales/s", thousands(push_rate)),
            push_rate >= TARGET_SALES_PER_SEC,
        ),
        (
            format!("batch p99 ≤ {}", ms(TARGET_P99)),
            ms(push_s.p99),
            push_s.p99 <= TARGET_P99,
        ),
    ] {
        println!("  {} {what}: {value}", if ok { "PASS" } else { "MISS" });
        missed |= !ok;
    }
    println!(
        "  (ratio push/COPY {:.2}: no target)",
        push_rate / copy_rate
    );
    if let Some((_, st)) = &paced {
        println!(
            "  (paced at {} sales/s: batch p99 {}, {} the {} of the target; for information)",
            thousands(cfg.rate),
            ms(st.p99),
            if st.p99 <= TARGET_P99 {
                "within"
            } else {
                "over"
            },
            ms(TARGET_P99)
        );
    }

    pool.close().await;
    running.stop().await?;
    if failed {
        println!("\nFAIL: a check failed");
        return Ok(false);
    }
    if missed && cfg.strict {
        println!("\nMISS with --strict");
        return Ok(false);
    }
    Ok(true)
}

fn main() -> ExitCode {
    let cfg = match Config::from_args() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e:#}");
            return ExitCode::from(2);
        }
    };
    let db = match BenchDatabase::open("push_bench").map_err(|e| anyhow::anyhow!("{e}")) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("FAIL: no database: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("FAIL: no runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = rt.block_on(run(&cfg, &db));
    drop(rt);
    drop(db);
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            println!("FAIL: {e:#}");
            ExitCode::FAILURE
        }
    }
}
