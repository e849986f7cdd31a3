//! Bad input, one test each: what the server answers (status and error code,
//! or the per-entry refusal reason) and that it changed nothing it should not
//! have.

use crate::common;

use common::{Device, Server, quarantined_in, sale};
use ed25519_dalek::SigningKey;
use reqwest::header::HeaderMap;
use sentra_protocol::payload::ShiftOpened;
use sentra_protocol::wire::{
    DeviceKind, ErrorBody, MAX_BODY_BYTES, MAX_PUSH_ENTRIES, PROTOCOL_HEADER, PushResponse,
    RefusalReason,
};
use sentra_protocol::{Entry, EntryKind, encode_payload};
use serde_json::{Value, json};
use uuid::Uuid;

// ---- helpers ----------------------------------------------------------------

/// A POST with full control of the protocol header and the Authorization
/// header value; returns status, JSON body (or the text as a string) and the
/// response headers.
async fn post_raw(
    s: &Server,
    path: &str,
    protocol: Option<&str>,
    authorization: Option<&str>,
    body: String,
) -> (u16, Value, HeaderMap) {
    let mut req = s
        .http
        .post(format!("{}{path}", s.url))
        .header("content-type", "application/json")
        .body(body);
    if let Some(p) = protocol {
        req = req.header(PROTOCOL_HEADER, p);
    }
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, json, headers)
}

fn push_body(entries: &[Entry]) -> String {
    json!({ "entries": entries }).to_string()
}

/// A 200 push answer, parsed.
fn accepted(status: u16, body: Value) -> PushResponse {
    assert_eq!(status, 200, "expected a processed push: {body}");
    serde_json::from_value(body).expect("a PushResponse body")
}

/// A refused request: the status, the documented code, and a well-formed
/// `ErrorBody` (not retryable: none of these can succeed as they stand).
fn refused_request(status: u16, body: Value, want_status: u16, want_code: &str) -> ErrorBody {
    assert_eq!(status, want_status, "status for {want_code}: {body}");
    let e: ErrorBody = serde_json::from_value(body.clone()).expect("an ErrorBody");
    assert_eq!(e.error, want_code, "{body}");
    assert!(!e.message.is_empty(), "{body}");
    assert!(!e.retryable, "{want_code} must not be retryable: {body}");
    e
}

/// (device, seq, reason) of every refused entry, in the response's order.
fn refusals(r: &PushResponse) -> Vec<(Uuid, u64, RefusalReason)> {
    r.refused
        .iter()
        .map(|x| (x.device_id, x.seq, x.reason))
        .collect()
}

fn shift_opened(shift: Uuid) -> ShiftOpened {
    ShiftOpened {
        shift_id: shift,
        opening_float: 500_000,
        cashier: Some("Siti".into()),
    }
}

/// Pushes `entries` and asserts they were all stored and acknowledged.
async fn push_all_stored(s: &Server, d: &Device, entries: &[Entry]) -> PushResponse {
    let (status, body) = s.push(&d.credential, entries, None).await;
    let r = accepted(status, body);
    assert_eq!(r.stored, entries.len() as u64, "{r:?}");
    assert!(r.refused.is_empty() && r.quarantined.is_empty(), "{r:?}");
    r
}

async fn ledger(s: &Server, branch: &str) -> sentra_sync::admin::ledger::Ledger {
    sentra_sync::admin::ledger::ledger(&s.pool, branch, None, None)
        .await
        .expect("ledger")
}

/// An enroll body for a fresh key.
fn enroll_body(code: &str, seed: u8) -> String {
    let key = SigningKey::from_bytes(&[seed; 32]);
    json!({
        "code": code,
        "name": format!("till {seed}"),
        "public_key": hex::encode(key.verifying_key().as_bytes()),
        "device_id": Uuid::now_v7(),
    })
    .to_string()
}

// ---- replay, gap, fork ------------------------------------------------------

