//! Pull (`GET /v1/pull`) and the master-data admin commands, against a real
//! PostgreSQL (the throwaway cluster, or `DATABASE_URL`) and the real server
//! over real HTTP.
//!
//! The pull horizon is the oldest transaction running anywhere on the
//! PostgreSQL server, so a test's own write can become pullable a moment
//! after it commits when another test holds a transaction open meanwhile:
//! tests that expect changes pull until they have them (with a deadline).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use sentra_protocol::wire::{Change, DeviceKind, ErrorBody, PullResponse};
use sentra_sync::admin::{self, AdminError};
use serde_json::{Value, json};

use pull_common::{Env, by_entity};

use crate::common;

/// Helpers of this file, over the shared server of `tests/server/common`.
mod pull_common {
    use super::common::Server;
    use std::path::PathBuf;
    use std::time::{Duration, Instant};

    use ed25519_dalek::SigningKey;
    use sentra_protocol::wire::{
        Change, DeviceKind, EnrollResponse, PROTOCOL_HEADER, PullResponse,
    };
    use serde_json::Value;

    /// How long a test waits for its changes to become pullable.
    pub const PULL_DEADLINE: Duration = Duration::from_secs(60);

    /// The shared test server, plus a directory for catalog files.
    pub struct Env {
        server: Server,
        pub dir: tempfile::TempDir,
    }

    impl std::ops::Deref for Env {
        type Target = Server;
        fn deref(&self) -> &Server {
            &self.server
        }
    }

    pub struct Device {
        pub device_id: uuid::Uuid,
        pub public_key: String,
        pub credential: String,
    }

    impl Env {
        pub async fn start() -> Env {
            Env {
                server: Server::start().await,
                dir: tempfile::tempdir().expect("temp dir"),
            }
        }

        pub async fn stop(self) {
            self.server.stop().await;
        }

        pub async fn branch(&self, code: &str, name: &str) {
            sentra_sync::admin::branch::create(&self.pool, code, name, "Asia/Jakarta")
                .await
                .expect("branch");
        }

        /// Enrolls a device of `branch` with the key of seed `seed`.
        pub async fn enroll(&self, branch: &str, kind: DeviceKind, seed: u8) -> Device {
            let code = sentra_sync::admin::enroll_code::create(
                &self.pool,
                branch,
                kind,
                Duration::from_secs(600),
            )
            .await
            .expect("enroll code");
            let public_key = hex::encode(
                SigningKey::from_bytes(&[seed; 32])
                    .verifying_key()
                    .as_bytes(),
            );
            let resp = self
                .http
                .post(format!("{}/v1/enroll", self.url))
                .header(PROTOCOL_HEADER, "1")
                .json(&serde_json::json!({
                    "code": code,
                    "name": format!("Till {seed}"),
                    "public_key": public_key,
                }))
                .send()
                .await
                .expect("enroll request");
            assert_eq!(resp.status(), 200, "enroll");
            let r: EnrollResponse = resp.json().await.expect("enroll response");
            Device {
                device_id: r.device_id,
                public_key,
                credential: r.credential,
            }
        }

        /// `GET /v1/pull?{query}`: status and JSON body.
        pub async fn get_pull(&self, credential: Option<&str>, query: &str) -> (u16, Value) {
            let mut req = self
                .http
                .get(format!("{}/v1/pull?{query}", self.url))
                .header(PROTOCOL_HEADER, "1");
            if let Some(c) = credential {
                req = req.bearer_auth(c);
            }
            let resp = req.send().await.expect("pull request");
            let status = resp.status().as_u16();
            let text = resp.text().await.expect("pull body");
            let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
            (status, json)
        }

        /// One page; panics unless 200.
        pub async fn pull(&self, device: &Device, cursor: &str, limit: u32) -> PullResponse {
            let query = format!("cursor={cursor}&limit={limit}");
            let (status, json) = self.get_pull(Some(&device.credential), &query).await;
            assert_eq!(status, 200, "pull: {json}");
            let page: PullResponse = serde_json::from_value(json).expect("pull response");
            assert!(page.changes.len() <= limit as usize, "page over the limit");
            if page.more {
                assert_eq!(page.changes.len(), limit as usize, "`more` on a short page");
            }
            if page.changes.is_empty() && cursor.is_empty() {
                assert!(
                    page.next_cursor.starts_with("v2.") && page.next_cursor.ends_with(".0.0"),
                    "an empty page from the start: {}",
                    page.next_cursor
                );
            } else if page.changes.is_empty() && cursor.starts_with("v2.") {
                assert_eq!(page.next_cursor, cursor);
            }
            page
        }

