//! Shared harness of the sync-server tests: a real PostgreSQL database (the
//! throwaway cluster, or `DATABASE_URL`), the real server on a free port,
//! real HTTP, and devices that sign real entries.
#![allow(dead_code)]

pub mod office;

use std::collections::BTreeMap;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use sentra_protocol::payload::{RefundIssued, RefundLine, SaleCompleted, SaleLine, TenderRecord};
use sentra_protocol::wire::{DeviceKind, EnrollResponse, PROTOCOL_HEADER};
use sentra_protocol::{Entry, EntryKind, EntryPayload, Hash, Hlc, UnsignedEntry, encode_payload};
use sentra_sync::config::{RulesConfig, ServeConfig};
use sentra_sync::http::Running;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

pub struct Server {
    pub url: String,
    pub pool: PgPool,
    pub http: reqwest::Client,
    running: Option<Running>,
    _db: sentra_pg_harness::TestDatabase,
}

/// `(seq, reason)` of each quarantined entry of a push, in order.
pub fn quarantined_in(r: &sentra_protocol::wire::PushResponse) -> Vec<(u64, String)> {
    r.quarantined
        .iter()
        .map(|q| (q.seq, q.reason.clone()))
        .collect()
}

pub fn default_rules() -> RulesConfig {
    RulesConfig {
        skew_tolerance: Duration::from_secs(120),
        orphan_grace: Duration::from_secs(3600),
    }
}

/// A database migrated once per test process, which every test's database
/// copies (`CREATE DATABASE … TEMPLATE`): a copy takes a fraction of running
/// every migration again. The server still migrates at start, finding
/// nothing to do, as it would on a cloud already up to date.
fn migrated_template() -> Result<String, sentra_pg_harness::HarnessError> {
    sentra_pg_harness::template_database("sync", |url| {
        let url = url.to_owned();
        // Its own thread and runtime: the caller may be inside a runtime.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async {
                let pool = sentra_sync::db::connect(&url, 2)
                    .await
                    .map_err(|e| e.to_string())?;
                sentra_sync::db::migrate(&pool)
                    .await
                    .map_err(|e| e.to_string())?;
                pool.close().await;
                Ok(())
            })
        })
        .join()
        .map_err(|_| "the migration thread panicked".to_owned())?
    })
}

impl Server {
    pub async fn start() -> Server {
        Server::start_with(default_rules(), Duration::from_secs(3600)).await
    }

    pub async fn start_with(rules: RulesConfig, sweep_interval: Duration) -> Server {
        Server::start_full(rules, sweep_interval, Default::default()).await
    }

    /// A server whose office pages have `office` settings.
    pub async fn start_office(office: sentra_office::OfficeConfig) -> Server {
        Server::start_full(default_rules(), Duration::from_secs(3600), office).await
    }

    pub async fn start_full(
        rules: RulesConfig,
        sweep_interval: Duration,
        office: sentra_office::OfficeConfig,
    ) -> Server {
        Server::start_folding(rules, sweep_interval, office, Duration::from_secs(3600)).await
    }

    /// A server whose report summaries are folded every `fold_interval`.
    /// The others fold once an hour — in effect never, so a test that
    /// compares every table before and after a request is not disturbed by
    /// a fold in between; the reports read the deltas either way.
    pub async fn start_folding(
        rules: RulesConfig,
        sweep_interval: Duration,
        office: sentra_office::OfficeConfig,
        fold_interval: Duration,
    ) -> Server {
        Server::start_config(
            rules,
            sweep_interval,
            office,
            fold_interval,
            Default::default(),
        )
        .await
    }

    /// A server with these request limits.
    pub async fn start_limited(limits: sentra_sync::http::listen::Limits) -> Server {
        Server::start_config(
            default_rules(),
            Duration::from_secs(3600),
            Default::default(),
            Duration::from_secs(3600),
            limits,
        )
        .await
    }

