//! The exchange vectors of `docs/vectors/`: each a fresh cloud (a new
//! database and a real `sentra-sync serve`), optionally a real relay, and
//! steps — set-up, then HTTP requests with the responses they get.
//!
//! The builders in this suite make each vector with the document's encoder;
//! the file must equal what they make (so the encoder and the files cannot
//! part), and the real server must answer each request of the file as the
//! file says (so the files cannot rot). `SENTRA_BLESS=1` writes the files
//! from the server's answers instead; review the diff.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use sentra_conformance as enc;
use sentra_e2e::{Cloud, Relay};
use serde_json::{Map, Value, json};

/// In a file, a value the server chooses anew each time (a credential, a
/// time of receipt): any value matches it.
pub const ANY: &str = "<any>";

/// Response fields whose values differ from run to run.
const VOLATILE: &[&str] = &[
    "credential",
    "relay_credential",
    "master_key",
    "received_at",
    "raised_at",
    "parked_since",
    "skew_ms",
    // What the relay knows the cloud holds depends on when it forwarded.
    "cloud_acked_seq",
];

/// Fields of text for people: recorded as the server wrote them, matched by
/// being there.
const FOR_PEOPLE: &[&str] = &["message", "detail"];

/// The devices of the vectors: fixed keys (test-only seeds) and ids, so
/// every entry, hash and signature in the files is reproducible.
pub struct Device {
    pub name: &'static str,
    pub seed: [u8; 32],
    pub id: &'static str,
    pub branch: &'static str,
    /// `terminal` or `relay`.
    pub kind: &'static str,
    /// Distinguishes the device's entry ids (and its first shift's id).
    pub index: u64,
}

pub const DEVICES: &[Device] = &[
    Device {
        name: "till_a",
        seed: [7; 32],
        id: "0192f3a0-7c00-7abc-8def-000000000002",
        branch: "JKT01",
        kind: "terminal",
        index: 1,
    },
    Device {
        name: "till_b",
        seed: [8; 32],
        id: "0192f3a0-7c00-7abc-8def-000000000003",
        branch: "JKT01",
        kind: "terminal",
        index: 2,
    },
    Device {
        name: "till_c",
        seed: [9; 32],
        id: "0192f3a0-7c00-7abc-8def-000000000004",
        branch: "JKT02",
        kind: "terminal",
        index: 3,
    },
    // A relay of JKT01 played by the suite: it may push any device of its
    // branch (the real relay's own key is its own, so it is not a vector's).
    Device {
        name: "relay_r",
        seed: [10; 32],
        id: "0192f3a0-7c00-7abc-8def-000000000005",
        branch: "JKT01",
        kind: "relay",
        index: 4,
    },
];

pub fn device(name: &str) -> &'static Device {
    DEVICES
        .iter()
        .find(|d| d.name == name)
        .unwrap_or_else(|| panic!("no vector device {name}"))
}

/// 2026-11-23 08:00 WIB: the wall clock of every vector's first entry.
pub const BASE_MS: u64 = 1_795_395_600_000;

/// A device's chain, as its writer builds it: gapless seqs from 1, each
/// entry linked to the one before, one minute apart.
pub struct Chain {
    pub device: &'static Device,
    pub seq: u64,
    pub prev_hash: String,
}

impl Chain {
    pub fn new(name: &str) -> Chain {
        Chain {
            device: device(name),
            seq: 0,
            prev_hash: enc::genesis_hash(),
        }
    }

    /// The id of this device's entry at `seq` (UUIDv7-shaped, fixed).
    pub fn id(&self, seq: u64) -> String {
        format!(
            "0192f3a0-7c00-7abc-8def-{:04x}{:08x}",
            self.device.index, seq
        )
    }