#[tokio::test]
async fn a_replayed_batch_is_all_duplicates_and_changes_nothing() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    let mut t = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let shift = Uuid::now_v7();
    let entries = vec![
        t.entry(&shift_opened(shift)),
        t.entry(&sale("JKT01-T1-000001", shift, &[("A", 2000, 3500)])),
        t.entry(&sale("JKT01-T1-000002", shift, &[("B", 1000, 4000)])),
        t.entry(&sale(
            "JKT01-T1-000003",
            shift,
            &[("A", 1000, 3500), ("C", 500, 9000)],
        )),
    ];
    let first = push_all_stored(&s, &t, &entries).await;
    assert_eq!(first.acks[0].acked_seq, 4);

    let before = s.snapshot().await;
    // The whole batch again; then a part of it, in reverse order.
    let mut part = entries[1..3].to_vec();
    part.reverse();
    for replay in [entries.clone(), part] {
        let (status, body) = s.push(&t.credential, &replay, Some(common::now_ms())).await;
        let r = accepted(status, body);
        assert_eq!(r.stored, 0, "{r:?}");
        assert_eq!(r.duplicates, replay.len() as u64, "{r:?}");
        assert!(
            r.refused.is_empty() && r.quarantined.is_empty() && r.conflicts.is_empty(),
            "{r:?}"
        );
        assert_eq!(r.acks, first.acks, "the acks moved on a replay");
        assert_eq!(s.snapshot().await, before, "a replay changed a table");
    }
    s.stop().await;
}

#[tokio::test]
async fn a_gap_is_refused_with_the_seq_the_server_expects() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    let mut t = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let shift = Uuid::now_v7();
    let mut chain = vec![t.entry(&shift_opened(shift))];
    for n in 2..=7 {
        chain.push(t.entry(&sale(
            &format!("JKT01-T1-{n:06}"),
            shift,
            &[("A", 1000, 3500)],
        )));
    }
    push_all_stored(&s, &t, &chain[..3]).await;

    let before = s.snapshot().await;
    // Seq 4 is missing: 5, 6, 7.
    let (status, body) = s.push(&t.credential, &chain[4..], None).await;
    let r = accepted(status, body);
    assert_eq!(
        refusals(&r),
        vec![
            (t.device_id, 5, RefusalReason::Gap),
            (t.device_id, 6, RefusalReason::AfterRefused),
            (t.device_id, 7, RefusalReason::AfterRefused),
        ]
    );
    assert_eq!(r.acks.len(), 1);
    assert_eq!(r.acks[0].device_id, t.device_id);
    assert_eq!(r.acks[0].acked_seq, 3);
    assert_eq!(r.acks[0].expected_seq, Some(4));
    assert_eq!((r.stored, r.duplicates), (0, 0));
    assert_eq!(s.snapshot().await, before, "a refused gap changed a table");

    // Filling the gap stores the rest.
    let r = push_all_stored(&s, &t, &chain[3..]).await;
    assert_eq!(r.acks[0].acked_seq, 7);
    assert_eq!(r.acks[0].expected_seq, None);
    s.stop().await;
}

/// The devices table without the review flag columns.
async fn devices_without_flags(s: &Server) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT (device_id, branch_id, kind, name, public_key, credential_hash, enrolled_at,
                 revoked_at)::text
         FROM devices ORDER BY device_id",
    )
    .fetch_all(&s.pool)
    .await
    .expect("devices")
}

