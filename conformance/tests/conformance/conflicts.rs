//! "Conflicts (as implemented)": for every conflict kind a minimal batch
//! sequence that raises it (`docs/vectors/conflicts/<kind>.json`), the push
//! answers with the conflicts they raised, and the `conflicts` table after
//! (`kind`, `device_id`, `seq`, `details`, `resolution`). `fork` is
//! `refusals/fork.json`.

use anyhow::Result;
use serde_json::{Value, json};

use crate::vectors::{Chain, Vector, push, sale, shift_id, shift_opened};

use crate::vector_test;

/// `who`'s shift opened (its first shift), then `then` in order.
fn shift_then(c: &mut Chain, then: &[(&str, Value)]) -> Vec<Value> {
    let s = shift_id(c.device.index);
    let mut out = vec![c.next("shift_opened", shift_opened(&s))];
    for (kind, payload) in then {
        out.push(c.next(kind, payload.clone()));
    }
    out
}

fn conflicts() -> Value {
    json!({"conflicts": {}})
}

const CATALOG: &str = "sku,barcode,name,price,tax_category,stock\n\
                       RICE5,8990000000011,Beras 5 kg,72000,standard,20\n\
                       TEH-BTL,8990000000028,Teh Botol 450 ml,5000,standard,100\n";

vector_test!(
    oversold,
    Vector::new(
        "conflicts/oversold",
        &["conflict oversold"],
        "RICE5 imported for JKT01 with stock 20 (`catalog import --branch JKT01`); till_a \
         sells 2, till_b sells 20: on hand −2."
    )
    .enrolled(&["till_a", "till_b"])
    .step(json!({"catalog": {"branch": "JKT01", "csv": CATALOG}}))
    .step(push("till_a", &{
        let mut c = Chain::new("till_a");
        let s = shift_id(1);
        shift_then(
            &mut c,
            &[(
                "sale_completed",
                sale("JKT01-T01-000001", &s, &[("RICE5", 2000, 72000)]),
            )],
        )
    }))
    .step(push("till_b", &{
        let mut c = Chain::new("till_b");
        let s = shift_id(2);
        shift_then(
            &mut c,
            &[(
                "sale_completed",
                sale("JKT01-T02-000001", &s, &[("RICE5", 20000, 72000)]),
            )],
        )
    }))
    .step(conflicts())
);

vector_test!(
    stale_price,
    Vector::new(
        "conflicts/stale_price",
        &["conflict stale_price"],
        "TEH-BTL is Rp 5,000 chain-wide (imported before the sale's time); till_a sells it \
         at Rp 4,500."
    )
    .enrolled(&["till_a"])
    .step(json!({"catalog": {"csv": CATALOG}}))
    .step(json!({"sql": "UPDATE prices SET effective_from = '2026-01-01T00:00:00Z'"}))
    .step(push("till_a", &{
        let mut c = Chain::new("till_a");
        let s = shift_id(1);
        shift_then(
            &mut c,
            &[(
                "sale_completed",
                sale("JKT01-T01-000001", &s, &[("TEH-BTL", 1000, 4500)]),
            )],
        )
    }))
    .step(conflicts())
);

fn refund(no: &str, sale_id: &str, shift: &str, qty: i64, amount: i64) -> Value {
    json!({"refund_no": no, "receipt_no": "JKT01-T01-000001", "sale_entry_id": sale_id,
           "shift_id": shift, "lines": [{"line_no": 1, "sku": "TEH-BTL",
           "quantity_milli": qty, "amount": amount, "tax": amount * 11 / 111}],
           "total": amount, "tax": amount * 11 / 111, "method": "cash"})
}

