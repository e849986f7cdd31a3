//! Push: the happy path, replays, and what is stored.

use crate::common;

use common::{Server, sale};
use sentra_protocol::payload::ShiftOpened;
use sentra_protocol::wire::{DeviceKind, PushResponse, ReceiptResponse};
use uuid::Uuid;

#[tokio::test]
async fn sales_are_stored_once_acknowledged_and_reach_the_ledger() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    let mut t = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let shift = Uuid::now_v7();
    let mut entries = vec![t.entry(&ShiftOpened {
        shift_id: shift,
        opening_float: 500_000,
        cashier: Some("Siti".into()),
    })];
    entries.push(t.entry(&sale(
        "JKT01-T1-000001",
        shift,
        &[("A", 2000, 3500), ("B", 1000, 4000)],
    )));
    entries.push(t.entry(&sale("JKT01-T1-000002", shift, &[("A", 1000, 3500)])));

    let (status, body) = s
        .push(&t.credential, &entries, Some(common::now_ms()))
        .await;
    assert_eq!(status, 200, "{body}");
    let r: PushResponse = serde_json::from_value(body).expect("push response");
    assert_eq!(r.stored, 3);
    assert_eq!(r.acks.len(), 1);
    assert_eq!(r.acks[0].acked_seq, 3);
    assert_eq!(r.acks[0].expected_seq, None);
    assert!(r.refused.is_empty() && r.quarantined.is_empty(), "{r:?}");

    let ledger = sentra_sync::admin::ledger::ledger(&s.pool, "JKT01", None, None)
        .await
        .expect("ledger");
    assert_eq!(ledger.sales_count, 2);
    assert_eq!(ledger.gross, 7000 + 4000 + 3500);
    assert_eq!(ledger.net, 14_500);
    assert_eq!(ledger.payments["cash"], 14_500);
    assert_eq!(s.count("SELECT count(*) FROM sale_lines").await, 3);
    // --from/--to select business dates (the branch's time zone, Asia/Jakarta).
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Jakarta)
        .date_naive();
    let day = chrono::Days::new(1);
    let around = sentra_sync::admin::ledger::ledger(
        &s.pool,
        "JKT01",
        today.checked_sub_days(day),
        today.checked_add_days(day),
    )
    .await
    .expect("ledger");
    assert_eq!(around.sales_count, 2);
    let later =
        sentra_sync::admin::ledger::ledger(&s.pool, "JKT01", today.checked_add_days(day), None)
            .await
            .expect("ledger");
    assert_eq!((later.sales_count, later.gross, later.net), (0, 0, 0));

    // A replay of the whole batch is a no-op.
    let before = s.snapshot().await;
    let (status, body) = s
        .push(&t.credential, &entries, Some(common::now_ms()))
        .await;
    assert_eq!(status, 200);
    let r: PushResponse = serde_json::from_value(body).expect("push response");
    assert_eq!((r.stored, r.duplicates), (0, 3));
    assert_eq!(r.acks[0].acked_seq, 3);
    assert_eq!(s.snapshot().await, before, "a replay changed a table");
    s.stop().await;
}

#[tokio::test]
async fn an_absurd_sender_clock_is_flagged_not_fatal() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    let mut t = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let shift = Uuid::now_v7();
    let entries = vec![t.entry(&ShiftOpened {
        shift_id: shift,
        opening_float: 0,
        cashier: None,
    })];
    for sent_at in [1 << 63, u64::MAX, 0] {
        let (status, body) = s.push(&t.credential, &entries, Some(sent_at)).await;
        assert_eq!(status, 200, "{body}");
    }
    // Stored once; the first push measured an absurd clock and flagged it.
    assert_eq!(s.count("SELECT count(*) FROM journal").await, 1);
    assert_eq!(s.conflicts("clock_skew").await.len(), 1);
    s.stop().await;
}

// protocol: error unknown_receipt
/// `GET /v1/receipt`: another till of the branch gets a sale with its
/// refunds exactly as signed (they verify with the selling till's key);
/// another branch, an unknown number or a bad one are refused.
#[tokio::test]
async fn a_receipt_is_served_as_signed_to_the_branch_only() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    s.branch("SBY02").await;
    let mut t1 = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let t2 = s.enroll("JKT01", DeviceKind::Terminal, 2).await;
    let other = s.enroll("SBY02", DeviceKind::Terminal, 3).await;
    let shift = Uuid::now_v7();
    let open = t1.entry(&ShiftOpened {
        shift_id: shift,
        opening_float: 0,
        cashier: None,
    });
    let sold = sale("JKT01-T01-000007", shift, &[("A", 2000, 5000)]);
    let sale_entry = t1.entry(&sold);
    let refund = t1.entry(&common::full_refund(
        "JKT01-T01-R000001",
        &sold,
        sale_entry.id,
        shift,
        "cash",
    ));
    let (status, body) = s
        .push(
            &t1.credential,
            &[open, sale_entry.clone(), refund.clone()],
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let (status, body) = s
        .get("/v1/receipt?no=JKT01-T01-000007", &t2.credential)
        .await;
    assert_eq!(status, 200, "{body}");
    let r: ReceiptResponse = serde_json::from_value(body).expect("receipt response");
    assert_eq!(r.sale, sale_entry, "the sale as its till signed it");
    assert_eq!(r.related, vec![refund]);
    r.sale.verify(&t1.key.verifying_key()).expect("it verifies");
    r.related[0]
        .verify(&t1.key.verifying_key())
        .expect("so does its refund");

    for (path, credential, status_want, code) in [
        (
            "/v1/receipt?no=JKT01-T01-000007",
            &other.credential,
            404,
            "unknown_receipt",
        ),
        (
            "/v1/receipt?no=JKT01-T01-999999",
            &t2.credential,
            404,
            "unknown_receipt",
        ),
        (
            "/v1/receipt?no=%20",
            &t2.credential,
            400,
            "malformed_request",
        ),
    ] {
        let (status, body) = s.get(path, credential).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (status_want, Some(code)),
            "{path}: {body}"
        );
    }
    s.stop().await;
}