    /// The next entry, unsealed (for a vector that tampers with it).
    pub fn draft(&self, kind: &str, payload: Value) -> Value {
        let seq = self.seq + 1;
        json!({
            "format": enc::FORMAT,
            "id": self.id(seq),
            "branch": self.device.branch,
            "device_id": self.device.id,
            "seq": seq,
            "hlc": {"wall_ms": BASE_MS + (seq - 1) * 60_000, "counter": 0},
            "kind": kind,
            "payload": payload,
            "prev_hash": self.prev_hash,
        })
    }

    /// The next entry, sealed with the device's key; the chain moves on.
    pub fn next(&mut self, kind: &str, payload: Value) -> Value {
        let mut e = self.draft(kind, payload);
        self.seq += 1;
        self.prev_hash = self.seal(&mut e);
        e
    }

    /// Seal `e` with this device's key; its hash.
    pub fn seal(&self, e: &mut Value) -> String {
        enc::seal(e, self.device.seed).expect("a vector entry has a canonical form")
    }
}

/// A shift id of the vectors.
pub fn shift_id(n: u64) -> String {
    format!("0192f3a0-7c00-7abc-8def-5{n:011x}")
}

pub fn shift_opened(shift: &str) -> Value {
    json!({"shift_id": shift, "opening_float": 500000, "cashier": "Siti"})
}

/// A consistent cash sale, tax inclusive at 12 % on a DPP of 11/12 (11/111
/// of the price): `lines` are `(sku, quantity_milli, unit_price)`.
pub fn sale(receipt: &str, shift: &str, lines: &[(&str, i64, i64)]) -> Value {
    let lines: Vec<Value> = lines
        .iter()
        .enumerate()
        .map(|(i, (sku, q, price))| {
            let gross = price * q / 1000;
            json!({"line_no": i + 1, "sku": sku, "name": format!("Item {sku}"),
                   "quantity_milli": q, "unit_price": price, "tax_category": "standard",
                   "tax_rate": "12", "gross": gross, "line_discount": 0,
                   "cart_discount_share": 0, "net": gross, "tax": gross * 11 / 111,
                   "total": gross})
        })
        .collect();
    let total: i64 = lines.iter().filter_map(|l| l["total"].as_i64()).sum();
    let tax: i64 = lines.iter().filter_map(|l| l["tax"].as_i64()).sum();
    json!({"receipt_no": receipt, "shift_id": shift, "currency": "IDR",
           "tax_mode": "inclusive", "lines": lines, "gross": total, "discounts": 0,
           "tax": tax, "total": total, "tenders": [{"method": "cash", "amount": total}],
           "paid": total, "change": 0, "cashier": "Siti"})
}

/// One vector: what it covers (rows of the document's tables, as
/// `<table> <key>`), what it shows, the server's extra arguments, and its
/// steps.
pub struct Vector {
    /// Its file under `docs/vectors/`, without `.json`.
    pub path: String,
    pub covers: Vec<String>,
    pub about: String,
    pub serve: Vec<String>,
    pub steps: Vec<Value>,
}

impl Vector {
    pub fn new(path: &str, covers: &[&str], about: &str) -> Vector {
        Vector {
            path: path.to_owned(),
            covers: covers.iter().map(|c| (*c).to_owned()).collect(),
            about: about.to_owned(),
            serve: Vec::new(),
            steps: Vec::new(),
        }
    }

    pub fn serve(mut self, args: &[&str]) -> Vector {
        self.serve = args.iter().map(|a| (*a).to_owned()).collect();
        self
    }

    pub fn step(mut self, step: Value) -> Vector {
        self.steps.push(step);
        self
    }

    /// The usual start: branch JKT01 and `devices` enrolled in it.
    pub fn enrolled(mut self, devices: &[&str]) -> Vector {
        let mut branches: Vec<&str> = Vec::new();
        for d in devices {
            if !branches.contains(&device(d).branch) {
                branches.push(device(d).branch);
            }
        }
        for b in branches {
            self.steps.push(json!({"branch": b}));
        }
        for d in devices {
            self.steps.push(json!({"enroll": d}));
        }
        self
    }

