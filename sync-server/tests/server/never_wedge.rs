//! Nothing one entry carries wedges its device's queue or fails its batch:
//! big sales go through, and a genuinely signed entry that breaks a size,
//! text or arithmetic rule is stored in quarantine and acknowledged while
//! the rest of the batch lands (`docs/sync-protocol.md`, "Limits" and
//! "Quarantine").

use crate::common;

use common::{Server, quarantined_in, sale};
use sentra_ledger::validate::{MAX_LINES, MAX_PAYLOAD_BYTES};
use sentra_protocol::payload::ShiftOpened;
use sentra_protocol::wire::{DeviceKind, MAX_BODY_BYTES, PushResponse};
use sentra_protocol::{EntryKind, encode_payload};
use serde_json::{Value, json};
use uuid::Uuid;

fn accepted(status: u16, body: Value) -> PushResponse {
    assert_eq!(status, 200, "expected a processed push: {body}");
    serde_json::from_value(body).expect("a PushResponse body")
}

fn opened(shift: Uuid) -> ShiftOpened {
    ShiftOpened {
        shift_id: shift,
        opening_float: 100_000,
        cashier: Some("Siti".into()),
    }
}

async fn quarantine_reasons(s: &Server) -> Vec<(i64, Option<String>)> {
    sqlx::query_as("SELECT seq, quarantine_reason FROM journal ORDER BY seq")
        .fetch_all(&s.pool)
        .await
        .expect("journal")
}

#[tokio::test]
async fn a_thousand_line_sale_is_stored_and_applied() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    let mut t = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let shift = Uuid::now_v7();
    let skus: Vec<String> = (0..1000).map(|i| format!("SKU{i:05}")).collect();
    let lines: Vec<(&str, i64, i64)> = skus.iter().map(|s| (s.as_str(), 2000, 12_500)).collect();
    let big = sale("JKT01-T1-000001", shift, &lines);
    let entries = vec![t.entry(&opened(shift)), t.entry(&big)];
    let (status, body) = s.push(&t.credential, &entries, None).await;
    let r = accepted(status, body);
    assert_eq!(r.stored, 2, "{r:?}");
    assert!(r.refused.is_empty() && r.quarantined.is_empty(), "{r:?}");
    assert_eq!(r.acks[0].acked_seq, 2);
    let lines: i64 = s.count("SELECT count(*) FROM sale_lines").await;
    assert_eq!(lines, 1000);
    let total: i64 = sqlx::query_scalar("SELECT total FROM sales")
        .fetch_one(&s.pool)
        .await
        .expect("sale");
    assert_eq!(total, big.total);
    s.stop().await;
}

// protocol: quarantine too_large
#[tokio::test]
async fn a_genuine_entry_over_the_size_limit_is_quarantined_and_the_queue_moves_on() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    let mut t = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let shift = Uuid::now_v7();
    let mut payload =
        encode_payload(&sale("JKT01-T1-000001", shift, &[("A", 1000, 3500)])).expect("payload");
    payload["note"] = json!(vec!["x".repeat(190); MAX_PAYLOAD_BYTES / 190 + 10]);
    let big = t.raw(EntryKind::SaleCompleted, payload);
    let after = t.entry(&sale("JKT01-T1-000002", shift, &[("B", 1000, 4000)]));
    let batch = vec![big, after];
    assert!(json!({ "entries": batch }).to_string().len() < MAX_BODY_BYTES);

    let (status, body) = s.push(&t.credential, &batch, None).await;
    let r = accepted(status, body);
    assert!(r.refused.is_empty(), "never refused: {r:?}");
    assert_eq!(r.stored, 2);
    assert_eq!(r.acks[0].acked_seq, 2, "acknowledged, so the till moves on");
    assert_eq!(r.quarantined.len(), 1, "{r:?}");
    assert_eq!(r.quarantined[0].seq, 1);
    assert!(r.quarantined[0].reason.starts_with("too_large"), "{r:?}");
    assert_eq!(
        s.count("SELECT count(*) FROM sales WHERE receipt_no = 'JKT01-T1-000002'")
            .await,
        1
    );
    s.stop().await;
}