    async fn start_config(
        rules: RulesConfig,
        sweep_interval: Duration,
        office: sentra_office::OfficeConfig,
        fold_interval: Duration,
        limits: sentra_sync::http::listen::Limits,
    ) -> Server {
        let db = tokio::task::spawn_blocking(|| {
            sentra_pg_harness::database_for_test_from_template("sync", &migrated_template()?)
        })
        .await
        .expect("join")
        .expect("test database");
        let config = ServeConfig {
            database_url: db.url.clone(),
            listen: "127.0.0.1:0".parse().expect("addr"),
            max_connections: 20,
            rules,
            sweep_interval,
            fold_interval,
            shutdown_grace: Duration::from_secs(10),
            limits,
            office,
        };
        let running = sentra_sync::http::start(&config)
            .await
            .expect("server starts");
        let url = format!("http://{}", running.addr);
        let http = reqwest::Client::new();
        // Readiness: poll /health, never a fixed sleep.
        let mut ready = false;
        for _ in 0..200 {
            if let Ok(r) = http.get(format!("{url}/health")).send().await
                && r.status().is_success()
            {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert!(ready, "server never became healthy");
        let pool = sentra_sync::db::connect(&db.url, 16).await.expect("pool");
        Server {
            url,
            pool,
            http,
            running: Some(running),
            _db: db,
        }
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await.expect("clean stop");
        }
    }

    pub async fn branch(&self, code: &str) -> i32 {
        sentra_sync::admin::branch::create(
            &self.pool,
            code,
            &format!("Branch {code}"),
            "Asia/Jakarta",
        )
        .await
        .expect("branch")
        .branch_id
    }

    pub async fn code(&self, branch: &str, kind: DeviceKind) -> String {
        sentra_sync::admin::enroll_code::create(&self.pool, branch, kind, Duration::from_secs(600))
            .await
            .expect("enroll code")
    }

    /// POST with the protocol header; returns status and JSON body.
    pub async fn post(&self, path: &str, credential: Option<&str>, body: String) -> (u16, Value) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.url))
            .header(PROTOCOL_HEADER, "1")
            .header("content-type", "application/json")
            .body(body);
        if let Some(c) = credential {
            req = req.bearer_auth(c);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, json)
    }

    /// GET with the protocol header; returns status and JSON body.
    pub async fn get(&self, path: &str, credential: &str) -> (u16, Value) {
        let resp = self
            .http
            .get(format!("{}{path}", self.url))
            .header(PROTOCOL_HEADER, "1")
            .bearer_auth(credential)
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, json)
    }

    /// Enrolls a new device of `branch` with its own key; panics on refusal.
    pub async fn enroll(&self, branch: &str, kind: DeviceKind, seed: u8) -> Device {
        let code = self.code(branch, kind).await;
        let key = SigningKey::from_bytes(&[seed; 32]);
        let device_id = Uuid::now_v7();
        let body = serde_json::json!({
            "code": code,
            "name": format!("device {seed}"),
            "public_key": hex::encode(key.verifying_key().as_bytes()),
            "device_id": device_id,
        });
        let (status, json) = self.post("/v1/enroll", None, body.to_string()).await;
        assert_eq!(status, 200, "enroll: {json}");
        let r: EnrollResponse = serde_json::from_value(json).expect("enroll response");
        assert_eq!(r.device_id, device_id);
        Device {
            key,
            device_id,
            branch: branch.to_owned(),
            credential: r.credential,
            relay_credential: r.relay_credential.unwrap_or_default(),
            seq: 0,
            prev: Hash::ZERO,
            wall_ms: now_ms(),
            counter: 0,
        }
    }

    /// Pushes `entries` with `credential`; returns status and body.
    pub async fn push(
        &self,
        credential: &str,
        entries: &[Entry],
        sent_at_ms: Option<u64>,
    ) -> (u16, Value) {
        let mut body = serde_json::json!({ "entries": entries });
        if let Some(s) = sent_at_ms {
            body["sent_at_ms"] = s.into();
        }
        self.post("/v1/push", Some(credential), body.to_string())
            .await
    }

    /// Every row of every table except the migrations bookkeeping, as text,
    /// sorted: compare before and after to prove nothing changed. Leaves out
    /// `device_activity`, which records that a device called (and the seqs
    /// it showed) whether or not its push was taken.
    pub async fn snapshot(&self) -> BTreeMap<String, Vec<String>> {
        self.snapshot_except(&["device_activity"]).await
    }

    pub async fn snapshot_except(&self, skip: &[&str]) -> BTreeMap<String, Vec<String>> {
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
               AND c.relname <> '_sqlx_migrations' ORDER BY 1",
        )
        .fetch_all(&self.pool)
        .await
        .expect("tables");
        let mut out = BTreeMap::new();
        for t in tables {
            if skip.contains(&t.as_str()) {
                continue;
            }
            let mut rows: Vec<String> =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT t::text FROM {t} t")))
                    .fetch_all(&self.pool)
                    .await
                    .expect("rows");
            rows.sort();
            out.insert(t, rows);
        }
        out
    }

    /// `GET /metrics`: the OpenMetrics text.
    pub async fn metrics_text(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text")
    }

    pub async fn count(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.pool)
            .await
            .expect("count")
    }

    pub async fn conflicts(&self, kind: &str) -> Vec<Value> {
        sqlx::query_scalar(
            "SELECT jsonb_build_object('device_id', device_id, 'seq', seq, 'entry_id', entry_id,
                 'details', details, 'resolved', resolved_at IS NOT NULL)
             FROM conflicts WHERE kind = $1 ORDER BY raised_at, seq",
        )
        .bind(kind)
        .fetch_all(&self.pool)
        .await
        .expect("conflicts")
    }
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64
}

