//! The cloud enforces the terminal's ownership rules too (a till writes only
//! to its own shift, voids only its own sale of its open shift): an entry
//! that breaks them is kept, not applied to someone else's shift or sale,
//! and raised as a conflict (`foreign_shift`, `void_not_allowed`).

use crate::common;

use common::{Server, sale};
use sentra_protocol::payload::{
    CashDirection, CashMoved, SaleVoided, ShiftClosed, ShiftOpened, ShiftTotals,
};
use sentra_protocol::wire::{DeviceKind, PushResponse};
use uuid::Uuid;

fn opened(shift: Uuid) -> ShiftOpened {
    ShiftOpened {
        shift_id: shift,
        opening_float: 100_000,
        cashier: None,
    }
}

fn closed(shift: Uuid) -> ShiftClosed {
    ShiftClosed {
        shift_id: shift,
        opening_float: 100_000,
        totals: ShiftTotals::default(),
        expected_cash: 100_000,
        counted_cash: 100_000,
        variance: 0,
        counted_denominations: Vec::new(),
    }
}

async fn push_ok(s: &Server, credential: &str, entries: &[sentra_protocol::Entry]) -> PushResponse {
    let (status, body) = s.push(credential, entries, None).await;
    assert_eq!(status, 200, "{body}");
    let r: PushResponse = serde_json::from_value(body).expect("answer");
    assert!(r.refused.is_empty() && r.quarantined.is_empty(), "{r:?}");
    assert_eq!(r.stored, entries.len() as u64, "kept: {r:?}");
    r
}

// protocol: conflict foreign_shift
// protocol: conflict void_not_allowed
#[tokio::test]
async fn another_tills_shift_and_sale_are_not_touched_and_each_attempt_is_raised() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    let mut t1 = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let mut t2 = s.enroll("JKT01", DeviceKind::Terminal, 2).await;
    let (s1, s2) = (Uuid::now_v7(), Uuid::now_v7());
    let r1 = sale("JKT01-T1-000001", s1, &[("A", 1000, 10_000)]);
    let e1 = vec![t1.entry(&opened(s1)), t1.entry(&r1)];
    push_ok(&s, &t1.credential, &e1).await;
    let sale_id = e1[1].id;

    let void = |shift| SaleVoided {
        receipt_no: r1.receipt_no.clone(),
        sale_entry_id: sale_id,
        shift_id: shift,
        total: r1.total,
        reason: None,
    };
    let foreign = vec![
        t2.entry(&opened(s2)),
        t2.entry(&CashMoved {
            shift_id: s1,
            direction: CashDirection::Out,
            amount: 50_000,
            reason: None,
        }),
        t2.entry(&void(s2)),
        t2.entry(&closed(s1)),
        t2.entry(&sale("JKT01-T2-000001", s1, &[("B", 1000, 5_000)])),
    ];
    let r = push_ok(&s, &t2.credential, &foreign).await;
    let kinds: Vec<&str> = r.conflicts.iter().map(|c| c.kind.as_str()).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "foreign_shift").count(),
        3,
        "cash, close and sale into T1's shift: {kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "void_not_allowed").count(),
        1,
        "{kinds:?}"
    );

    // T1's shift: still open, no cash out, only its own sale.
    let (closed_at, totals): (Option<chrono::DateTime<chrono::Utc>>, serde_json::Value) =
        sqlx::query_as("SELECT closed_at, totals FROM shifts WHERE shift_id = $1")
            .bind(s1)
            .fetch_one(&s.pool)
            .await
            .expect("shift");
    assert!(closed_at.is_none(), "another till cannot close it");
    assert_eq!(totals["cash_out"], 0);
    assert_eq!(totals["sales_count"], 1);
    assert_eq!(totals["sales_total"], r1.total);
    assert_eq!(s.count("SELECT count(*) FROM cash_movements").await, 0);
    // The sale stands; the void is kept as refused.
    assert_eq!(
        s.count(
            "SELECT count(*) FROM sales WHERE voided_by IS NULL AND receipt_no = 'JKT01-T1-000001'"
        )
        .await,
        1
    );
    assert_eq!(
        s.count("SELECT count(*) FROM voids WHERE status = 'refused'")
            .await,
        1
    );
    // Every entry is in the journal, none quarantined: the sale of T2 still
    // counts in the day (it happened), just not in T1's shift.
    assert_eq!(s.count("SELECT count(*) FROM journal").await, 7);
    assert_eq!(s.count("SELECT count(*) FROM sales").await, 2);

    // T1 closes its shift, then voids its own sale from the closed shift.
    let late = vec![t1.entry(&closed_after(s1, &r1)), t1.entry(&void(s1))];
    let r = push_ok(&s, &t1.credential, &late).await;
    assert!(
        r.conflicts.iter().any(|c| c.kind == "void_not_allowed"
            && c.details["reason"] == "the sale's shift was already closed"),
        "{r:?}"
    );
    assert_eq!(
        s.count("SELECT count(*) FROM sales WHERE voided_by IS NULL")
            .await,
        2
    );
    s.stop().await;
}

/// T1's close of its shift with the one sale (paid cash, exact).
fn closed_after(shift: Uuid, r: &sentra_protocol::payload::SaleCompleted) -> ShiftClosed {
    let mut totals = ShiftTotals {
        sales_count: 1,
        gross: r.gross,
        discounts: r.discounts,
        tax: r.tax,
        sales_total: r.total,
        ..ShiftTotals::default()
    };
    totals.payments.insert("cash".into(), r.total);
    ShiftClosed {
        shift_id: shift,
        opening_float: 100_000,
        totals,
        expected_cash: 100_000 + r.total,
        counted_cash: 100_000 + r.total,
        variance: 0,
        counted_denominations: Vec::new(),
    }
}

/// A PIN lock-out at a till (issue 11, defect 7) reaches head office as an
/// alert naming the till, the user and the lock; a second copy of the
/// entry raises nothing more.
#[tokio::test]
async fn a_pin_lock_out_at_a_till_is_an_alert_for_head_office() {
    use sentra_protocol::payload::PinLockedOut;
    let s = Server::start().await;
    s.branch("JKT01").await;
    let mut t = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let e = t.entry(&PinLockedOut {
        user_id: Some("siti".into()),
        failures: 5,
        locked_for_ms: 30_000,
    });
    let approvals = t.entry(&PinLockedOut {
        user_id: None,
        failures: 6,
        locked_for_ms: 60_000,
    });
    let batch = vec![e.clone(), approvals];
    push_ok(&s, &t.credential, &batch).await;
    let (status, _) = s.push(&t.credential, &[e], None).await;
    assert_eq!(status, 200);
    let alerts: Vec<(uuid::Uuid, i64, serde_json::Value)> = sqlx::query_as(
        "SELECT device_id, seq, details FROM alerts WHERE kind = 'pin_locked_out' ORDER BY seq",
    )
    .fetch_all(&s.pool)
    .await
    .expect("alerts");
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert_eq!(alerts[0].0, t.device_id);
    assert_eq!(alerts[0].2["user_id"], "siti");
    assert_eq!(alerts[0].2["locked_for_ms"], 30_000);
    assert!(alerts[1].2["user_id"].is_null());
}