    fn to_json(&self) -> Value {
        json!({"about": self.about, "covers": self.covers, "serve": self.serve,
               "steps": self.steps})
    }

    fn file(&self) -> PathBuf {
        vectors_dir().join(format!("{}.json", self.path))
    }

    /// Checks the vector (see the module's comment), or writes it under
    /// `SENTRA_BLESS=1`.
    pub async fn verify(self) -> Result<()> {
        let file = self.file();
        if std::env::var_os("SENTRA_BLESS").is_some() {
            let steps = run(&self.serve, &self.steps).await?;
            let mut out = self.to_json();
            out["steps"] = Value::Array(steps);
            if let Some(dir) = file.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let text = serde_json::to_string_pretty(&out)? + "\n";
            std::fs::write(&file, text).with_context(|| format!("{}", file.display()))?;
            return Ok(());
        }
        let text = std::fs::read_to_string(&file).with_context(|| {
            format!(
                "{}: missing; make it with SENTRA_BLESS=1 cargo test -p sentra-conformance",
                file.display()
            )
        })?;
        let stored: Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", file.display()))?;
        let mut requests = stored.clone();
        for s in requests["steps"].as_array_mut().into_iter().flatten() {
            if let Some(o) = s.as_object_mut() {
                o.remove("response");
                o.remove("rows");
            }
        }
        ensure!(
            requests == self.to_json(),
            "{}: the file is not what the document's encoder builds now (an entry, a \
             request or a step differs); if the change is intended, bless it again",
            file.display()
        );
        let serve: Vec<String> = serde_json::from_value(stored["serve"].clone())?;
        let steps: Vec<Value> = serde_json::from_value(stored["steps"].clone())?;
        let got = run(&serve, &steps).await?;
        for (i, (want, got)) in steps.iter().zip(&got).enumerate() {
            for part in ["response", "rows"] {
                if let Some(w) = want.get(part) {
                    ensure!(
                        matches(w, &got[part]),
                        "{} step {i}: the server answered\n{}\nthe vector says\n{}",
                        file.display(),
                        serde_json::to_string_pretty(&got[part])?,
                        serde_json::to_string_pretty(w)?
                    );
                }
            }
        }
        Ok(())
    }
}

pub fn vectors_dir() -> PathBuf {
    crate::doc::repo().join("docs/vectors")
}

/// `want` as a pattern: equal, with `"<any>"` matching any value.
pub fn matches(want: &Value, got: &Value) -> bool {
    match (want, got) {
        (Value::String(s), _) if s == ANY => true,
        // A field `"<any>"` in the file may also be absent in the answer;
        // text for people (an error's `message`, a refusal's `detail`) may
        // be worded anew, and may name a time or an id: any text matches.
        (Value::Object(w), Value::Object(g)) => {
            g.keys().all(|k| w.contains_key(k))
                && w.iter().all(|(k, v)| match g.get(k) {
                    Some(Value::String(text)) if FOR_PEOPLE.contains(&k.as_str()) => {
                        v.is_string() && !text.is_empty()
                    }
                    Some(gv) => matches(v, gv),
                    None => v.as_str() == Some(ANY),
                })
        }
        (Value::Array(w), Value::Array(g)) => {
            w.len() == g.len() && w.iter().zip(g).all(|(a, b)| matches(a, b))
        }
        _ => want == got,
    }
}

/// `v` with every volatile field's value replaced by `"<any>"`.
fn steady(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    if VOLATILE.contains(&k.as_str()) && !v.is_null() {
                        (k, Value::String(ANY.into()))
                    } else {
                        (k, steady(v))
                    }
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(steady).collect()),
        other => other,
    }
}

