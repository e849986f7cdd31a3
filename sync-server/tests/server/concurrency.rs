//! Many devices pushing at once over real HTTP, with random batch sizes and
//! random resends: every entry is stored exactly once, every chain tip is the
//! device's last entry, and the ledger adds up to what the devices sold.
//!
//! Two branches; per branch 22 terminals push their own entries and 3 relays
//! each forward the entries of 2 terminals — one of which also pushes
//! directly, so some entries arrive by two paths at once. 50 pushers in all.
//!
//! The run is driven by a seeded RNG; the seed is printed, and
//! `SENTRA_TEST_SEED=<seed>` replays the same plan.

use crate::common;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use common::{Server, sale_with};
use sentra_protocol::payload::ShiftOpened;
use sentra_protocol::wire::{DeviceKind, PushResponse};
use sentra_protocol::{Entry, Hash};
use uuid::Uuid;

const BRANCHES: [&str; 2] = ["JKT01", "BDG01"];
/// Terminals per branch that push their own entries.
const DIRECT: usize = 22;
/// Relays per branch; each forwards `PER_RELAY` terminals.
const RELAYS: usize = 3;
const PER_RELAY: usize = 2;
/// Sales per terminal (after its `shift_opened`).
const SALES: usize = 40;
const SKUS: [&str; 12] = [
    "SKU01", "SKU02", "SKU03", "SKU04", "SKU05", "SKU06", "SKU07", "SKU08", "SKU09", "SKU10",
    "SKU11", "SKU12",
];
const METHODS: [&str; 3] = ["cash", "card", "qris"];

/// xorshift64*: small, seedable, good enough to pick batch sizes.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // splitmix64 of the seed, never zero.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.range(0, i);
            v.swap(i, j);
        }
    }
}

/// What one branch's ledger must show.
#[derive(Debug, Default)]
struct Expected {
    sales_count: i64,
    gross: i64,
    tax: i64,
    net: i64,
    lines: i64,
    payments: BTreeMap<String, i64>,
}

/// One terminal's generated chain.
struct Chain {
    device_id: Uuid,
    entries: Arc<Vec<Entry>>,
}

/// What one pusher did.
#[derive(Debug, Default)]
struct Stats {
    requests: u64,
    stored: u64,
    duplicates: u64,
    retries: u64,
}

/// Pushes `entries`, retrying only what the protocol says is retryable
/// (HTTP 503, `retryable: true`); asserts the push was processed.
async fn push(s: &Server, credential: &str, entries: &[Entry], stats: &mut Stats) -> PushResponse {
    for attempt in 0..20 {
        let (status, body) = s.push(credential, entries, Some(common::now_ms())).await;
        if status == 503 && body["retryable"] == true {
            stats.retries += 1;
            tokio::time::sleep(Duration::from_millis(20 * (attempt + 1))).await;
            continue;
        }
        assert_eq!(status, 200, "push refused: {body}");
        stats.requests += 1;
        return serde_json::from_value(body).expect("a PushResponse");
    }
    panic!("push still unavailable after 20 attempts");
}

