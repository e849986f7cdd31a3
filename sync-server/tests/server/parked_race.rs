//! A refund pushed by one till while its sale is being committed by another
//! must not stay parked for ever: each side used to look for the other in
//! its own READ COMMITTED snapshot, and when both committed at once neither
//! saw the other. Both now serialise on the sale's receipt number.

use crate::common;

use std::sync::Arc;

use common::{Server, sale};
use sentra_protocol::payload::{RefundIssued, SaleCompleted, ShiftOpened};
use sentra_protocol::wire::DeviceKind;
use uuid::Uuid;

fn refund_of(no: &str, s: &SaleCompleted, sale_id: Uuid, shift: Uuid) -> RefundIssued {
    common::full_refund(no, s, sale_id, shift, "card")
}

fn opened(shift: Uuid) -> ShiftOpened {
    ShiftOpened {
        shift_id: shift,
        opening_float: 0,
        cashier: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refund_racing_its_sale_from_another_till_never_stays_parked() {
    let s = Arc::new(Server::start().await);
    s.branch("JKT01").await;
    let mut seller = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let mut refunder = s.enroll("JKT01", DeviceKind::Terminal, 2).await;
    let (s1, s2) = (Uuid::now_v7(), Uuid::now_v7());
    let o1 = seller.entry(&opened(s1));
    let o2 = refunder.entry(&opened(s2));
    assert_eq!(s.push(&seller.credential, &[o1], None).await.0, 200);
    assert_eq!(s.push(&refunder.credential, &[o2], None).await.0, 200);
    for round in 0..40 {
        let sold = sale(
            &format!("JKT01-T1-{round:06}"),
            s1,
            &[("A", 1000, 10_000), ("B", 2000, 3_000)],
        );
        let sale_entry = seller.entry(&sold);
        let refund = refunder.entry(&refund_of(&format!("R{round}"), &sold, sale_entry.id, s2));
        let (a, b) = (s.clone(), s.clone());
        let (c1, c2) = (seller.credential.clone(), refunder.credential.clone());
        let sale_push = tokio::spawn(async move { a.push(&c1, &[sale_entry], None).await.0 });
        let refund_push = tokio::spawn(async move { b.push(&c2, &[refund], None).await.0 });
        assert_eq!(sale_push.await.expect("sale push"), 200);
        assert_eq!(refund_push.await.expect("refund push"), 200);
    }
    assert_eq!(
        s.count("SELECT count(*) FROM refunds WHERE status = 'parked'")
            .await,
        0,
        "a refund whose sale is in the cloud stayed parked"
    );
    assert_eq!(s.count("SELECT count(*) FROM refunds").await, 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_applies_a_refund_left_parked_although_its_sale_arrived() {
    let s = Server::start_with(
        common::default_rules(),
        std::time::Duration::from_millis(100),
    )
    .await;
    s.branch("JKT01").await;
    let mut seller = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let mut refunder = s.enroll("JKT01", DeviceKind::Terminal, 2).await;
    let (s1, s2) = (Uuid::now_v7(), Uuid::now_v7());
    let sold = sale("JKT01-T1-000001", s1, &[("A", 1000, 10_000)]);
    let sale_entry = seller.entry(&sold);
    let refund = refunder.entry(&refund_of("R1", &sold, sale_entry.id, s2));
    let o2 = refunder.entry(&opened(s2));
    assert_eq!(
        s.push(&refunder.credential, &[o2, refund], None).await.0,
        200
    );
    // The stuck state the race used to leave: the sale lands without seeing
    // the parked refund.
    sqlx::query("UPDATE refunds SET receipt_no = 'hidden', sale_entry_id = NULL")
        .execute(&s.pool)
        .await
        .expect("hide");
    let o1 = seller.entry(&opened(s1));
    assert_eq!(
        s.push(&seller.credential, &[o1, sale_entry.clone()], None)
            .await
            .0,
        200
    );
    sqlx::query("UPDATE refunds SET receipt_no = $1, sale_entry_id = $2")
        .bind(&sold.receipt_no)
        .bind(sale_entry.id)
        .execute(&s.pool)
        .await
        .expect("restore");
    assert_eq!(
        s.count("SELECT count(*) FROM refunds WHERE status = 'parked'")
            .await,
        1
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while s
        .count("SELECT count(*) FROM refunds WHERE status = 'parked'")
        .await
        > 0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the sweep never applied it"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let linked: Option<Uuid> = sqlx::query_scalar("SELECT sale_entry_id FROM refunds")
        .fetch_one(&s.pool)
        .await
        .expect("refund");
    assert_eq!(linked, Some(sale_entry.id));
}