/// A cloud (and relay) under test, and what the steps learnt.
struct Run {
    cloud: Cloud,
    relay: Option<Relay>,
    http: reqwest::Client,
    /// Enrollment answers by device name.
    enrolled: HashMap<String, Value>,
    /// The last code made by an `enroll_code` step.
    code: String,
    background: Vec<tokio::task::JoinHandle<()>>,
    holds: Vec<std::thread::JoinHandle<()>>,
}

/// Runs `steps` on a fresh cloud; each step as given, with what it got.
async fn run(serve: &[String], steps: &[Value]) -> Result<Vec<Value>> {
    let args: Vec<&str> = serve.iter().map(String::as_str).collect();
    let cloud = tokio::task::block_in_place(|| Cloud::start_with(&args))?;
    let mut r = Run {
        cloud,
        relay: None,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()?,
        enrolled: HashMap::new(),
        code: String::new(),
        background: Vec::new(),
        holds: Vec::new(),
    };
    let mut out = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let done = r
            .step(step)
            .await
            .with_context(|| format!("step {i}: {step}"))?;
        out.push(done);
    }
    for b in r.background.drain(..) {
        let _ = b.await;
    }
    for h in r.holds.drain(..) {
        let _ = h.join();
    }
    Ok(out)
}

impl Run {
    async fn step(&mut self, step: &Value) -> Result<Value> {
        let mut done = step.clone();
        let admin = |r: &Run, args: &[&str]| tokio::task::block_in_place(|| r.cloud.admin(args));
        if let Some(code) = step.get("branch").and_then(Value::as_str) {
            tokio::task::block_in_place(|| self.cloud.branch_create(code))?;
        } else if let Some(name) = step.get("enroll").and_then(Value::as_str) {
            let answer = enroll(&self.cloud, &self.http, name).await?;
            self.enrolled.insert(name.to_owned(), answer);
        } else if let Some(spec) = step.get("enroll_code") {
            let branch = spec["branch"].as_str().context("enroll_code.branch")?;
            let kind = spec["kind"].as_str().unwrap_or("terminal");
            self.code = admin(self, &["enroll-code", "--branch", branch, "--kind", kind])?
                .trim()
                .to_owned();
        } else if let Some(args) = step.get("admin") {
            let args: Vec<String> = serde_json::from_value(args.clone())?;
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            admin(self, &args)?;
        } else if let Some(spec) = step.get("catalog") {
            let dir = tempfile::tempdir()?;
            let file = dir.path().join("catalog.csv");
            std::fs::write(&file, spec["csv"].as_str().context("catalog.csv")?)?;
            let mut args = vec!["catalog", "import", file.to_str().context("path")?];
            if let Some(b) = spec["branch"].as_str() {
                args.extend(["--branch", b]);
            }
            admin(self, &args)?;
        } else if let Some(sql) = step.get("sql").and_then(Value::as_str) {
            let sql = sql.replace("<database>", &self.cloud.db.name);
            tokio::task::block_in_place(|| self.cloud.sql(&sql))?;
        } else if let Some(spec) = step.get("hold_lock") {
            self.hold_lock(spec).await?;
        } else if let Some(spec) = step.get("until_sql") {
            let sql = spec["query"].as_str().context("until_sql.query")?;
            let want = spec["equals"].as_str().context("until_sql.equals")?;
            self.until(sql, want).await?;
        } else if step.get("relay").is_some() {
            let code = admin(
                self,
                &["enroll-code", "--branch", "JKT01", "--kind", "relay"],
            )?;
            let url = self.cloud.url();
            self.relay = Some(tokio::task::block_in_place(|| {
                Relay::start(&url, Some(code.trim()))
            })?);
        } else if let Some(req) = step.get("background") {
            let (method, url, headers, body) = self.prepare(req)?;
            let call = self.http.request(method, url).headers(headers).body(body);
            self.background.push(tokio::spawn(async move {
                let _ = call.send().await;
            }));
        } else if let Some(req) = step.get("request") {
            let (method, url, headers, body) = self.prepare(req)?;
            let answer = self
                .http
                .request(method, url)
                .headers(headers)
                .body(body)
                .send()
                .await?;
            let status = answer.status().as_u16();
            let mut recorded = Map::new();
            for h in ["retry-after", "sentra-protocol"] {
                if let Some(v) = answer.headers().get(h).and_then(|v| v.to_str().ok()) {
                    recorded.insert(h.to_owned(), Value::String(v.to_owned()));
                }
            }
            let text = answer.text().await?;
            let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
            done["response"] = json!({"status": status, "headers": recorded, "body": steady(body)});
        } else if let Some(spec) = step.get("conflicts") {
            let kind = spec["wait_for"].as_str().unwrap_or("");
            if !kind.is_empty() {
                let q = format!("SELECT count(*) FROM conflicts WHERE kind = '{kind}'");
                self.until(&q, "1").await?;
            }
            done["rows"] = steady(self.conflict_rows()?);
        } else {
            bail!("unknown step");
        }
        Ok(done)
    }

