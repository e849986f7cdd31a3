//! The fault soak (issue 11): seeded, replayable rounds over real
//! processes — a cloud (`sentra-sync serve` on a throwaway PostgreSQL), a
//! branch relay, tills (`sentra-term`) — with faults drawn from the seed:
//! SIGKILL of a till mid-sync, of the relay and of the cloud; links cut,
//! paused and slowed through the chaos proxy (the branch uplink, each
//! till's LAN link to the relay and its own line to the cloud); a till's
//! clock set back or ahead (libfaketime); a till revoked mid-run; a poison
//! entry (genuinely signed by a device of the branch, of a kind no server
//! knows) pushed to the relay among the tills' entries.
//!
//! After each run, with every fault healed:
//! * every sale a till reported done is in the cloud exactly once (a
//!   revoked till's: at most once);
//! * the cloud's ledger of the branch equals the sum of the Z reports of its
//!   tills to the rupiah (plus what a revoked till got in before it was
//!   refused);
//! * no device is wedged: every till not revoked holds nothing the cloud
//!   lacks, its last round `ok`.
//!
//! A run is a pure function of its seed (apart from timing): `soak --seed N`
//! replays it. `cargo run -p sentra-e2e --bin soak -- --runs 1000` is the
//! long run; `tests/tests/soak.rs` runs a few seeds in the test command.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;

use crate::{Background, Cloud, Link, Mode, Relay, Till, catalog_csv};

/// libfaketime, from the Debian package `faketime`.
pub const FAKETIME_LIB: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/// A small, seeded generator (xorshift64*): the same seed, the same run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // Never zero; mix the seed so neighbouring seeds differ at once.
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// 0 ≤ n < `below`.
    pub fn below(&mut self, below: u64) -> u64 {
        self.next_u64() % below.max(1)
    }

    /// True with probability `percent` %.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// How big a run is.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub tills: usize,
    /// Actions (sales, syncs, faults) per run.
    pub steps: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            tills: 2,
            steps: 14,
        }
    }
}

/// What one run did.
#[derive(Clone, Debug)]
pub struct RunReport {
    pub seed: u64,
    pub branch: String,
    pub sales: usize,
    pub faults: Vec<String>,
    pub revoked: bool,
    pub took: Duration,
}

/// One cloud for a whole soak; each run gets a branch of its own.
pub struct Soak {
    pub cloud: Cloud,
    runs: u32,
}

/// Items a till sells (all in the shared catalog).
const ITEMS: [&str; 6] = [
    "IND-GRG",
    "AQUA600",
    "TEH-BTL",
    "GULA-1KG",
    "KOPI-KPL",
    "BERAS-KGx1.5",
];

struct TillUnderTest {
    till: Till,
    /// The till's LAN link to the relay, and its own line to the cloud.
    lan: Link,
    direct: Link,
    /// Receipt numbers of the sales it reported done, with their totals.
    sold: BTreeMap<String, i64>,
    revoked: bool,
    device_id: String,
}

impl Soak {
    pub fn start() -> Result<Soak> {
        let cloud = Cloud::start()?;
        cloud.catalog_import(&catalog_csv(), None)?;
        Ok(Soak { cloud, runs: 0 })
    }

    /// One run of `seed`; an error names the seed and what broke.
    pub fn run(&mut self, seed: u64, config: Config) -> Result<RunReport> {
        self.runs += 1;
        let started = Instant::now();
        let branch = format!("S{:05}", self.runs % 100_000);
        let mut report = RunReport {
            seed,
            branch: branch.clone(),
            sales: 0,
            faults: Vec::new(),
            revoked: false,
            took: Duration::ZERO,
        };
        self.run_inner(seed, config, &branch, &mut report)
            .with_context(|| {
                format!(
                    "soak seed {seed} (branch {branch}); faults so far: {:?}",
                    report.faults
                )
            })?;
        report.took = started.elapsed();
        Ok(report)
    }

