//! "Push": a vector for every refusal reason (`docs/vectors/refusals/`) and
//! every quarantine reason (`docs/vectors/quarantine/`), with the limits they
//! enforce. Where the document says the relay checks the same, the refusal
//! vectors are also pushed through a real relay (`docs/vectors/relay/`).

use anyhow::Result;
use serde_json::{Value, json};

use crate::vectors::{Chain, Vector, device, push, repeat, sale, shift_id, shift_opened};

use crate::vector_test;

fn opened(c: &mut Chain) -> Value {
    c.next("shift_opened", shift_opened(&shift_id(c.device.index)))
}

/// A JKT01 relay played by the suite pushes `entries`.
fn relay_push(entries: &[Value]) -> Value {
    push("relay_r", entries)
}

vector_test!(
    unknown_device,
    Vector::new(
        "refusals/unknown_device",
        &["refusal unknown_device"],
        "A relay forwards entries of a device the cloud never enrolled."
    )
    .enrolled(&["relay_r"])
    .step(relay_push(&[opened(&mut Chain::new("till_b"))]))
);

vector_test!(
    wrong_branch,
    Vector::new(
        "refusals/wrong_branch",
        &["refusal wrong_branch"],
        "till_a (of JKT01) pushes its own, genuinely signed entry that names branch JKT02."
    )
    .enrolled(&["till_a"])
    .step(push(
        "till_a",
        &[{
            let c = Chain::new("till_a");
            let mut e = c.draft("shift_opened", shift_opened(&shift_id(1)));
            e["branch"] = json!("JKT02");
            c.seal(&mut e);
            e
        }]
    ))
);

vector_test!(
    not_own_entry,
    Vector::new(
        "refusals/not_own_entry",
        &["refusal not_own_entry"],
        "till_a pushes an entry of till_b (both enrolled)."
    )
    .enrolled(&["till_a", "till_b"])
    .step(push("till_a", &[opened(&mut Chain::new("till_b"))]))
);

vector_test!(
    device_revoked,
    Vector::new(
        "refusals/device_revoked",
        &["refusal device_revoked"],
        "A relay forwards entries of a device revoked since."
    )
    .enrolled(&["till_a", "relay_r"])
    .step(json!({"admin": ["device", "revoke", device("till_a").id]}))
    .step(relay_push(&[opened(&mut Chain::new("till_a"))]))
);

vector_test!(
    unsupported_format,
    Vector::new(
        "refusals/unsupported_format",
        &["refusal unsupported_format"],
        "An entry of format 2 (signed as format 1's encoding with the header 0x0002)."
    )
    .enrolled(&["till_a"])
    .step(push(
        "till_a",
        &[{
            let c = Chain::new("till_a");
            let mut e = c.draft("shift_opened", shift_opened(&shift_id(1)));
            e["format"] = json!(2);
            c.seal(&mut e);
            e
        }]
    ))
);

vector_test!(
    malformed,
    Vector::new(
        "refusals/malformed",
        &["refusal malformed"],
        "An entry whose payload holds a float: it has no canonical form, so no genuine \
         hash or signature (zeros here)."
    )
    .enrolled(&["till_a"])
    .step(push(
        "till_a",
        &[{
            let c = Chain::new("till_a");
            let mut e = c.draft(
                "shift_opened",
                json!({"shift_id": shift_id(1), "opening_float": 500000.5}),
            );
            e["hash"] = json!("0".repeat(64));
            e["signature"] = json!("0".repeat(128));
            e
        }]
    ))
);

/// till_a's first entry, then altered after sealing by `alter`.
fn tampered(alter: impl Fn(&mut Value)) -> Value {
    let mut e = opened(&mut Chain::new("till_a"));
    alter(&mut e);
    e
}

pub fn hash_mismatch_entry() -> Value {
    tampered(|e| e["payload"]["opening_float"] = json!(900000))
}

pub fn bad_signature_entry() -> Value {
    // Sealed by another key: the hash is right, the signature is not till_a's.
    let c = Chain::new("till_a");
    let mut e = c.draft("shift_opened", shift_opened(&shift_id(c.device.index)));
    sentra_conformance::seal(&mut e, [8; 32]).expect("canonical");
    e
}

vector_test!(
    hash_mismatch,
    Vector::new(
        "refusals/hash_mismatch",
        &["refusal hash_mismatch"],
        "till_a's first entry with its opening float changed after it was signed; then the \
         genuine entry, stored."
    )
    .enrolled(&["till_a"])
    .step(push("till_a", &[hash_mismatch_entry()]))
    .step(push("till_a", &[opened(&mut Chain::new("till_a"))]))
);

vector_test!(
    bad_signature,
    Vector::new(
        "refusals/bad_signature",
        &["refusal bad_signature"],
        "till_a's first entry signed by another key (hash right, signature not till_a's)."
    )
    .enrolled(&["till_a"])
    .step(push("till_a", &[bad_signature_entry()]))
);