#[tokio::test]
async fn a_fork_is_refused_raised_once_and_flags_the_device() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    let mut t = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let shift = Uuid::now_v7();
    let mut held = vec![
        t.entry(&shift_opened(shift)),
        t.entry(&sale("JKT01-T1-000001", shift, &[("A", 1000, 3500)])),
    ];
    // The twin has the same key and chain up to seq 2; both sign a seq 3.
    let mut twin = t.clone();
    held.push(t.entry(&sale("JKT01-T1-000002", shift, &[("A", 2000, 3500)])));
    let forked = twin.entry(&sale("JKT01-T1-000002", shift, &[("B", 1000, 9900)]));
    assert_eq!(forked.seq, 3);
    assert_ne!(forked.hash, held[2].hash);
    forked
        .verify(&t.key.verifying_key())
        .expect("the fork is genuinely signed");
    push_all_stored(&s, &t, &held).await;

    let skip = ["conflicts", "devices"];
    let before = s.snapshot_except(&skip).await;
    let devices_before = devices_without_flags(&s).await;
    assert_eq!(s.count("SELECT count(*) FROM conflicts").await, 0);

    let (status, body) = s
        .push(&t.credential, std::slice::from_ref(&forked), None)
        .await;
    let r = accepted(status, body);
    assert_eq!(refusals(&r), vec![(t.device_id, 3, RefusalReason::Fork)]);
    assert_eq!(r.acks[0].acked_seq, 3, "the held entry stays acknowledged");
    assert_eq!(r.stored, 0);
    assert_eq!(r.conflicts.len(), 1, "{r:?}");
    assert_eq!(r.conflicts[0].kind, "fork");
    assert_eq!(r.conflicts[0].device_id, t.device_id);
    assert_eq!(r.conflicts[0].seq, 3);

    assert_eq!(
        s.snapshot_except(&skip).await,
        before,
        "a fork changed a table"
    );
    assert_eq!(devices_without_flags(&s).await, devices_before);
    let forks = s.conflicts("fork").await;
    assert_eq!(forks.len(), 1, "{forks:?}");
    assert_eq!(s.count("SELECT count(*) FROM conflicts").await, 1);
    assert_eq!(forks[0]["device_id"], json!(t.device_id));
    assert_eq!(forks[0]["seq"], 3);
    assert_eq!(forks[0]["details"]["held_hash"], held[2].hash.to_hex());
    assert_eq!(forks[0]["details"]["received_hash"], forked.hash.to_hex());
    let flag: (Option<chrono::DateTime<chrono::Utc>>, Option<String>) =
        sqlx::query_as("SELECT flagged_at, flag_reason FROM devices WHERE device_id = $1")
            .bind(t.device_id)
            .fetch_one(&s.pool)
            .await
            .expect("device");
    assert!(flag.0.is_some(), "the forked device is flagged for review");
    assert!(flag.1.as_deref().unwrap_or("").contains("fork"), "{flag:?}");

    // The same fork again: refused again, but raised only once.
    let after_first = s.snapshot().await;
    let (status, body) = s
        .push(&t.credential, std::slice::from_ref(&forked), None)
        .await;
    let r = accepted(status, body);
    assert_eq!(refusals(&r), vec![(t.device_id, 3, RefusalReason::Fork)]);
    assert!(r.conflicts.is_empty(), "{r:?}");
    assert_eq!(s.snapshot().await, after_first);
    s.stop().await;
}

// ---- who may push what ------------------------------------------------------

#[tokio::test]
async fn entries_of_another_branch_are_refused_wrong_branch() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    s.branch("BDG01").await;
    let t_jkt = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let relay_jkt = s.enroll("JKT01", DeviceKind::Relay, 2).await;
    let mut t_bdg = s.enroll("BDG01", DeviceKind::Terminal, 3).await;
    let shift = Uuid::now_v7();

    // A JKT01 terminal signs an entry naming branch BDG01.
    let mut mislabelled = t_jkt.clone();
    mislabelled.branch = "BDG01".into();
    let e = mislabelled.entry(&sale("BDG01-T1-000001", shift, &[("A", 1000, 3500)]));
    let bdg = t_bdg.entry(&sale("BDG01-T3-000001", shift, &[("A", 1000, 3500)]));

    let before = s.snapshot().await;
    let (status, body) = s
        .push(&t_jkt.credential, std::slice::from_ref(&e), None)
        .await;
    let r = accepted(status, body);
    assert_eq!(
        refusals(&r),
        vec![(t_jkt.device_id, 1, RefusalReason::WrongBranch)]
    );
    assert_eq!(r.acks[0].acked_seq, 0);
    assert_eq!(r.acks[0].expected_seq, Some(1));
    assert_eq!(r.stored, 0);
    assert_eq!(s.snapshot().await, before);

    // The same entry forwarded by the JKT01 relay.
    let (status, body) = s
        .push(&relay_jkt.credential, std::slice::from_ref(&e), None)
        .await;
    let r = accepted(status, body);
    assert_eq!(
        refusals(&r),
        vec![(t_jkt.device_id, 1, RefusalReason::WrongBranch)]
    );
    assert_eq!(s.snapshot().await, before);

    // The JKT01 relay forwards entries of a device enrolled in BDG01.
    let (status, body) = s
        .push(&relay_jkt.credential, std::slice::from_ref(&bdg), None)
        .await;
    let r = accepted(status, body);
    assert_eq!(
        refusals(&r),
        vec![(t_bdg.device_id, 1, RefusalReason::WrongBranch)]
    );
    assert!(
        r.acks.iter().all(|a| a.device_id != t_bdg.device_id),
        "{r:?}"
    );
    assert_eq!(r.stored, 0);
    assert_eq!(s.snapshot().await, before);

    // Its own branch takes it.
    push_all_stored(&s, &t_bdg, &[bdg]).await;
    s.stop().await;
}

