//! The HTTP-level mutator (issue 11, `docs/fuzzing.md`): valid batches of
//! enrolled devices, mutated, POSTed to a real cloud (`serve`, on a
//! throwaway PostgreSQL) and to a real branch relay (its SQLCipher journal).
//!
//! Mutations: at the JSON level (entries dropped, duplicated, reordered,
//! fields of the wrong type or removed, huge numbers, control characters,
//! long strings), at the byte level (a flipped, inserted or deleted byte, a
//! cut body), in the headers (no protocol version, a bad credential), and
//! genuine entries re-signed by their device with a mutated payload, kind,
//! clock, id or branch, forks and gaps — which are stored, quarantined or
//! refused per entry.
//!
//! For every request: no 5xx (a 503 `unavailable` marked retryable is
//! allowed: the server says "busy"), no panic anywhere in the process, a
//! well-formed answer, and when the batch is refused — the whole request
//! (4xx), or every entry of it without a fork — every table of the receiver
//! is unchanged. At the end the relay forwards everything it took and the
//! cloud takes all of it: the two receivers agree on what is genuine.
//!
//! `SENTRA_FUZZ_HTTP_RUNS` (requests per receiver, default 200) and
//! `SENTRA_FUZZ_HTTP_SEED` change the run.
#![allow(clippy::unwrap_used)]

use crate::common;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Device, Server, sale};
use sentra_chaos_proxy::{Mode, Proxy};
use sentra_protocol::payload::{CashDirection, CashMoved, ShiftOpened, StockCounted};
use sentra_protocol::wire::{DeviceKind, ErrorBody, MAX_BODY_BYTES, PROTOCOL_HEADER, PushResponse};
use sentra_protocol::{Entry, EntryKind, Hash, Hlc, UnsignedEntry, encode_payload};
use sentra_sync::relay::identity::KeyChoice;
use sentra_sync::relay::{RelayConfig, RelayRunning};
use serde_json::{Value, json};
use uuid::Uuid;

const DEFAULT_RUNS: u64 = 200;
const DEFAULT_SEED: u64 = 0x5e17_a2f0;

static PANICS: AtomicUsize = AtomicUsize::new(0);

/// Counts every panic of the process (a handler, a blocking task, the
/// relay's forwarder), then reports it as usual — but for a failed
/// assertion of another test: the server's tests share this process, and
/// libtest runs each on a thread named after it (`module::test`).
fn count_panics() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !is_another_test(std::thread::current().name()) {
            PANICS.fetch_add(1, Ordering::SeqCst);
        }
        report(info);
    }));
}

fn is_another_test(thread: Option<&str>) -> bool {
    thread.is_some_and(|name| name.contains("::") && !name.starts_with("fuzz_http::"))
}

/// Seen in a full run: another test's failed `expect` (a deadlock it met)
/// was counted here as a panic of the relay under fuzzing.
#[test]
fn another_test_s_failure_is_not_a_panic_of_the_server_under_fuzzing() {
    assert!(is_another_test(Some(
        "office::injection_strings_in_every_filter_are_harmless"
    )));
    assert!(!is_another_test(Some(
        "fuzz_http::mutated_batches_never_get_a_5xx_and_a_refused_batch_changes_nothing"
    )));
    assert!(!is_another_test(Some("tokio-runtime-worker")));
    assert!(!is_another_test(None));
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).map_or(default, |v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number"))
    })
}

// ---- randomness ----------------------------------------------------------------

/// xorshift64*: seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng((seed ^ 0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

