//! "Enrollment": the refusals of `POST /v1/enroll`
//! (`docs/vectors/errors/enroll_*.json`, `errors/conflict.json`).

use anyhow::Result;
use serde_json::json;

use crate::transport::{enroll_body, request};
use crate::vector_test;
use crate::vectors::Vector;

vector_test!(
    enroll_code_invalid,
    Vector::new(
        "errors/enroll_code_invalid",
        &["error enroll_code_invalid"],
        "Enrollment with a code the server never made."
    )
    .step(json!({"branch": "JKT01"}))
    .step(request(
        "POST",
        "/v1/enroll",
        None,
        Some(json!({"code": "AAAA-BBBB-CCCC", "name": "till_a",
                    "public_key": sentra_conformance::public_key_hex([7; 32])}))
    ))
);

vector_test!(
    enroll_code_used,
    Vector::new(
        "errors/enroll_code_used",
        &["error enroll_code_used"],
        "A code enrolls till_a (\"<code>\" stands for the code the step before made), then \
         is presented again by till_b."
    )
    .step(json!({"branch": "JKT01"}))
    .step(json!({"enroll_code": {"branch": "JKT01", "kind": "terminal"}}))
    .step(request(
        "POST",
        "/v1/enroll",
        None,
        Some(enroll_body("till_a"))
    ))
    .step(request(
        "POST",
        "/v1/enroll",
        None,
        Some(enroll_body("till_b"))
    ))
);

vector_test!(
    conflict,
    Vector::new(
        "errors/conflict",
        &["error conflict"],
        "till_a, enrolled, enrolls again with a new code and the same id and key; the code \
         stays usable (till_b enrolls with it)."
    )
    .enrolled(&["till_a"])
    .step(json!({"enroll_code": {"branch": "JKT01", "kind": "terminal"}}))
    .step(request(
        "POST",
        "/v1/enroll",
        None,
        Some(enroll_body("till_a"))
    ))
    .step(request(
        "POST",
        "/v1/enroll",
        None,
        Some(enroll_body("till_b"))
    ))
);

vector_test!(
    enroll_code_expired,
    Vector::new(
        "errors/enroll_code_expired",
        &["error enroll_code_expired"],
        "A code presented after its expiry (set in the past in the database)."
    )
    .step(json!({"branch": "JKT01"}))
    .step(json!({"enroll_code": {"branch": "JKT01", "kind": "terminal"}}))
    .step(json!({"sql": "UPDATE enroll_codes SET expires_at = now() - interval '1 minute'"}))
    .step(request(
        "POST",
        "/v1/enroll",
        None,
        Some(enroll_body("till_a"))
    ))
);