#[tokio::test]
async fn a_terminal_may_not_push_another_terminals_entries() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    let mut t1 = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let mut t2 = s.enroll("JKT01", DeviceKind::Terminal, 2).await;
    let shift = Uuid::now_v7();
    let other = t2.entry(&sale("JKT01-T2-000001", shift, &[("A", 1000, 3500)]));

    let before = s.snapshot().await;
    let (status, body) = s
        .push(&t1.credential, std::slice::from_ref(&other), None)
        .await;
    let r = accepted(status, body);
    assert_eq!(
        refusals(&r),
        vec![(t2.device_id, 1, RefusalReason::NotOwnEntry)]
    );
    assert!(r.acks.is_empty(), "{r:?}");
    assert_eq!(r.stored, 0);
    assert_eq!(s.snapshot().await, before);

    // In a mixed batch only the other terminal's entry is refused.
    let own = t1.entry(&sale("JKT01-T1-000001", shift, &[("A", 1000, 3500)]));
    let (status, body) = s.push(&t1.credential, &[other.clone(), own], None).await;
    let r = accepted(status, body);
    assert_eq!(
        refusals(&r),
        vec![(t2.device_id, 1, RefusalReason::NotOwnEntry)]
    );
    assert_eq!(r.stored, 1);
    assert_eq!(ledger(&s, "JKT01").await.sales_count, 1);

    // Its own terminal's push is taken.
    push_all_stored(&s, &t2, &[other]).await;
    s.stop().await;
}

#[tokio::test]
async fn a_forged_signature_is_refused_unacknowledged_and_the_genuine_entry_still_applies() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    let mut t = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let shift = Uuid::now_v7();
    let first = t.entry(&shift_opened(shift));
    push_all_stored(&s, &t, &[first]).await;
    let genuine = t.entry(&sale("JKT01-T1-000001", shift, &[("A", 1000, 3500)]));
    assert_eq!(genuine.seq, 2);

    let mut flipped = genuine.clone();
    flipped.signature.0[17] ^= 0x01;
    let other_key = SigningKey::from_bytes(&[99; 32]);
    let resigned = genuine.to_unsigned().sign(&other_key).expect("sign");
    assert_eq!(resigned.hash, genuine.hash, "same content, another key");
    let mut tampered = genuine.clone();
    tampered.payload["receipt_no"] = json!("JKT01-T1-999999");

    let before = s.snapshot_except(&["alerts", "device_activity"]).await;
    for (n, (forgery, reason)) in [
        (&flipped, RefusalReason::BadSignature),
        (&resigned, RefusalReason::BadSignature),
        (&tampered, RefusalReason::HashMismatch),
    ]
    .into_iter()
    .enumerate()
    {
        let (status, body) = s
            .push(&t.credential, std::slice::from_ref(forgery), None)
            .await;
        let r = accepted(status, body);
        assert_eq!(refusals(&r), vec![(t.device_id, 2, reason)]);
        assert_eq!(r.acks[0].acked_seq, 1, "a forgery is never acknowledged");
        assert_eq!(r.acks[0].expected_seq, Some(2));
        assert_eq!((r.stored, r.duplicates), (0, 0));
        assert!(r.conflicts.is_empty(), "{r:?}");
        assert_eq!(
            s.snapshot_except(&["alerts", "device_activity"]).await,
            before,
            "a forgery changed a table"
        );
        // ... but head office hears of it.
        let alerts = s
            .count("SELECT count(*) FROM alerts WHERE kind = 'refused_entry'")
            .await;
        assert_eq!(alerts, n as i64 + 1);
    }

    // The genuine entry still applies.
    let r = push_all_stored(&s, &t, std::slice::from_ref(&genuine)).await;
    assert_eq!(r.acks[0].acked_seq, 2);
    assert_eq!(ledger(&s, "JKT01").await.sales_count, 1);

    // A forgery of an entry already held is refused, not a duplicate and not a fork.
    let held = s.snapshot_except(&["alerts", "device_activity"]).await;
    for (n, forgery) in [&flipped, &resigned].into_iter().enumerate() {
        let (status, body) = s
            .push(&t.credential, std::slice::from_ref(forgery), None)
            .await;
        let r = accepted(status, body);
        assert_eq!(
            refusals(&r),
            vec![(t.device_id, 2, RefusalReason::BadSignature)]
        );
        assert_eq!(r.duplicates, 0);
        assert!(r.conflicts.is_empty(), "{r:?}");
        assert_eq!(r.acks[0].acked_seq, 2);
        assert_eq!(
            s.snapshot_except(&["alerts", "device_activity"]).await,
            held
        );
        // Each forgery raises an alert for head office.
        let alerts = s
            .count("SELECT count(*) FROM alerts WHERE kind = 'refused_entry'")
            .await;
        assert_eq!(alerts, n as i64 + 4);
    }
    s.stop().await;
}