/// till_a's chain of `n` entries: a shift opened, then sales.
pub fn chain_a(n: u64) -> Vec<Value> {
    let mut c = Chain::new("till_a");
    let s = shift_id(1);
    let mut out = vec![c.next("shift_opened", shift_opened(&s))];
    for i in 1..n {
        out.push(c.next(
            "sale_completed",
            sale(&format!("JKT01-T01-{i:06}"), &s, &[("TEH-BTL", 1000, 5000)]),
        ));
    }
    out
}

vector_test!(
    broken_link,
    Vector::new(
        "refusals/broken_link",
        &["refusal broken_link", "refusal after_refused"],
        "Seq 1 stored; seq 2 names a prev_hash that is not seq 1's (refused broken_link); \
         seq 3, after it in the batch, is refused after_refused."
    )
    .enrolled(&["till_a"])
    .step(push("till_a", &chain_a(1)))
    .step(push("till_a", &{
        let mut c = Chain::new("till_a");
        let _first = opened(&mut c);
        c.prev_hash = "ab".repeat(32);
        let s = shift_id(1);
        let second = c.next(
            "sale_completed",
            sale("JKT01-T01-000001", &s, &[("TEH-BTL", 1000, 5000)]),
        );
        let third = c.next(
            "sale_completed",
            sale("JKT01-T01-000002", &s, &[("TEH-BTL", 1000, 5000)]),
        );
        vec![second, third]
    }))
);

vector_test!(
    gap,
    Vector::new(
        "refusals/gap",
        &["refusal gap"],
        "Seq 1 stored; then seq 3 alone: refused gap, expected_seq 2."
    )
    .enrolled(&["till_a"])
    .step(push("till_a", &chain_a(1)))
    .step(push("till_a", &chain_a(3)[2..]))
);

vector_test!(
    fork,
    Vector::new(
        "refusals/fork",
        &["refusal fork", "conflict fork"],
        "Seq 1 stored; then a different, genuinely signed seq 1: refused fork, a fork \
         conflict raised, the device flagged."
    )
    .enrolled(&["till_a"])
    .step(push("till_a", &chain_a(1)))
    .step(push(
        "till_a",
        &[{
            let mut c = Chain::new("till_a");
            c.next(
                "shift_opened",
                json!({"shift_id": shift_id(9), "opening_float": 100000}),
            )
        }]
    ))
    .step(json!({"conflicts": {}}))
);

// ---- quarantine: stored and acknowledged, not applied

/// till_a: a shift opened, then `kind` with `payload` as seq 2.
fn quarantine_vector(
    path: &str,
    covers: &[&str],
    about: &str,
    kind: &str,
    payload: Value,
) -> Vector {
    let mut c = Chain::new("till_a");
    let first = opened(&mut c);
    let second = c.next(kind, payload);
    Vector::new(path, covers, about)
        .enrolled(&["till_a"])
        .step(push("till_a", &[first, second]))
}

vector_test!(
    unknown_kind,
    quarantine_vector(
        "quarantine/unknown_kind",
        &["quarantine unknown_kind"],
        "A kind this server does not know.",
        "loyalty_points",
        json!({"points": 10})
    )
);

vector_test!(
    invalid_payload,
    quarantine_vector(
        "quarantine/invalid_payload",
        &["quarantine invalid_payload"],
        "A cash_moved without its amount.",
        "cash_moved",
        json!({"shift_id": shift_id(1), "direction": "in"})
    )
);

vector_test!(
    invalid_figures,
    quarantine_vector(
        "quarantine/invalid_figures",
        &["quarantine invalid_figures"],
        "A sale whose total is not the sum of its lines.",
        "sale_completed",
        {
            let mut s = sale("JKT01-T01-000001", &shift_id(1), &[("TEH-BTL", 1000, 5000)]);
            s["total"] = json!(4000);
            s["paid"] = json!(4000);
            s["tenders"][0]["amount"] = json!(4000);
            s
        }
    )
);

vector_test!(
    control_character,
    quarantine_vector(
        "quarantine/control_character",
        &["quarantine control_character", "limit max_text_bytes"],
        "A cashier name holding U+0001.",
        "drawer_opened",
        json!({"shift_id": shift_id(1), "reason": "change", "cashier": "Si\u{1}ti"})
    )
);

vector_test!(
    text_too_long,
    quarantine_vector(
        "quarantine/text_too_long",
        &["quarantine text_too_long", "limit max_text_bytes"],
        "A cashier name of 201 bytes.",
        "shift_opened",
        json!({"shift_id": shift_id(2), "opening_float": 0, "cashier": "s".repeat(201)})
    )
);

vector_test!(
    too_many_lines,
    Vector::new(
        "quarantine/too_many_lines",
        &["quarantine invalid_figures", "limit max_lines"],
        "A sale of 2,001 lines (one line of Rp 100 repeated: `{\"<repeat>\": X, \"count\": N}` \
         is N copies of X, and the hash and signature are over the expanded payload)."
    )
    .enrolled(&["till_a"])
    .step(push("till_a", &{
        let mut c = Chain::new("till_a");
        let first = opened(&mut c);
        let mut payload = sale("JKT01-T01-000001", &shift_id(1), &[("SKU1", 1000, 100)]);
        let line = payload["lines"][0].clone();
        for field in ["gross", "tax", "total", "paid"] {
            payload[field] = json!(payload[field].as_i64().unwrap_or(0) * 2001);
        }
        payload["tenders"][0]["amount"] = payload["total"].clone();
        payload["lines"] = json!(vec![line.clone(); 2001]);
        let mut e = c.next("sale_completed", payload);
        e["payload"]["lines"] = repeat(line, 2001);
        vec![first, e]
    }))
);

