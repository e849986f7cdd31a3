//! The relay over real HTTP, between terminals (signed entries from the
//! test's devices) and the real cloud server on a throwaway PostgreSQL.
//! The end-to-end tests with the real binaries are in the workspace's
//! `tests/` package.
#![allow(clippy::unwrap_used)]

use crate::common;

use std::time::Duration;

use common::{Device, Server};
use sentra_protocol::wire::{
    DeviceKind, HeadResponse, PROTOCOL_HEADER, PullResponse, PushResponse, UplinkState,
};
use sentra_protocol::{Entry, EntryKind};
use sentra_sync::relay::identity::KeyChoice;
use sentra_sync::relay::{RelayConfig, RelayRunning};
use serde_json::{Value, json};
use uuid::Uuid;

struct Relay {
    running: RelayRunning,
    url: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
    _keys: tempfile::TempDir,
}

/// A relay enrolled with `code`, its data and key in temp dirs of its own.
async fn start_relay(cloud: &Server, code: String) -> Relay {
    start_relay_refreshing(cloud, code, Duration::from_millis(200)).await
}

/// As [`start_relay`], refreshing its device list and cache every `every`.
async fn start_relay_refreshing(cloud: &Server, code: String, every: Duration) -> Relay {
    let dir = tempfile::tempdir().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let mut config = RelayConfig::new(
        dir.path().to_owned(),
        cloud.url.clone(),
        "127.0.0.1:0".parse().unwrap(),
    );
    config.enroll_code = Some(code);
    config.keys = KeyChoice {
        store: Some(sentra_keystore::KeyStoreKind::File),
        file: Some(keys.path().join("relay.key")),
    };
    config.refresh_interval = every;
    let running = sentra_sync::relay::start(&config).await.unwrap();
    let url = format!("http://{}", running.addr);
    Relay {
        running,
        url,
        http: reqwest::Client::new(),
        _dir: dir,
        _keys: keys,
    }
}

impl Relay {
    async fn get(&self, path: &str, credential: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.url))
            .header(PROTOCOL_HEADER, "1")
            .bearer_auth(credential)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn push(&self, credential: &str, entries: &[Entry]) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}/v1/push", self.url))
            .header(PROTOCOL_HEADER, "1")
            .bearer_auth(credential)
            .json(&json!({ "entries": entries }))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

