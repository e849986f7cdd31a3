//! Error codes of `docs/sync-protocol.md` ("Transport, versions, errors")
//! and quarantine reasons that no other test provoked: each is made to
//! happen for real and answers as the document says; a refusal changes
//! nothing.

use crate::common;

use std::time::Duration;

use common::{Server, now_ms, quarantined_in, sale};
use ed25519_dalek::SigningKey;
use sentra_protocol::payload::ShiftOpened;
use sentra_protocol::wire::{DeviceKind, PushResponse};
use sentra_protocol::{EntryKind, encode_payload};
use serde_json::{Value, json};
use uuid::Uuid;

fn refused(status: u16, body: &Value, want_status: u16, want_code: &str, retryable: bool) {
    assert_eq!(status, want_status, "status for {want_code}: {body}");
    assert_eq!(body["error"], want_code, "{body}");
    assert_eq!(body["retryable"], retryable, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

/// A shift opened with no float, the first entry of a till's day.
fn shift_opened(shift_id: Uuid) -> ShiftOpened {
    ShiftOpened {
        shift_id,
        opening_float: 0,
        cashier: None,
    }
}

fn enroll_body(code: &str, key: &SigningKey, device_id: Uuid) -> String {
    json!({
        "code": code,
        "name": "till",
        "public_key": hex::encode(key.verifying_key().as_bytes()),
        "device_id": device_id,
    })
    .to_string()
}

// protocol: error conflict
/// A device id or a public key already enrolled is a `409 conflict`; the
/// code it came with is not used up.
#[tokio::test]
async fn a_device_id_or_key_enrolled_twice_is_a_conflict_and_the_code_stays_usable() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    let first = s.enroll("JKT01", DeviceKind::Terminal, 7).await;
    let code = s.code("JKT01", DeviceKind::Terminal).await;
    let before = s.snapshot().await;

    let (status, body) = s
        .post(
            "/v1/enroll",
            None,
            enroll_body(&code, &first.key, Uuid::now_v7()),
        )
        .await;
    refused(status, &body, 409, "conflict", false);
    let other_key = SigningKey::from_bytes(&[8; 32]);
    let (status, body) = s
        .post(
            "/v1/enroll",
            None,
            enroll_body(&code, &other_key, first.device_id),
        )
        .await;
    refused(status, &body, 409, "conflict", false);
    assert_eq!(
        s.snapshot().await,
        before,
        "a refused enrollment changes nothing"
    );

    let (status, body) = s
        .post(
            "/v1/enroll",
            None,
            enroll_body(&code, &other_key, Uuid::now_v7()),
        )
        .await;
    assert_eq!(status, 200, "the code still enrolls a new device: {body}");
}

// protocol: error forbidden
/// A terminal's credential on an endpoint for relays only is `403 forbidden`.
#[tokio::test]
async fn a_terminal_asking_for_the_relays_device_list_is_forbidden() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    let t = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let (status, body) = s.get("/v1/relay/devices", &t.credential).await;
    refused(status, &body, 403, "forbidden", false);
}

// protocol: error timeout
/// A push that runs past the request timeout (here: its chain tips locked
/// by someone else) is answered `503 timeout`, retryable, and rolls back
/// whole: the same push afterwards stores it once.
#[tokio::test]
async fn a_push_past_the_request_timeout_is_a_retryable_timeout_and_rolls_back() {
    let limits = sentra_sync::http::listen::Limits {
        request_timeout: Duration::from_secs(1),
        ..Default::default()
    };
    let s = Server::start_limited(limits).await;
    s.branch("JKT01").await;
    let mut t = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let entries = vec![t.entry(&shift_opened(Uuid::now_v7()))];

    let mut blocker = s.pool.begin().await.expect("begin");
    sqlx::query("LOCK TABLE device_heads IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *blocker)
        .await
        .expect("lock");
    let (status, body) = s.push(&t.credential, &entries, Some(now_ms())).await;
    refused(status, &body, 503, "timeout", true);
    blocker.rollback().await.expect("release");

    let journal = "SELECT count(*) FROM journal";
    assert_eq!(s.count(journal).await, 0, "the cut-off push left nothing");
    let (status, body) = s.push(&t.credential, &entries, Some(now_ms())).await;
    assert_eq!(status, 200, "{body}");
    let r: PushResponse = serde_json::from_value(body).expect("push response");
    assert_eq!(r.stored, 1);
    assert_eq!(s.count(journal).await, 1);
}

// protocol: error unavailable
/// A database that cannot take writes — a standby not yet promoted, which
/// is read-only — is `503 unavailable`, retryable; the push is stored once
/// the database takes writes again.
#[tokio::test]
async fn a_read_only_database_is_unavailable_and_the_push_lands_afterwards() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    let mut t = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let entries = vec![t.entry(&shift_opened(Uuid::now_v7()))];

    // One session of our own, opened before and never ended, to turn the
    // database read-only and back (a read-only session could not).
    let mut admin = s.pool.acquire().await.expect("admin session");
    set_read_only(&mut admin, true).await;
    let (status, body) = s.push(&t.credential, &entries, Some(now_ms())).await;
    refused(status, &body, 503, "unavailable", true);

    set_read_only(&mut admin, false).await;
    let journal = "SELECT count(*) FROM journal";
    assert_eq!(s.count(journal).await, 0, "nothing was written meanwhile");
    // The server's pool finds its ended sessions and opens new ones.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = s.push(&t.credential, &entries, Some(now_ms())).await;
        if status == 200 {
            let r: PushResponse = serde_json::from_value(body).expect("push response");
            assert_eq!(r.stored, 1);
            break;
        }
        refused(status, &body, 503, "unavailable", true);
        assert!(
            std::time::Instant::now() < deadline,
            "still unavailable after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(s.count(journal).await, 1);
}

/// New sessions of the test's database are read-only (or not), and every
/// other open session is ended, as a failover ends them.
async fn set_read_only(admin: &mut sqlx::PgConnection, read_only: bool) {
    let db: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&mut *admin)
        .await
        .expect("database");
    let setting = if read_only { "on" } else { "off" };
    // The database's own name, from the server; the setting is a literal.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE \"{db}\" SET default_transaction_read_only = {setting}"
    )))
    .execute(&mut *admin)
    .await
    .expect("alter database");
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .execute(&mut *admin)
    .await
    .expect("terminate");
}