// protocol: quarantine text_too_long
/// "Text fields 200 bytes" (the limits table): a cashier's name of 300
/// bytes is quarantined `text_too_long` with its field named, and the shift
/// is not opened; one of exactly 200 bytes is taken.
#[tokio::test]
async fn a_text_over_200_bytes_is_quarantined_and_one_at_200_is_taken() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    let mut t = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let (long, at_limit) = (Uuid::now_v7(), Uuid::now_v7());
    let mut too_long = opened(long);
    too_long.cashier = Some("S".repeat(300));
    let mut just = opened(at_limit);
    just.cashier = Some("é".repeat(100)); // 200 bytes, 100 characters
    let batch = vec![t.entry(&too_long), t.entry(&just)];
    let (status, body) = s.push(&t.credential, &batch, None).await;
    let r = accepted(status, body);
    assert!(r.refused.is_empty(), "{r:?}");
    assert_eq!((r.stored, r.acks[0].acked_seq), (2, 2), "{r:?}");
    let q = quarantined_in(&r);
    assert_eq!(q.len(), 1, "{q:?}");
    assert_eq!(q[0].0, 1);
    assert!(q[0].1.starts_with("text_too_long"), "{q:?}");
    assert!(q[0].1.contains("payload.cashier"), "{q:?}");
    let shifts: Vec<Uuid> = sqlx::query_scalar("SELECT shift_id FROM shifts")
        .fetch_all(&s.pool)
        .await
        .expect("shifts");
    assert_eq!(shifts, vec![at_limit]);
    s.stop().await;
}

// protocol: quarantine control_character
#[tokio::test]
async fn a_nul_in_a_payload_or_a_kind_is_quarantined_kept_verbatim_and_the_batch_lands() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    let mut t = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let shift = Uuid::now_v7();
    let mut nul = sale("JKT01-T1-000002", shift, &[("KOPI", 1000, 8000)]);
    nul.lines[0].name = "Kopi\0Susu".into();
    let batch = vec![
        t.entry(&opened(shift)),                                            // 1
        t.entry(&nul),                                                      // 2
        t.raw(EntryKind::Other("loyalty\0points".into()), json!({"p": 1})), // 3
        t.entry(&sale("JKT01-T1-000003", shift, &[("TEH", 1000, 5000)])),   // 4
    ];
    let (status, body) = s.push(&t.credential, &batch, None).await;
    let r = accepted(status, body);
    assert!(r.refused.is_empty(), "{r:?}");
    assert_eq!((r.stored, r.acks[0].acked_seq), (4, 4), "{r:?}");
    let q = quarantined_in(&r);
    assert_eq!(q.len(), 2, "{q:?}");
    assert_eq!(q[0].0, 2);
    assert!(q[0].1.starts_with("control_character"), "{q:?}");
    assert!(q[0].1.contains("lines[0].name"), "{q:?}");
    assert_eq!(q[1].0, 3);
    assert!(!q[1].1.contains('\0'), "reasons are printable: {q:?}");

    // Kept exactly as received: the signature still verifies from raw_entry.
    let raw: Vec<(i64, String)> = sqlx::query_as(
        "SELECT seq, raw_entry FROM journal WHERE raw_entry IS NOT NULL ORDER BY seq",
    )
    .fetch_all(&s.pool)
    .await
    .expect("raw");
    assert_eq!(raw.iter().map(|r| r.0).collect::<Vec<_>>(), vec![2, 3]);
    for (seq, text) in &raw {
        let e: sentra_protocol::Entry = serde_json::from_str(text).expect("wire JSON");
        e.verify(&t.key.verifying_key())
            .unwrap_or_else(|p| panic!("seq {seq}: {p}"));
    }
    // The good sale after them is in the ledger; the NUL one is not.
    let receipts: Vec<String> = sqlx::query_scalar("SELECT receipt_no FROM sales")
        .fetch_all(&s.pool)
        .await
        .expect("sales");
    assert_eq!(receipts, vec!["JKT01-T1-000003"]);
    assert_eq!(
        s.count("SELECT count(*) FROM alerts WHERE kind = 'quarantined'")
            .await,
        2
    );

    // A replay is all duplicates and the device pushes on.
    let (status, body) = s.push(&t.credential, &batch, None).await;
    let r = accepted(status, body);
    assert_eq!((r.stored, r.duplicates), (0, 4), "{r:?}");
    let next = t.entry(&sale("JKT01-T1-000004", shift, &[("TEH", 1000, 5000)]));
    let (status, body) = s.push(&t.credential, &[next], None).await;
    assert_eq!(accepted(status, body).acks[0].acked_seq, 5);
    s.stop().await;
}