// protocol: error device_revoked
#[tokio::test]
async fn a_revoked_device_is_refused_directly_and_through_a_relay() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    let mut t = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let relay = s.enroll("JKT01", DeviceKind::Relay, 2).await;
    let shift = Uuid::now_v7();
    let first = t.entry(&shift_opened(shift));
    push_all_stored(&s, &t, std::slice::from_ref(&first)).await;
    sentra_sync::admin::devices::revoke(&s.pool, t.device_id)
        .await
        .expect("revoke");
    let next = t.entry(&sale("JKT01-T1-000001", shift, &[("A", 1000, 3500)]));

    let before = s.snapshot().await;
    let (status, body) = s
        .push(&t.credential, std::slice::from_ref(&next), None)
        .await;
    refused_request(status, body, 403, "device_revoked");
    assert_eq!(s.snapshot().await, before);

    let (status, body) = s.push(&relay.credential, &[first, next], None).await;
    let r = accepted(status, body);
    assert_eq!(
        refusals(&r),
        vec![
            (t.device_id, 1, RefusalReason::DeviceRevoked),
            (t.device_id, 2, RefusalReason::DeviceRevoked),
        ]
    );
    assert!(r.acks.is_empty(), "{r:?}");
    assert_eq!((r.stored, r.duplicates), (0, 0));
    assert_eq!(s.snapshot().await, before);
    s.stop().await;
}

// ---- enrollment codes -------------------------------------------------------

// protocol: error enroll_code_invalid
// protocol: error enroll_code_used
// protocol: error enroll_code_expired
#[tokio::test]
async fn expired_used_and_unknown_enrollment_codes_are_refused() {
    let s = Server::start().await;
    s.branch("JKT01").await;

    // Expired: a code made with a TTL of 0 s.
    let expired = sentra_sync::admin::enroll_code::create(
        &s.pool,
        "JKT01",
        DeviceKind::Terminal,
        std::time::Duration::ZERO,
    )
    .await
    .expect("code");
    let before = s.snapshot().await;
    let (status, body) = s.post("/v1/enroll", None, enroll_body(&expired, 1)).await;
    refused_request(status, body, 410, "enroll_code_expired");
    assert_eq!(s.snapshot().await, before);

    // Used: the second use of a code.
    let code = s.code("JKT01", DeviceKind::Terminal).await;
    let (status, body) = s.post("/v1/enroll", None, enroll_body(&code, 2)).await;
    assert_eq!(status, 200, "{body}");
    let before = s.snapshot().await;
    let (status, body) = s.post("/v1/enroll", None, enroll_body(&code, 3)).await;
    refused_request(status, body, 409, "enroll_code_used");
    assert_eq!(s.snapshot().await, before);

    // Unknown.
    let (status, body) = s
        .post("/v1/enroll", None, enroll_body("NOPE-NOPE-NOPE", 4))
        .await;
    refused_request(status, body, 404, "enroll_code_invalid");
    assert_eq!(s.snapshot().await, before);
    s.stop().await;
}

