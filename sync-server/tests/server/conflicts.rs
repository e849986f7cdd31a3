//! One test per kind of the conflict catalogue: each is raised with the right
//! details, and the sale is kept (a `fork` is refused).

use crate::common;

use std::time::Duration;

use common::{Device, Server, sale, sale_with};
use sentra_domain::{Money, ShiftSummary};
use sentra_ledger::{figures_of, totals_of};
use sentra_protocol::payload::{
    CashCount, DrawerOpened, RefundIssued, SaleCompleted, ShiftClosed, ShiftOpened, StockCounted,
};
use sentra_protocol::wire::{DeviceKind, PushResponse};
use serde_json::Value;
use uuid::Uuid;

async fn push_ok(s: &Server, d: &Device, entries: &[sentra_protocol::Entry]) -> PushResponse {
    let (status, body) = s.push(&d.credential, entries, None).await;
    assert_eq!(status, 200, "{body}");
    let r: PushResponse = serde_json::from_value(body).expect("push response");
    assert!(r.refused.is_empty(), "refused: {:?}", r.refused);
    assert!(r.quarantined.is_empty(), "quarantined: {:?}", r.quarantined);
    r
}

fn open(d: &mut Device) -> (Uuid, sentra_protocol::Entry) {
    let shift = Uuid::now_v7();
    let e = d.entry(&ShiftOpened {
        shift_id: shift,
        opening_float: 100_000,
        cashier: None,
    });
    (shift, e)
}

async fn sales_kept(s: &Server) -> i64 {
    s.count("SELECT count(*) FROM sales").await
}

fn full_refund(no: &str, sale: &SaleCompleted, sale_id: Uuid, shift: Uuid) -> RefundIssued {
    common::full_refund(no, sale, sale_id, shift, "cash")
}

// protocol: conflict oversold
#[tokio::test]
async fn oversold_is_raised_once_per_item_and_day_until_counted() {
    let s = Server::start().await;
    let b = s.branch("JKT01").await;
    sqlx::query("INSERT INTO stock_levels (branch_id, sku, on_hand_milli, count_generation) VALUES ($1, 'RICE', 1000, 1)")
        .bind(b)
        .execute(&s.pool)
        .await
        .expect("stock");
    let mut t = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let (shift, o) = open(&mut t);
    let s1 = t.entry(&sale("R-1", shift, &[("RICE", 1500, 14_000)]));
    let r = push_ok(&s, &t, &[o, s1.clone()]).await;
    assert_eq!(r.conflicts.len(), 1, "{:?}", r.conflicts);
    let c = &s.conflicts("oversold").await[0];
    assert_eq!(c["seq"], 2);
    assert_eq!(c["details"]["sku"], "RICE");
    assert_eq!(c["details"]["on_hand_before_milli"], 1000);
    assert_eq!(c["details"]["on_hand_after_milli"], -500);
    assert_eq!(c["details"]["receipt_no"], "R-1");

    // Same item, same day: not raised again.
    let s2 = t.entry(&sale("R-2", shift, &[("RICE", 1000, 14_000)]));
    let r = push_ok(&s, &t, &[s2]).await;
    assert!(r.conflicts.is_empty());
    assert_eq!(s.conflicts("oversold").await.len(), 1);

    // Counted: a new shortfall is raised again.
    let count = t.entry(&StockCounted {
        sku: "RICE".into(),
        counted_milli: 0,
        previous_milli: -1500,
    });
    let s3 = t.entry(&sale("R-3", shift, &[("RICE", 1000, 14_000)]));
    push_ok(&s, &t, &[count, s3]).await;
    assert_eq!(s.conflicts("oversold").await.len(), 2);
    // Every sale was kept.
    assert_eq!(sales_kept(&s).await, 3);
    let on_hand: i64 =
        sqlx::query_scalar("SELECT on_hand_milli FROM stock_levels WHERE sku = 'RICE'")
            .fetch_one(&s.pool)
            .await
            .expect("level");
    assert_eq!(on_hand, -1000);
    s.stop().await;
}