    /// The `conflicts` table, oldest first: kind, device, seq, details,
    /// resolution.
    fn conflict_rows(&self) -> Result<Value> {
        let out = tokio::task::block_in_place(|| {
            self.cloud.sql(
                "SELECT coalesce(json_agg(json_build_object('kind', kind, 'device_id', device_id,
                   'seq', seq, 'details', details, 'resolution', resolution)
                   ORDER BY raised_at, device_id, seq, kind), '[]')
                 FROM conflicts",
            )
        })?;
        serde_json::from_str(out.trim()).with_context(|| format!("conflict rows: {out}"))
    }

    /// Polls `sql` until it answers `want` (30 s at most).
    async fn until(&self, sql: &str, want: &str) -> Result<()> {
        let got = settle(async || {
            let got = tokio::task::block_in_place(|| self.cloud.sql(sql))?;
            let done = got.trim() == want;
            Ok((got, done))
        })
        .await?;
        ensure!(
            got.trim() == want,
            "{sql} still answers {got:?}, not {want:?}, after 30 s"
        );
        Ok(())
    }

    /// Another session takes `table`'s lock and keeps it `ms`; returns once
    /// the lock is held.
    async fn hold_lock(&mut self, spec: &Value) -> Result<()> {
        let table = spec["table"]
            .as_str()
            .context("hold_lock.table")?
            .to_owned();
        let ms = spec["ms"].as_u64().context("hold_lock.ms")?;
        let url = self.cloud.db.url.clone();
        let sql = format!(
            "BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep({}); COMMIT;",
            ms as f64 / 1000.0
        );
        self.holds.push(std::thread::spawn(move || {
            let _ = sentra_pg_harness::psql(&url, &sql);
        }));
        let held = format!(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
             WHERE c.relname = '{table}' AND l.mode = 'AccessExclusiveLock' AND l.granted
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        );
        self.until(&held, "1").await
    }

    /// Method, URL, headers and body of a request step: `path`, `via`
    /// (`relay`, else the cloud), `as` (whose credential: the cloud one, or
    /// at the relay the relay one), `headers`, and `body` (JSON), `text`
    /// (sent as it is) or `bytes` (`{"byte", "count"}`).
    fn prepare(
        &self,
        req: &Value,
    ) -> Result<(reqwest::Method, String, reqwest::header::HeaderMap, Vec<u8>)> {
        let method: reqwest::Method = req["method"].as_str().unwrap_or("GET").parse()?;
        let via_relay = req["via"].as_str() == Some("relay");
        let base = if via_relay {
            self.relay
                .as_ref()
                .context("no relay started")?
                .server
                .url()
        } else {
            self.cloud.url()
        };
        let url = format!("{base}{}", req["path"].as_str().context("path")?);
        let mut headers = reqwest::header::HeaderMap::new();
        for (k, v) in req["headers"].as_object().into_iter().flatten() {
            headers.insert(
                reqwest::header::HeaderName::from_bytes(k.as_bytes())?,
                v.as_str().context("header value")?.parse()?,
            );
        }
        if let Some(who) = req["as"].as_str() {
            let answer = self
                .enrolled
                .get(who)
                .ok_or_else(|| anyhow!("{who} is not enrolled"))?;
            let field = if via_relay {
                "relay_credential"
            } else {
                "credential"
            };
            let credential = answer[field].as_str().context("credential")?;
            headers.insert("authorization", format!("Bearer {credential}").parse()?);
        }
        let body = if let Some(b) = req.get("body") {
            headers.insert("content-type", "application/json".parse()?);
            let text = serde_json::to_string(&expand(b))?
                .replace("\"<code>\"", &format!("{:?}", self.code));
            text.into_bytes()
        } else if let Some(t) = req.get("text").and_then(Value::as_str) {
            headers.insert("content-type", "application/json".parse()?);
            t.as_bytes().to_vec()
        } else if let Some(spec) = req.get("bytes") {
            headers.insert("content-type", "application/json".parse()?);
            let byte = spec["byte"]
                .as_str()
                .and_then(|s| s.bytes().next())
                .unwrap_or(b' ');
            vec![byte; spec["count"].as_u64().context("bytes.count")? as usize]
        } else {
            Vec::new()
        };
        Ok((method, url, headers, body))
    }
}

