//! "The branch relay": a real `sentra-sync relay` receives pushes through
//! the same checks as the cloud, answers alike with its own acks, serves
//! receipts from its copy of the journal, and refuses a credential it does
//! not know (`docs/vectors/relay/`, `errors/unknown_to_relay.json`).

use anyhow::Result;
use serde_json::json;

use crate::push::{bad_signature_entry, chain_a, hash_mismatch_entry};
use crate::transport::opened;
use crate::vector_test;
use crate::vectors::{Vector, push_via_relay};

vector_test!(
    unknown_to_relay,
    Vector::new(
        "errors/unknown_to_relay",
        &["error unknown_to_relay"],
        "At JKT01's relay, a terminal of JKT02 presents its relay credential."
    )
    .enrolled(&["till_a", "till_c"])
    .step(json!({"relay": "start"}))
    .step(push_via_relay("till_c", &[opened("till_c")]))
);

// The relay receives pushes through the same checks as the cloud.
vector_test!(
    relay_refuses_alike,
    Vector::new(
        "relay/refusals",
        &[
            "refusal hash_mismatch",
            "refusal bad_signature",
            "refusal gap"
        ],
        "Through the branch relay (`sentra-sync relay`, its relay credential): a tampered \
         entry (hash_mismatch), one signed by another key (bad_signature), the genuine seq 1 \
         (stored; the answer adds cloud_acked_seq), then seq 3 alone (gap)."
    )
    .enrolled(&["till_a"])
    .step(json!({"relay": "start"}))
    .step(push_via_relay("till_a", &[hash_mismatch_entry()]))
    .step(push_via_relay("till_a", &[bad_signature_entry()]))
    .step(push_via_relay("till_a", &chain_a(1)))
    .step(push_via_relay("till_a", &chain_a(3)[2..]))
);