/// The document: "stock is tracked once imported (`catalog import
/// --branch`) or counted". The first import of an item made its level with
/// `count_generation` 0, so it was not tracked: oversold never raised.
#[tokio::test]
async fn oversold_is_raised_for_stock_set_by_the_first_import() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("catalog.csv");
    std::fs::write(
        &file,
        "sku,barcode,name,price,tax_category,stock\nRICE5,899100,Beras 5 kg,72000,exempt,20\n",
    )
    .expect("csv");
    sentra_sync::admin::catalog::import(&s.pool, &file, Some("JKT01"))
        .await
        .expect("import");
    let mut t1 = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let mut t2 = s.enroll("JKT01", DeviceKind::Terminal, 2).await;
    let (shift1, o1) = open(&mut t1);
    let s1 = t1.entry(&sale("T1-1", shift1, &[("RICE5", 2000, 72_000)]));
    push_ok(&s, &t1, &[o1, s1]).await;
    assert!(s.conflicts("oversold").await.is_empty());
    let (shift2, o2) = open(&mut t2);
    let s2 = t2.entry(&sale("T2-1", shift2, &[("RICE5", 20_000, 72_000)]));
    push_ok(&s, &t2, &[o2, s2]).await;
    let raised = s.conflicts("oversold").await;
    assert_eq!(raised.len(), 1, "{raised:?}");
    assert_eq!(raised[0]["details"]["on_hand_after_milli"], -2000);
    s.stop().await;
}

// protocol: conflict stale_price
#[tokio::test]
async fn stale_price_names_both_prices() {
    let s = Server::start().await;
    let b = s.branch("JKT01").await;
    sqlx::query(
        "INSERT INTO products (sku, name, tax_category) VALUES ('TEA', 'Teh Botol', 'standard')",
    )
    .execute(&s.pool)
    .await
    .expect("product");
    // Chain-wide 6000 since yesterday; the branch's own 6500 from an hour ago.
    sqlx::query(
        "INSERT INTO prices (sku, branch_id, price, effective_from) VALUES
           ('TEA', NULL, 6000, now() - interval '1 day'),
           ('TEA', $1, 6500, now() - interval '1 hour')",
    )
    .bind(b)
    .execute(&s.pool)
    .await
    .expect("prices");
    let mut t = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let (shift, o) = open(&mut t);
    let good = t.entry(&sale("R-1", shift, &[("TEA", 1000, 6500)]));
    let stale = t.entry(&sale("R-2", shift, &[("TEA", 2000, 6000)]));
    let r = push_ok(&s, &t, &[o, good, stale.clone()]).await;
    assert_eq!(r.conflicts.len(), 1, "{:?}", r.conflicts);
    let c = &s.conflicts("stale_price").await[0];
    assert_eq!(c["seq"], 3);
    assert_eq!(c["entry_id"], stale.id.to_string());
    assert_eq!(c["details"]["charged"], 6000);
    assert_eq!(c["details"]["in_force"], 6500);
    assert_eq!(c["details"]["line_no"], 1);
    assert_eq!(sales_kept(&s).await, 2);
    s.stop().await;
}