/// A value of any JSON type, biased to the edges.
fn weird(rng: &mut Rng) -> Value {
    match rng.below(24) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(0),
        3 => json!(-1),
        4 => json!(i64::MIN),
        5 => json!(u64::MAX),
        6 => json!(9_007_199_254_740_992u64),
        7 => json!(-9_007_199_254_740_991i64),
        8 => json!(1.5),
        9 => json!(1e300),
        10 => json!(""),
        11 => json!("x".repeat(300)),
        12 => json!("a\u{0}b"),
        13 => json!("\u{1b}[31m\u{7f}\u{85}"),
        14 => json!("é€😀\u{202e}\u{feff}"),
        15 => json!([]),
        16 => json!([1, "2", null, [3]]),
        17 => json!({}),
        18 => {
            let mut v = json!(1);
            for _ in 0..40 {
                v = json!({ "a": v });
            }
            v
        }
        19 => json!("0192f3a0-7c00-7abc-8def-000000000002"),
        20 => json!("ff".repeat(32)),
        21 => json!("00".repeat(64)),
        22 => json!(i64::MAX),
        _ => json!(rng.next_u64() as i64 % 1_000_000),
    }
}

/// Replaces one node of `v` (or `v` itself) with a [`weird`] value.
fn mutate_tree(rng: &mut Rng, v: &mut Value) {
    let descend = rng.below(4) != 0;
    match v {
        Value::Object(m) if descend && !m.is_empty() => {
            let key = m.keys().nth(rng.below(m.len())).cloned().unwrap();
            if rng.chance(6) {
                m.remove(&key);
            } else if rng.chance(6) {
                m.insert(format!("{key}\u{1}x"), weird(rng));
            } else {
                mutate_tree(rng, m.get_mut(&key).unwrap());
            }
        }
        Value::Array(items) if descend && !items.is_empty() => {
            let i = rng.below(items.len());
            match rng.below(5) {
                0 => {
                    items.remove(i);
                }
                1 => {
                    let copy = items[i].clone();
                    items.insert(i, copy);
                }
                _ => mutate_tree(rng, &mut items[i]),
            }
        }
        _ => *v = weird(rng),
    }
}

// ---- devices and their batches ---------------------------------------------------

/// Who pushes, and the devices (indexes into the run's devices) whose
/// entries it carries.
struct Pusher {
    credential: String,
    devices: Vec<usize>,
}

/// A device's chain as the test knows it: the hash of every genuine entry
/// signed at each seq (the last one signed wins).
#[derive(Default)]
struct Signed(HashMap<(Uuid, u64), Hash>);

fn shift_of(d: &Device) -> Uuid {
    Uuid::from_u64_pair(d.device_id.as_u64_pair().0, 1)
}

/// The next genuine entry of `d` with a valid payload of a random kind.
fn valid_entry(rng: &mut Rng, d: &mut Device) -> Entry {
    let shift = shift_of(d);
    let (kind, payload) = match rng.below(7) {
        0 => (
            EntryKind::ShiftOpened,
            encode_payload(&ShiftOpened {
                shift_id: shift,
                opening_float: 500_000,
                cashier: Some("Siti".into()),
            }),
        ),
        1 => (
            EntryKind::CashMoved,
            encode_payload(&CashMoved {
                shift_id: shift,
                direction: if rng.chance(2) {
                    CashDirection::In
                } else {
                    CashDirection::Out
                },
                amount: 1 + rng.below(100_000) as i64,
                reason: None,
            }),
        ),
        2 => (
            EntryKind::StockCounted,
            encode_payload(&StockCounted {
                sku: "TEH".into(),
                counted_milli: rng.below(1_000_000) as i64,
                previous_milli: 0,
            }),
        ),
        3 => {
            let receipt = format!("R-{}", rng.next_u64() % 1_000_000);
            let lines = [("TEH", 2000, 6000), ("KOPI", 1000, 15500)];
            (
                EntryKind::SaleCompleted,
                encode_payload(&sale(&receipt, shift, &lines)),
            )
        }
        4 => (
            EntryKind::Other("note".into()),
            Ok(json!({ "n": rng.below(1000) })),
        ),
        // At the limits: a million units at Rp 10^7 (a Rp 10^13 line).
        5 => {
            let receipt = format!("BIG-{}", rng.next_u64() % 1_000_000);
            let lines = [("TEH", 1_000_000_000, 10_000_000)];
            (
                EntryKind::SaleCompleted,
                encode_payload(&sale(&receipt, shift, &lines)),
            )
        }
        // The same receipt again (a duplicate receipt conflict).
        _ => (
            EntryKind::SaleCompleted,
            encode_payload(&sale("R-1", shift, &[("GULA", 500, 17900)])),
        ),
    };
    d.raw(kind, payload.expect("payload"))
}