vector_test!(
    over_refund,
    Vector::new(
        "conflicts/over_refund",
        &["conflict over_refund"],
        "till_a sells 2 TEH-BTL; till_a refunds 1, then till_b refunds 2 of the same sale: \
         the later refund (by HLC) is flagged."
    )
    .enrolled(&["till_a", "till_b"])
    .step(push("till_a", &{
        let mut c = Chain::new("till_a");
        let s = shift_id(1);
        let sale_id = c.id(2);
        shift_then(
            &mut c,
            &[
                (
                    "sale_completed",
                    sale("JKT01-T01-000001", &s, &[("TEH-BTL", 2000, 5000)]),
                ),
                (
                    "refund_issued",
                    refund("JKT01-T01-R00001", &sale_id, &s, 1000, 5000),
                ),
            ],
        )
    }))
    .step(push("till_b", &{
        let mut c = Chain::new("till_b");
        let s = shift_id(2);
        let sale_id = Chain::new("till_a").id(2);
        shift_then(
            &mut c,
            &[
                (
                    "sale_completed",
                    sale("JKT01-T02-000001", &s, &[("AQA-600", 1000, 4000)]),
                ),
                (
                    "sale_completed",
                    sale("JKT01-T02-000002", &s, &[("AQA-600", 1000, 4000)]),
                ),
                (
                    "refund_issued",
                    refund("JKT01-T02-R00001", &sale_id, &s, 2000, 10000),
                ),
            ],
        )
    }))
    .step(conflicts())
);

vector_test!(
    orphan_reference,
    Vector::new(
        "conflicts/orphan_reference",
        &["conflict orphan_reference"],
        "`serve --orphan-grace-secs 0 --sweep-interval-ms 100`: till_a refunds a sale the \
         cloud has never seen; it is parked, and the sweep raises orphan_reference; then the \
         sale arrives from till_b and the conflict is resolved (\"sale arrived\")."
    )
    .serve(&["--orphan-grace-secs", "0", "--sweep-interval-ms", "100"])
    .enrolled(&["till_a", "till_b"])
    .step(push("till_a", &{
        let mut c = Chain::new("till_a");
        let s = shift_id(1);
        let sale_id = Chain::new("till_b").id(2);
        shift_then(
            &mut c,
            &[(
                "refund_issued",
                json!({"refund_no": "JKT01-T01-R00001", "receipt_no": "JKT01-T02-000001",
                   "sale_entry_id": sale_id, "shift_id": s,
                   "lines": [{"line_no": 1, "sku": "TEH-BTL", "quantity_milli": 1000,
                              "amount": 5000, "tax": 495}],
                   "total": 5000, "tax": 495, "method": "cash"}),
            )],
        )
    }))
    .step(json!({"conflicts": {"wait_for": "orphan_reference"}}))
    .step(push("till_b", &{
        let mut c = Chain::new("till_b");
        let s = shift_id(2);
        shift_then(
            &mut c,
            &[(
                "sale_completed",
                sale("JKT01-T02-000001", &s, &[("TEH-BTL", 1000, 5000)]),
            )],
        )
    }))
    .step(conflicts())
);

fn voucher_sale(receipt: &str, shift: &str) -> Value {
    let mut s = sale(receipt, shift, &[("TEH-BTL", 1000, 5000)]);
    s["tenders"] = json!([{"method": "voucher", "amount": 5000, "reference": "VCH-0001"}]);
    s
}

vector_test!(
    voucher_double_spend,
    Vector::new(
        "conflicts/voucher_double_spend",
        &["conflict voucher_double_spend"],
        "Voucher VCH-0001 redeemed by till_a, then by till_b."
    )
    .enrolled(&["till_a", "till_b"])
    .step(push("till_a", &{
        let mut c = Chain::new("till_a");
        shift_then(
            &mut c,
            &[(
                "sale_completed",
                voucher_sale("JKT01-T01-000001", &shift_id(1)),
            )],
        )
    }))
    .step(push("till_b", &{
        let mut c = Chain::new("till_b");
        shift_then(
            &mut c,
            &[(
                "sale_completed",
                voucher_sale("JKT01-T02-000001", &shift_id(2)),
            )],
        )
    }))
    .step(conflicts())
);

vector_test!(
    clock_skew,
    Vector::new(
        "conflicts/clock_skew",
        &["conflict clock_skew"],
        "till_a's batch says it was sent at its wall clock of the vectors (November 2026), \
         long before it was received: its entries are corrected by the measured offset \
         (skew_ms and received_at depend on when the vector runs)."
    )
    .enrolled(&["till_a"])
    .step({
        let mut c = Chain::new("till_a");
        let s = shift_id(1);
        let entries = shift_then(
            &mut c,
            &[(
                "sale_completed",
                sale("JKT01-T01-000001", &s, &[("TEH-BTL", 1000, 5000)]),
            )],
        );
        let mut p = push("till_a", &entries);
        p["request"]["body"]["sent_at_ms"] = json!(crate::vectors::BASE_MS + 120_000);
        p
    })
    .step(conflicts())
);