/// "Case, spaces, `O`/`0` and `I`/`L`/`1` are forgiven" (docs/sync-protocol.md,
/// "Enrollment"): shop IT reads codes over the phone and types them as heard.
#[tokio::test]
async fn an_enroll_code_is_read_however_shop_it_types_it() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    type Spelling = (&'static str, fn(&str) -> String);
    let spellings: [Spelling; 5] = [
        ("lower case", |c| c.to_lowercase()),
        ("without its hyphens", |c| c.replace('-', "")),
        ("spaces for hyphens", |c| c.replace('-', " ")),
        ("spaced out", |c| {
            c.replace('-', "")
                .chars()
                .map(String::from)
                .collect::<Vec<_>>()
                .join(" ")
        }),
        ("look-alikes, no hyphens", |c| {
            c.replace('-', "").replace('0', "o").replace('1', "l")
        }),
    ];
    for (seed, (how, spell)) in (10u8..).zip(spellings) {
        let code = s.code("JKT01", DeviceKind::Terminal).await;
        // A wrong code first (one character off): refused, and the real one
        // is still good afterwards.
        let mut wrong: Vec<char> = code.chars().collect();
        wrong[0] = if wrong[0] == 'A' { 'B' } else { 'A' };
        let wrong: String = wrong.into_iter().collect();
        let (status, body) = s
            .post("/v1/enroll", None, enroll_body(&spell(&wrong), seed))
            .await;
        refused_request(status, body, 404, "enroll_code_invalid");
        let typed = spell(&code);
        let (status, body) = s.post("/v1/enroll", None, enroll_body(&typed, seed)).await;
        assert_eq!(status, 200, "{how}: {code} typed as {typed:?}: {body}");
    }
    s.stop().await;
}

// ---- sizes ------------------------------------------------------------------

// protocol: error batch_too_large
#[tokio::test]
async fn a_batch_over_the_entry_limit_is_refused_and_one_at_the_limit_is_taken() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    let mut t = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let shift = Uuid::now_v7();
    let entries: Vec<Entry> = (1..=MAX_PUSH_ENTRIES + 1)
        .map(|n| {
            t.entry(&sale(
                &format!("JKT01-T1-{n:06}"),
                shift,
                &[("A", 1000, 3500)],
            ))
        })
        .collect();
    assert!(
        push_body(&entries).len() < MAX_BODY_BYTES,
        "refused for its count, not its size"
    );

    let before = s.snapshot().await;
    let (status, body) = s.push(&t.credential, &entries, None).await;
    let e = refused_request(status, body, 413, "batch_too_large");
    assert_eq!(e.details.get("limit"), Some(&json!(MAX_PUSH_ENTRIES)));
    assert_eq!(s.snapshot().await, before);

    let r = push_all_stored(&s, &t, &entries[..MAX_PUSH_ENTRIES]).await;
    assert_eq!(r.acks[0].acked_seq, MAX_PUSH_ENTRIES as u64);
    s.stop().await;
}

// protocol: error body_too_large
#[tokio::test]
async fn a_body_over_the_byte_limit_is_refused_and_one_at_the_limit_is_taken() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    let t = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let auth = format!("Bearer {}", t.credential);
    let overhead = r#"{"entries":[],"pad":""}"#.len();
    let body_of =
        |len: usize| format!(r#"{{"entries":[],"pad":"{}"}}"#, "x".repeat(len - overhead));

    let before = s.snapshot().await;
    let over = body_of(MAX_BODY_BYTES + 1);
    assert_eq!(over.len(), MAX_BODY_BYTES + 1);
    let (status, body, _) = post_raw(&s, "/v1/push", Some("1"), Some(&auth), over).await;
    let e = refused_request(status, body, 413, "body_too_large");
    assert_eq!(e.details.get("limit"), Some(&json!(MAX_BODY_BYTES)));
    assert_eq!(s.snapshot().await, before);

    let at = body_of(MAX_BODY_BYTES);
    assert_eq!(at.len(), MAX_BODY_BYTES);
    let (status, body, _) = post_raw(&s, "/v1/push", Some("1"), Some(&auth), at).await;
    let r = accepted(status, body);
    assert_eq!((r.stored, r.acks.len()), (0, 0));
    assert_eq!(s.snapshot().await, before);
    s.stop().await;
}

// ---- request-level refusals -------------------------------------------------

// protocol: error malformed_request
#[tokio::test]
async fn malformed_and_wrongly_shaped_json_is_refused_malformed_request() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    let mut t = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let good = t.entry(&shift_opened(Uuid::now_v7()));
    let mut bad_hash = serde_json::to_value(&good).expect("entry json");
    bad_hash["hash"] = json!("not hex");

    let before = s.snapshot().await;
    for body in [
        "{\"entries\": [".to_owned(),
        "not json at all".to_owned(),
        String::new(),
        "{\"entries\": 5}".to_owned(),
        "{\"events\": []}".to_owned(),
        "[]".to_owned(),
        json!({ "entries": [{"seq": 1}] }).to_string(),
        json!({ "entries": [bad_hash] }).to_string(),
    ] {
        let (status, json) = s.post("/v1/push", Some(&t.credential), body.clone()).await;
        let e = refused_request(status, json, 400, "malformed_request");
        assert!(!e.message.is_empty(), "{body}");
        assert_eq!(s.snapshot().await, before, "{body}");
    }
    // The enroll endpoint answers the same way.
    let (status, json) = s.post("/v1/enroll", None, "{\"code\": 7}".into()).await;
    refused_request(status, json, 400, "malformed_request");
    assert_eq!(s.snapshot().await, before);
    s.stop().await;
}