// protocol: conflict over_refund
#[tokio::test]
async fn over_refund_flags_the_later_refund_by_hlc_whatever_the_arrival_order() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    let mut seller = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let mut early = s.enroll("JKT01", DeviceKind::Terminal, 2).await;
    let mut late = s.enroll("JKT01", DeviceKind::Terminal, 3).await;
    let (shift, o) = open(&mut seller);
    let sold = sale("R-1", shift, &[("A", 2000, 5000), ("B", 1000, 3000)]);
    let sale_entry = seller.entry(&sold);
    push_ok(&s, &seller, &[o, sale_entry.clone()]).await;

    // Both refund the whole sale offline; `early` did it first (HLC).
    early.wall_ms -= 60_000;
    let (e_shift, e_open) = open(&mut early);
    let e_refund = early.entry(&full_refund("RF-E", &sold, sale_entry.id, e_shift));
    let (l_shift, l_open) = open(&mut late);
    let l_refund = late.entry(&full_refund("RF-L", &sold, sale_entry.id, l_shift));

    // The later one arrives first: it fits, nothing raised yet.
    let r = push_ok(&s, &late, &[l_open, l_refund.clone()]).await;
    assert!(r.conflicts.is_empty(), "{:?}", r.conflicts);
    // The earlier one arrives: it applies, and the later one is flagged.
    let r = push_ok(&s, &early, &[e_open, e_refund.clone()]).await;
    assert_eq!(r.conflicts.len(), 1, "{:?}", r.conflicts);
    let c = &s.conflicts("over_refund").await[0];
    assert_eq!(c["entry_id"], l_refund.id.to_string());
    assert_eq!(c["device_id"], late.device_id.to_string());
    assert_eq!(c["details"]["receipt_no"], "R-1");
    assert_eq!(c["details"]["over"]["earlier_quantity_milli"], 2000);
    let flags: Vec<(String, bool)> =
        sqlx::query_as("SELECT refund_no, over_refund FROM refunds ORDER BY refund_no")
            .fetch_all(&s.pool)
            .await
            .expect("refunds");
    assert_eq!(flags, vec![("RF-E".into(), false), ("RF-L".into(), true)]);
    // Both refunds are kept (the money left two tills), and the sale too.
    let l = sentra_sync::admin::ledger::ledger(&s.pool, "JKT01", None, None)
        .await
        .expect("ledger");
    assert_eq!(l.refunds_count, 2);
    assert_eq!(l.refunds, 2 * sold.total);
    assert_eq!(sales_kept(&s).await, 1);
    s.stop().await;
}

// protocol: conflict orphan_reference
#[tokio::test]
async fn orphan_reference_is_parked_then_resolved_when_the_sale_arrives() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    let mut seller = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let mut refunder = s.enroll("JKT01", DeviceKind::Terminal, 2).await;
    let (shift, o) = open(&mut seller);
    let sold = sale("R-9", shift, &[("A", 1000, 5000)]);
    let sale_entry = seller.entry(&sold);
    let (r_shift, r_open) = open(&mut refunder);
    let refund = refunder.entry(&full_refund("RF-1", &sold, sale_entry.id, r_shift));

    // The refund arrives before the sale: parked, not raised (grace 1 h).
    push_ok(&s, &refunder, &[r_open, refund.clone()]).await;
    let status: String = sqlx::query_scalar("SELECT status FROM refunds")
        .fetch_one(&s.pool)
        .await
        .expect("refund");
    assert_eq!(status, "parked");
    assert!(s.conflicts("orphan_reference").await.is_empty());
    // The sale arrives: the refund applies to it.
    push_ok(&s, &seller, &[o, sale_entry.clone()]).await;
    let (status, linked): (String, Option<Uuid>) =
        sqlx::query_as("SELECT status, sale_entry_id FROM refunds")
            .fetch_one(&s.pool)
            .await
            .expect("refund");
    assert_eq!(status, "applied");
    assert_eq!(linked, Some(sale_entry.id));
    assert_eq!(sales_kept(&s).await, 1);
    s.stop().await;
}