// protocol: error internal
/// A fault on the server's side — here a branch whose time zone was
/// corrupted in the database — is `500 internal`, retryable (the same
/// request may succeed once it is mended), and changes nothing.
#[tokio::test]
async fn a_server_side_fault_is_a_retryable_internal_error_that_changes_nothing() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    let mut t = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let entries = vec![t.entry(&shift_opened(Uuid::now_v7()))];
    sqlx::query("UPDATE branches SET timezone = 'Mars/Olympus_Mons' WHERE code = 'JKT01'")
        .execute(&s.pool)
        .await
        .expect("corrupt the time zone");
    let before = s.snapshot().await;
    let (status, body) = s.push(&t.credential, &entries, Some(now_ms())).await;
    refused(status, &body, 500, "internal", true);
    assert_eq!(s.snapshot().await, before, "a refused push changes nothing");

    sqlx::query("UPDATE branches SET timezone = 'Asia/Jakarta' WHERE code = 'JKT01'")
        .execute(&s.pool)
        .await
        .expect("mend the time zone");
    let (status, body) = s.push(&t.credential, &entries, Some(now_ms())).await;
    assert_eq!(status, 200, "{body}");
}

// protocol: quarantine duplicate_entry_id
/// A sale under an entry id that another sale already holds (a device that
/// reused an id) is stored and acknowledged but quarantined
/// `duplicate_entry_id`; the first sale stays as it was.
#[tokio::test]
async fn a_sale_reusing_another_sales_entry_id_is_quarantined_duplicate_entry_id() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    let mut a = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let mut b = s.enroll("JKT01", DeviceKind::Terminal, 2).await;
    let (shift_a, shift_b) = (Uuid::now_v7(), Uuid::now_v7());

    let first = vec![
        a.entry(&shift_opened(shift_a)),
        a.entry(&sale(
            "JKT01-T01-000001",
            shift_a,
            &[("RICE5", 1000, 10_000)],
        )),
    ];
    let (status, body) = s.push(&a.credential, &first, Some(now_ms())).await;
    assert_eq!(status, 200, "{body}");
    let held_id = first[1].id;
    let before: Vec<String> = sqlx::query_scalar("SELECT row_to_json(s)::text FROM sales s")
        .fetch_all(&s.pool)
        .await
        .expect("sales");

    let open_b = b.entry(&shift_opened(shift_b));
    let reused = b.raw_with_id(
        held_id,
        EntryKind::SaleCompleted,
        encode_payload(&sale(
            "JKT01-T02-000001",
            shift_b,
            &[("RICE5", 2000, 10_000)],
        ))
        .expect("payload"),
    );
    let second = vec![open_b, reused];
    let (status, body) = s.push(&b.credential, &second, Some(now_ms())).await;
    assert_eq!(status, 200, "{body}");
    let r: PushResponse = serde_json::from_value(body).expect("push response");
    assert_eq!(r.stored, 2, "stored and acknowledged");
    let q = quarantined_in(&r);
    assert_eq!(q.len(), 1, "{q:?}");
    assert_eq!(q[0].0, second[1].seq);
    assert!(
        q[0].1.starts_with("duplicate_entry_id: "),
        "the reason's code: {q:?}"
    );
    let after: Vec<String> = sqlx::query_scalar("SELECT row_to_json(s)::text FROM sales s")
        .fetch_all(&s.pool)
        .await
        .expect("sales");
    assert_eq!(after, before, "the first sale stays as it was");
}