/// One pusher: its credential and the chains it pushes, in random batches of
/// 1–15 new entries, with random resends of earlier batches and batches that
/// overlap what it already pushed.
async fn pusher(s: Arc<Server>, credential: String, chains: Vec<Chain>, mut rng: Rng) -> Stats {
    let mut stats = Stats::default();
    // Per chain: how many entries this pusher has pushed (a prefix).
    let mut cursor = vec![0usize; chains.len()];
    // Earlier batches, as (chain, from, to) half-open index ranges.
    let mut sent: Vec<Vec<(usize, usize, usize)>> = Vec::new();
    loop {
        let open: Vec<usize> = (0..chains.len())
            .filter(|&c| cursor[c] < chains[c].entries.len())
            .collect();
        if open.is_empty() {
            break;
        }
        let mut ranges: Vec<(usize, usize, usize)> = Vec::new();
        if !sent.is_empty() && rng.chance(15) {
            // Resend an earlier batch as it was.
            ranges = sent[rng.range(0, sent.len() - 1)].clone();
        } else {
            // New entries, per chosen chain; a relay may carry both its chains.
            let mut chosen: Vec<usize> = open.iter().copied().filter(|_| rng.chance(60)).collect();
            if chosen.is_empty() {
                chosen.push(open[rng.range(0, open.len() - 1)]);
            }
            for c in chosen {
                let len = chains[c].entries.len();
                let size = rng.range(1, 15);
                let to = (cursor[c] + size).min(len);
                // Sometimes start before what was already pushed.
                let back = if cursor[c] > 0 && rng.chance(25) {
                    rng.range(1, cursor[c].min(6))
                } else {
                    0
                };
                ranges.push((c, cursor[c] - back, to));
            }
        }
        let mut batch: Vec<Entry> = ranges
            .iter()
            .flat_map(|&(c, from, to)| chains[c].entries[from..to].iter().cloned())
            .collect();
        if rng.chance(30) {
            // The server sorts per device; the order on the wire is free.
            rng.shuffle(&mut batch);
        }
        let r = push(&s, &credential, &batch, &mut stats).await;
        assert!(r.refused.is_empty(), "refused: {:?}", r.refused);
        assert!(r.quarantined.is_empty(), "quarantined: {:?}", r.quarantined);
        assert!(r.conflicts.is_empty(), "conflicts: {:?}", r.conflicts);
        assert_eq!(r.stored + r.duplicates, batch.len() as u64, "{r:?}");
        for &(c, _, to) in &ranges {
            let ack = r
                .acks
                .iter()
                .find(|a| a.device_id == chains[c].device_id)
                .expect("an ack per device in the batch");
            assert!(ack.acked_seq >= to as u64, "ack {ack:?} is behind seq {to}");
            assert_eq!(ack.expected_seq, None, "{ack:?}");
            cursor[c] = cursor[c].max(to);
        }
        assert_eq!(
            r.acks.len(),
            ranges
                .iter()
                .map(|r| r.0)
                .collect::<std::collections::BTreeSet<_>>()
                .len()
        );
        stats.stored += r.stored;
        stats.duplicates += r.duplicates;
        sent.push(ranges);
    }
    stats
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_devices_pushing_at_once_store_every_entry_exactly_once() {
    let seed: u64 = std::env::var("SENTRA_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(common::now_ms);
    println!("concurrency seed: {seed} (replay with SENTRA_TEST_SEED={seed})");
    let mut rng = Rng::new(seed);

    let s = Server::start().await;
    let mut branch_ids = HashMap::new();
    for b in BRANCHES {
        branch_ids.insert(b, s.branch(b).await);
    }

    // Enroll and generate everything up front.
    let mut key_seed: u8 = 0;
    let mut expected: BTreeMap<&str, Expected> = BTreeMap::new();
    let mut all: Vec<(Uuid, Arc<Vec<Entry>>)> = Vec::new();
    // (credential, chain indexes into `all`) per pusher.
    let mut pushers: Vec<(String, Vec<usize>)> = Vec::new();
    for branch in BRANCHES {
        let exp = expected.entry(branch).or_default();
        for m in METHODS.iter().chain(["voucher"].iter()) {
            exp.payments.insert((*m).to_owned(), 0);
        }
        let terminals = DIRECT + RELAYS * PER_RELAY - RELAYS;
        let first_of_branch = all.len();
        for n in 0..terminals {
            key_seed += 1;
            let mut t = s.enroll(branch, DeviceKind::Terminal, key_seed).await;
            let shift = Uuid::now_v7();
            let mut entries = vec![t.entry(&ShiftOpened {
                shift_id: shift,
                opening_float: 200_000,
                cashier: Some(format!("cashier {n}")),
            })];
            for k in 1..=SALES {
                let lines: Vec<(&str, i64, i64)> = (0..rng.range(1, 4))
                    .map(|_| {
                        let sku = SKUS[rng.range(0, SKUS.len() - 1)];
                        let qty = [500, 1000, 2000, 3000][rng.range(0, 3)];
                        let price = 500 * rng.range(2, 100) as i64;
                        (sku, qty, price)
                    })
                    .collect();
                let method = METHODS[rng.range(0, METHODS.len() - 1)];
                let sc = sale_with(
                    &format!("{branch}-T{n:02}-{k:06}"),
                    shift,
                    &lines,
                    method,
                    None,
                );
                exp.sales_count += 1;
                exp.gross += sc.gross;
                exp.tax += sc.tax;
                exp.net += sc.total;
                exp.lines += sc.lines.len() as i64;
                *exp.payments.entry(method.to_owned()).or_default() += sc.total;
                entries.push(t.entry(&sc));
            }
            all.push((t.device_id, Arc::new(entries)));
            // The first `DIRECT - RELAYS` push only directly; after them come
            // the relays' terminals, PER_RELAY each, the first of each group
            // also pushing directly (two paths at once).
            let direct = n < DIRECT - RELAYS || (n - (DIRECT - RELAYS)).is_multiple_of(PER_RELAY);
            if direct {
                pushers.push((t.credential.clone(), vec![all.len() - 1]));
            }
        }
        let first_forwarded = first_of_branch + DIRECT - RELAYS;
        for k in 0..RELAYS {
            key_seed += 1;
            let relay = s.enroll(branch, DeviceKind::Relay, key_seed).await;
            let from = first_forwarded + k * PER_RELAY;
            pushers.push((relay.credential, (from..from + PER_RELAY).collect()));
        }
    }
    assert_eq!(pushers.len(), 50, "50 devices push at once");
    let total: usize = all.iter().map(|(_, e)| e.len()).sum();

    // Go: every pusher starts at the same moment.
    let s = Arc::new(s);
    let start = Arc::new(tokio::sync::Barrier::new(pushers.len()));
    let mut tasks = Vec::new();
    for (i, (credential, chains)) in pushers.into_iter().enumerate() {
        let chains: Vec<Chain> = chains
            .into_iter()
            .map(|c| Chain {
                device_id: all[c].0,
                entries: all[c].1.clone(),
            })
            .collect();
        let task_rng = Rng::new(seed ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let s = s.clone();
        let start = start.clone();
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            pusher(s, credential, chains, task_rng).await
        }));
    }
    let mut totals = Stats::default();
    for t in tasks {
        let st = t.await.expect("a pusher panicked");
        totals.requests += st.requests;
        totals.stored += st.stored;
        totals.duplicates += st.duplicates;
        totals.retries += st.retries;
    }
    println!(
        "{} entries of {} terminals, 50 pushers at once: {} pushes, {} stored, {} duplicates, {} retried on 503",
        total,
        all.len(),
        totals.requests,
        totals.stored,
        totals.duplicates,
        totals.retries
    );
    assert!(
        totals.duplicates > 0,
        "the run resent nothing; the seed gave no duplicates"
    );
    assert_eq!(
        totals.stored, total as u64,
        "the responses' `stored` add up to every entry once"
    );

    // Every entry stored exactly once, with the hash it was signed with.
    assert_eq!(s.count("SELECT count(*) FROM journal").await, total as i64);
    assert_eq!(
        s.count("SELECT count(*) FROM (SELECT device_id, seq FROM journal GROUP BY 1, 2 HAVING count(*) > 1) d")
            .await,
        0
    );
    assert_eq!(
        s.count("SELECT count(*) FROM journal WHERE quarantine_reason IS NOT NULL")
            .await,
        0
    );
    let rows: Vec<(Uuid, i64, Vec<u8>)> =
        sqlx::query_as("SELECT device_id, seq, hash FROM journal")
            .fetch_all(&s.pool)
            .await
            .expect("journal");
    let mut held: HashMap<(Uuid, u64), Hash> = HashMap::new();
    for (d, seq, h) in rows {
        held.insert((d, seq as u64), Hash(h.try_into().expect("32-byte hash")));
    }
    for (device, entries) in &all {
        for e in entries.iter() {
            assert_eq!(
                held.get(&(*device, e.seq)),
                Some(&e.hash),
                "device {device} seq {}",
                e.seq
            );
        }
    }

    // Every chain tip is the device's last entry.
    let heads: Vec<(Uuid, i64, Vec<u8>)> =
        sqlx::query_as("SELECT device_id, seq, hash FROM device_heads")
            .fetch_all(&s.pool)
            .await
            .expect("heads");
    assert_eq!(heads.len(), all.len());
    let heads: HashMap<Uuid, (i64, Vec<u8>)> =
        heads.into_iter().map(|(d, s, h)| (d, (s, h))).collect();
    for (device, entries) in &all {
        let last = entries.last().expect("entries");
        let (seq, hash) = &heads[device];
        assert_eq!(*seq as u64, last.seq, "tip of {device}");
        assert_eq!(hash.as_slice(), &last.hash.0[..], "tip hash of {device}");
    }

    // Projections and the ledger add up to what was sold.
    let sales: i64 = expected.values().map(|e| e.sales_count).sum();
    let lines: i64 = expected.values().map(|e| e.lines).sum();
    assert_eq!(s.count("SELECT count(*) FROM sales").await, sales);
    assert_eq!(s.count("SELECT count(*) FROM sale_lines").await, lines);
    assert_eq!(
        s.count("SELECT count(*) FROM shifts").await,
        all.len() as i64
    );
    assert_eq!(s.count("SELECT count(*) FROM conflicts").await, 0);
    assert_eq!(s.count("SELECT count(*) FROM alerts").await, 0);
    for branch in BRANCHES {
        let exp = &expected[branch];
        let l = sentra_sync::admin::ledger::ledger(&s.pool, branch, None, None)
            .await
            .expect("ledger");
        assert_eq!(l.sales_count, exp.sales_count, "{branch} sales");
        assert_eq!(l.gross, exp.gross, "{branch} gross");
        assert_eq!(l.tax, exp.tax, "{branch} tax");
        assert_eq!(l.net, exp.net, "{branch} net");
        assert_eq!(l.payments, exp.payments, "{branch} payments");
        assert_eq!(
            (l.voids_count, l.refunds_count, l.discounts, l.refunds),
            (0, 0, 0, 0)
        );
        let in_branch: i64 =
            sqlx::query_scalar("SELECT count(*) FROM journal WHERE branch_id = $1")
                .bind(branch_ids[branch])
                .fetch_one(&s.pool)
                .await
                .expect("count");
        assert_eq!(in_branch, exp.sales_count + exp.sales_count / SALES as i64);
    }

    Arc::into_inner(s)
        .expect("every pusher is done")
        .stop()
        .await;
}