/// Signs `u` as `d` would; `None` when it has no canonical form (a float).
fn sign(d: &Device, u: UnsignedEntry) -> Option<Entry> {
    u.sign(&d.key).ok()
}

/// The next entry of `d`, genuine, but with something odd about it: a
/// mutated payload, kind, clock, id or branch.
fn genuine_odd_entry(rng: &mut Rng, d: &mut Device, previous: &[Entry]) -> Option<Entry> {
    let base = valid_entry(rng, &mut d.clone());
    let mut u = base.to_unsigned();
    match rng.below(7) {
        0 | 1 => mutate_tree(rng, &mut u.payload),
        2 => {
            u.kind = EntryKind::from_name(match rng.below(7) {
                0 => "",
                1 => "sale_completed",
                2 => "stock_counted",
                3 => "a\u{0}b",
                4 => "UPPER Case",
                5 => "é",
                _ => "k_________________________________________________________________long",
            })
        }
        3 => {
            u.hlc = match rng.below(4) {
                0 => Hlc::new(u64::MAX, u32::MAX),
                1 => Hlc::new(1 << 63, 0),
                2 => Hlc::new(0, 0),
                _ => Hlc::new(253_402_300_800_000, 7), // year 10000
            }
        }
        4 => {
            // An id already used, or the nil id.
            u.id = previous
                .get(rng.below(previous.len() + 1))
                .map_or(Uuid::nil(), |e| e.id);
        }
        5 => u.branch = ["SBY01", "", "jkt01", "JKT01\u{0}"][rng.below(4)].to_owned(),
        _ => u.payload = weird(rng),
    }
    let e = sign(d, u)?;
    d.seq = e.seq;
    d.prev = e.hash;
    d.counter += 1;
    Some(e)
}

/// A genuine entry at a seq already held (a fork) or beyond the next (a gap).
fn genuine_out_of_place(rng: &mut Rng, d: &Device) -> Option<Entry> {
    let mut u = valid_entry(rng, &mut d.clone()).to_unsigned();
    if rng.chance(2) && d.seq > 0 {
        u.seq = 1 + rng.next_u64() % d.seq;
        u.payload = json!({ "n": rng.next_u64() as i64 % 1000, "fork": true });
        u.kind = EntryKind::Other("note".into());
    } else {
        u.seq = d.seq + 2 + rng.next_u64() % 3;
    }
    sign(d, u)
}

/// One request: the body and the headers to send it with.
struct Request {
    body: Vec<u8>,
    protocol: Option<&'static str>,
    credential: Option<String>,
    what: String,
}