// protocol: error missing_protocol_version
// protocol: error unsupported_protocol_version
#[tokio::test]
async fn a_missing_or_unsupported_protocol_version_is_refused() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    let mut t = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let auth = format!("Bearer {}", t.credential);
    let body = push_body(&[t.entry(&shift_opened(Uuid::now_v7()))]);

    let before = s.snapshot().await;
    for version in ["99", "0", "abc", ""] {
        let (status, json, headers) =
            post_raw(&s, "/v1/push", Some(version), Some(&auth), body.clone()).await;
        let e = refused_request(status, json, 400, "unsupported_protocol_version");
        assert_eq!(e.details.get("min"), Some(&json!(1)), "{version:?}");
        assert_eq!(e.details.get("max"), Some(&json!(1)), "{version:?}");
        assert_eq!(
            headers.get(PROTOCOL_HEADER).and_then(|v| v.to_str().ok()),
            Some("1"),
            "refusals name the version the server speaks"
        );
        assert_eq!(s.snapshot().await, before);
    }
    let (status, json, _) = post_raw(&s, "/v1/push", None, Some(&auth), body.clone()).await;
    let e = refused_request(status, json, 400, "missing_protocol_version");
    assert_eq!(e.details.get("max"), Some(&json!(1)));
    // Enrollment is versioned too.
    let code = s.code("JKT01", DeviceKind::Terminal).await;
    let before = s.snapshot().await;
    let (status, json, _) =
        post_raw(&s, "/v1/enroll", Some("99"), None, enroll_body(&code, 7)).await;
    refused_request(status, json, 400, "unsupported_protocol_version");
    assert_eq!(s.snapshot().await, before);

    // The same push with the right header is taken.
    let (status, json, _) = post_raw(&s, "/v1/push", Some("1"), Some(&auth), body).await;
    assert_eq!(accepted(status, json).stored, 1);
    s.stop().await;
}

// protocol: error unauthorized
#[tokio::test]
async fn no_or_an_invalid_credential_is_unauthorized() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    let mut t = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let body = push_body(&[t.entry(&shift_opened(Uuid::now_v7()))]);
    let stranger = Device::unenrolled("JKT01", 9);

    let before = s.snapshot().await;
    let basic = format!("Basic {}", t.credential);
    let wrong = format!("Bearer {}", stranger.credential);
    let almost = format!("Bearer {}x", t.credential);
    for auth in [
        None,
        Some("Bearer "),
        Some(basic.as_str()),
        Some(wrong.as_str()),
        Some(almost.as_str()),
    ] {
        let (status, json, _) = post_raw(&s, "/v1/push", Some("1"), auth, body.clone()).await;
        refused_request(status, json, 401, "unauthorized");
        assert_eq!(s.snapshot().await, before, "{auth:?}");
    }
    s.stop().await;
}

// ---- quarantine -------------------------------------------------------------

