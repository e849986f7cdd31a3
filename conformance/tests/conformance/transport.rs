//! "Transport, versions, errors" and "Enrollment": a vector for every row of
//! the error table (`docs/vectors/errors/<code>.json`), each answered by the
//! real server with its status, code and `retryable`.

use anyhow::Result;
use serde_json::{Value, json};

use crate::vectors::{Chain, Vector, device, push, repeat, shift_id};

pub fn opened(who: &str) -> Value {
    Chain::new(who).next("shift_opened", crate::vectors::shift_opened(&shift_id(1)))
}

pub fn request(method: &str, path: &str, who: Option<&str>, body: Option<Value>) -> Value {
    let mut r = json!({"method": method, "path": path, "headers": {"sentra-protocol": "1"}});
    if let Some(w) = who {
        r["as"] = json!(w);
    }
    if let Some(b) = body {
        r["body"] = b;
    }
    json!({"request": r})
}

pub fn enroll_body(who: &str) -> Value {
    let d = device(who);
    json!({"code": "<code>", "name": d.name,
           "public_key": sentra_conformance::public_key_hex(d.seed), "device_id": d.id})
}

#[macro_export]
macro_rules! vector_test {
    ($name:ident, $vector:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() -> Result<()> {
            $vector.verify().await
        }
    };
}

vector_test!(
    missing_protocol_version,
    Vector::new(
        "errors/missing_protocol_version",
        &["error missing_protocol_version"],
        "A push without the sentra-protocol header."
    )
    .enrolled(&["till_a"])
    .step(
        json!({"request": {"method": "POST", "path": "/v1/push", "as": "till_a",
                              "body": {"entries": [opened("till_a")]}}})
    )
);

vector_test!(
    unsupported_protocol_version,
    Vector::new(
        "errors/unsupported_protocol_version",
        &["error unsupported_protocol_version"],
        "A push speaking protocol 99; details name the range the server speaks."
    )
    .enrolled(&["till_a"])
    .step(
        json!({"request": {"method": "POST", "path": "/v1/push", "as": "till_a",
                              "headers": {"sentra-protocol": "99"},
                              "body": {"entries": [opened("till_a")]}}})
    )
);

vector_test!(
    malformed_request,
    Vector::new(
        "errors/malformed_request",
        &["error malformed_request"],
        "A push whose body is not JSON, then one that is JSON but not a push."
    )
    .enrolled(&["till_a"])
    .step(
        json!({"request": {"method": "POST", "path": "/v1/push", "as": "till_a",
                              "headers": {"sentra-protocol": "1"}, "text": "{\"entries\": ["}})
    )
    .step(request(
        "POST",
        "/v1/push",
        Some("till_a"),
        Some(json!({"entries": 7}))
    ))
);

vector_test!(
    unauthorized,
    Vector::new(
        "errors/unauthorized",
        &["error unauthorized"],
        "A push with no credential."
    )
    .enrolled(&["till_a"])
    .step(request(
        "POST",
        "/v1/push",
        None,
        Some(json!({"entries": [opened("till_a")]}))
    ))
);

vector_test!(
    device_revoked,
    Vector::new(
        "errors/device_revoked",
        &["error device_revoked"],
        "A push by a device revoked with `sentra-sync device revoke`."
    )
    .enrolled(&["till_a"])
    .step(json!({"admin": ["device", "revoke", device("till_a").id]}))
    .step(push("till_a", &[opened("till_a")]))
);

vector_test!(
    forbidden,
    Vector::new(
        "errors/forbidden",
        &["error forbidden"],
        "A terminal asks for the relays' device list."
    )
    .enrolled(&["till_a"])
    .step(request("GET", "/v1/relay/devices", Some("till_a"), None))
);

vector_test!(
    body_too_large,
    Vector::new(
        "errors/body_too_large",
        &["error body_too_large", "limit max_body_bytes"],
        "A push body of 4 MiB + 1 byte (spaces)."
    )
    .enrolled(&["till_a"])
    .step(
        json!({"request": {"method": "POST", "path": "/v1/push", "as": "till_a",
                              "headers": {"sentra-protocol": "1"},
                              "bytes": {"byte": " ", "count": 4 * 1024 * 1024 + 1}}})
    )
);

vector_test!(
    batch_too_large,
    Vector::new(
        "errors/batch_too_large",
        &["error batch_too_large", "limit max_push_entries"],
        "A push of 1001 entries (one entry repeated: `{\"<repeat>\": X, \"count\": N}` is N \
         copies of X)."
    )
    .enrolled(&["till_a"])
    .step(request(
        "POST",
        "/v1/push",
        Some("till_a"),
        Some(json!({"entries": repeat(opened("till_a"), 1001)}))
    ))
);

vector_test!(
    busy,
    Vector::new(
        "errors/busy",
        &["error busy"],
        "`serve --max-in-flight 1`: while one push waits (the chain tips locked by another \
         session), a second request is told busy at once, with Retry-After."
    )
    .serve(&["--max-in-flight", "1"])
    .enrolled(&["till_a", "till_b"])
    .step(json!({"hold_lock": {"table": "device_heads", "ms": 3000}}))
    .step(json!({"background": push("till_a", &[opened("till_a")])["request"]}))
    .step(
        json!({"until_sql": {"query": "SELECT count(*) FROM pg_locks WHERE NOT granted AND \
                                        database = (SELECT oid FROM pg_database WHERE \
                                        datname = current_database())",
                                "equals": "1"}})
    )
    .step(push("till_b", &[opened("till_b")]))
);

vector_test!(
    timeout,
    Vector::new(
        "errors/timeout",
        &["error timeout"],
        "`serve --request-timeout-secs 1`: a push that waits longer (the chain tips locked by \
         another session) is cut off and rolled back whole; sent again, it is stored."
    )
    .serve(&["--request-timeout-secs", "1"])
    .enrolled(&["till_a"])
    .step(json!({"hold_lock": {"table": "device_heads", "ms": 2500}}))
    .step(push("till_a", &[opened("till_a")]))
    .step(
        json!({"until_sql": {"query": "SELECT count(*) FROM pg_locks l JOIN pg_class c ON \
                                          c.oid = l.relation WHERE c.relname = 'device_heads' \
                                          AND l.mode = 'AccessExclusiveLock' AND \
                                          l.database = (SELECT oid FROM pg_database WHERE \
                                          datname = current_database())",
                                "equals": "0"}})
    )
    .step(push("till_a", &[opened("till_a")]))
);

vector_test!(
    unavailable,
    Vector::new(
        "errors/unavailable",
        &["error unavailable"],
        "The database turned read-only and its sessions ended (as a standby not yet \
         promoted): a push is told unavailable, retryable."
    )
    .enrolled(&["till_a"])
    .step(json!({"sql": "ALTER DATABASE \"<database>\" SET default_transaction_read_only = on"}))
    .step(
        json!({"sql": "SELECT count(pg_terminate_backend(pid)) >= 0 FROM pg_stat_activity \
                         WHERE datname = current_database() AND pid <> pg_backend_pid()"})
    )
    .step(push("till_a", &[opened("till_a")]))
);

vector_test!(
    internal,
    Vector::new(
        "errors/internal",
        &["error internal"],
        "A fault on the server's side (the branch's time zone corrupted in the database): \
         internal, retryable, nothing changed."
    )
    .enrolled(&["till_a"])
    .step(json!({"sql": "UPDATE branches SET timezone = 'Mars/Olympus_Mons' WHERE code = 'JKT01'"}))
    .step(push("till_a", &[opened("till_a")]))
);