// protocol: quarantine cannot_apply
#[tokio::test]
async fn a_running_sum_that_would_overflow_quarantines_that_entry_only() {
    let s = Server::start().await;
    let branch = s.branch("JKT01").await;
    let mut t = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let shift = Uuid::now_v7();
    // Stock of BIG already at the bottom of bigint: one more sale overflows.
    sqlx::query(
        "INSERT INTO stock_levels (branch_id, sku, on_hand_milli, count_generation)
         VALUES ($1, 'BIG', -9223372036854775000, 1)",
    )
    .bind(branch)
    .execute(&s.pool)
    .await
    .expect("stock");
    let batch = vec![
        t.entry(&opened(shift)),
        t.entry(&sale("JKT01-T1-000001", shift, &[("TEH", 1000, 5000)])),
        t.entry(&sale("JKT01-T1-000002", shift, &[("BIG", 5000, 1000)])),
        t.entry(&sale("JKT01-T1-000003", shift, &[("TEH", 1000, 5000)])),
    ];
    let (status, body) = s.push(&t.credential, &batch, None).await;
    let r = accepted(status, body);
    assert!(r.refused.is_empty(), "{r:?}");
    assert_eq!((r.stored, r.acks[0].acked_seq), (4, 4), "{r:?}");
    assert_eq!(r.quarantined.len(), 1, "{r:?}");
    assert_eq!(r.quarantined[0].seq, 3);
    assert!(r.quarantined[0].reason.starts_with("cannot_apply"), "{r:?}");
    assert_eq!(
        quarantine_reasons(&s)
            .await
            .iter()
            .filter(|(_, q)| q.is_some())
            .count(),
        1
    );
    let receipts: Vec<String> =
        sqlx::query_scalar("SELECT receipt_no FROM sales ORDER BY receipt_no")
            .fetch_all(&s.pool)
            .await
            .expect("sales");
    assert_eq!(receipts, vec!["JKT01-T1-000001", "JKT01-T1-000003"]);
    let on_hand: i64 =
        sqlx::query_scalar("SELECT on_hand_milli FROM stock_levels WHERE sku = 'BIG'")
            .fetch_one(&s.pool)
            .await
            .expect("level");
    assert_eq!(
        on_hand, -9223372036854775000,
        "the quarantined sale moved nothing"
    );
    s.stop().await;
}

#[test]
fn the_documented_limits_are_the_code_s() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/sync-protocol.md"
    ))
    .expect("doc");
    assert!(
        doc.contains(&format!("lines per sale or refund | {}", fmt(MAX_LINES))),
        "MAX_LINES"
    );
    assert!(
        doc.contains("canonical payload per entry | 1 MiB"),
        "MAX_PAYLOAD_BYTES"
    );
    assert_eq!(MAX_PAYLOAD_BYTES, 1024 * 1024);
}

fn fmt(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