    fn run_inner(
        &mut self,
        seed: u64,
        config: Config,
        branch: &str,
        report: &mut RunReport,
    ) -> Result<()> {
        let mut rng = Rng::new(seed);
        let cloud = &mut self.cloud;
        cloud.branch_create(branch)?;
        let uplink = Link::to(&cloud.url())?;
        // In a quarter of the runs (as root), the relay's data dir is a
        // small file system of its own, which a step can fill.
        let small_disk = rustix::process::geteuid().is_root() && rng.chance(25);
        let mut disk: Option<SmallDisk> = None;
        let mut relay = Relay::start_prepared(
            &uplink.url(),
            Some(&cloud.enroll_code(branch, "relay")?),
            &[],
            |dir| {
                if small_disk {
                    disk = Some(SmallDisk::mount(dir)?);
                }
                Ok(())
            },
        )?;
        let mut tills = Vec::with_capacity(config.tills);
        for i in 0..config.tills {
            let till = Till::ready(branch, &format!("T{:02}", i + 1))?;
            let lan = Link::to(&relay.url())?;
            let direct = Link::to(&cloud.url())?;
            let enrolled = till.enroll(
                &direct.url(),
                &cloud.enroll_code(branch, "terminal")?,
                Some(&lan.url()),
            )?;
            let device_id = enrolled["device_id"]
                .as_str()
                .context("enroll: no device_id")?
                .to_owned();
            tills.push(TillUnderTest {
                till,
                lan,
                direct,
                sold: BTreeMap::new(),
                revoked: false,
                device_id,
            });
        }
        let faketime = Path::new(FAKETIME_LIB).exists();
        let mut background: Vec<Background> = Vec::new();
        let mut relay_down = false;
        // At most one till is revoked, in a fifth of the runs; a poison
        // entry in a third.
        let revoke_at = rng.chance(20).then(|| rng.below(config.steps as u64));
        let poison_at = rng.chance(33).then(|| rng.below(config.steps as u64));
        let mut poisoned = false;

        let trace = std::env::var_os("SENTRA_SOAK_TRACE").is_some();
        let began = Instant::now();
        for step in 0..config.steps {
            if trace {
                eprintln!(
                    "[{:>6.2} s] step {step}: {:?}",
                    began.elapsed().as_secs_f64(),
                    report.faults.last()
                );
            }
            let t = rng.below(tills.len() as u64) as usize;
            if poison_at == Some(step as u64) && !relay_down {
                push_poison(cloud, &relay, branch, rng.next_u64())?;
                poisoned = true;
                report.faults.push("poison entry to the relay".into());
                continue;
            }
            if revoke_at == Some(step as u64) && !tills[t].revoked {
                cloud.admin(&["device", "revoke", &tills[t].device_id])?;
                tills[t].revoked = true;
                report.revoked = true;
                report.faults.push(format!("revoke T{:02}", t + 1));
                continue;
            }
            match rng.below(100) {
                // Sales are most of what a till does.
                0..=39 => {
                    let n = 1 + rng.below(3) as usize;
                    let items: Vec<&str> = (0..n)
                        .map(|_| ITEMS[rng.below(ITEMS.len() as u64) as usize])
                        .collect();
                    let sale = tills[t].till.sell(&items, &["cash:1000000"])?;
                    let receipt = sale["receipt_no"]
                        .as_str()
                        .context("sale: no receipt_no")?
                        .to_owned();
                    let total = sale["total"].as_i64().context("sale: no total")?;
                    ensure!(
                        tills[t].sold.insert(receipt.clone(), total).is_none(),
                        "receipt {receipt} issued twice"
                    );
                    report.sales += 1;
                }
                40..=54 => {
                    // An ordinary round; whatever it finds is fine for now.
                    round(&tills[t].till, 300)?;
                }
                55..=61 => {
                    let after = Duration::from_millis(rng.below(400));
                    let mut bg = tills[t].till.spawn(&["sync", "--wait-ms", "300"])?;
                    std::thread::sleep(after);
                    bg.kill();
                    report
                        .faults
                        .push(format!("kill T{:02} sync after {after:?}", t + 1));
                    background.push(bg);
                }
                62..=66 => {
                    if !relay_down {
                        relay.server.kill();
                        relay_down = true;
                        report.faults.push("kill relay".into());
                    } else {
                        relay.restart()?;
                        relay_down = false;
                        report.faults.push("restart relay".into());
                    }
                }
                67..=70 => {
                    cloud.server.kill();
                    report.faults.push("kill cloud".into());
                    // A till sells on while the cloud is gone.
                    round(&tills[t].till, 300)?;
                    cloud.restart()?;
                }
                71..=84 => {
                    let (name, link) = match rng.below(3) {
                        0 => ("uplink".to_owned(), &uplink),
                        1 => (format!("T{:02} lan", t + 1), &tills[t].lan),
                        _ => (format!("T{:02} direct", t + 1), &tills[t].direct),
                    };
                    let delay = Duration::from_millis(if rng.chance(30) { 50 } else { 0 });
                    link.set_delay(delay);
                    match rng.below(3) {
                        0 => {
                            link.set_mode(Mode::Cut);
                            report.faults.push(format!("{name} cut, delay {delay:?}"));
                        }
                        // A stall that clears by itself (a held-up
                        // request then answers late, or times out).
                        1 => {
                            let stall = Duration::from_millis(200 + rng.below(2800));
                            link.pause_for(stall);
                            report
                                .faults
                                .push(format!("{name} stalls {stall:?}, delay {delay:?}"));
                        }
                        _ => {
                            link.set_mode(Mode::Forward);
                            report.faults.push(format!("{name} up, delay {delay:?}"));
                        }
                    }
                }
                85..=88 if disk.is_some() => {
                    if let Some(d) = &disk {
                        if d.is_full() {
                            d.free()?;
                            report.faults.push("relay disk freed".into());
                        } else {
                            d.fill()?;
                            report.faults.push("relay disk full".into());
                        }
                    }
                }
                85..=92 if faketime => {
                    let shift = match rng.below(4) {
                        0 => "-2h",
                        1 => "+3h",
                        2 => "-1d",
                        _ => "+0",
                    };
                    tills[t].till.set_env(&[
                        ("LD_PRELOAD", FAKETIME_LIB),
                        ("FAKETIME", shift),
                        ("FAKETIME_DONT_FAKE_MONOTONIC", "1"),
                    ]);
                    report.faults.push(format!("T{:02} clock {shift}", t + 1));
                }
                _ => {
                    round(&tills[t].till, 300)?;
                }
            }
        }

        // Heal everything, then every till must get all its entries into the
        // cloud: close the shifts and deliver the Z reports.
        for bg in &mut background {
            bg.kill();
        }
        uplink.set_mode(Mode::Forward);
        uplink.set_delay(Duration::ZERO);
        for t in &tills {
            t.till.set_env(&[]);
            t.lan.set_mode(Mode::Forward);
            t.lan.set_delay(Duration::ZERO);
            t.direct.set_mode(Mode::Forward);
            t.direct.set_delay(Duration::ZERO);
        }
        if let Some(d) = &disk {
            d.free()?;
        }
        if relay_down {
            relay.restart()?;
        }
        let mut z_net = 0i64;
        let mut z_count = 0i64;
        for (i, t) in tills.iter().enumerate() {
            if t.revoked {
                continue;
            }
            if trace {
                eprintln!(
                    "[{:>6.2} s] deliver T{:02}",
                    began.elapsed().as_secs_f64(),
                    i + 1
                );
            }
            deliver(&t.till, i).context("before the Z report")?;
            let x = t.till.json(&["report", "x"])?;
            let expected = x["expected_cash"].as_i64().context("X: expected_cash")?;
            let z = t.till.close_shift(expected)?;
            z_net += z["sales_total"].as_i64().context("Z: sales_total")?
                - z["refunds_total"].as_i64().context("Z: refunds_total")?;
            z_count += z["sales_count"].as_i64().context("Z: sales_count")?;
            deliver(&t.till, i).context("after the Z report")?;
        }

        // Exactly once: the cloud's sales of each till are what it reported.
        for (i, t) in tills.iter().enumerate() {
            let rows = cloud.sql(&format!(
                "SELECT payload->>'receipt_no', count(*), max((payload->>'total')::bigint)
                 FROM journal WHERE device_id = '{}' AND kind = 'sale_completed'
                 GROUP BY 1 ORDER BY 1",
                t.device_id
            ))?;
            let mut in_cloud: BTreeMap<String, i64> = BTreeMap::new();
            for line in rows.lines().filter(|l| !l.trim().is_empty()) {
                let cols: Vec<&str> = line.split('|').collect();
                ensure!(cols.len() == 3, "unexpected row {line:?}");
                ensure!(
                    cols[1] == "1",
                    "T{:02}: receipt {} is in the cloud {} times",
                    i + 1,
                    cols[0],
                    cols[1]
                );
                in_cloud.insert(cols[0].to_owned(), cols[2].parse()?);
            }
            if t.revoked {
                for (receipt, total) in &in_cloud {
                    ensure!(
                        t.sold.get(receipt) == Some(total),
                        "revoked T{:02}: {receipt} in the cloud was never reported done",
                        i + 1
                    );
                    z_net += total;
                    z_count += 1;
                }
            } else {
                ensure!(
                    in_cloud == t.sold,
                    "T{:02}: the cloud holds {} sales, the till reported {}: missing {:?}, extra {:?}",
                    i + 1,
                    in_cloud.len(),
                    t.sold.len(),
                    t.sold
                        .keys()
                        .filter(|k| !in_cloud.contains_key(*k))
                        .collect::<Vec<_>>(),
                    in_cloud
                        .keys()
                        .filter(|k| !t.sold.contains_key(*k))
                        .collect::<Vec<_>>()
                );
            }
        }

        // The ledger equals the Z reports to the rupiah.
        cloud.ensure_ledger_equals(branch, z_net, z_count)?;
        // The poison entry is forwarded and quarantined (acked, so it
        // wedges nothing); nothing else is.
        let quarantined = || {
            cloud.count(&format!(
                "SELECT count(*) FROM journal j JOIN branches b USING (branch_id)
                 WHERE b.code = '{branch}' AND j.quarantine_reason IS NOT NULL"
            ))
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while poisoned && quarantined()? == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let n = quarantined()?;
        ensure!(
            n == i64::from(poisoned),
            "{n} entries quarantined (poison entry pushed: {poisoned})"
        );
        // The relay first, then its small disk, so nothing is left mounted.
        relay.server.kill();
        drop(disk.take());
        Ok(())
    }
}

/// Enroll a device of `branch` with a key of its own and push, through the
/// relay, one genuinely signed entry of a kind no server knows: the relay
/// must take it, the cloud quarantine it, and nobody else be held up.
fn push_poison(cloud: &Cloud, relay: &Relay, branch: &str, seed: u64) -> Result<()> {
    let mut secret = [0u8; 32];
    secret[..8].copy_from_slice(&seed.to_le_bytes());
    secret[8] = 0x5a;
    let key = ed25519_dalek::SigningKey::from_bytes(&secret);
    let device_id = uuid::Uuid::now_v7();
    let enroll = serde_json::json!({
        "code": cloud.enroll_code(branch, "terminal")?,
        "name": "poison",
        "public_key": hex::encode(key.verifying_key().to_bytes()),
        "device_id": device_id,
    });
    let enrolled = curl_post(&format!("{}/v1/enroll", cloud.url()), None, &enroll)?;
    let credential = enrolled["relay_credential"]
        .as_str()
        .with_context(|| format!("enroll answered {enrolled}"))?
        .to_owned();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as u64;
    let entry = sentra_protocol::UnsignedEntry {
        id: uuid::Uuid::now_v7(),
        branch: branch.to_owned(),
        device_id,
        seq: 1,
        hlc: sentra_protocol::Hlc::new(now, 0),
        kind: sentra_protocol::EntryKind::from_name("loyalty_points_awarded"),
        payload: serde_json::json!({"points": 5, "member": "M-1"}),
        prev_hash: sentra_protocol::Hash::ZERO,
    }
    .sign(&key)?;
    let push = serde_json::json!({"sent_at_ms": now, "entries": [entry]});
    let answer = curl_post(
        &format!("{}/v1/push", relay.url()),
        Some(&credential),
        &push,
    )?;
    if answer["error"] == "unknown_to_relay" {
        // Enrolled while the relay's uplink was down: the relay cannot know
        // it yet, and a till would go straight to the cloud. So does this.
        let cloud_credential = enrolled["credential"].as_str().context("no credential")?;
        let answer = curl_post(
            &format!("{}/v1/push", cloud.url()),
            Some(cloud_credential),
            &push,
        )?;
        ensure!(
            answer["stored"] == 1,
            "the cloud did not take the poison entry: {answer}"
        );
        return Ok(());
    }
    ensure!(
        answer["stored"] == 1,
        "the relay did not take the poison entry: {answer}"
    );
    Ok(())
}

/// POST JSON with curl (on every machine the tests run on); the answer.
fn curl_post(url: &str, credential: Option<&str>, body: &Value) -> Result<Value> {
    let mut cmd = std::process::Command::new("curl");
    cmd.args(["-sS", "--max-time", "30", "-X", "POST"])
        .args(["-H", "content-type: application/json"])
        .args(["-H", "sentra-protocol: 1"]);
    if let Some(c) = credential {
        cmd.args(["-H", &format!("authorization: Bearer {c}")]);
    }
    let out = cmd
        .args(["--data-binary", &body.to_string(), url])
        .output()?;
    ensure!(
        out.status.success(),
        "curl {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .with_context(|| format!("{url} answered {}", String::from_utf8_lossy(&out.stdout)))
}

/// A small tmpfs mounted on the relay's data dir (needs root), which
/// `fill` fills to the last byte and `free` frees; unmounted on drop
/// (lazily, so also while the relay still runs).
struct SmallDisk {
    dir: std::path::PathBuf,
    filler: std::path::PathBuf,
}

impl SmallDisk {
    fn mount(dir: &Path) -> Result<SmallDisk> {
        std::fs::create_dir_all(dir)?;
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=16m", "tmpfs"])
            .arg(dir)
            .output()?;
        ensure!(
            out.status.success(),
            "mount tmpfs: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(SmallDisk {
            dir: dir.to_owned(),
            filler: dir.join("filler.bin"),
        })
    }

    fn is_full(&self) -> bool {
        self.filler.exists()
    }

    /// Write zeros until the file system refuses: the disk is full.
    fn fill(&self) -> Result<()> {
        use std::io::Write;
        let mut f = std::fs::File::create(&self.filler)?;
        let block = vec![0u8; 64 * 1024];
        loop {
            match f.write(&block) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                Err(e) => return Err(e.into()),
            }
        }
        // The last partial blocks, byte by byte is too slow: small writes.
        let small = [0u8; 512];
        while f.write(&small).is_ok_and(|n| n > 0) {}
        Ok(())
    }