fn note(d: &mut Device, n: i64) -> Entry {
    d.raw(EntryKind::Other("note".into()), json!({ "n": n }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_pushed_to_the_relay_reach_the_cloud_and_the_acks_come_back() {
    let cloud = Server::start().await;
    cloud.branch("JKT01").await;
    let code = cloud.code("JKT01", DeviceKind::Relay).await;
    let relay = start_relay(&cloud, code).await;
    let mut t = cloud.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let batch: Vec<Entry> = (1..=20).map(|n| note(&mut t, n)).collect();

    let (status, body) = relay.push(&t.relay_credential, &batch).await;
    assert_eq!(status, 200, "{body}");
    let r: PushResponse = serde_json::from_value(body).unwrap();
    assert_eq!(r.stored, 20);
    assert_eq!(r.acks[0].acked_seq, 20);

    let (status, body) = relay
        .get("/v1/head?wait_for=20&wait_ms=5000", &t.relay_credential)
        .await;
    assert_eq!(status, 200, "{body}");
    let h: HeadResponse = serde_json::from_value(body).unwrap();
    assert_eq!((h.acked_seq, h.cloud_acked_seq), (20, Some(20)));
    assert_eq!(h.uplink, Some(UplinkState::Up));
    assert_eq!(cloud.count("SELECT count(*) FROM journal").await, 20);
    // A replay through the relay changes nothing anywhere.
    let (_, body) = relay.push(&t.relay_credential, &batch).await;
    let r: PushResponse = serde_json::from_value(body).unwrap();
    assert_eq!((r.stored, r.duplicates), (0, 20));
    assert_eq!(cloud.count("SELECT count(*) FROM journal").await, 20);

    let health: Value = relay
        .http
        .get(format!("{}/health", relay.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["branch"], "JKT01");
    assert_eq!(health["pending_entries"], 0);
    let metrics = relay
        .http
        .get(format!("{}/metrics", relay.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("sentra_relay_entries_received_total 20"),
        "{metrics}"
    );
    relay.running.stop().await.unwrap();
}

// protocol: error unknown_to_relay
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_of_another_branch_is_refused_and_pull_serves_the_branch_data() {
    let cloud = Server::start().await;
    cloud.branch("JKT01").await;
    cloud.branch("BDG01").await;
    let code = cloud.code("JKT01", DeviceKind::Relay).await;
    let relay = start_relay(&cloud, code).await;
    let mut foreign = cloud.enroll("BDG01", DeviceKind::Terminal, 5).await;
    let e = note(&mut foreign, 1);
    let (status, body) = relay.push(&foreign.relay_credential, &[e]).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "unknown_to_relay");
    assert_eq!(body["details"]["branch"], "JKT01");

    let t = cloud.enroll("JKT01", DeviceKind::Terminal, 6).await;
    let csv = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        csv.path(),
        "sku,barcode,name,price,tax_category,stock\nRICE,899100000001,Beras 5kg,14000,standard,10\n",
    )
    .unwrap();
    sentra_sync::admin::catalog::import(&cloud.pool, csv.path(), None)
        .await
        .unwrap();
    sentra_sync::admin::prices::set(&cloud.pool, "RICE", 15_000, None, None)
        .await
        .unwrap_or_else(|e| panic!("price: {e}"));
    // The cloud hands out only changes of transactions older than the
    // oldest one running anywhere on its PostgreSQL (docs/sync-protocol.md,
    // "The cursor"): a concurrent test's transaction on the shared cluster
    // can hold the price back for a moment. Pull on until it arrives.
    let mut cursor = String::new();
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !seen
        .iter()
        .any(|c: &sentra_protocol::wire::Change| c.entity == "price" && c.data["price"] == 15_000)
    {
        assert!(std::time::Instant::now() < deadline, "{seen:?}");
        let (status, body) = relay
            .get(&format!("/v1/pull?cursor={cursor}"), &t.relay_credential)
            .await;
        assert_eq!(status, 200, "{body}");
        let page: PullResponse = serde_json::from_value(body).unwrap();
        assert!(page.next_cursor.starts_with("r1."));
        cursor = page.next_cursor;
        seen.extend(page.changes);
    }
    // The cursor moves on: nothing new since.
    let (_, body) = relay
        .get(&format!("/v1/pull?cursor={cursor}"), &t.relay_credential)
        .await;
    let next: PullResponse = serde_json::from_value(body).unwrap();
    assert!(next.changes.is_empty());
    relay.running.stop().await.unwrap();
}

/// Found while writing the HTTP mutator (`tests/fuzz_http.rs`, whose
/// "nothing stored, no table changed" property it breaks): a batch naming a
/// device the relay did not know was received, the device list refreshed,
/// and the batch received again — so the answer counted the entries the
/// first pass stored as duplicates (`stored: 0`), and neither the metrics
/// nor the forwarder heard of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_naming_an_unknown_device_reports_what_it_stored() {
    let cloud = Server::start().await;
    cloud.branch("JKT01").await;
    let code = cloud.code("JKT01", DeviceKind::Relay).await;
    let relay = start_relay(&cloud, code).await;
    let mut t = cloud.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let mut stranger = Device::unenrolled("JKT01", 2);
    let batch = [note(&mut t, 1), note(&mut stranger, 1)];

    let (status, body) = relay.push(&t.relay_credential, &batch).await;
    assert_eq!(status, 200, "{body}");
    let r: PushResponse = serde_json::from_value(body).unwrap();
    assert_eq!((r.stored, r.duplicates), (1, 0), "{r:?}");
    assert_eq!(r.refused.len(), 1);
    assert_eq!(r.refused[0].reason.code(), "unknown_device");
    let metrics = relay
        .http
        .get(format!("{}/metrics", relay.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("sentra_relay_entries_received_total 1"),
        "{metrics}"
    );
    relay.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_to_the_relay_get_clear_errors_and_change_nothing() {
    let cloud = Server::start().await;
    cloud.branch("JKT01").await;
    let code = cloud.code("JKT01", DeviceKind::Relay).await;
    let relay = start_relay(&cloud, code).await;
    let mut t = cloud.enroll("JKT01", DeviceKind::Terminal, 1).await;

    // No credential, a credential nobody issued.
    let (status, body) = relay.push("", &[note(&mut t.clone(), 1)]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("unauthorized"))
    );
    let (status, body) = relay.get("/v1/pull", "0000").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("unknown_to_relay"))
    );

    // Cursors and numbers the relay never issued.
    for path in [
        "/v1/pull?cursor=v1.5.5",
        "/v1/pull?cursor=r1.x",
        "/v1/pull?limit=0",
        "/v1/pull?limit=100000",
        "/v1/head?wait_for=-1",
        "/v1/head?wait_ms=soon",
    ] {
        let (status, body) = relay.get(path, &t.relay_credential).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["error"], "malformed_request", "{path}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }

    // Not JSON; too many entries; no protocol header.
    let r = relay
        .http
        .post(format!("{}/v1/push", relay.url))
        .header(PROTOCOL_HEADER, "1")
        .bearer_auth(&t.relay_credential)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let e = note(&mut t, 1);
    let many = vec![e.clone(); sentra_protocol::wire::MAX_PUSH_ENTRIES + 1];
    let (status, body) = relay.push(&t.relay_credential, &many).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (413, Some("batch_too_large"))
    );
    let r = relay
        .http
        .get(format!("{}/v1/pull", relay.url))
        .bearer_auth(&t.relay_credential)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);

    // Nothing of that was stored; a good push still works.
    let health: Value = relay
        .http
        .get(format!("{}/health", relay.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["pending_entries"], 0);
    let (status, body) = relay.push(&t.relay_credential, &[e]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["stored"], 1);
    relay.running.stop().await.unwrap();
}

/// Regression: an on-demand device-list refresh was skipped when another had
/// run less than 20 ms before, even if that one began before the new device
/// was enrolled — a terminal enrolled right after another's first push was
/// refused `unknown_to_relay`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminals_enrolled_one_right_after_another_are_all_known_at_once() {
    let cloud = Server::start().await;
    cloud.branch("JKT01").await;
    let code = cloud.code("JKT01", DeviceKind::Relay).await;
    let relay = start_relay(&cloud, code).await;
    for seed in 10..18 {
        let mut t = cloud.enroll("JKT01", DeviceKind::Terminal, seed).await;
        let e = note(&mut t, 1);
        let (status, body) = relay.push(&t.relay_credential, &[e]).await;
        assert_eq!(status, 200, "terminal {seed}: {body}");
    }
    relay.running.stop().await.unwrap();
}