vector_test!(
    shift_mismatch,
    Vector::new(
        "conflicts/shift_mismatch",
        &["conflict shift_mismatch"],
        "till_a closes its shift of one Rp 5,000 cash sale reporting Rp 6,000 of sales."
    )
    .enrolled(&["till_a"])
    .step(push("till_a", &{
        let mut c = Chain::new("till_a");
        let s = shift_id(1);
        shift_then(
            &mut c,
            &[
                (
                    "sale_completed",
                    sale("JKT01-T01-000001", &s, &[("TEH-BTL", 1000, 5000)]),
                ),
                (
                    "shift_closed",
                    json!({"shift_id": s, "opening_float": 500000,
                "totals": {"sales_count": 1, "gross": 6000, "discounts": 0, "tax": 594,
                           "sales_total": 6000, "refunds_count": 0, "refunds_total": 0,
                           "voids_count": 0, "voids_total": 0, "payments": {"cash": 6000},
                           "cash_in": 0, "cash_out": 0},
                "expected_cash": 506000, "counted_cash": 506000, "variance": 0}),
                ),
            ],
        )
    }))
    .step(conflicts())
);

vector_test!(
    foreign_shift,
    Vector::new(
        "conflicts/foreign_shift",
        &["conflict foreign_shift"],
        "till_b records a sale in the shift till_a opened."
    )
    .enrolled(&["till_a", "till_b"])
    .step(push("till_a", &{
        let mut c = Chain::new("till_a");
        shift_then(&mut c, &[])
    }))
    .step(push("till_b", &{
        let mut c = Chain::new("till_b");
        vec![c.next(
            "sale_completed",
            sale("JKT01-T02-000001", &shift_id(1), &[("TEH-BTL", 1000, 5000)]),
        )]
    }))
    .step(conflicts())
);

vector_test!(
    void_not_allowed,
    Vector::new(
        "conflicts/void_not_allowed",
        &["conflict void_not_allowed"],
        "till_b voids a sale of till_a: the void is kept as refused, the sale stays counted."
    )
    .enrolled(&["till_a", "till_b"])
    .step(push("till_a", &{
        let mut c = Chain::new("till_a");
        let s = shift_id(1);
        shift_then(
            &mut c,
            &[(
                "sale_completed",
                sale("JKT01-T01-000001", &s, &[("TEH-BTL", 1000, 5000)]),
            )],
        )
    }))
    .step(push("till_b", &{
        let mut c = Chain::new("till_b");
        let s = shift_id(2);
        let sale_id = Chain::new("till_a").id(2);
        shift_then(
            &mut c,
            &[(
                "sale_voided",
                json!({"receipt_no": "JKT01-T01-000001", "sale_entry_id": sale_id,
                   "shift_id": s, "total": 5000}),
            )],
        )
    }))
    .step(conflicts())
);

vector_test!(
    unverified_return,
    Vector::new(
        "conflicts/unverified_return",
        &["conflict unverified_return"],
        "till_a takes back an item without the original sale (`unverified: true`, a \
         supervisor's reason, no sale_entry_id)."
    )
    .enrolled(&["till_a"])
    .step(push("till_a", &{
        let mut c = Chain::new("till_a");
        let s = shift_id(1);
        shift_then(
            &mut c,
            &[(
                "refund_issued",
                json!({"refund_no": "JKT01-T01-R00001", "receipt_no": "JKT01-T09-000042",
                   "shift_id": s, "lines": [{"line_no": 1, "sku": "TEH-BTL",
                   "quantity_milli": 1000, "amount": 5000, "tax": 495}],
                   "total": 5000, "tax": 495, "method": "cash",
                   "reason": "receipt lost, approved by Budi", "unverified": true}),
            )],
        )
    }))
    .step(conflicts())
);