// protocol: error busy
/// Back-pressure a till can act on (docs/sync-protocol.md, "Transport,
/// versions, errors"): with every push slot taken and no room in the push
/// queue, a push is answered at once `429 busy`, retryable, with
/// `Retry-After`, and changes nothing; once the slot frees, it is taken.
#[tokio::test]
async fn a_push_past_the_queue_is_told_busy_with_retry_after_and_changes_nothing() {
    let limits = sentra_sync::http::listen::Limits {
        max_concurrent_pushes: 1,
        max_queued_pushes: 0,
        ..Default::default()
    };
    let s = Arc::new(Server::start_limited(limits).await);
    s.branch("JKT01").await;
    let mut slow = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let mut turned_away = s.enroll("JKT01", DeviceKind::Terminal, 2).await;
    let open = |d: &mut common::Device| {
        d.entry(&ShiftOpened {
            shift_id: Uuid::now_v7(),
            opening_float: 0,
            cashier: None,
        })
    };
    let slow_entry = open(&mut slow);
    let other_entry = open(&mut turned_away);

    // Hold the slow device's chain lock (as the ingest takes it), so its
    // push holds the one slot until we let go.
    let mut holder = s.pool.begin().await.expect("tx");
    let key = i64::from_be_bytes(slow.device_id.as_bytes()[..8].try_into().expect("8 bytes"));
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(key ^ 0x5E47_7A00)
        .execute(&mut *holder)
        .await
        .expect("lock");
    let pushing = {
        let s = s.clone();
        let credential = slow.credential.clone();
        tokio::spawn(async move { s.push(&credential, &[slow_entry], None).await })
    };
    let mut waiting = 0;
    for _ in 0..500 {
        waiting = s
            .count("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            .await;
        if waiting > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(waiting, 1, "the slow push never reached the database");

    let before = s.snapshot().await;
    let resp = s
        .http
        .post(format!("{}/v1/push", s.url))
        .header(sentra_protocol::wire::PROTOCOL_HEADER, "1")
        .header("content-type", "application/json")
        .bearer_auth(&turned_away.credential)
        .body(serde_json::json!({ "entries": [other_entry.clone()] }).to_string())
        .send()
        .await
        .expect("push");
    assert_eq!(resp.status().as_u16(), 429);
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // How long the queue ahead takes to drain, within the documented bounds
    // (nothing is queued here: the least).
    let (least, most) = sentra_sync::http::listen::RETRY_AFTER_PUSH_QUEUE_SECS;
    let secs: u64 = retry_after
        .as_deref()
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in whole seconds");
    assert!((least..=most).contains(&secs), "Retry-After {secs}");
    assert_eq!(secs, least);
    let body: serde_json::Value = resp.json().await.expect("error body");
    assert_eq!(body["error"], "busy");
    assert_eq!(body["retryable"], true);
    assert_eq!(s.snapshot().await, before, "a refused push changed a table");

    holder.commit().await.expect("release");
    let (status, body) = pushing.await.expect("join");
    assert_eq!(status, 200, "{body}");
    let (status, body) = s.push(&turned_away.credential, &[other_entry], None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["stored"], 1);
}