vector_test!(
    quantity_and_amount_limits,
    Vector::new(
        "quarantine/limits",
        &[
            "quarantine invalid_figures",
            "limit max_quantity_milli",
            "limit max_amount",
            "limit max_tenders"
        ],
        "A stock count of 1,000,001 units (over MAX_QUANTITY_MILLI), a cash movement of \
         Rp 10^13 + 1 (over MAX_AMOUNT) and a sale paid with 21 tenders; at the limits \
         (1,000,000 units, Rp 10^13, 20 tenders), all three are applied."
    )
    .enrolled(&["till_a"])
    .step(push("till_a", &{
        let mut c = Chain::new("till_a");
        let s = shift_id(1);
        vec![
            c.next("shift_opened", shift_opened(&s)),
            c.next(
                "stock_counted",
                json!({"sku": "AQA-600", "counted_milli": 1_000_000_001i64, "previous_milli": 0}),
            ),
            c.next(
                "cash_moved",
                json!({"shift_id": s, "direction": "in", "amount": 10_000_000_000_001i64}),
            ),
            c.next("sale_completed", tendered(&s, 21)),
            c.next(
                "stock_counted",
                json!({"sku": "AQA-600", "counted_milli": 1_000_000_000i64, "previous_milli": 0}),
            ),
            c.next(
                "cash_moved",
                json!({"shift_id": s, "direction": "in", "amount": 10_000_000_000_000i64}),
            ),
            c.next("sale_completed", tendered(&s, 20)),
        ]
    }))
);

/// A sale of Rp 1,000 × `n`, paid with `n` cash tenders of Rp 1,000.
fn tendered(shift: &str, n: i64) -> Value {
    let mut s = sale(
        &format!("JKT01-T01-{n:06}"),
        shift,
        &[("TEH-BTL", n * 1000, 1000)],
    );
    s["tenders"] = json!(vec![json!({"method": "cash", "amount": 1000}); n as usize]);
    s
}

vector_test!(
    too_large,
    Vector::new(
        "quarantine/too_large",
        &["quarantine too_large", "limit max_payload_bytes"],
        "A payload of more than 1 MiB (5,600 strings of 190 bytes; `{\"<repeat>\": X, \
         \"count\": N}` is N copies of X, and the hash and signature are over the expanded \
         payload)."
    )
    .enrolled(&["till_a"])
    .step(push("till_a", &{
        let mut c = Chain::new("till_a");
        let first = opened(&mut c);
        let filler = "x".repeat(190);
        let full = json!({"shift_id": shift_id(1), "opening_float": 0,
                          "notes": vec![filler.clone(); 5600]});
        let mut e = c.next("shift_opened", full);
        e["payload"]["notes"] = repeat(json!(filler), 5600);
        vec![first, e]
    }))
);

vector_test!(
    cannot_apply,
    Vector::new(
        "quarantine/cannot_apply",
        &["quarantine cannot_apply"],
        "BIG's stock already at the bottom of a 64-bit sum (set in the database): the sale \
         that would take it lower is quarantined, the sales around it apply."
    )
    .enrolled(&["till_a"])
    .step(json!({"sql": "INSERT INTO stock_levels (branch_id, sku, on_hand_milli, count_generation) \
                         SELECT branch_id, 'BIG', -9223372036854775000, 1 FROM branches WHERE code = 'JKT01'"}))
    .step(push("till_a", &{
        let mut c = Chain::new("till_a");
        let s = shift_id(1);
        vec![
            c.next("shift_opened", shift_opened(&s)),
            c.next("sale_completed", sale("JKT01-T01-000001", &s, &[("TEH-BTL", 1000, 5000)])),
            c.next("sale_completed", sale("JKT01-T01-000002", &s, &[("BIG", 5000, 1000)])),
            c.next("sale_completed", sale("JKT01-T01-000003", &s, &[("TEH-BTL", 1000, 5000)])),
        ]
    }))
);

vector_test!(
    duplicate_entry_id,
    Vector::new(
        "quarantine/duplicate_entry_id",
        &["quarantine duplicate_entry_id"],
        "till_b's sale reuses the entry id of till_a's sale: kept in the journal, \
         quarantined; till_a's sale stays in the ledger."
    )
    .enrolled(&["till_a", "till_b"])
    .step(push("till_a", &chain_a(2)))
    .step(push("till_b", &{
        let mut c = Chain::new("till_b");
        let s = shift_id(2);
        let first = c.next("shift_opened", shift_opened(&s));
        let mut e = c.draft(
            "sale_completed",
            sale("JKT01-T02-000001", &s, &[("TEH-BTL", 1000, 5000)]),
        );
        e["id"] = json!(Chain::new("till_a").id(2));
        c.seal(&mut e);
        vec![first, e]
    }))
);
