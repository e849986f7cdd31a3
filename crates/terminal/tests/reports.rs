//! Shift reports to the rupiah: a scripted shift whose every figure is
//! worked out by hand below, checked in the X report, the Z report printed by
//! `shift close`, `report z`, and the `shift_closed` journal entry.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Till;
use serde_json::json;

#[test]
fn z_report_matches_the_sales_of_the_shift() {
    let till = Till::new();
    till.ok(&["catalog", "import", common::CATALOG]);
    till.ok(&["shift", "open", "--float", "200000", "--cashier", "SITI"]);

    // 1: 3 × 3.500 + 4.000 = 14.500, cash 20.000, change 5.500.
    let s1 = till.json(&[
        "sell",
        "--item",
        "IND-GRGx3",
        "--item",
        "AQUA600",
        "--pay",
        "cash:20000",
    ]);
    assert_eq!(s1["receipt_no"], "JKT01-T02-000001");
    assert_eq!(
        (s1["total"].as_i64(), s1["change"].as_i64()),
        (Some(14_500), Some(5_500))
    );
    // 2: 1.25 kg × 14.500 = 18.125 (exempt, no tax), 10 % off = 1.813 (rounded
    // half away from zero from 1.812,5) → 16.312, paid by QRIS.
    let s2 = till.json(&[
        "sell",
        "--item",
        "BERAS-KGx1.25@10%",
        "--pay",
        "qris:16312:QR-1",
    ]);
    assert_eq!(
        (
            s2["total"].as_i64(),
            s2["discounts"].as_i64(),
            s2["tax"].as_i64()
        ),
        (Some(16_312), Some(1_813), Some(0))
    );
    // 3: 38.500, card, then voided: leaves no trace in takings.
    till.json(&["sell", "--item", "MINYAK-2L", "--pay", "card:38500:APPR-1"]);
    till.ok(&["void", "JKT01-T02-000003"]);
    // 4: 15.500 split 5.000 voucher + 20.000 cash, change 9.500 → cash 10.500.
    till.json(&[
        "sell",
        "--item",
        "KOPI-KPL",
        "--pay",
        "voucher:5000:V-1",
        "--pay",
        "cash:20000",
    ]);
    // Refund one Indomie of sale 1 in cash: 3.500.
    let r = till.json(&["refund", "JKT01-T02-000001", "--item", "IND-GRG"]);
    assert_eq!(r["total"].as_i64(), Some(3_500));
    till.ok(&["cash", "in", "50000", "--reason", "change"]);
    till.ok(&["cash", "out", "30000", "--reason", "safe drop"]);

    // Tax (PPN 11 % included): 10.500 → 1.041, 4.000 → 396, 15.500 → 1.536;
    // the refunded Indomie gives back round(1.041 / 3) = 347.
    let expected = json!({
        "sales_count": 4,          // every sale rung, the voided one included
        "gross": 18_125 + 14_500 + 15_500,
        "discounts": 1_813,
        "tax": 1_041 + 396 + 1_536 - 347,
        "sales_total": 14_500 + 16_312 + 15_500,
        "refunds_count": 1,
        "refunds_total": 3_500,
        "voids_count": 1,
        "voids_total": 38_500,
        "payments": { "cash": 14_500 + 10_500 - 3_500, "qris": 16_312, "voucher": 5_000 },
        "cash_in": 50_000,
        "cash_out": 30_000,
        "opening_float": 200_000,
        "expected_cash": 200_000 + 21_500 + 50_000 - 30_000,
    });
    let x = till.json(&["report", "x"]);
    assert_eq!(x["report"], "X");
    for (field, value) in expected.as_object().unwrap() {
        assert_eq!(&x[field], value, "X report field {field}");
    }

    let z = till.json(&["shift", "close", "--counted", "240000"]);
    assert_eq!(z["report"], "Z");
    for (field, value) in expected.as_object().unwrap() {
        assert_eq!(&z[field], value, "Z report field {field}");
    }
    assert_eq!(z["counted_cash"].as_i64(), Some(240_000));
    assert_eq!(z["variance"].as_i64(), Some(240_000 - 241_500));
    assert_eq!(till.json(&["report", "z"]), z);

    // The shift_closed entry carries the same figures for the cloud to check.
    let entries = till.export();
    let closed = entries.last().unwrap();
    assert_eq!(closed["kind"], "shift_closed");
    let p = &closed["payload"];
    assert_eq!(p["expected_cash"].as_i64(), Some(241_500));
    assert_eq!(p["variance"].as_i64(), Some(-1_500));
    assert_eq!(p["totals"]["payments"], expected["payments"]);
    assert_eq!(p["totals"]["sales_total"], expected["sales_total"]);

    // No shift open any more; the projections still replay exactly.
    assert!(till.fails(&["report", "x"]).contains("no shift is open"));
    till.ok(&["journal", "check"]);
    till.ok(&["journal", "verify"]);
}

#[test]
fn voided_cash_sale_leaves_no_cash_takings() {
    let till = Till::ready();
    till.json(&["sell", "--item", "AQUA600", "--pay", "cash:4000"]);
    till.ok(&["void", "JKT01-T02-000001"]);
    let x = till.json(&["report", "x"]);
    assert_eq!(x["payments"], json!({}));
    assert_eq!(x["expected_cash"].as_i64(), Some(500_000));
    till.ok(&["journal", "check"]);
}

#[test]
fn receipt_and_refund_numbers_continue_across_shifts() {
    let till = Till::ready();
    for _ in 0..3 {
        till.json(&["sell", "--item", "AQUA600", "--pay", "cash:4000"]);
    }
    till.json(&["refund", "JKT01-T02-000002", "--item", "AQUA600"]);
    till.ok(&["shift", "close", "--counted", "508000"]);
    till.ok(&["shift", "open", "--float", "100000"]);
    let sale = till.json(&["sell", "--item", "TEH-BTL", "--pay", "cash:6000"]);
    assert_eq!(sale["receipt_no"], "JKT01-T02-000004");
    let refund = till.json(&["refund", "JKT01-T02-000003", "--item", "AQUA600"]);
    assert_eq!(refund["refund_no"], "JKT01-T02-R000002");
    // Refunding what the earlier shift already refunded is refused.
    let err = till.fails(&["refund", "JKT01-T02-000002", "--item", "AQUA600"]);
    assert!(
        err.contains("JKT01-T02-000002") && err.contains("cannot refund"),
        "{err}"
    );
    till.ok(&["journal", "check"]);
}