        /// Pulls from `cursor` in pages of `limit` until `done` holds for all
        /// the changes pulled and no more are ready. Returns the changes, the
        /// last cursor and the pages.
        pub async fn pull_until(
            &self,
            device: &Device,
            cursor: &str,
            limit: u32,
            done: impl Fn(&[Change]) -> bool,
        ) -> (Vec<Change>, String, Vec<PullResponse>) {
            let deadline = Instant::now() + PULL_DEADLINE;
            let mut cursor = cursor.to_owned();
            let mut changes = Vec::new();
            let mut pages = Vec::new();
            loop {
                let page = self.pull(device, &cursor, limit).await;
                changes.extend(page.changes.iter().cloned());
                cursor = page.next_cursor.clone();
                let more = page.more;
                pages.push(page);
                if !more {
                    if done(&changes) {
                        return (changes, cursor, pages);
                    }
                    assert!(
                        Instant::now() < deadline,
                        "changes never became pullable; got {changes:#?}"
                    );
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }

        pub fn csv(&self, name: &str, content: &str) -> PathBuf {
            let path = self.dir.path().join(name);
            std::fs::write(&path, content).expect("write csv");
            path
        }

        /// Every row of `table` as JSON, in a stable order.
        pub async fn rows(&self, table: &str) -> Vec<Value> {
            // `table` is one of this file's literal table names.
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT to_jsonb(t) FROM {table} t ORDER BY to_jsonb(t)::text"
            )))
            .fetch_all(&self.pool)
            .await
            .expect("rows")
        }
    }

    /// The changes of one entity, by key, the last change of a key winning.
    pub fn by_entity<'a>(changes: &'a [Change], entity: &str) -> Vec<(&'a str, &'a Change)> {
        let mut latest: Vec<(&str, &Change)> = Vec::new();
        for c in changes.iter().filter(|c| c.entity == entity) {
            latest.retain(|(k, _)| *k != c.key);
            latest.push((&c.key, c));
        }
        latest
    }
}

fn has(changes: &[Change], entity: &str, key: &str) -> bool {
    changes.iter().any(|c| c.entity == entity && c.key == key)
}

fn data<'a>(changes: &'a [Change], entity: &str, key: &str) -> &'a Value {
    &by_entity(changes, entity)
        .into_iter()
        .find(|(k, _)| *k == key)
        .unwrap_or_else(|| panic!("no {entity} {key} in {changes:#?}"))
        .1
        .data
}

const CATALOG: &str = "sku,barcode,name,price,tax_category,stock
TEH1,8991|8992,Teh Botol,5000,standard,24
BER5,8993,Beras 5kg,72000,exempt,10.5
KTG,,Kantong,500,standard,
";

fn fields(v: &Value) -> BTreeSet<&str> {
    v.as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect()
}

