//! Returns of another till's sale (`sync::receipt`): what an upstream serves
//! is verified with the selling till's key before anything uses it, and a
//! sale is refunded across visits net of what was refunded of it anywhere.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Till;
use sentra_domain::{PaymentMethod, Quantity};
use sentra_protocol::wire::ReceiptResponse;
use sentra_protocol::{Entry, EntryKind};
use sentra_terminal::Terminal;
use sentra_terminal::sync::UpstreamKind;

fn qty(n: i64) -> Quantity {
    Quantity::from_milli(n * 1000)
}

/// T01 sells five Indomie and refunds one itself; T02 knows T01's key (as
/// its pull of `device` would give it).
fn two_tills() -> (Till, Till, Terminal, Vec<Entry>) {
    let t01 = Till::named("T01");
    t01.ok(&["catalog", "import", common::CATALOG]);
    t01.ok(&["shift", "open", "--float", "100000"]);
    t01.ok(&["sell", "--item", "IND-GRGx5", "--pay", "cash:20000"]);
    t01.ok(&["refund", "JKT01-T01-000001", "--item", "IND-GRG"]);
    let seller = Terminal::open(&t01.data_dir).unwrap();
    let journal = seller.export_journal().unwrap();
    let key = hex::encode(seller.verifying_key().as_bytes());
    let device = seller.device_id().to_string();
    drop(seller);

    let t02 = Till::named("T02");
    t02.ok(&["catalog", "import", common::CATALOG]);
    t02.ok(&["shift", "open", "--float", "100000"]);
    let buyer = Terminal::open(&t02.data_dir).unwrap();
    buyer
        .connection()
        .execute(
            "INSERT INTO branch_devices (device_id, public_key, revoked) VALUES (?1, ?2, 0)",
            [device, key],
        )
        .unwrap();
    (t01, t02, buyer, journal)
}

fn served(journal: &[Entry]) -> ReceiptResponse {
    let sale = journal
        .iter()
        .find(|e| e.kind == EntryKind::SaleCompleted)
        .unwrap()
        .clone();
    let related = journal
        .iter()
        .filter(|e| e.kind == EntryKind::RefundIssued)
        .cloned()
        .collect();
    ReceiptResponse { sale, related }
}

#[test]
fn another_till_s_sale_is_refunded_net_of_every_refund_of_it() {
    let (_t01, _t02, mut t02, journal) = two_tills();
    let no = "JKT01-T01-000001";
    t02.adopt_foreign_sale(no, UpstreamKind::Relay, &served(&journal))
        .unwrap();
    // Five sold, one refunded at T01: three now, then one more, then none.
    let first = t02
        .refund(no, &[("IND-GRG".into(), qty(3))], PaymentMethod::Cash, None)
        .unwrap();
    assert_eq!(first.payload.total, 3 * 3_500);
    assert_eq!(first.payload.receipt_no, no);
    t02.refund(no, &[("IND-GRG".into(), qty(1))], PaymentMethod::Cash, None)
        .unwrap();
    let over = t02
        .refund(no, &[("IND-GRG".into(), qty(1))], PaymentMethod::Cash, None)
        .unwrap_err();
    assert!(over.to_string().contains("IND-GRG"), "{over}");
    // The refunds count on T02's shift, and its projections rebuild.
    assert_eq!(t02.x_report().unwrap().totals.refunds_total, 4 * 3_500);
    assert!(t02.check_projections().unwrap().differences.is_empty());
}

#[test]
fn an_altered_or_unknown_entry_refuses_the_whole_answer_and_keeps_nothing() {
    let (_t01, _t02, mut t02, journal) = two_tills();
    let no = "JKT01-T01-000001";
    // The sale with one figure changed.
    let mut altered = served(&journal);
    altered.sale.payload["lines"][0]["unit_price"] = 100.into();
    let e = t02
        .adopt_foreign_sale(no, UpstreamKind::Relay, &altered)
        .unwrap_err();
    assert!(e.to_string().contains("not as its till signed it"), "{e}");
    // A refund of it altered: the whole answer goes.
    let mut refund_altered = served(&journal);
    refund_altered.related[0].payload["total"] = 1.into();
    assert!(
        t02.adopt_foreign_sale(no, UpstreamKind::Relay, &refund_altered)
            .is_err()
    );
    // Signed by a device this till does not know.
    t02.connection()
        .execute("DELETE FROM branch_devices", [])
        .unwrap();
    let e = t02
        .adopt_foreign_sale(no, UpstreamKind::Relay, &served(&journal))
        .unwrap_err();
    assert!(
        e.to_string().contains("not among this branch's devices"),
        "{e}"
    );
    // Nothing was kept: the receipt is still unknown here.
    let e = t02
        .refund(no, &[("IND-GRG".into(), qty(1))], PaymentMethod::Cash, None)
        .unwrap_err();
    assert!(e.to_string().contains(no), "{e}");
    let kept: i64 = t02
        .connection()
        .query_row("SELECT count(*) FROM foreign_sales", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kept, 0);
}

#[test]
fn offline_a_return_without_the_original_is_priced_from_the_catalog_and_marked() {
    let (_t01, _t02, mut t02, journal) = two_tills();
    // The receipt the customer shows cannot be fetched (offline).
    let no = "JKT01-T01-000001";
    let e = t02
        .refund_unverified(no, &[("IND-GRG".into(), qty(2))], PaymentMethod::Cash, " ")
        .unwrap_err();
    assert!(e.to_string().contains("reason"), "{e}");
    let r = t02
        .refund_unverified(
            no,
            &[("IND-GRG".into(), qty(2)), ("8886008101053".into(), qty(1))],
            PaymentMethod::Cash,
            "rusak (approved by Budi)",
        )
        .unwrap();
    let p = &r.payload;
    assert!(p.unverified);
    assert_eq!(p.sale_entry_id, None);
    assert_eq!(p.total, 2 * 3_500 + 4_000, "catalog prices");
    assert_eq!(
        p.lines.iter().map(|l| l.line_no).collect::<Vec<_>>(),
        [1, 2],
        "its own lines"
    );
    assert_eq!(p.lines[1].sku, "AQUA600", "a barcode names the product");
    assert_eq!(t02.x_report().unwrap().totals.refunds_total, 11_000);
    // Once the sale is known here, it is refunded against the sale instead.
    t02.adopt_foreign_sale(no, UpstreamKind::Cloud, &served(&journal))
        .unwrap();
    let e = t02
        .refund_unverified(no, &[("IND-GRG".into(), qty(1))], PaymentMethod::Cash, "x")
        .unwrap_err();
    assert!(e.to_string().contains("refund it against the sale"), "{e}");
}
