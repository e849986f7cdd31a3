//! 1,000 tills on one server: a load generator of real enrolled devices
//! (each its own Ed25519 key and hash chain) against `sentra-sync serve` as
//! its own process, on a durable PostgreSQL. Two phases:
//!
//! 1. **A steady day**: every till sells a sale every 20–60 s (a basket of
//!    1–8 lines) and pushes it at once, as a till with a live link does.
//!    Figures: push latency p50/p99, refusals.
//! 2. **The morning storm**: the uplink comes back and every till
//!    reconnects at once with 500 sales made offline, pushing them in
//!    batches of 500 as the terminal does. Figures: time to drain, `429
//!    busy` answers (honoured: each till waits between `Retry-After` and
//!    twice it), 5xx (must be none), and a check that every entry is in the
//!    cloud once.
//!
//! Both report the server's and PostgreSQL's CPU and peak memory. Run with
//!
//! ```text
//! cargo bench -p sentra-sync --bench tills              # 1,000 tills
//! cargo bench -p sentra-sync --bench tills -- --quick   # 100 tills, short
//! ```
//!
//! What each figure means is in `docs/benchmarks.md` ("1,000 tills on one
//! server").

mod common;

use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use common::{Item, Rng, Terminal, basket, catalog, enroll, load_catalog, ms, now_ms, stats};
use sentra_pg_harness::BenchDatabase;
use sentra_protocol::Entry;
use sentra_protocol::payload::ShiftOpened;
use sentra_protocol::wire::{PROTOCOL_HEADER, PushResponse};
use tokio::sync::Mutex;

const TARGET_STEADY_P99: Duration = Duration::from_millis(250);
/// The terminal's push batch (`docs/sync-protocol.md`, "Sync client").
const BATCH: usize = 500;
const TILLS_PER_BRANCH: usize = 20;
const SKUS: usize = 5_000;

struct Config {
    tills: usize,
    day: Duration,
    pending: usize,
    pool: u32,
}

impl Config {
    fn parse() -> Result<Config> {
        let mut c = Config {
            tills: 1_000,
            day: Duration::from_secs(180),
            pending: 500,
            pool: 16,
        };
        let mut args = std::env::args().skip(1);
        let bench = std::env::args().any(|a| a == "--bench");
        if !bench {
            // `cargo test --benches`: a smoke run only.
            c.tills = 40;
            c.day = Duration::from_secs(5);
            c.pending = 50;
        }
        while let Some(a) = args.next() {
            let mut num = |name: &str| -> Result<u64> {
                args.next()
                    .and_then(|v| v.parse().ok())
                    .with_context(|| format!("{name} needs a number"))
            };
            match a.as_str() {
                "--quick" => {
                    c.tills = 100;
                    c.day = Duration::from_secs(30);
                    c.pending = 100;
                }
                "--tills" => c.tills = num("--tills")? as usize,
                "--day-secs" => c.day = Duration::from_secs(num("--day-secs")?),
                "--pending" => c.pending = num("--pending")? as usize,
                "--pool" => c.pool = num("--pool")? as u32,
                "--bench" => {}
                other => bail!(
                    "unknown argument {other:?}; tills bench: [--quick] [--tills N] \
                     [--day-secs N] [--pending N] [--pool N]"
                ),
            }
        }
        ensure!(c.tills > 0, "--tills must be at least 1");
        Ok(c)
    }
}

// ------------------------------------------------------------- the server

/// `sentra-sync serve` as its own process (so its CPU and memory are its
/// own), on a free port.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(db_url: &str, pool: u32) -> Result<Server> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sentra-sync"))
            .args(["serve", "--log-format", "text", "--database-url", db_url])
            .args([
                "--listen",
                "127.0.0.1:0",
                "--max-connections",
                &pool.to_string(),
            ])
            // More `serve` arguments, to try its limits.
            .args(
                std::env::var("SENTRA_BENCH_SERVER_ARGS")
                    .unwrap_or_default()
                    .split_whitespace(),
            )
            .env(
                "RUST_LOG",
                std::env::var("SENTRA_BENCH_SERVER_LOG").unwrap_or_else(|_| "error".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting sentra-sync serve")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.trim().strip_prefix("listening on ") {
                    let _ = tx.send(addr.to_owned());
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(60))
            .context("the server never printed its address")?;
        Ok(Server { child, url })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ------------------------------------------------------- what is measured

/// CPU ticks (user + system) of a process, its exited children included.
fn cpu_ticks(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| common::proc_times(&s))
        .map_or(0, |(_, u, s, cu, cs)| u + s + cu + cs)
}