/// A device that signs entries: its key, chain tip and clock.
#[derive(Clone)]
pub struct Device {
    pub key: SigningKey,
    pub device_id: Uuid,
    pub branch: String,
    pub credential: String,
    /// What a terminal presents to its branch relay (empty for a relay).
    pub relay_credential: String,
    pub seq: u64,
    pub prev: Hash,
    pub wall_ms: u64,
    pub counter: u32,
}

impl Device {
    /// A device with a key the cloud never saw (not enrolled).
    pub fn unenrolled(branch: &str, seed: u8) -> Device {
        Device {
            key: SigningKey::from_bytes(&[seed; 32]),
            device_id: Uuid::now_v7(),
            branch: branch.to_owned(),
            credential: "not-a-credential".into(),
            relay_credential: "not-a-credential".into(),
            seq: 0,
            prev: Hash::ZERO,
            wall_ms: now_ms(),
            counter: 0,
        }
    }

    /// The next entry of this device's chain, with a raw kind and payload.
    pub fn raw(&mut self, kind: EntryKind, payload: Value) -> Entry {
        self.raw_with_id(Uuid::now_v7(), kind, payload)
    }

    /// The next entry of this device's chain, under entry id `id`.
    pub fn raw_with_id(&mut self, id: Uuid, kind: EntryKind, payload: Value) -> Entry {
        self.counter += 1;
        self.seq += 1;
        let e = UnsignedEntry {
            id,
            branch: self.branch.clone(),
            device_id: self.device_id,
            seq: self.seq,
            hlc: Hlc {
                wall_ms: self.wall_ms,
                counter: self.counter,
            },
            kind,
            payload,
            prev_hash: self.prev,
        }
        .sign(&self.key)
        .expect("sign");
        self.prev = e.hash;
        e
    }

    pub fn entry<P: EntryPayload + serde::Serialize>(&mut self, p: &P) -> Entry {
        self.raw(P::kind(), encode_payload(p).expect("payload"))
    }
}

/// A consistent cash sale (tax inclusive at 11 %): `lines` are
/// `(sku, quantity_milli, unit_price)`; paid exactly.
pub fn sale(receipt: &str, shift: Uuid, lines: &[(&str, i64, i64)]) -> SaleCompleted {
    sale_with(receipt, shift, lines, "cash", None)
}

pub fn sale_with(
    receipt: &str,
    shift: Uuid,
    lines: &[(&str, i64, i64)],
    method: &str,
    reference: Option<&str>,
) -> SaleCompleted {
    let lines: Vec<SaleLine> = lines
        .iter()
        .enumerate()
        .map(|(i, (sku, q, price))| {
            let gross = price * q / 1000;
            let tax = gross * 11 / 111;
            SaleLine {
                line_no: i as u32 + 1,
                sku: (*sku).to_owned(),
                name: format!("Item {sku}"),
                quantity_milli: *q,
                unit_price: *price,
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
    let gross: i64 = lines.iter().map(|l| l.gross).sum();
    let tax: i64 = lines.iter().map(|l| l.tax).sum();
    SaleCompleted {
        receipt_no: receipt.to_owned(),
        shift_id: shift,
        currency: "IDR".into(),
        tax_mode: "inclusive".into(),
        lines,
        cart_discount: None,
        gross,
        discounts: 0,
        tax,
        total: gross,
        tenders: vec![TenderRecord {
            method: method.into(),
            amount: gross,
            reference: reference.map(str::to_owned),
        }],
        paid: gross,
        change: 0,
        cashier: Some("Siti".into()),
        discount_approved_by: None,
    }
}

/// A refund of the whole `sale`, paid back by `method`.
pub fn full_refund(
    no: &str,
    sale: &SaleCompleted,
    sale_id: Uuid,
    shift: Uuid,
    method: &str,
) -> RefundIssued {
    RefundIssued {
        refund_no: no.into(),
        receipt_no: sale.receipt_no.clone(),
        sale_entry_id: Some(sale_id),
        shift_id: shift,
        lines: sale
            .lines
            .iter()
            .map(|l| RefundLine {
                line_no: l.line_no,
                sku: l.sku.clone(),
                quantity_milli: l.quantity_milli,
                amount: l.total,
                tax: l.tax,
            })
            .collect(),
        total: sale.total,
        tax: sale.tax,
        method: method.into(),
        reason: None,
        unverified: false,
    }
}