fn set(names: &[&'static str]) -> BTreeSet<&'static str> {
    names.iter().copied().collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn pull_gives_each_branch_its_master_data_in_pages() {
    let env = Env::start().await;
    env.branch("JKT01", "Jakarta Satu").await;
    env.branch("SBY02", "Surabaya Dua").await;
    let till = env.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let relay = env.enroll("JKT01", DeviceKind::Relay, 2).await;
    let other = env.enroll("SBY02", DeviceKind::Terminal, 3).await;

    let file = env.csv("catalog.csv", CATALOG);
    let summary = admin::catalog::import(&env.pool, &file, Some("JKT01"))
        .await
        .expect("import");
    assert_eq!(
        (summary.products, summary.prices, summary.stock_levels),
        (3, 3, 2)
    );
    let from = Utc
        .with_ymd_and_hms(2031, 1, 2, 3, 4, 5)
        .single()
        .expect("time")
        + chrono::Duration::milliseconds(678);
    let jkt_price = admin::prices::set(&env.pool, "TEH1", 5500, Some("JKT01"), Some(from))
        .await
        .expect("branch price");
    let sby_price = admin::prices::set(&env.pool, "TEH1", 6000, Some("SBY02"), None)
        .await
        .expect("other branch price");
    let siti = admin::users::add(&env.pool, Some("JKT01"), "Siti", "1234", "cashier")
        .await
        .expect("user");
    let budi = admin::users::add(&env.pool, None, "Budi", "98765432", "supervisor")
        .await
        .expect("user");
    let andi = admin::users::add(&env.pool, Some("SBY02"), "Andi", "5555", "cashier")
        .await
        .expect("user");

    let till_id = till.device_id.to_string();
    let relay_id = relay.device_id.to_string();
    let jkt_price_key = jkt_price.to_string();
    let (siti_key, budi_key) = (siti.to_string(), budi.to_string());
    let everything = |c: &[Change]| {
        ["TEH1", "BER5", "KTG"].iter().all(|k| has(c, "product", k))
            && has(c, "price", &jkt_price_key)
            && by_entity(c, "price").len() == 4
            && has(c, "user", &siti_key)
            && has(c, "user", &budi_key)
            && has(c, "tax", "standard")
            && has(c, "tax", "exempt")
            && has(c, "branch_settings", "JKT01")
            && has(c, "device", &till_id)
            && has(c, "device", &relay_id)
    };
    let (changes, _, pages) = env.pull_until(&till, "", 3, everything).await;
    assert!(
        pages.len() >= 5,
        "3 per page over {} changes",
        changes.len()
    );
    // A full page says there is more. (Not necessarily the first page: a
    // transaction open in a concurrent test holds the server-wide horizon,
    // and a page cut short by it rightly says "pull again later". This
    // assertion on `pages[0]` failed 1 run in 6 under load.)
    assert!(pages.iter().all(|p| p.changes.len() <= 3));
    assert!(
        pages.iter().any(|p| p.more && p.changes.len() == 3),
        "no full page said more: {:?}",
        pages
            .iter()
            .map(|p| (p.changes.len(), p.more))
            .collect::<Vec<_>>()
    );

    // Products: no price, no stock (those are separate entities / the ledger).
    assert_eq!(
        *data(&changes, "product", "TEH1"),
        json!({"sku": "TEH1", "name": "Teh Botol", "barcodes": ["8991", "8992"],
               "tax_category": "standard", "active": true, "category": null, "unit": "unit"})
    );
    assert_eq!(data(&changes, "product", "KTG")["barcodes"], json!([]));

    // Prices: chain-wide from the import, and this branch's own, with times.
    let prices = by_entity(&changes, "price");
    assert_eq!(prices.len(), 4, "3 chain-wide + JKT01's; never SBY02's");
    assert!(!has(&changes, "price", &sby_price.to_string()));
    let p = data(&changes, "price", &jkt_price_key);
    assert_eq!(
        fields(p),
        set(&["price_id", "sku", "branch", "price", "effective_from"])
    );
    assert_eq!(
        (p["sku"].clone(), p["branch"].clone(), p["price"].clone()),
        (json!("TEH1"), json!("JKT01"), json!(5500))
    );
    assert_eq!(p["price_id"], json!(jkt_price));
    let effective: DateTime<Utc> = p["effective_from"]
        .as_str()
        .expect("text")
        .parse()
        .expect("RFC 3339");
    assert_eq!(effective, from);
    assert_eq!(p["effective_from"], json!("2031-01-02T03:04:05.678Z"));
    for (_, c) in prices.iter().filter(|(k, _)| *k != jkt_price_key) {
        assert_eq!(c.data["branch"], Value::Null);
        let at: DateTime<Utc> = c.data["effective_from"]
            .as_str()
            .expect("text")
            .parse()
            .expect("RFC 3339");
        assert!(
            (Utc::now() - at).num_minutes().abs() < 10,
            "imported prices take effect now"
        );
    }

    // Users: a PIN hash, never the PIN; this branch's and chain-wide ones.
    let s = data(&changes, "user", &siti_key);
    assert_eq!(
        fields(s),
        set(&["user_id", "branch", "name", "role", "pin_hash", "active"])
    );
    assert_eq!(
        (
            s["name"].clone(),
            s["branch"].clone(),
            s["role"].clone(),
            s["active"].clone()
        ),
        (json!("Siti"), json!("JKT01"), json!("cashier"), json!(true))
    );
    let hash = s["pin_hash"].as_str().expect("text");
    assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
    assert_ne!(hash, "1234");
    let b = data(&changes, "user", &budi_key);
    assert_eq!(
        (b["branch"].clone(), b["role"].clone()),
        (Value::Null, json!("supervisor"))
    );
    assert!(!has(&changes, "user", &andi.to_string()));

    // Tax rates: Indonesia's defaults (the effective percent the tills
    // compute with; PMK 131/2024's classes, docs/money.md).
    assert_eq!(
        *data(&changes, "tax", "standard"),
        json!({"category": "standard", "rate": "11"})
    );
    assert_eq!(
        *data(&changes, "tax", "exempt"),
        json!({"category": "exempt", "rate": "0"})
    );

    // Branch settings: this branch's only.
    assert_eq!(
        *data(&changes, "branch_settings", "JKT01"),
        json!({"branch": "JKT01", "name": "Jakarta Satu", "timezone": "Asia/Jakarta",
               "currency": "IDR", "tax_mode": "inclusive", "receipt_header": "Jakarta Satu",
               "legal_name": null, "store_name": "Jakarta Satu", "address": null, "npwp": null,
               "receipt_footer": null, "supervisor_discount_pct": null,
               "tenders": ["cash", "card", "qris", "voucher"], "receipt_language": "id",
               "scale_labels": [{"prefix": "20", "item_digits": 5, "embeds": "weight"}]})
    );
    assert_eq!(by_entity(&changes, "branch_settings").len(), 1);

    // Devices: this branch's keys, for relays to verify signatures.
    let devices = by_entity(&changes, "device");
    assert_eq!(devices.len(), 2);
    let r = data(&changes, "device", &relay_id);
    assert_eq!(
        *r,
        json!({"device_id": relay_id, "branch": "JKT01", "kind": "relay", "name": "Till 2",
               "public_key": relay.public_key, "revoked": false, "revoked_at": null})
    );
    assert_eq!(
        data(&changes, "device", &till_id)["public_key"],
        json!(till.public_key)
    );

    // Nothing of the other branch, and no credential anywhere.
    let all = serde_json::to_string(&changes).expect("json");
    assert!(
        !all.contains("SBY02") && !all.contains("Surabaya"),
        "other branch leaked"
    );
    assert!(!all.contains(&other.device_id.to_string()));
    assert!(!all.contains("credential") && !all.contains(&till.credential));
    assert!(changes.iter().all(|c| !c.deleted));

    // One big page gives the same changes in the same order.
    let (one, _, _) = env.pull_until(&till, "", 1000, everything).await;
    assert_eq!(one[..changes.len()], changes[..]);

    // The other branch sees its own, and none of JKT01's.
    let andi_key = andi.to_string();
    let sby_key = sby_price.to_string();
    let other_id = other.device_id.to_string();
    let (theirs, _, _) = env
        .pull_until(&other, "", 1000, |c| {
            has(c, "user", &andi_key)
                && has(c, "price", &sby_key)
                && has(c, "branch_settings", "SBY02")
                && has(c, "device", &other_id)
        })
        .await;
    let all = serde_json::to_string(&theirs).expect("json");
    assert!(
        !all.contains("JKT01") && !all.contains("Jakarta Satu"),
        "JKT01 leaked: {all}"
    );
    assert!(!has(&theirs, "user", &siti_key) && has(&theirs, "user", &budi_key));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn updates_and_revocations_reach_the_puller_and_unchanged_writes_add_nothing() {
    let env = Env::start().await;
    env.branch("JKT01", "Jakarta Satu").await;
    let till = env.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let relay = env.enroll("JKT01", DeviceKind::Relay, 2).await;
    let file = env.csv("catalog.csv", CATALOG);
    admin::catalog::import(&env.pool, &file, Some("JKT01"))
        .await
        .expect("import");
    let relay_id = relay.device_id.to_string();
    let (_, cursor, _) = env
        .pull_until(&till, "", 500, |c| {
            has(c, "product", "KTG") && has(c, "device", &relay_id)
        })
        .await;

    // The same file again: nothing a terminal sees changed.
    let again = admin::catalog::import(&env.pool, &file, None)
        .await
        .expect("re-import");
    assert_eq!(
        (again.products, again.prices, again.stock_levels),
        (3, 0, 0)
    );
    // A fork flag on a device is not pulled; a revocation is.
    sqlx::query("UPDATE devices SET flagged_at = now(), flag_reason = 'fork' WHERE device_id = $1")
        .bind(till.device_id)
        .execute(&env.pool)
        .await
        .expect("flag");
    admin::devices::revoke(&env.pool, relay.device_id)
        .await
        .expect("revoke");
    let changed = env.csv(
        "changed.csv",
        "sku,barcode,name,price,tax_category,stock\nKTG,777,Kantong Besar,700,standard,\n",
    );
    admin::catalog::import(&env.pool, &changed, None)
        .await
        .expect("import");
    sqlx::query("DELETE FROM prices WHERE sku = 'BER5'")
        .execute(&env.pool)
        .await
        .expect("delete");

    let (changes, _, _) = env
        .pull_until(&till, &cursor, 500, |c| {
            by_entity(c, "price").iter().any(|(_, p)| p.deleted)
        })
        .await;
    let kinds: Vec<(&str, bool)> = changes
        .iter()
        .map(|c| (c.entity.as_str(), c.deleted))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("device", false),
            ("product", false),
            ("price", false),
            ("price", true)
        ],
        "{changes:#?}"
    );
    assert_eq!(changes[0].key, relay_id);
    assert_eq!(changes[0].data["revoked"], json!(true));
    let at: DateTime<Utc> = changes[0].data["revoked_at"]
        .as_str()
        .expect("time")
        .parse()
        .expect("RFC 3339");
    assert!((Utc::now() - at).num_minutes().abs() < 10);
    assert_eq!(changes[1].data["name"], json!("Kantong Besar"));
    assert_eq!(changes[1].data["barcodes"], json!(["777"]));
    assert_eq!(changes[2].data["price"], json!(700));
    assert_eq!(changes[3].data, Value::Null);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_the_documented_error_body() {
    let env = Env::start().await;
    env.branch("JKT01", "Jakarta Satu").await;
    let till = env.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let cred = Some(till.credential.as_str());

    for query in [
        "cursor=garbage",
        "cursor=v2.1.1",
        "cursor=v1.1",
        "cursor=v1.01.1",
        "cursor=v1.-1.1",
        "cursor=v1.1.1.1",
        "cursor=v1.18446744073709551616.1",
        // Ahead of every transaction the server has run.
        "cursor=v1.999999999999.1",
        "limit=0",
        "limit=1001",
        "limit=abc",
        "limit=-5",
    ] {
        let (status, json) = env.get_pull(cred, query).await;
        assert_eq!(status, 400, "{query}: {json}");
        let body: ErrorBody = serde_json::from_value(json.clone()).expect("an ErrorBody");
        assert_eq!(body.error, "malformed_request", "{query}");
        assert!(!body.retryable, "{query}");
        let about = if query.starts_with("cursor") {
            "cursor"
        } else {
            "limit"
        };
        assert!(body.message.contains(about), "{query}: {}", body.message);
    }

    let (status, json) = env.get_pull(None, "").await;
    assert_eq!(status, 401);
    assert_eq!(json["error"], json!("unauthorized"));
    let (status, json) = env.get_pull(Some("not-a-credential"), "").await;
    assert_eq!(
        (status, json["error"].clone()),
        (401, json!("unauthorized"))
    );
    let resp = env
        .http
        .get(format!("{}/v1/pull", env.url))
        .bearer_auth(&till.credential)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 400);
    let body: ErrorBody = resp.json().await.expect("an ErrorBody");
    assert_eq!(body.error, "missing_protocol_version");

    // Empty cursor and limit mean "from the start" and the default.
    let (status, json) = env.get_pull(cred, "cursor=&limit=").await;
    assert_eq!(status, 200, "{json}");
    let page: PullResponse = serde_json::from_value(json).expect("page");
    assert!(page.next_cursor.starts_with("v2."));

    admin::devices::revoke(&env.pool, till.device_id)
        .await
        .expect("revoke");
    let (status, json) = env.get_pull(cred, "").await;
    assert_eq!(
        (status, json["error"].clone()),
        (403, json!("device_revoked"))
    );
    env.stop().await;
}

/// The id and transaction of a price's change, as seen by `conn`.
async fn change_of(conn: &mut sqlx::PgConnection, price_id: i64) -> (i64, i64) {
    sqlx::query_as(
        "SELECT change_id, txid::text::bigint FROM pull_changes
         WHERE entity = 'price' AND key = $1::text",
    )
    .bind(price_id)
    .fetch_one(conn)
    .await
    .expect("the price's change")
}

fn price_keys(changes: &[Change]) -> Vec<String> {
    changes
        .iter()
        .filter(|c| c.entity == "price")
        .map(|c| c.key.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_change_that_commits_late_is_never_skipped() {
    let env = Env::start().await;
    env.branch("JKT01", "Jakarta Satu").await;
    let till = env.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let file = env.csv("catalog.csv", CATALOG);
    admin::catalog::import(&env.pool, &file, None)
        .await
        .expect("import");
    let (_, c0, _) = env
        .pull_until(&till, "", 1000, |c| by_entity(c, "price").len() == 3)
        .await;

    // 1. A writes first (smaller xid, smaller change id) and stays open; B
    //    writes after it and commits. A cursor on change ids alone would
    //    hand out B, move past A, and never hand out A.
    let mut a = env.pool.begin().await.expect("begin A");
    let a_price = admin::prices::set_in(&mut a, "TEH1", 1111, None, None)
        .await
        .expect("A sets a price");
    let b_price = admin::prices::set(&env.pool, "TEH1", 2222, None, None)
        .await
        .expect("B sets a price");
    let (a_change, a_txid) = change_of(&mut a, a_price).await;
    let mut conn = env.pool.acquire().await.expect("conn");
    let (b_change, b_txid) = change_of(&mut conn, b_price).await;
    assert!(a_change < b_change && a_txid < b_txid);

    let mut c1 = c0.clone();
    for _ in 0..3 {
        let page = env.pull(&till, &c1, 1000).await;
        assert!(
            price_keys(&page.changes).is_empty(),
            "nothing at or after A's transaction while A is open: {:?}",
            page.changes
        );
        c1 = page.next_cursor;
    }
    a.commit().await.expect("commit A");
    let (a_key, b_key) = (a_price.to_string(), b_price.to_string());
    let (changes, c2, _) = env
        .pull_until(&till, &c1, 1000, |c| has(c, "price", &b_key))
        .await;
    assert_eq!(
        price_keys(&changes),
        vec![a_key, b_key],
        "A then B, each once"
    );
    assert_eq!(
        data(&changes, "price", &a_price.to_string())["price"],
        json!(1111)
    );

    // 2. C takes its transaction id first but writes last; D writes and
    //    commits in between. D's change id is smaller, yet D is held back
    //    until C is done, and C comes first (transaction order).
    let mut c = env.pool.begin().await.expect("begin C");
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *c)
        .await
        .expect("C takes its xid");
    let d_price = admin::prices::set(&env.pool, "BER5", 3333, None, None)
        .await
        .expect("D");
    let page = env.pull(&till, &c2, 1000).await;
    assert!(
        price_keys(&page.changes).is_empty(),
        "D waits for C: {:?}",
        page.changes
    );
    let c3 = page.next_cursor;
    let c_price = admin::prices::set_in(&mut c, "BER5", 4444, None, None)
        .await
        .expect("C");
    let (c_change, c_txid) = change_of(&mut c, c_price).await;
    let (d_change, d_txid) = change_of(&mut conn, d_price).await;
    assert!(c_change > d_change && c_txid < d_txid);
    let page = env.pull(&till, &c3, 1000).await;
    assert!(
        price_keys(&page.changes).is_empty(),
        "C still open: {:?}",
        page.changes
    );
    c.commit().await.expect("commit C");
    let d_key = d_price.to_string();
    let (changes, _, _) = env
        .pull_until(&till, &page.next_cursor, 1000, |ch| {
            has(ch, "price", &d_key)
        })
        .await;
    assert_eq!(price_keys(&changes), vec![c_price.to_string(), d_key]);

    // 3. A rolled-back write is never handed out, and holds nothing back
    //    once it is gone.
    let mut r = env.pool.begin().await.expect("begin R");
    let r_price = admin::prices::set_in(&mut r, "KTG", 5, None, None)
        .await
        .expect("R");
    let e_price = admin::prices::set(&env.pool, "KTG", 6, None, None)
        .await
        .expect("E");
    r.rollback().await.expect("roll back R");
    let e_key = e_price.to_string();
    let (changes, _, _) = env
        .pull_until(&till, &c3, 1000, |ch| has(ch, "price", &e_key))
        .await;
    assert!(!has(&changes, "price", &r_price.to_string()));
    drop(conn);
    env.stop().await;
}

/// xorshift64*: enough randomness for delays and choices, reproducible from
/// the seed the test prints.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Committed,
    RolledBack,
    OtherBranch,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_every_committed_change_is_pulled_exactly_once() {
    const WRITERS: u64 = 8;
    const WRITES: u64 = 15;
    let seed = std::env::var("PULL_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        });
    eprintln!("PULL_TEST_SEED={seed}");

    let env = Env::start().await;
    env.branch("JKT01", "Jakarta Satu").await;
    env.branch("SBY02", "Surabaya Dua").await;
    let till = env.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let file = env.csv("catalog.csv", CATALOG);
    admin::catalog::import(&env.pool, &file, None)
        .await
        .expect("import");
    let (initial, mut cursor, _) = env
        .pull_until(&till, "", 1000, |c| by_entity(c, "price").len() == 3)
        .await;
    let mut seen: HashMap<String, u32> = HashMap::new();
    for k in price_keys(&initial) {
        *seen.entry(k).or_default() += 1;
    }

    let done = Arc::new(AtomicBool::new(false));
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..WRITERS {
        let pool = env.pool.clone();
        let mut rng = Rng(seed.wrapping_add(w.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1);
        writers.spawn(async move {
            let mut fates = Vec::new();
            for _ in 0..WRITES {
                let sku = ["TEH1", "BER5", "KTG"][rng.below(3) as usize];
                let fate = match rng.below(10) {
                    0 | 1 => Fate::RolledBack,
                    2 => Fate::OtherBranch,
                    _ => Fate::Committed,
                };
                let branch = (fate == Fate::OtherBranch).then_some("SBY02");
                let mut tx = pool.begin().await.expect("begin");
                if rng.below(2) == 0 {
                    // Take the transaction id before a pause, then write.
                    sqlx::query("SELECT pg_current_xact_id()")
                        .execute(&mut *tx)
                        .await
                        .expect("xid");
                    tokio::time::sleep(Duration::from_millis(rng.below(8))).await;
                }
                let id =
                    admin::prices::set_in(&mut tx, sku, rng.below(100_000) as i64, branch, None)
                        .await
                        .expect("set price");
                tokio::time::sleep(Duration::from_millis(rng.below(15))).await;
                if fate == Fate::RolledBack {
                    tx.rollback().await.expect("rollback");
                } else {
                    tx.commit().await.expect("commit");
                }
                fates.push((id, fate));
            }
            fates
        });
    }
    let waiter = {
        let done = done.clone();
        tokio::spawn(async move {
            let mut fates = Vec::new();
            while let Some(r) = writers.join_next().await {
                fates.extend(r.expect("writer"));
            }
            done.store(true, Ordering::SeqCst);
            fates
        })
    };

    // Pull in small pages while the writers run, then until every committed
    // change has come.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let mut waiter = Some(waiter);
    let mut fates: Option<Vec<(i64, Fate)>> = None;
    let mut pages_while_writing = 0u32;
    loop {
        let page = env.pull(&till, &cursor, 7).await;
        if fates.is_none() {
            pages_while_writing += 1;
        }
        assert!(
            page.changes.iter().all(|c| c.entity == "price"),
            "{:?}",
            page.changes
        );
        for k in price_keys(&page.changes) {
            *seen.entry(k).or_default() += 1;
        }
        cursor = page.next_cursor;
        if page.more {
            continue;
        }
        if fates.is_none() && done.load(Ordering::SeqCst) {
            let w = waiter.take().expect("the writers' waiter");
            fates = Some(w.await.expect("writers"));
        }
        if let Some(f) = &fates
            && f.iter()
                .all(|(id, fate)| *fate != Fate::Committed || seen.contains_key(&id.to_string()))
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "seed {seed}: committed changes never pulled"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let fates = fates.expect("fates");
    assert_eq!(fates.len() as u64, WRITERS * WRITES);
    let mut committed = 0;
    for (id, fate) in &fates {
        let n = seen.get(&id.to_string()).copied().unwrap_or(0);
        match fate {
            Fate::Committed => {
                committed += 1;
                assert_eq!(n, 1, "seed {seed}: price {id} pulled {n} times");
            }
            Fate::RolledBack | Fate::OtherBranch => {
                assert_eq!(n, 0, "seed {seed}: price {id} ({fate:?}) was pulled");
            }
        }
    }
    assert!(
        seen.values().all(|n| *n == 1),
        "seed {seed}: duplicates {seen:?}"
    );
    assert_eq!(seen.len(), 3 + committed, "seed {seed}: unexpected changes");
    assert!(
        pages_while_writing > 1,
        "the puller ran alongside the writers"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn catalog_import_is_all_or_nothing_and_names_the_line() {
    let env = Env::start().await;
    env.branch("JKT01", "Jakarta Satu").await;
    let first = env.csv("first.csv", CATALOG);
    admin::catalog::import(&env.pool, &first, Some("JKT01"))
        .await
        .expect("import");
    let mut stock = env.rows("stock_levels").await;
    // The writer's transaction id (for `GET /v1/stock`) is not compared.
    for row in &mut stock {
        row.as_object_mut().map(|r| r.remove("changed_txid"));
    }
    // An imported figure is a count: the items are tracked (generation 1).
    assert_eq!(
        stock,
        vec![
            json!({"branch_id": 1, "sku": "BER5", "on_hand_milli": 10500, "count_generation": 1}),
            json!({"branch_id": 1, "sku": "TEH1", "on_hand_milli": 24000, "count_generation": 1}),
        ]
    );
    let tables = ["products", "prices", "stock_levels", "pull_changes"];
    let mut before = Vec::new();
    for t in tables {
        before.push(env.rows(t).await);
    }

    // Line 2 is fine (and would change things), line 3 is not.
    let bad = env.csv(
        "bad.csv",
        "sku,barcode,name,price,tax_category,stock\nTEH1,8991,Teh Manis,5200,standard,30\nNEW1,555,Baru,12x,standard,1\n",
    );
    let err = admin::catalog::import(&env.pool, &bad, Some("JKT01"))
        .await
        .expect_err("refused");
    assert!(matches!(err, AdminError::Invalid(_)));
    let text = err.to_string();
    assert!(
        text.contains("bad.csv") && text.contains("line 3"),
        "{text}"
    );
    assert!(text.contains("price \"12x\""), "{text}");

    // A barcode another product keeps: found only against the database.
    let clash = env.csv(
        "clash.csv",
        "sku,barcode,name,price,tax_category,stock\nNEW1,555,Baru,100,standard,1\nNEW2,8993,Lain,100,standard,1\n",
    );
    let text = admin::catalog::import(&env.pool, &clash, Some("JKT01"))
        .await
        .expect_err("refused")
        .to_string();
    assert!(
        text.contains("line 3: barcode 8993 already belongs to product BER5"),
        "{text}"
    );
    let unknown = env.csv(
        "tax.csv",
        "sku,barcode,name,price,tax_category,stock\nNEW1,,Baru,1,perhiasan,\n",
    );
    let text = admin::catalog::import(&env.pool, &unknown, None)
        .await
        .expect_err("refused")
        .to_string();
    assert!(
        text.contains("line 2: tax category \"perhiasan\" is unknown"),
        "{text}"
    );
    let err = admin::catalog::import(&env.pool, &first, Some("NOPE"))
        .await
        .expect_err("no branch");
    assert!(matches!(err, AdminError::NotFound(_)), "{err}");
    let err = admin::catalog::import(&env.pool, &env.dir.path().join("missing.csv"), None)
        .await
        .expect_err("no file");
    assert!(err.to_string().contains("missing.csv"), "{err}");

    for (t, rows) in tables.iter().zip(&before) {
        assert_eq!(&env.rows(t).await, rows, "{t} changed by a refused import");
    }

    // Stock again: the level is set and the count generation moves on.
    let moved = env.csv(
        "moved.csv",
        "sku,barcode,name,price,tax_category,stock\nTEH1,8991|8992,Teh Botol,5000,standard,7.25\n",
    );
    let s = admin::catalog::import(&env.pool, &moved, Some("JKT01"))
        .await
        .expect("import");
    assert_eq!((s.products, s.prices, s.stock_levels), (1, 0, 1));
    let teh: (i64, i64) = sqlx::query_as(
        "SELECT on_hand_milli, count_generation FROM stock_levels WHERE sku = 'TEH1'",
    )
    .fetch_one(&env.pool)
    .await
    .expect("level");
    assert_eq!(teh, (7250, 2), "generation 1 at the first import, 2 now");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn user_add_refuses_bad_pins_roles_and_branches() {
    let env = Env::start().await;
    env.branch("JKT01", "Jakarta Satu").await;
    for (pin, role, branch) in [
        ("123", "cashier", Some("JKT01")),
        ("123456789", "cashier", None),
        ("12a4", "cashier", None),
        ("1234", "manager", None),
    ] {
        let err = admin::users::add(&env.pool, branch, "Siti", pin, role)
            .await
            .expect_err("refused");
        assert!(matches!(err, AdminError::Invalid(_)), "{err}");
        let text = err.to_string();
        if role == "cashier" {
            assert!(text.contains("PIN must be 4 to 8 digits"), "{text}");
            assert!(!text.contains(pin), "the PIN is not echoed: {text}");
        } else {
            assert!(text.contains("role"), "{text}");
        }
    }
    let err = admin::users::add(&env.pool, Some("NOPE"), "Siti", "1234", "cashier")
        .await
        .expect_err("no branch");
    assert!(matches!(err, AdminError::NotFound(_)), "{err}");
    assert!(env.rows("cashiers").await.is_empty());

    let id = admin::users::add(&env.pool, Some("JKT01"), "  Siti  ", "004200", "supervisor")
        .await
        .expect("user");
    let (name, role, hash): (String, String, String) =
        sqlx::query_as("SELECT name, role, pin_hash FROM cashiers WHERE user_id = $1")
            .bind(id)
            .fetch_one(&env.pool)
            .await
            .expect("row");
    assert_eq!((name.as_str(), role.as_str()), ("Siti", "supervisor"));
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn price_set_refuses_unknown_skus_negative_prices_and_unknown_branches() {
    let env = Env::start().await;
    env.branch("JKT01", "Jakarta Satu").await;
    let err = admin::prices::set(&env.pool, "GHOST", 1000, None, None)
        .await
        .expect_err("unknown sku");
    assert!(matches!(err, AdminError::Invalid(_)));
    assert!(
        err.to_string().contains("no product has SKU \"GHOST\""),
        "{err}"
    );
    let file = env.csv("catalog.csv", CATALOG);
    admin::catalog::import(&env.pool, &file, None)
        .await
        .expect("import");
    let before = env.rows("prices").await;
    let err = admin::prices::set(&env.pool, "TEH1", -1, None, None)
        .await
        .expect_err("negative");
    assert!(err.to_string().contains("negative"), "{err}");
    let err = admin::prices::set(&env.pool, "TEH1", 1, Some("NOPE"), None)
        .await
        .expect_err("no branch");
    assert!(matches!(err, AdminError::NotFound(_)), "{err}");
    assert_eq!(env.rows("prices").await, before);
    admin::prices::set(&env.pool, "TEH1", 0, Some("JKT01"), None)
        .await
        .expect("a free item is allowed");
    env.stop().await;
}

// ------------------------------------------------------------ stock levels

/// `GET /v1/stock` pages from `cursor` (limit `limit`) until `done` holds
/// for the levels gathered and no more are ready; every page verified as
/// the cloud signed it for `branch`. Returns the levels (later pages win),
/// the last cursor and the pages.
async fn stock_until(
    env: &Env,
    credential: &str,
    branch: &str,
    cursor: &str,
    limit: u32,
    done: impl Fn(&HashMap<String, sentra_protocol::wire::StockLevel>) -> bool,
) -> (
    HashMap<String, sentra_protocol::wire::StockLevel>,
    String,
    Vec<sentra_protocol::wire::StockPage>,
) {
    let key = sentra_sync::master_key::load_or_create(&env.pool)
        .await
        .expect("master key")
        .verifying_key();
    let deadline = std::time::Instant::now() + pull_common::PULL_DEADLINE;
    let mut cursor = cursor.to_owned();
    let mut levels = HashMap::new();
    let mut pages = Vec::new();
    loop {
        let (status, json) = env
            .get(
                &format!("/v1/stock?cursor={cursor}&limit={limit}"),
                credential,
            )
            .await;
        assert_eq!(status, 200, "stock: {json}");
        let page: sentra_protocol::wire::StockPage =
            serde_json::from_value(json).expect("stock page");
        sentra_protocol::master::verify_stock_page(&page, &key, branch).expect("signed page");
        assert!(page.levels.len() <= limit as usize, "page over the limit");
        for l in &page.levels {
            levels.insert(l.sku.clone(), l.clone());
        }
        cursor = page.next_cursor.clone();
        let more = page.more;
        pages.push(page);
        if !more && done(&levels) {
            return (levels, cursor, pages);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "stock levels did not arrive: {levels:?}"
        );
        if !more {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn stock_levels_reach_the_tills_with_the_tips_they_include() {
    use sentra_protocol::payload::ShiftOpened;

    let env = Env::start().await;
    env.branch("JKT01", "Jakarta Satu").await;
    env.branch("SBY02", "Surabaya Dua").await;
    let file = env.csv("catalog.csv", CATALOG);
    admin::catalog::import(&env.pool, &file, Some("JKT01"))
        .await
        .expect("import");
    let server: &common::Server = &env;
    let mut till = server.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let other = server.enroll("SBY02", DeviceKind::Terminal, 2).await;

    // From the start, in pages of one: every imported level, tracked.
    let (levels, c1, pages) =
        stock_until(&env, &till.credential, "JKT01", "", 1, |l| l.len() == 2).await;
    assert!(pages.len() >= 2, "pages of one level each");
    assert_eq!(levels["TEH1"].on_hand_milli, 24_000);
    assert_eq!(levels["BER5"].on_hand_milli, 10_500);
    assert!(levels.values().all(|l| l.tracked));
    assert!(
        !levels.contains_key("KTG"),
        "no stock column value: no level"
    );

    // An altered page does not verify.
    let mut forged = pages[0].clone();
    forged.levels[0].on_hand_milli += 1000;
    let key = sentra_sync::master_key::load_or_create(&env.pool)
        .await
        .expect("key")
        .verifying_key();
    assert!(sentra_protocol::master::verify_stock_page(&forged, &key, "JKT01").is_err());
    assert!(sentra_protocol::master::verify_stock_page(&pages[0], &key, "SBY02").is_err());

    // A sale of 2 TEH1: only that level comes again, with the till's tip.
    let shift = uuid::Uuid::now_v7();
    let open = till.entry(&ShiftOpened {
        shift_id: shift,
        opening_float: 0,
        cashier: None,
    });
    let sold = till.entry(&common::sale("R-1", shift, &[("TEH1", 2000, 5000)]));
    let (status, body) = server.push(&till.credential, &[open, sold], None).await;
    assert_eq!(status, 200, "{body}");
    let (levels, c2, pages) = stock_until(&env, &till.credential, "JKT01", &c1, 1000, |l| {
        l.contains_key("TEH1")
    })
    .await;
    assert_eq!(levels.len(), 1, "only the level that moved: {levels:?}");
    assert_eq!(levels["TEH1"].on_hand_milli, 22_000);
    let last = pages.last().expect("a page");
    let tip = last
        .device_tips
        .iter()
        .find(|t| t.device_id == till.device_id)
        .expect("the till's tip");
    assert_eq!(
        tip.seq, 2,
        "the level includes the till's entries up to seq 2"
    );

    // Nothing new: an empty page, the cursor unchanged.
    let (status, json) = env
        .get(&format!("/v1/stock?cursor={c2}"), &till.credential)
        .await;
    assert_eq!(status, 200);
    assert_eq!(json["levels"], json!([]));
    assert_eq!(json["next_cursor"], json!(c2));

    // Another branch sees none of these levels.
    let (theirs, _, _) = stock_until(&env, &other.credential, "SBY02", "", 1000, |_| true).await;
    assert!(theirs.is_empty(), "{theirs:?}");

    // Cursors and limits it did not issue are refused, saying why.
    for bad in ["cursor=v1.1.1", "cursor=s1.01", "limit=0", "limit=5001"] {
        let (status, json) = env.get(&format!("/v1/stock?{bad}"), &till.credential).await;
        assert_eq!(status, 400, "{bad}: {json}");
        assert_eq!(json["error"], "malformed_request", "{bad}");
    }

    // A level written by a transaction that commits late is never skipped:
    // A writes first and stays open, B writes after it and commits; B is
    // held back until A is done, then both come.
    let mut a = env.pool.begin().await.expect("begin A");
    sqlx::query("UPDATE stock_levels SET on_hand_milli = on_hand_milli + 1000 WHERE sku = 'BER5'")
        .execute(&mut *a)
        .await
        .expect("A writes");
    sqlx::query("UPDATE stock_levels SET on_hand_milli = on_hand_milli + 1000 WHERE sku = 'TEH1'")
        .execute(&env.pool)
        .await
        .expect("B writes and commits");
    let mut c3 = c2.clone();
    for _ in 0..3 {
        let (status, json) = env
            .get(&format!("/v1/stock?cursor={c3}"), &till.credential)
            .await;
        assert_eq!(status, 200);
        assert_eq!(json["levels"], json!([]), "nothing after A while A is open");
        c3 = json["next_cursor"].as_str().expect("cursor").to_owned();
    }
    a.commit().await.expect("commit A");
    let (levels, _, _) =
        stock_until(&env, &till.credential, "JKT01", &c3, 1000, |l| l.len() == 2).await;
    assert_eq!(levels["BER5"].on_hand_milli, 11_500);
    assert_eq!(levels["TEH1"].on_hand_milli, 23_000);
    env.stop().await;
}