/// Defect: the relay filled each forward batch from the lowest device id, so
/// a device the cloud refuses with ≥ a batch of entries pending starved every
/// other device of its branch for ever. Now each device gets a fair share,
/// and a refused one is parked (on `/health`, `/metrics` and in its head).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_device_with_a_backlog_does_not_hold_up_the_rest_of_the_branch() {
    let cloud = Server::start().await;
    cloud.branch("JKT01").await;
    let code = cloud.code("JKT01", DeviceKind::Relay).await;
    // The relay must not hear of the revocation before it holds the backlog
    // (its first refresh is done when it starts; no other comes).
    let relay = start_relay_refreshing(&cloud, code, Duration::from_secs(3600)).await;

    // A enrolled first: the lower device id, first in every old batch.
    let mut a = cloud.enroll("JKT01", DeviceKind::Terminal, 21).await;
    let mut b = cloud.enroll("JKT01", DeviceKind::Terminal, 22).await;
    assert!(a.device_id < b.device_id);
    let first = note(&mut a, 0);
    let (status, body) = relay.push(&a.relay_credential, &[first]).await;
    assert_eq!(status, 200, "{body}");
    sentra_sync::admin::devices::revoke(&cloud.pool, a.device_id)
        .await
        .unwrap();
    for chunk in 0..2 {
        let batch: Vec<Entry> = (0..550).map(|n| note(&mut a, chunk * 550 + n)).collect();
        let (status, body) = relay.push(&a.relay_credential, &batch).await;
        assert_eq!(status, 200, "{body}");
    }

    let batch: Vec<Entry> = (1..=5).map(|n| note(&mut b, n)).collect();
    let (status, body) = relay.push(&b.relay_credential, &batch).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = relay
        .get("/v1/head?wait_for=5&wait_ms=10000", &b.relay_credential)
        .await;
    assert_eq!(status, 200, "{body}");
    let h: HeadResponse = serde_json::from_value(body).unwrap();
    assert_eq!(
        h.cloud_acked_seq,
        Some(5),
        "B's sales reached the cloud: {h:?}"
    );
    assert_eq!(h.parked, None);

    // A is parked, and says so everywhere an operator or its till looks.
    let (status, body) = relay.get("/v1/head", &a.relay_credential).await;
    assert_eq!(status, 200, "{body}");
    let h: HeadResponse = serde_json::from_value(body).unwrap();
    assert_eq!(h.acked_seq, 1101);
    assert!(
        h.parked
            .as_deref()
            .is_some_and(|p| p.starts_with("device_revoked")),
        "{h:?}"
    );
    let health: Value = relay
        .http
        .get(format!("{}/health", relay.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let parked = health["parked_devices"].as_array().unwrap();
    assert_eq!(parked.len(), 1, "{health}");
    assert_eq!(parked[0]["device_id"], a.device_id.to_string());
    // Entry 1 may have reached the cloud before the revocation.
    assert_eq!(
        parked[0]["pending_entries"],
        1101 - h.cloud_acked_seq.unwrap_or(0)
    );
    let metrics = relay
        .http
        .get(format!("{}/metrics", relay.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("sentra_relay_parked_devices 1"),
        "{metrics}"
    );
    // More of B's sales keep flowing while A stays parked.
    let batch: Vec<Entry> = (6..=8).map(|n| note(&mut b, n)).collect();
    relay.push(&b.relay_credential, &batch).await;
    let (_, body) = relay
        .get("/v1/head?wait_for=8&wait_ms=10000", &b.relay_credential)
        .await;
    let h: HeadResponse = serde_json::from_value(body).unwrap();
    assert_eq!(h.cloud_acked_seq, Some(8));
    relay.running.stop().await.unwrap();
}

#[test]
fn fair_shares_split_a_batch_between_devices_and_pass_on_what_one_leaves() {
    use sentra_sync::relay::store::fair_shares;
    let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
    assert_eq!(
        fair_shares(&[(a, 5000), (b, 5)], 1000),
        vec![(a, 995), (b, 5)]
    );
    assert_eq!(
        fair_shares(&[(a, 5000), (b, 5000), (c, 5000)], 1000)
            .iter()
            .map(|s| s.1)
            .sum::<usize>(),
        1000
    );
    assert!(
        fair_shares(&[(a, 5000), (b, 5000), (c, 5000)], 1000)
            .iter()
            .all(|s| s.1 >= 333)
    );
    assert_eq!(fair_shares(&[(a, 2), (b, 3)], 1000), vec![(a, 2), (b, 3)]);
    assert_eq!(fair_shares(&[(a, 10), (b, 10), (c, 10)], 2).len(), 2);
    assert!(fair_shares(&[], 1000).is_empty());
}