/// Asks `attempt` again every 50 ms until it says it is done, 30 s at most:
/// its last answer, done or not (for the caller's check to show). For what
/// the server makes visible only once other sessions' transactions end.
pub async fn settle<T>(mut attempt: impl AsyncFnMut() -> Result<(T, bool)>) -> Result<T> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (answer, done) = attempt().await?;
        if done || Instant::now() > deadline {
            return Ok(answer);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Enrolls the vector device `name` (a fresh code, its fixed id and key):
/// the server's answer (credential, relay credential, master key).
pub async fn enroll(cloud: &Cloud, http: &reqwest::Client, name: &str) -> Result<Value> {
    let d = device(name);
    let code = tokio::task::block_in_place(|| {
        cloud.admin(&["enroll-code", "--branch", d.branch, "--kind", d.kind])
    })?;
    let body = json!({"code": code.trim(), "name": d.name,
                      "public_key": enc::public_key_hex(d.seed), "device_id": d.id});
    let answer = http
        .post(format!("{}/v1/enroll", cloud.url()))
        .header("sentra-protocol", "1")
        .json(&body)
        .send()
        .await?;
    let status = answer.status();
    let answer: Value = answer.json().await?;
    ensure!(status == 200, "enroll {name}: {status} {answer}");
    Ok(answer)
}

/// `v` with every `{"<repeat>": X, "count": N}` replaced by an array of N
/// copies of X (so a vector of a body over a limit stays small).
pub fn expand(v: &Value) -> Value {
    match v {
        Value::Object(m) if m.contains_key(REPEAT) => {
            let n = m.get("count").and_then(Value::as_u64).unwrap_or(0) as usize;
            Value::Array(vec![expand(&m[REPEAT]); n])
        }
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), expand(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(expand).collect()),
        other => other.clone(),
    }
}

pub const REPEAT: &str = "<repeat>";

/// `{"<repeat>": v, "count": n}`.
pub fn repeat(v: Value, n: usize) -> Value {
    json!({REPEAT: v, "count": n})
}

/// A push of `entries` by `who` (to the cloud, or `via` the relay).
pub fn push(who: &str, entries: &[Value]) -> Value {
    json!({"request": {"method": "POST", "path": "/v1/push", "as": who,
                       "headers": {"sentra-protocol": "1"},
                       "body": {"entries": entries}}})
}

/// The same push through the branch relay.
pub fn push_via_relay(who: &str, entries: &[Value]) -> Value {
    let mut p = push(who, entries);
    p["request"]["via"] = json!("relay");
    p
}