/// A batch of 1 to 5 new entries of the pusher's devices, mutated.
fn mutated_request(
    rng: &mut Rng,
    p: &Pusher,
    devices: &mut [Device],
    signed: &mut Signed,
    history: &[Entry],
) -> Request {
    let mut entries = Vec::new();
    let mut what = Vec::new();
    for _ in 0..1 + rng.below(5) {
        let d = &mut devices[p.devices[rng.below(p.devices.len())]];
        // (entry, whether it is the device's next in its chain)
        let e = match rng.below(5) {
            0 => {
                what.push("genuine odd");
                genuine_odd_entry(rng, d, history).map(|e| (e, true))
            }
            1 if rng.chance(3) => {
                what.push("fork or gap");
                genuine_out_of_place(rng, d).map(|e| (e, false))
            }
            _ => Some((valid_entry(rng, d), true)),
        };
        if let Some((e, in_chain)) = e {
            if in_chain {
                signed.0.insert((e.device_id, e.seq), e.hash);
            }
            entries.push(e);
        }
    }
    if rng.chance(8) {
        // An entry of a device no one enrolled (the receiver asks the cloud
        // about it, and refuses it `unknown_device`).
        what.push("stranger's entry");
        let mut stranger = Device::unenrolled("JKT01", 99);
        stranger.device_id = Uuid::from_u128(0x5e17_a2f0);
        stranger.seq = rng.below(3) as u64;
        let e = valid_entry(rng, &mut stranger);
        entries.insert(rng.below(entries.len() + 1), e);
    }
    let mut body = json!({ "sent_at_ms": common::now_ms(), "entries": entries });
    // Mutate the envelope (or not: a genuine batch must go through too).
    for _ in 0..rng.below(3) {
        what.push(envelope(rng, &mut body));
    }
    let mut bytes = serde_json::to_vec(&body).unwrap();
    if rng.chance(6) {
        what.push(bytes_level(rng, &mut bytes));
    }
    if rng.chance(150) {
        // Over the byte limit.
        what.push("4 MiB body");
        bytes = format!("{{\"entries\":[],\"pad\":\"{}\"}}", "x".repeat(4 << 20)).into_bytes();
    }
    let mut protocol = Some("1");
    let mut credential = Some(p.credential.clone());
    if rng.chance(25) {
        what.push("headers");
        match rng.below(4) {
            0 => protocol = None,
            1 => protocol = Some(["0", "2", "x", "", "99999999999999999999"][rng.below(5)]),
            2 => credential = None,
            _ => credential = Some(["0000", "", "not a credential", "\té"][rng.below(4)].into()),
        }
    }
    Request {
        body: bytes,
        protocol,
        credential,
        what: what.join(", "),
    }
}

/// One mutation of the push body's JSON.
fn envelope(rng: &mut Rng, body: &mut Value) -> &'static str {
    let n = body["entries"].as_array().map_or(0, Vec::len);
    // The entry the field-level mutations touch, when it is an object.
    let at = rng.below(n);
    let object = body["entries"]
        .as_array()
        .and_then(|es| es.get(at))
        .is_some_and(Value::is_object);
    let entries = body["entries"].as_array_mut();
    match (rng.below(12), entries) {
        (0, Some(es)) if n > 0 => {
            es.remove(rng.below(n));
            "entry dropped"
        }
        (1, Some(es)) if n > 0 => {
            let copy = es[rng.below(n)].clone();
            es.insert(rng.below(n + 1), copy);
            "entry duplicated"
        }
        (2, Some(es)) if n > 1 => {
            es.reverse();
            "entries reordered"
        }
        (3, Some(es)) if object => {
            let e = &mut es[at];
            let fields = [
                "format",
                "id",
                "branch",
                "device_id",
                "seq",
                "hlc",
                "kind",
                "payload",
                "prev_hash",
                "hash",
                "signature",
            ];
            let f = fields[rng.below(fields.len())];
            if rng.chance(4) {
                e.as_object_mut().map(|o| o.remove(f));
                "entry field removed"
            } else {
                e[f] = weird(rng);
                "entry field replaced"
            }
        }
        (4, Some(es)) if object => {
            let e = &mut es[at];
            mutate_tree(rng, &mut e["payload"]);
            "payload altered after signing"
        }
        (5, Some(es)) if object => {
            let e = &mut es[at];
            e["seq"] = [
                json!(0),
                json!(u64::MAX),
                json!(1u64 << 63),
                json!(-1),
                json!("1"),
            ][rng.below(5)]
            .clone();
            "seq at an edge"
        }
        (6, Some(es)) if object => {
            let e = &mut es[at];
            mutate_tree(rng, &mut e["hlc"]);
            "hlc altered"
        }
        (7, Some(es)) if n > 0 => {
            let i = rng.below(n);
            es[i] = weird(rng);
            "entry replaced"
        }
        (8, _) => {
            body["sent_at_ms"] = weird(rng);
            "sent_at_ms"
        }
        (9, _) => {
            body["entries"] = weird(rng);
            "entries replaced"
        }
        (10, _) => {
            body[["extra", "entries\u{0}", ""][rng.below(3)]] = weird(rng);
            "unknown field"
        }
        (11, Some(es)) if n > 0 && rng.chance(10) => {
            let copy = es[0].clone();
            es.resize(1001, copy);
            "1001 entries"
        }
        _ => "none",
    }
}