#[tokio::test]
async fn orphan_reference_is_raised_after_the_grace_and_resolved_later() {
    let rules = sentra_sync::config::RulesConfig {
        orphan_grace: Duration::from_millis(0),
        ..common::default_rules()
    };
    let s = Server::start_with(rules, Duration::from_millis(100)).await;
    s.branch("JKT01").await;
    let mut seller = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let mut refunder = s.enroll("JKT01", DeviceKind::Terminal, 2).await;
    let (shift, o) = open(&mut seller);
    let sold = sale("R-7", shift, &[("A", 1000, 5000)]);
    let sale_entry = seller.entry(&sold);
    let (r_shift, r_open) = open(&mut refunder);
    let refund = refunder.entry(&full_refund("RF-7", &sold, sale_entry.id, r_shift));
    push_ok(&s, &refunder, &[r_open, refund.clone()]).await;

    // The sweeper raises it (polling, no fixed sleep).
    let mut raised: Vec<Value> = Vec::new();
    for _ in 0..100 {
        raised = s.conflicts("orphan_reference").await;
        if !raised.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(raised.len(), 1, "orphan never raised");
    assert_eq!(raised[0]["entry_id"], refund.id.to_string());
    assert_eq!(raised[0]["details"]["receipt_no"], "R-7");
    assert_eq!(raised[0]["details"]["entry_kind"], "refund_issued");
    assert_eq!(raised[0]["resolved"], false);

    // The sale finally arrives: the conflict is resolved automatically.
    push_ok(&s, &seller, &[o, sale_entry]).await;
    let after = s.conflicts("orphan_reference").await;
    assert_eq!(after.len(), 1);
    assert_eq!(after[0]["resolved"], true);
    s.stop().await;
}

/// Several servers run the same sweep timer; a tick does the work only
/// where the job's advisory lock is taken. While something else holds it
/// (here the test, standing in for another server), this server skips its
/// ticks and raises nothing; once it is free, the sweep runs here.
#[tokio::test]
async fn the_orphan_sweep_runs_where_its_lock_is_free_and_skips_while_another_holds_it() {
    let rules = sentra_sync::config::RulesConfig {
        orphan_grace: Duration::from_millis(0),
        ..common::default_rules()
    };
    let s = Server::start_with(rules, Duration::from_millis(50)).await;
    s.branch("JKT01").await;
    let mut seller = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let mut refunder = s.enroll("JKT01", DeviceKind::Terminal, 2).await;
    let (shift, _o) = open(&mut seller);
    let sold = sale("R-8", shift, &[("A", 1000, 5000)]);
    let sale_entry = seller.entry(&sold);
    let (r_shift, r_open) = open(&mut refunder);
    let refund = refunder.entry(&full_refund("RF-8", &sold, sale_entry.id, r_shift));

    let mut other = s.pool.acquire().await.expect("connection");
    let key = sentra_sync::ingest::every::job_lock_key("orphan_sweep");
    // The server's own tick may hold it at this instant: try until free.
    let mut held = false;
    for _ in 0..200 {
        held = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtextextended($1, 0))")
            .bind(&key)
            .fetch_one(&mut *other)
            .await
            .expect("lock");
        if held {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(held, "the test never got the sweep's lock");
    push_ok(&s, &refunder, &[r_open, refund.clone()]).await;

    let skipped_before = job_runs(&s, "skipped").await;
    let mut skipped = skipped_before;
    for _ in 0..200 {
        skipped = job_runs(&s, "skipped").await;
        if skipped >= skipped_before + 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        skipped >= skipped_before + 3,
        "the server never skipped a tick"
    );
    assert!(
        s.conflicts("orphan_reference").await.is_empty(),
        "the sweep ran although another server held its lock"
    );

    let _: bool = sqlx::query_scalar("SELECT pg_advisory_unlock(hashtextextended($1, 0))")
        .bind(&key)
        .fetch_one(&mut *other)
        .await
        .expect("unlock");
    let mut raised = Vec::new();
    for _ in 0..200 {
        raised = s.conflicts("orphan_reference").await;
        if !raised.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        raised.len(),
        1,
        "the sweep never ran once the lock was free"
    );
    assert!(job_runs(&s, "ran").await >= 1);
    drop(other);
    s.stop().await;
}

/// `sentra_background_job_runs_total{job="orphan_sweep", outcome}` from `/metrics`.
async fn job_runs(s: &Server, outcome: &str) -> u64 {
    let text = s.metrics_text().await;
    text.lines()
        .filter(|l| {
            l.starts_with("sentra_background_job_runs_total{")
                && l.contains("job=\"orphan_sweep\"")
                && l.contains(&format!("outcome=\"{outcome}\""))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

// protocol: conflict voucher_double_spend
#[tokio::test]
async fn voucher_double_spend_flags_the_second_redemption() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    s.branch("BDG01").await;
    let mut a = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let mut b = s.enroll("BDG01", DeviceKind::Terminal, 2).await;
    a.wall_ms -= 10_000; // a redeemed first
    let (sa, oa) = open(&mut a);
    let ra = a.entry(&sale_with(
        "R-A",
        sa,
        &[("A", 1000, 50_000)],
        "voucher",
        Some("GV-123"),
    ));
    let (sb, ob) = open(&mut b);
    let rb = b.entry(&sale_with(
        "R-B",
        sb,
        &[("A", 1000, 50_000)],
        "voucher",
        Some("GV-123"),
    ));
    let r = push_ok(&s, &a, &[oa, ra.clone()]).await;
    assert!(r.conflicts.is_empty());
    let r = push_ok(&s, &b, &[ob, rb.clone()]).await;
    assert_eq!(r.conflicts.len(), 1, "{:?}", r.conflicts);
    let c = &s.conflicts("voucher_double_spend").await[0];
    assert_eq!(c["entry_id"], rb.id.to_string());
    assert_eq!(c["details"]["code"], "GV-123");
    assert_eq!(c["details"]["first_entry_id"], ra.id.to_string());
    // Both sales kept.
    assert_eq!(sales_kept(&s).await, 2);
    s.stop().await;
}

// protocol: conflict clock_skew
#[tokio::test]
async fn clock_skew_is_flagged_and_reports_use_the_corrected_time() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    let mut t = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    // The terminal's clock is three hours slow.
    let skew: i64 = -3 * 3600 * 1000;
    t.wall_ms = (common::now_ms() as i64 + skew) as u64;
    let (shift, o) = open(&mut t);
    let s1 = t.entry(&sale("R-1", shift, &[("A", 1000, 5000)]));
    let sent_at = (common::now_ms() as i64 + skew) as u64;
    let (status, body) = s.push(&t.credential, &[o, s1], Some(sent_at)).await;
    assert_eq!(status, 200, "{body}");
    let c = &s.conflicts("clock_skew").await;
    assert_eq!(c.len(), 1);
    let measured = c[0]["details"]["skew_ms"].as_i64().expect("skew");
    assert!((measured - skew).abs() < 5_000, "measured {measured}");
    assert_eq!(c[0]["details"]["first_seq"], 1);
    assert_eq!(c[0]["details"]["last_seq"], 2);
    // The sale is kept, at the corrected time (within seconds of now).
    let off: f64 = sqlx::query_scalar(
        "SELECT abs(extract(epoch FROM (occurred_at - now())))::float8 FROM sales",
    )
    .fetch_one(&s.pool)
    .await
    .expect("sale");
    assert!(off < 30.0, "corrected time is {off} s from now");
    s.stop().await;
}

fn closing(shift: Uuid, float: i64, sales: &[&SaleCompleted], counted: i64) -> ShiftClosed {
    let mut sum = ShiftSummary::open(Money::idr(float));
    for s in sales {
        sum.add_sale(&figures_of(s).expect("figures"))
            .expect("fold");
    }
    let totals = totals_of(&sum);
    let expected = float + totals.payments.get("cash").copied().unwrap_or(0);
    ShiftClosed {
        shift_id: shift,
        opening_float: float,
        totals,
        expected_cash: expected,
        counted_cash: counted,
        variance: counted - expected,
        counted_denominations: Vec::new(),
    }
}

// protocol: conflict shift_mismatch
#[tokio::test]
async fn no_sale_drawer_opens_count_in_the_shift_and_a_cash_count_must_add_up() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    let mut t = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let no_sale = |shift: Uuid, reason: &str| DrawerOpened {
        shift_id: shift,
        reason: reason.into(),
        cashier: Some("Sari".into()),
    };

    // Two no-sale opens, a close that counts them and its cash by note.
    let (shift, o) = open(&mut t);
    let a = sale("R-1", shift, &[("A", 1000, 5000)]);
    let sa = t.entry(&a);
    let n1 = t.entry(&no_sale(shift, "tukar uang"));
    let n2 = t.entry(&no_sale(shift, "cek uang palsu"));
    let mut close = closing(shift, 100_000, &[&a], 105_000);
    close.totals.no_sales = 2;
    close.counted_denominations = vec![
        CashCount {
            value: 100_000,
            count: 1,
        },
        CashCount {
            value: 5_000,
            count: 1,
        },
    ];
    let c = t.entry(&close);
    let r = push_ok(&s, &t, &[o, sa, n1, n2, c]).await;
    assert!(r.conflicts.is_empty(), "{:?}", r.conflicts);

    // A close that forgets a no-sale open is a shift_mismatch on no_sales.
    let (shift2, o2) = open(&mut t);
    let n3 = t.entry(&no_sale(shift2, "tukar uang"));
    let c2 = t.entry(&closing(shift2, 100_000, &[], 100_000));
    let r = push_ok(&s, &t, &[o2, n3, c2]).await;
    assert_eq!(r.conflicts.len(), 1, "{:?}", r.conflicts);
    let m = &s.conflicts("shift_mismatch").await[0];
    assert_eq!(m["details"]["differences"][0]["figure"], "no_sales");
    assert_eq!(m["details"]["differences"][0]["reported"], 0);
    assert_eq!(m["details"]["differences"][0]["recomputed"], 1);

    // A count that does not add up to the counted cash, and a no-sale
    // with no reason, are quarantined (acknowledged, never wedging).
    let (shift3, o3) = open(&mut t);
    let bad_reason = t.entry(&no_sale(shift3, " "));
    let mut bad_count = closing(shift3, 100_000, &[], 100_000);
    bad_count.counted_denominations = vec![CashCount {
        value: 50_000,
        count: 1,
    }];
    let c3 = t.entry(&bad_count);
    let (status, body) = s.push(&t.credential, &[o3, bad_reason, c3], None).await;
    assert_eq!(status, 200, "{body}");
    let r: PushResponse = serde_json::from_value(body).expect("push response");
    let reasons: Vec<String> = r.quarantined.iter().map(|q| q.reason.clone()).collect();
    assert_eq!(r.quarantined.len(), 2, "{reasons:?}");
    assert!(
        reasons.iter().any(|q| q.contains("reason is empty")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|q| q.contains("add up to 50000")),
        "{reasons:?}"
    );
    s.stop().await;
}

#[tokio::test]
async fn shift_mismatch_names_both_figures_and_a_true_close_raises_nothing() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    let mut t = s.enroll("JKT01", DeviceKind::Terminal, 1).await;

    // A shift whose close matches its entries.
    let (shift, o) = open(&mut t);
    let a = sale("R-1", shift, &[("A", 1000, 5000)]);
    let sa = t.entry(&a);
    let close = t.entry(&closing(shift, 100_000, &[&a], 105_000));
    let r = push_ok(&s, &t, &[o, sa, close]).await;
    assert!(r.conflicts.is_empty(), "{:?}", r.conflicts);

    // A shift whose close claims more than its entries add up to.
    let (shift2, o2) = open(&mut t);
    let b = sale("R-2", shift2, &[("A", 2000, 5000)]);
    let sb = t.entry(&b);
    let mut wrong = closing(shift2, 100_000, &[&b], 110_000);
    wrong.totals.gross += 1000;
    let close2 = t.entry(&wrong);
    let r = push_ok(&s, &t, &[o2, sb, close2]).await;
    assert_eq!(r.conflicts.len(), 1, "{:?}", r.conflicts);
    let c = &s.conflicts("shift_mismatch").await[0];
    assert_eq!(c["details"]["shift_id"], shift2.to_string());
    let diffs = c["details"]["differences"].as_array().expect("differences");
    assert_eq!(diffs.len(), 1, "{diffs:?}");
    assert_eq!(diffs[0]["figure"], "gross");
    assert_eq!(diffs[0]["reported"], 11_000);
    assert_eq!(diffs[0]["recomputed"], 10_000);
    assert_eq!(sales_kept(&s).await, 2);
    s.stop().await;
}

// protocol: conflict fork
#[tokio::test]
async fn fork_is_refused_and_the_device_flagged() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    let mut t = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let (shift, o) = open(&mut t);
    let mut twin = t.clone();
    let held = t.entry(&sale("R-1", shift, &[("A", 1000, 5000)]));
    push_ok(&s, &t, &[o, held.clone()]).await;
    let other = twin.entry(&sale("R-1", shift, &[("A", 1000, 9000)]));
    let (status, body) = s
        .push(&t.credential, std::slice::from_ref(&other), None)
        .await;
    assert_eq!(status, 200);
    let r: PushResponse = serde_json::from_value(body).expect("push response");
    assert_eq!(r.refused.len(), 1);
    assert_eq!(r.refused[0].reason.code(), "fork");
    assert_eq!(r.acks[0].acked_seq, 2);
    let c = &s.conflicts("fork").await[0];
    assert_eq!(c["seq"], 2);
    assert_eq!(c["details"]["held_hash"], held.hash.to_hex());
    assert_eq!(c["details"]["received_hash"], other.hash.to_hex());
    let flagged: Option<String> =
        sqlx::query_scalar("SELECT flag_reason FROM devices WHERE device_id = $1")
            .bind(t.device_id)
            .fetch_one(&s.pool)
            .await
            .expect("device");
    assert_eq!(flagged.as_deref(), Some("fork at seq 2"));
    // The held sale stands unchanged.
    let total: i64 = sqlx::query_scalar("SELECT total FROM sales")
        .fetch_one(&s.pool)
        .await
        .expect("sale");
    assert_eq!(total, 5000);
    s.stop().await;
}

