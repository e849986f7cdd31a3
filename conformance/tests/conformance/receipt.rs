//! "Receipt lookup": the cloud and the relay serve a sale exactly as its
//! till signed it, with the voids and refunds that name it
//! (`docs/vectors/receipt/`, `errors/unknown_receipt.json`).

use anyhow::Result;
use serde_json::json;

use crate::entry_format::every_kind;
use crate::transport::request;
use crate::vector_test;
use crate::vectors::{Vector, push, push_via_relay};

vector_test!(
    unknown_receipt,
    Vector::new(
        "errors/unknown_receipt",
        &["error unknown_receipt"],
        "A receipt look-up of a number the branch never used."
    )
    .enrolled(&["till_a"])
    .step(request(
        "GET",
        "/v1/receipt?no=JKT01-T01-999999",
        Some("till_a"),
        None
    ))
);

vector_test!(
    receipt_from_the_cloud,
    Vector::new(
        "receipt/cloud",
        &[],
        "till_a pushes its chain of every kind; the cloud serves receipt JKT01-T01-000001: \
         the sale entry as till_a signed it, and the refund that names it."
    )
    .enrolled(&["till_a"])
    .step(push("till_a", &every_kind()))
    .step(request(
        "GET",
        "/v1/receipt?no=JKT01-T01-000001",
        Some("till_a"),
        None
    ))
);

vector_test!(
    receipt_from_the_relay,
    Vector::new(
        "relay/receipt",
        &[],
        "The same through the branch relay: it answers from its own copy of the journal, \
         alike (a return works with the internet down)."
    )
    .enrolled(&["till_a"])
    .step(json!({"relay": "start"}))
    .step(push_via_relay("till_a", &every_kind()))
    .step({
        let mut r = request(
            "GET",
            "/v1/receipt?no=JKT01-T01-000001",
            Some("till_a"),
            None,
        );
        r["request"]["via"] = json!("relay");
        r
    })
);