/// One mutation of the serialised body.
fn bytes_level(rng: &mut Rng, bytes: &mut Vec<u8>) -> &'static str {
    let len = bytes.len();
    let i = rng.below(len);
    match rng.below(4) {
        0 => {
            bytes[i] ^= 1 << rng.below(8);
            "bit flipped"
        }
        1 => {
            bytes.insert(i, [0, 0x1f, 0x7f, 0xff, b'"', b'\\'][rng.below(6)]);
            "byte inserted"
        }
        2 => {
            bytes.remove(i);
            "byte deleted"
        }
        _ => {
            bytes.truncate(i);
            "body cut"
        }
    }
}

// ---- the receivers ---------------------------------------------------------------

/// What a receiver holds, table by table (a digest of every row).
type Digest = BTreeMap<String, String>;

async fn cloud_digest(s: &Server) -> Digest {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
           AND c.relname <> '_sqlx_migrations'
           -- records that a device called, whether or not its push was taken
           AND c.relname <> 'device_activity' ORDER BY 1",
    )
    .fetch_all(&s.pool)
    .await
    .unwrap();
    let sql = tables
        .iter()
        .map(|t| {
            format!(
                "SELECT '{t}', md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) \
                 FROM {t} t"
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let rows: Vec<(String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(&s.pool)
        .await
        .unwrap();
    rows.into_iter().collect()
}

async fn relay_digest(r: &RelayRunning) -> Digest {
    r.relay
        .store
        .with(|conn| {
            let tables: Vec<String> = conn
                .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                .and_then(|mut s| s.query_map([], |row| row.get(0))?.collect())
                .unwrap();
            let mut out = Digest::new();
            for t in tables {
                let mut stmt = conn.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
                let columns = stmt.column_count();
                let mut rows: Vec<String> = stmt
                    .query_map([], |row| {
                        Ok((0..columns)
                            .map(|i| format!("{:?}", row.get_ref(i)))
                            .collect::<Vec<_>>()
                            .join("|"))
                    })
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                rows.sort();
                out.insert(t, Hash::digest(rows.join("\n").as_bytes()).to_hex());
            }
            Ok(out)
        })
        .await
        .unwrap()
}

struct Receiver<'a> {
    name: &'static str,
    url: String,
    http: &'a reqwest::Client,
    cloud: Option<&'a Server>,
    relay: Option<&'a RelayRunning>,
}

impl Receiver<'_> {
    async fn digest(&self) -> Digest {
        match (self.cloud, self.relay) {
            (Some(s), _) => cloud_digest(s).await,
            (_, Some(r)) => relay_digest(r).await,
            _ => unreachable!("a receiver is a cloud or a relay"),
        }
    }

    async fn send(&self, req: &Request) -> reqwest::Result<(u16, String)> {
        let mut r = self
            .http
            .post(format!("{}/v1/push", self.url))
            .header("content-type", "application/json")
            .body(req.body.clone());
        if let Some(p) = req.protocol {
            r = r.header(PROTOCOL_HEADER, p);
        }
        if let Some(c) = &req.credential {
            r = r.header("authorization", format!("Bearer {c}"));
        }
        let resp = r.send().await?;
        let status = resp.status().as_u16();
        Ok((status, resp.text().await.unwrap_or_default()))
    }
}

#[derive(Default, Debug)]
struct Tally {
    ok: u64,
    refused_requests: u64,
    busy: u64,
    stored: u64,
    quarantined: u64,
    refused_entries: u64,
}

/// `runs` mutated batches from `pushers` to `to`, checking every answer.
async fn fuzz(
    rng: &mut Rng,
    to: &Receiver<'_>,
    pushers: &[Pusher],
    devices: &mut [Device],
    runs: u64,
    seed: u64,
) -> Tally {
    let mut tally = Tally::default();
    let mut signed = Signed::default();
    let mut history: Vec<Entry> = Vec::new();
    for run in 0..runs {
        let pusher = &pushers[rng.below(pushers.len())];
        let saved: Vec<(u64, Hash)> = devices.iter().map(|d| (d.seq, d.prev)).collect();
        let req = mutated_request(rng, pusher, devices, &mut signed, &history);
        let context = format!(
            "{} run {run} (SENTRA_FUZZ_HTTP_SEED={seed}), mutations: {}",
            to.name, req.what
        );
        let before = to.digest().await;
        let refused_entry_alerts = match to.cloud {
            Some(s) => {
                s.count("SELECT count(*) FROM alerts WHERE kind = 'refused_entry'")
                    .await
            }
            None => 0,
        };
        // Devices go on from what the receiver holds: as before, unless
        // an ack below says otherwise.
        for (d, (seq, prev)) in devices.iter_mut().zip(&saved) {
            d.seq = *seq;
            d.prev = *prev;
        }
        let (status, text) = match to.send(&req).await {
            Ok(answer) => answer,
            // A body over the limit may be refused (413, or 401/400 from
            // its headers) before it is all sent: the server answers and
            // closes, and the client sees its write fail.
            Err(e) if req.body.len() > MAX_BODY_BYTES => {
                tally.refused_requests += 1;
                assert_eq!(
                    to.digest().await,
                    before,
                    "{context}: cut off ({e}), yet a table changed"
                );
                continue;
            }
            Err(e) => panic!("{context}: no answer: {e}"),
        };
        let shown: String = text.chars().take(600).collect();
        assert!(
            PANICS.load(Ordering::SeqCst) == 0,
            "{context}: a panic in the process; answer {status} {shown}"
        );
        let body: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{context}: answer {status} is not JSON ({e}): {shown}"));
        match status {
            200 => {
                tally.ok += 1;
                let r: PushResponse = serde_json::from_value(body)
                    .unwrap_or_else(|e| panic!("{context}: 200 but not a PushResponse: {e}"));
                tally.stored += r.stored;
                tally.quarantined += r.quarantined.len() as u64;
                tally.refused_entries += r.refused.len() as u64;
                for ack in &r.acks {
                    if let Some(d) = devices.iter_mut().find(|d| d.device_id == ack.device_id) {
                        if ack.acked_seq < d.seq {
                            let heads = match to.relay {
                                Some(r) => format!("{:?}", r.relay.store.heads().await),
                                None => String::new(),
                            };
                            panic!(
                                "{context}: the tip of {} went back from {} to {}: {shown}\nrelay heads: {heads}\nrequest: {}",
                                d.device_id,
                                d.seq,
                                ack.acked_seq,
                                String::from_utf8_lossy(&req.body)
                                    .chars()
                                    .take(3000)
                                    .collect::<String>()
                            );
                        }
                        d.prev = match ack.acked_seq {
                            s if s == d.seq => d.prev,
                            s => *signed.0.get(&(d.device_id, s)).unwrap_or_else(|| {
                                panic!("{context}: acked seq {s} is no entry the device signed")
                            }),
                        };
                        d.seq = ack.acked_seq;
                    }
                }
                // Every entry refused, none a fork: nothing changes but the
                // documented alert per altered entry (`refused_entry`).
                let forked = r.refused.iter().any(|x| x.reason.code() == "fork");
                let tampered = r
                    .refused
                    .iter()
                    .filter(|x| matches!(x.reason.code(), "hash_mismatch" | "bad_signature"))
                    .count() as i64;
                if r.stored == 0 && r.quarantined.is_empty() && !forked {
                    let mut after = to.digest().await;
                    let mut before = before;
                    if let Some(s) = to.cloud {
                        let alerts = s
                            .count("SELECT count(*) FROM alerts WHERE kind = 'refused_entry'")
                            .await;
                        assert_eq!(
                            alerts - refused_entry_alerts,
                            tampered,
                            "{context}: {shown}"
                        );
                        after.remove("alerts");
                        before.remove("alerts");
                    }
                    assert_eq!(
                        after, before,
                        "{context}: nothing stored, yet a table changed: {shown}"
                    );
                }
                if let Some(es) = serde_json::from_slice::<Value>(&req.body)
                    .ok()
                    .and_then(|b| serde_json::from_value::<Vec<Entry>>(b["entries"].clone()).ok())
                {
                    history.extend(es.into_iter().take(5));
                }
            }
            429 | 503 => {
                let e: ErrorBody = serde_json::from_value(body).unwrap();
                assert!(
                    matches!(
                        (status, e.error.as_str()),
                        (429, "busy") | (503, "unavailable")
                    ) && e.retryable,
                    "{context}: {status} that is not a retryable busy: {shown}"
                );
                tally.busy += 1;
                assert_eq!(
                    to.digest().await,
                    before,
                    "{context}: a 503 changed a table"
                );
            }
            400..=499 => {
                tally.refused_requests += 1;
                let e: ErrorBody = serde_json::from_value(body)
                    .unwrap_or_else(|e| panic!("{context}: {status} without an ErrorBody: {e}"));
                assert!(!e.error.is_empty() && !e.message.is_empty(), "{context}");
                assert!(!e.retryable, "{context}: a {status} marked retryable");
                assert_eq!(
                    to.digest().await,
                    before,
                    "{context}: the request was refused ({status} {}), yet a table changed",
                    e.error
                );
            }
            _ => panic!("{context}: answered {status}: {shown}"),
        }
    }
    tally
}

/// GET /v1/pull with mutated query strings: never a 5xx.
async fn fuzz_pull(rng: &mut Rng, to: &Receiver<'_>, credential: &str, runs: u64) {
    let seeds = [
        "",
        "cursor=v1.1.1",
        "cursor=r1.1",
        "limit=1",
        "limit=1000&cursor=",
        "cursor=v1.18446744073709551615.9223372036854775807",
        "cursor=r1.18446744073709551615",
    ];
    for _ in 0..runs {
        let mut q = seeds[rng.below(seeds.len())].as_bytes().to_vec();
        for _ in 0..1 + rng.below(3) {
            let i = rng.below(q.len() + 1);
            let token: &[u8] = [
                &b"%00"[..],
                b"%ff",
                b"&",
                b"=",
                b"+",
                b"-",
                b"0",
                b"99999999999999999999",
                b"cursor=",
                b"limit=",
                b"%2e",
                b"v1.",
            ][rng.below(12)];
            q.splice(i..i, token.iter().copied());
        }
        let q = String::from_utf8_lossy(&q).into_owned();
        let resp = to
            .http
            .get(format!("{}/v1/pull?{q}", to.url))
            .header(PROTOCOL_HEADER, "1")
            .bearer_auth(credential)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        assert!(
            status < 500,
            "{}: GET /v1/pull?{q} answered {status}",
            to.name
        );
    }
}

async fn start_relay(upstream: &str, code: String) -> (RelayRunning, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = RelayConfig::new(
        dir.path().join("data"),
        upstream.to_owned(),
        "127.0.0.1:0".parse().unwrap(),
    );
    config.enroll_code = Some(code);
    config.keys = KeyChoice {
        store: Some(sentra_keystore::KeyStoreKind::File),
        file: Some(dir.path().join("relay.key")),
    };
    // No refresh on a timer: during the run only pushes change the relay.
    config.refresh_interval = Duration::from_secs(3600);
    (sentra_sync::relay::start(&config).await.unwrap(), dir)
}

async fn relay_health(http: &reqwest::Client, url: &str) -> Value {
    http.get(format!("{url}/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutated_batches_never_get_a_5xx_and_a_refused_batch_changes_nothing() {
    count_panics();
    let runs = env_number("SENTRA_FUZZ_HTTP_RUNS", DEFAULT_RUNS);
    let seed = env_number("SENTRA_FUZZ_HTTP_SEED", DEFAULT_SEED);
    let mut rng = Rng::new(seed);
    let started = Instant::now();

    let cloud = Server::start().await;
    cloud.branch("JKT01").await;
    cloud.branch("SBY01").await;

    // The cloud: two terminals pushing their own entries, and a relay's
    // credential carrying both (and a device of another branch).
    let t1 = cloud.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let t2 = cloud.enroll("JKT01", DeviceKind::Terminal, 2).await;
    let other = cloud.enroll("SBY01", DeviceKind::Terminal, 3).await;
    let carrier = cloud.enroll("JKT01", DeviceKind::Relay, 4).await;
    let pushers = [
        Pusher {
            credential: t1.credential.clone(),
            devices: vec![0],
        },
        Pusher {
            credential: carrier.credential.clone(),
            devices: vec![0, 1, 2],
        },
    ];
    let mut devices = vec![t1, t2, other];
    let to_cloud = Receiver {
        name: "cloud",
        url: cloud.url.clone(),
        http: &cloud.http,
        cloud: Some(&cloud),
        relay: None,
    };
    let on_cloud = fuzz(&mut rng, &to_cloud, &pushers, &mut devices, runs, seed).await;
    fuzz_pull(&mut rng, &to_cloud, &pushers[0].credential, runs / 5).await;

    // The relay, its uplink through a proxy that is cut during the run, so
    // only the pushes change its journal.
    let addr = cloud.url.trim_start_matches("http://").parse().unwrap();
    let link = Proxy::start(addr).await.unwrap();
    let t3 = cloud.enroll("JKT01", DeviceKind::Terminal, 5).await;
    let t4 = cloud.enroll("JKT01", DeviceKind::Terminal, 6).await;
    let code = cloud.code("JKT01", DeviceKind::Relay).await;
    let (relay, _dir) = start_relay(&link.url(), code).await;
    let relay_url = format!("http://{}", relay.addr);
    fuzz_pull(
        &mut rng,
        &Receiver {
            name: "relay",
            url: relay_url.clone(),
            http: &cloud.http,
            cloud: None,
            relay: Some(&relay),
        },
        &t3.relay_credential,
        10,
    )
    .await;
    link.set_mode(Mode::Cut);
    let pushers = [
        Pusher {
            credential: t3.relay_credential.clone(),
            devices: vec![0],
        },
        Pusher {
            credential: t4.relay_credential.clone(),
            devices: vec![1, 0],
        },
    ];
    let mut devices = vec![t3.clone(), t4.clone()];
    let to_relay = Receiver {
        name: "relay",
        url: relay_url.clone(),
        http: &cloud.http,
        cloud: None,
        relay: Some(&relay),
    };
    let on_relay = fuzz(&mut rng, &to_relay, &pushers, &mut devices, runs, seed).await;

    // Uplink back: the relay hands the cloud everything it took, and the
    // cloud takes all of it.
    link.set_mode(Mode::Forward);
    let deadline = Instant::now() + Duration::from_secs(60);
    let health = loop {
        let h = relay_health(&cloud.http, &relay_url).await;
        if h["pending_entries"] == 0 || Instant::now() > deadline {
            break h;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        health["pending_entries"], 0,
        "the relay did not drain: {health}"
    );
    assert_eq!(health["parked_devices"], json!([]), "{health}");
    for t in &devices {
        let relay_tip = t.seq;
        let cloud_tip: Option<i64> =
            sqlx::query_scalar("SELECT max(seq) FROM journal WHERE device_id = $1")
                .bind(t.device_id)
                .fetch_one(&cloud.pool)
                .await
                .unwrap();
        assert_eq!(
            cloud_tip.unwrap_or(0) as u64,
            relay_tip,
            "device {}",
            t.device_id
        );
    }
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "a panic in the process");
    eprintln!(
        "fuzz_http: seed {seed}, {runs} requests per receiver in {:.1} s\n  cloud: {on_cloud:?}\n  relay: {on_relay:?}",
        started.elapsed().as_secs_f64()
    );
    relay.stop().await.unwrap();
    cloud.stop().await;
}