/// The postmaster and its children (PostgreSQL's processes).
fn postgres_pids(postmaster: u64) -> Vec<u32> {
    let mut pids = vec![postmaster as u32];
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for d in dir.flatten() {
            let Some(pid) = d.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                && common::proc_times(&stat).is_some_and(|(ppid, ..)| ppid == postmaster)
            {
                pids.push(pid);
            }
        }
    }
    pids
}

/// A `/proc/PID/status` or `smaps_rollup` field in KiB.
fn kib(path: &str, field: &str) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// PostgreSQL's memory: the sum of its processes' proportional set sizes
/// (shared buffers counted once, not once per backend).
fn postgres_pss_kib(postmaster: u64) -> u64 {
    postgres_pids(postmaster)
        .iter()
        .map(|p| kib(&format!("/proc/{p}/smaps_rollup"), "Pss:"))
        .sum()
}

/// Samples memory every 500 ms while a phase runs; the peaks.
#[derive(Default)]
struct Peaks {
    server_kib: AtomicU64,
    postgres_kib: AtomicU64,
}

fn sample_peaks(server: u32, postmaster: Option<u64>, peaks: Arc<Peaks>) -> Arc<AtomicU64> {
    let stop = Arc::new(AtomicU64::new(0));
    let done = stop.clone();
    std::thread::spawn(move || {
        while done.load(Ordering::Relaxed) == 0 {
            let rss = kib(&format!("/proc/{server}/status"), "VmRSS:");
            peaks.server_kib.fetch_max(rss, Ordering::Relaxed);
            if let Some(pm) = postmaster {
                peaks
                    .postgres_kib
                    .fetch_max(postgres_pss_kib(pm), Ordering::Relaxed);
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    });
    stop
}

/// What the tills saw, summed over all of them.
#[derive(Default)]
struct Tally {
    latencies: Mutex<Vec<Duration>>,
    ok: AtomicU64,
    busy: AtomicU64,
    server_errors: AtomicU64,
    transport_errors: AtomicU64,
    other: AtomicU64,
    /// The first few transport errors, as reqwest words them.
    first_errors: Mutex<Vec<String>>,
}

impl Tally {
    fn line(&self) -> String {
        format!(
            "{} pushes answered 200, {} told 429 busy (waited as asked), {} 5xx, {} transport errors, {} other refusals",
            self.ok.load(Ordering::Relaxed),
            self.busy.load(Ordering::Relaxed),
            self.server_errors.load(Ordering::Relaxed),
            self.transport_errors.load(Ordering::Relaxed),
            self.other.load(Ordering::Relaxed)
        )
    }
}

/// One till: its device and the entries it has not had acknowledged.
struct Till {
    t: Terminal,
    outbox: Vec<Entry>,
    rng: Rng,
    /// The next batch's `entries` JSON, made once (before the storm, as a
    /// till has its journal ready) and sent again as it is after a `429`:
    /// its first seq, its length, the bytes.
    prepared: Option<(u64, usize, Vec<u8>)>,
}

impl Till {
    /// The `entries` JSON of the next batch of at most `BATCH` entries.
    fn next_batch(&mut self) -> Result<(usize, &[u8])> {
        let n = self.outbox.len().min(BATCH);
        let first = self.outbox.first().map_or(0, |e| e.seq);
        if !matches!(&self.prepared, Some((f, m, _)) if *f == first && *m == n) {
            self.prepared = Some((first, n, serde_json::to_vec(&self.outbox[..n])?));
        }
        let body = self
            .prepared
            .as_ref()
            .map_or(&[][..], |(_, _, b)| b.as_slice());
        Ok((n, body))
    }
}

/// Pushes the outbox in batches until the cloud holds all of it, as the
/// terminal does: a `429` is waited out (between `Retry-After` and twice
/// it), other failures back off 1 s doubling to 10 s. Latencies of the
/// answered pushes go to `tally`.
async fn drain(till: &mut Till, url: &str, tally: &Tally) -> Result<()> {
    let mut backoff = Duration::from_secs(1);
    while !till.outbox.is_empty() {
        let (_, entries) = till.next_batch()?;
        // The push as the terminal sends it: its clock, then the entries.
        let mut body = format!("{{\"sent_at_ms\":{},\"entries\":", now_ms()).into_bytes();
        body.extend_from_slice(entries);
        body.push(b'}');
        let started = Instant::now();
        let sent = till
            .t
            .http
            .post(format!("{url}/v1/push"))
            .header(PROTOCOL_HEADER, "1")
            .header("content-type", "application/json")
            .bearer_auth(&till.t.credential)
            .body(body)
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                tally.transport_errors.fetch_add(1, Ordering::Relaxed);
                let mut first = tally.first_errors.lock().await;
                if first.len() < 3 {
                    let mut text = e.to_string();
                    let mut source = std::error::Error::source(&e);
                    while let Some(s) = source {
                        text.push_str(&format!(": {s}"));
                        source = s.source();
                    }
                    first.push(text);
                }
                drop(first);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
        };
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let bytes = resp.bytes().await.unwrap_or_default();
        match status {
            200 => {
                tally.latencies.lock().await.push(started.elapsed());
                tally.ok.fetch_add(1, Ordering::Relaxed);
                let r: PushResponse = serde_json::from_slice(&bytes)?;
                let acked = r
                    .acks
                    .iter()
                    .find(|a| a.device_id == till.t.device_id)
                    .map_or(0, |a| a.acked_seq);
                ensure!(
                    r.refused.is_empty() && r.quarantined.is_empty(),
                    "till {}: refused {:?}, quarantined {:?}",
                    till.t.device_id,
                    r.refused.first(),
                    r.quarantined.first()
                );
                till.outbox.retain(|e| e.seq > acked);
                backoff = Duration::from_secs(1);
            }
            429 => {
                tally.busy.fetch_add(1, Ordering::Relaxed);
                let asked = Duration::from_secs(retry_after.unwrap_or(1));
                let spread = till.rng.next() % (asked.as_millis() as u64 + 1);
                tokio::time::sleep(asked + Duration::from_millis(spread)).await;
            }
            500..=599 => {
                tally.server_errors.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
            _ => {
                tally.other.fetch_add(1, Ordering::Relaxed);
                bail!(
                    "till {}: HTTP {status}: {}",
                    till.t.device_id,
                    String::from_utf8_lossy(&bytes)
                );
            }
        }
    }
    Ok(())
}

fn next_sale(till: &mut Till, items: &[Item], n: &mut u64) -> Result<Entry> {
    *n += 1;
    let lines = 1 + till.rng.below(8);
    let receipt = format!(
        "{}-{}-{:06}",
        till.t.branch,
        &till.t.device_id.to_string()[..8],
        n
    );
    let sale = basket(&mut till.rng, items, receipt, till.t.shift_id, lines);
    till.t.sign(&sale, now_ms())
}

// ------------------------------------------------------------------ phases

struct PhaseFigures {
    wall: Duration,
    server_cpu: f64,
    postgres_cpu: f64,
    clients_cpu: f64,
}

async fn run(cfg: &Config, db: &BenchDatabase) -> Result<()> {
    // A thousand tills hold a thousand connections.
    sentra_sync::http::listen::raise_fd_limit();
    let pool = sentra_sync::db::connect(db.url(), 8).await?;
    sentra_sync::db::migrate(&pool).await?;
    let branches = cfg.tills.div_ceil(TILLS_PER_BRANCH);
    let items = catalog(SKUS);
    let mut first_branch = None;
    for b in 0..branches {
        let code = format!("LOAD{b:03}");
        let id =
            sentra_sync::admin::branch::create(&pool, &code, &format!("Load {b}"), "Asia/Jakarta")
                .await?
                .branch_id;
        first_branch.get_or_insert(id);
    }
    load_catalog(&pool, &items, first_branch.context("no branch")?).await?;
    let server = Server::start(db.url(), cfg.pool)?;
    let url = server.url.clone();
    let postmaster = common::postmaster(db);
    println!(
        "{} tills in {branches} branches of {TILLS_PER_BRANCH}, one server (pool {}), {}; load {}",
        cfg.tills,
        cfg.pool,
        db.describe(),
        common::load_average()
    );

    // Enroll every till (its own key) and open its shift.
    let began = Instant::now();
    let mut tills = Vec::with_capacity(cfg.tills);
    for i in 0..cfg.tills {
        let branch = format!("LOAD{:03}", i / TILLS_PER_BRANCH);
        let mut t = enroll(&pool, &url, &branch, i).await?;
        let open = t.sign(
            &ShiftOpened {
                shift_id: t.shift_id,
                opening_float: 500_000,
                cashier: Some("Siti".into()),
            },
            now_ms(),
        )?;
        tills.push(Till {
            t,
            outbox: vec![open],
            rng: Rng(0x7111_0000 + i as u64),
            prepared: None,
        });
    }
    println!(
        "enrolled {} tills in {:.1} s",
        tills.len(),
        began.elapsed().as_secs_f64()
    );

    // ---- (a) the steady day
    let items = Arc::new(items);
    let tally = Arc::new(Tally::default());
    let peaks = Arc::new(Peaks::default());
    let (figures, tills) = {
        let stop = sample_peaks(server.pid(), postmaster, peaks.clone());
        let cpu_before = (
            cpu_ticks(server.pid()),
            postmaster.map_or(0, cpu_of_postgres),
            cpu_ticks(std::process::id()),
        );
        let began = Instant::now();
        let deadline = tokio::time::Instant::now() + cfg.day;
        let mut tasks = Vec::new();
        for mut till in tills {
            let (url, tally, items) = (url.clone(), tally.clone(), items.clone());
            tasks.push(tokio::spawn(async move {
                let mut sold = 0u64;
                // Tills open at different moments (within the first 20 s).
                let first = Duration::from_millis(till.rng.next() % 20_000);
                tokio::time::sleep_until((tokio::time::Instant::now() + first).min(deadline)).await;
                drain(&mut till, &url, &tally).await?;
                loop {
                    let gap = Duration::from_millis(20_000 + till.rng.next() % 40_001);
                    let next = tokio::time::Instant::now() + gap;
                    if next >= deadline {
                        break;
                    }
                    tokio::time::sleep_until(next).await;
                    let e = next_sale(&mut till, &items, &mut sold)?;
                    till.outbox.push(e);
                    drain(&mut till, &url, &tally).await?;
                }
                Ok::<_, anyhow::Error>((till, sold))
            }));
        }
        let mut back = Vec::new();
        let mut sold = 0;
        for t in tasks {
            let (till, n) = t.await??;
            sold += n;
            back.push(till);
        }
        let wall = began.elapsed();
        stop.store(1, Ordering::Relaxed);
        let f = PhaseFigures {
            wall,
            server_cpu: (cpu_ticks(server.pid()) - cpu_before.0) as f64 / 100.0,
            postgres_cpu: postmaster.map_or(0.0, |p| {
                cpu_of_postgres(p).saturating_sub(cpu_before.1) as f64 / 100.0
            }),
            clients_cpu: (cpu_ticks(std::process::id()) - cpu_before.2) as f64 / 100.0,
        };
        println!("\n(a) steady day: {} s, {sold} sales", cfg.day.as_secs());
        (f, back)
    };
    let lat = tally.latencies.lock().await.clone();
    let s = stats(&lat);
    println!(
        "  push latency (one sale a push): p50 {} · p95 {} · p99 {} · max {} over {} pushes",
        ms(s.p50),
        ms(s.p95),
        ms(s.p99),
        ms(s.max),
        s.n
    );
    println!("  {}", tally.line());
    print_resources(&figures, &peaks);
    println!(
        "  target push p99 ≤ {}: {}",
        ms(TARGET_STEADY_P99),
        if s.p99 <= TARGET_STEADY_P99 {
            "PASS"
        } else {
            "MISS"
        }
    );

    // ---- (b) the morning storm
    let mut tills = tills;
    let sign_began = Instant::now();
    let per_till = cfg.pending;
    let items_for_sign = items.clone();
    tills = tokio::task::spawn_blocking(move || -> Result<Vec<Till>> {
        for till in &mut tills {
            let mut n = 1_000_000u64;
            for _ in 0..per_till {
                let e = next_sale(till, &items_for_sign, &mut n)?;
                till.outbox.push(e);
            }
            till.next_batch()?;
        }
        Ok(tills)
    })
    .await??;
    println!(
        "\n(b) morning storm: {} tills reconnect at once, {} sales each made offline ({} entries; signed in {:.1} s beforehand)",
        tills.len(),
        per_till,
        tills.len() * per_till,
        sign_began.elapsed().as_secs_f64()
    );
    let storm = Arc::new(Tally::default());
    let storm_peaks = Arc::new(Peaks::default());
    let stop = sample_peaks(server.pid(), postmaster, storm_peaks.clone());
    let cpu_before = (
        cpu_ticks(server.pid()),
        postmaster.map_or(0, cpu_of_postgres),
        cpu_ticks(std::process::id()),
    );
    let began = Instant::now();
    let mut tasks = Vec::new();
    for mut till in tills {
        let (url, storm) = (url.clone(), storm.clone());
        tasks.push(tokio::spawn(async move {
            drain(&mut till, &url, &storm).await?;
            Ok::<_, anyhow::Error>((till, Instant::now()))
        }));
    }
    let mut last = began;
    let mut tills = Vec::new();
    for t in tasks {
        let (till, done) = t.await??;
        last = last.max(done);
        tills.push(till);
    }
    let drained = last - began;
    stop.store(1, Ordering::Relaxed);
    let figures = PhaseFigures {
        wall: drained,
        server_cpu: (cpu_ticks(server.pid()) - cpu_before.0) as f64 / 100.0,
        postgres_cpu: postmaster.map_or(0.0, |p| {
            cpu_of_postgres(p).saturating_sub(cpu_before.1) as f64 / 100.0
        }),
        clients_cpu: (cpu_ticks(std::process::id()) - cpu_before.2) as f64 / 100.0,
    };
    let entries = tills.len() * per_till;
    let lat = storm.latencies.lock().await.clone();
    let s = stats(&lat);
    println!(
        "  drained in {:.1} s ({:.0} entries/s); push latency (500 a push): p50 {} · p99 {} · max {}",
        drained.as_secs_f64(),
        entries as f64 / drained.as_secs_f64(),
        ms(s.p50),
        ms(s.p99),
        ms(s.max)
    );
    println!("  {}", storm.line());
    for e in storm.first_errors.lock().await.iter() {
        println!("  transport error: {e}");
    }
    print_resources(&figures, &storm_peaks);

    // Nothing lost, nothing doubled: each till's chain is whole in the cloud.
    let mut wrong = 0;
    for till in &tills {
        let (seq, count): (Option<i64>, i64) = sqlx::query_as(
            "SELECT (SELECT seq FROM device_heads WHERE device_id = $1),
                    (SELECT count(*) FROM journal WHERE device_id = $1)",
        )
        .bind(till.t.device_id)
        .fetch_one(&pool)
        .await?;
        if seq != Some(till.t.seq as i64) || count != till.t.seq as i64 {
            wrong += 1;
        }
    }
    let no_5xx = storm.server_errors.load(Ordering::Relaxed) == 0
        && tally.server_errors.load(Ordering::Relaxed) == 0;
    println!(
        "\nchecks: every till's chain whole in the cloud (tip = count = its last seq): {}; no 5xx: {}",
        if wrong == 0 {
            "PASS".to_owned()
        } else {
            format!("FAIL ({wrong} tills)")
        },
        if no_5xx { "PASS" } else { "FAIL" }
    );
    ensure!(
        wrong == 0 && no_5xx,
        "the storm lost, doubled or failed entries"
    );
    Ok(())
}

/// CPU ticks of PostgreSQL: the postmaster (with its reaped children) and
/// its live children.
fn cpu_of_postgres(postmaster: u64) -> u64 {
    postgres_pids(postmaster)
        .iter()
        .map(|p| {
            if u64::from(*p) == postmaster {
                cpu_ticks(*p)
            } else {
                std::fs::read_to_string(format!("/proc/{p}/stat"))
                    .ok()
                    .and_then(|s| common::proc_times(&s))
                    .map_or(0, |(_, u, s, _, _)| u + s)
            }
        })
        .sum()
}

fn print_resources(f: &PhaseFigures, peaks: &Peaks) {
    let secs = f.wall.as_secs_f64().max(0.001);
    println!(
        "  CPU over {:.1} s: server {:.1} s ({:.0} % of a core), PostgreSQL {:.1} s ({:.0} %), the tills (this process) {:.1} s",
        secs,
        f.server_cpu,
        f.server_cpu / secs * 100.0,
        f.postgres_cpu,
        f.postgres_cpu / secs * 100.0,
        f.clients_cpu
    );
    println!(
        "  peak memory: server {:.1} MiB resident, PostgreSQL {:.1} MiB (sum of PSS)",
        peaks.server_kib.load(Ordering::Relaxed) as f64 / 1024.0,
        peaks.postgres_kib.load(Ordering::Relaxed) as f64 / 1024.0
    );
}

fn main() -> ExitCode {
    let cfg = match Config::parse() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e:#}");
            return ExitCode::FAILURE;
        }
    };
    let result = (|| -> Result<()> {
        let db = BenchDatabase::open("tills").map_err(|e| anyhow::anyhow!("{e}"))?;
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(run(&cfg, &db))
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tills bench failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}