// protocol: quarantine unknown_kind
// protocol: quarantine invalid_payload
// protocol: quarantine invalid_figures
#[tokio::test]
async fn unknown_kinds_and_invalid_payloads_are_quarantined_and_later_entries_still_apply() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    let mut t = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let shift = Uuid::now_v7();

    let good1 = sale("JKT01-T1-000001", shift, &[("A", 2000, 3500)]);
    let mut bad_total = sale("JKT01-T1-000002", shift, &[("B", 1000, 4000)]);
    bad_total.total += 1;
    bad_total.paid += 1;
    bad_total.tenders[0].amount += 1;
    let good2 = sale("JKT01-T1-000003", shift, &[("C", 1000, 9000)]);
    let mut missing =
        encode_payload(&sale("JKT01-T1-000004", shift, &[("A", 1000, 3500)])).expect("payload");
    missing.as_object_mut().expect("object").remove("lines");
    let good3 = sale("JKT01-T1-000005", shift, &[("B", 3000, 4000)]);

    let batch1 = vec![
        t.entry(&shift_opened(shift)), // 1
        t.entry(&good1),               // 2
        t.raw(
            EntryKind::Other("loyalty_points".into()),
            json!({"points": 40, "member": "M-1"}),
        ), // 3
        t.entry(&bad_total),           // 4
        t.entry(&good2),               // 5
    ];
    let (status, body) = s.push(&t.credential, &batch1, None).await;
    let r = accepted(status, body);
    assert!(r.refused.is_empty(), "{r:?}");
    assert_eq!(r.stored, 5, "quarantined entries are stored too");
    assert_eq!(r.acks[0].acked_seq, 5, "and acknowledged");
    assert_eq!(r.acks[0].expected_seq, None);
    let q = quarantined_in(&r);
    assert_eq!(q.len(), 2, "{r:?}");
    assert_eq!(q[0].0, 3);
    assert!(q[0].1.starts_with("unknown_kind"), "{q:?}");
    assert_eq!(q[1].0, 4);
    assert!(q[1].1.starts_with("invalid_figures"), "{q:?}");
    assert!(r.quarantined.iter().all(|q| q.device_id == t.device_id));

    let batch2 = vec![t.raw(EntryKind::SaleCompleted, missing), t.entry(&good3)]; // 6, 7
    let (status, body) = s.push(&t.credential, &batch2, None).await;
    let r = accepted(status, body);
    assert!(r.refused.is_empty(), "{r:?}");
    assert_eq!(r.stored, 2);
    assert_eq!(r.acks[0].acked_seq, 7);
    assert_eq!(r.quarantined.len(), 1, "{r:?}");
    assert_eq!(r.quarantined[0].seq, 6);
    assert!(
        r.quarantined[0].reason.starts_with("invalid_payload"),
        "{r:?}"
    );

    // Stored in the journal, marked; one alert each.
    let journal: Vec<(i64, String, Option<String>)> =
        sqlx::query_as("SELECT seq, kind, quarantine_reason FROM journal ORDER BY seq")
            .fetch_all(&s.pool)
            .await
            .expect("journal");
    assert_eq!(journal.len(), 7);
    let quarantined: Vec<i64> = journal
        .iter()
        .filter(|j| j.2.is_some())
        .map(|j| j.0)
        .collect();
    assert_eq!(quarantined, vec![3, 4, 6]);
    assert_eq!(journal[2].1, "loyalty_points");
    let alerts: Vec<(String, Uuid, i64)> =
        sqlx::query_as("SELECT kind, device_id, seq FROM alerts ORDER BY seq")
            .fetch_all(&s.pool)
            .await
            .expect("alerts");
    assert_eq!(
        alerts,
        vec![
            ("quarantined".to_owned(), t.device_id, 3),
            ("quarantined".to_owned(), t.device_id, 4),
            ("quarantined".to_owned(), t.device_id, 6),
        ]
    );

    // A replay of both batches is all duplicates: no second alert.
    let before = s.snapshot().await;
    let replay: Vec<Entry> = batch1.iter().chain(batch2.iter()).cloned().collect();
    let (status, body) = s.push(&t.credential, &replay, None).await;
    let r = accepted(status, body);
    assert_eq!((r.stored, r.duplicates), (0, 7), "{r:?}");
    assert!(r.quarantined.is_empty() && r.refused.is_empty(), "{r:?}");
    assert_eq!(r.acks[0].acked_seq, 7);
    assert_eq!(s.snapshot().await, before);

    // The valid sales before and after them reached the ledger; the bad ones did not.
    let l = ledger(&s, "JKT01").await;
    assert_eq!(l.sales_count, 3);
    assert_eq!(l.gross, good1.gross + good2.gross + good3.gross);
    assert_eq!(l.net, good1.total + good2.total + good3.total);
    assert_eq!(l.tax, good1.tax + good2.tax + good3.tax);
    assert_eq!(l.payments["cash"], good1.total + good2.total + good3.total);
    let receipts: Vec<String> =
        sqlx::query_scalar("SELECT receipt_no FROM sales ORDER BY receipt_no")
            .fetch_all(&s.pool)
            .await
            .expect("sales");
    assert_eq!(
        receipts,
        ["JKT01-T1-000001", "JKT01-T1-000003", "JKT01-T1-000005"]
    );
    s.stop().await;
}