    fn free(&self) -> Result<()> {
        if self.filler.exists() {
            std::fs::remove_file(&self.filler)?;
        }
        Ok(())
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.dir)
            .output();
    }
}

/// One `sync` round, waiting up to `wait_ms` for the relay to forward; its
/// outcome does not matter while faults are on.
fn round(till: &Till, wait_ms: u64) -> Result<()> {
    till.run(&["--json", "sync", "--wait-ms", &wait_ms.to_string()])?;
    Ok(())
}

/// Rounds until the till holds nothing the cloud lacks (exit 0) — the relay
/// and the links were healed, so this must happen, and soon.
fn deliver(till: &Till, i: usize) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut last = None;
    while Instant::now() < deadline {
        let run = till.run(&["--json", "sync", "--wait-ms", "1000"])?;
        if run.code == Some(0) {
            let status = till.status()?;
            ensure!(
                status["entries"]["local"] == 0 && status["entries"]["relay_only"] == 0,
                "T{:02}: exit 0 but {status}",
                i + 1
            );
            return Ok(());
        }
        last = Some(run);
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!(
        "T{:02} wedged: never delivered everything; last round {last:?}",
        i + 1
    )
}

/// Seeds from `SENTRA_SOAK_SEEDS` (`1,2,3` or `100..110`), else `default`.
pub fn seeds_from_env(default: &[u64]) -> Vec<u64> {
    let Ok(text) = std::env::var("SENTRA_SOAK_SEEDS") else {
        return default.to_vec();
    };
    parse_seeds(&text).unwrap_or_else(|| default.to_vec())
}

/// `1,2,3` or `100..110` (end exclusive).
pub fn parse_seeds(text: &str) -> Option<Vec<u64>> {
    if let Some((a, b)) = text.split_once("..") {
        let (a, b): (u64, u64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
        return Some((a..b).collect());
    }
    text.split(',').map(|s| s.trim().parse().ok()).collect()
}