// protocol: conflict unverified_return
#[tokio::test]
async fn a_return_without_the_original_counts_and_is_flagged_never_linked() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    let mut t1 = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let mut t2 = s.enroll("JKT01", DeviceKind::Terminal, 2).await;
    let (shift1, o1) = open(&mut t1);
    let sold = sale("JKT01-T01-000001", shift1, &[("A", 2000, 5000)]);
    let s1 = t1.entry(&sold);
    push_ok(&s, &t1, &[o1, s1]).await;

    // T02, offline, takes one back without the sale: flagged, counted.
    let (shift2, o2) = open(&mut t2);
    let mut blind = common::full_refund("JKT01-T02-R000001", &sold, Uuid::nil(), shift2, "cash");
    blind.sale_entry_id = None;
    blind.unverified = true;
    blind.reason = Some("rusak (approved by Budi)".into());
    let b = t2.entry(&blind);
    let close = t2.entry(&{
        let mut c = closing(shift2, 100_000, &[], 100_000 - sold.total);
        c.totals.refunds_count = 1;
        c.totals.refunds_total = sold.total;
        c.totals.tax = -sold.tax;
        c.totals.payments.insert("cash".into(), -sold.total);
        c.expected_cash = 100_000 - sold.total;
        c.variance = 0;
        c
    });
    let r = push_ok(&s, &t2, &[o2, b, close]).await;
    assert_eq!(r.conflicts.len(), 1, "only the flag: {:?}", r.conflicts);
    let c = &s.conflicts("unverified_return").await[0];
    assert_eq!(c["details"]["refund_no"], "JKT01-T02-R000001");
    assert_eq!(c["details"]["reason"], "rusak (approved by Budi)");
    let status: String = sqlx::query_scalar("SELECT status FROM refunds")
        .fetch_one(&s.pool)
        .await
        .expect("refund");
    assert_eq!(status, "unverified", "never linked to the sale");
    assert!(s.conflicts("over_refund").await.is_empty());

    // Without a reason it is quarantined, never applied.
    let mut bare = blind.clone();
    bare.refund_no = "JKT01-T02-R000002".into();
    bare.reason = None;
    let e = t2.entry(&bare);
    let (_, body) = s.push(&t2.credential, &[e], None).await;
    let r: PushResponse = serde_json::from_value(body).expect("push response");
    assert_eq!(r.quarantined.len(), 1);
    assert!(
        r.quarantined[0].reason.contains("needs a reason"),
        "{:?}",
        r.quarantined
    );
    s.stop().await;
}
