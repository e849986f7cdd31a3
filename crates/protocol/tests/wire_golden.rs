//! Golden tests of the push, pull and enroll bodies: the JSON of each wire
//! type is frozen in `tests/golden/wire/`, so a refactor that changes what
//! goes on the wire fails loudly. After an *intended* change (which needs a
//! new protocol version if old peers cannot read it), regenerate with
//!
//! ```sh
//! SENTRA_BLESS=1 cargo test -p sentra-protocol --test wire_golden
//! ```
//!
//! and review the diff.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use ed25519_dalek::SigningKey;
use sentra_protocol::payload::ShiftOpened;
use sentra_protocol::wire::*;
use sentra_protocol::{Hash, Hlc, UnsignedEntry};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

const DEVICE: Uuid = Uuid::from_u128(0x0192_f3a0_7c00_7abc_8def_0000_0000_0002);

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/wire")
        .join(format!("{name}.json"))
}

/// Compares `value`'s pretty JSON with the golden file, and checks that the
/// file reads back into an equal value.
fn check<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(name: &str, value: &T) {
    let json = serde_json::to_string_pretty(value).unwrap() + "\n";
    let path = golden(name);
    if std::env::var_os("SENTRA_BLESS").is_some_and(|v| v != "0") {
        std::fs::write(&path, &json).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; regenerate with SENTRA_BLESS=1 cargo test -p sentra-protocol --test wire_golden",
            path.display()
        )
    });
    assert_eq!(json, want, "{name}: the wire form changed");
    let back: T = serde_json::from_str(&want).unwrap();
    assert_eq!(&back, value, "{name}: does not read back");
}

fn entry() -> sentra_protocol::Entry {
    UnsignedEntry::with_payload(
        Uuid::from_u128(0x0192_f3a0_7c00_7abc_8def_0000_0000_1004),
        "JKT01",
        DEVICE,
        1,
        Hlc::new(1_730_441_040_000, 0),
        &ShiftOpened {
            shift_id: Uuid::from_u128(5),
            opening_float: 500_000,
            cashier: None,
        },
        Hash::ZERO,
    )
    .unwrap()
    .sign(&SigningKey::from_bytes(&[7u8; 32]))
    .unwrap()
}

#[test]
fn enroll_bodies() {
    check(
        "enroll_request",
        &EnrollRequest {
            code: "K7QD-2M9X-PR4T".into(),
            name: "Till 2".into(),
            public_key: hex::encode(
                SigningKey::from_bytes(&[7u8; 32])
                    .verifying_key()
                    .as_bytes(),
            ),
            device_id: Some(DEVICE),
        },
    );
    check(
        "enroll_response",
        &EnrollResponse {
            device_id: DEVICE,
            branch: "JKT01".into(),
            kind: DeviceKind::Terminal,
            credential: "ab".repeat(32),
            master_key: hex::encode(cloud_key().verifying_key().to_bytes()),
            relay_credential: Some("cd".repeat(32)),
        },
    );
    check(
        "trust_response",
        &TrustResponse {
            master_key: hex::encode(cloud_key().verifying_key().to_bytes()),
            relay_credential: Some("ef".repeat(32)),
        },
    );
}

/// The master-data key of the golden files (a fixed seed; the cloud's is
/// random).
fn cloud_key() -> SigningKey {
    SigningKey::from_bytes(&[3; 32])
}

fn signed(mut change: Change) -> Change {
    sentra_protocol::master::sign_change(&mut change, &cloud_key()).unwrap();
    change
}

#[test]
fn push_request_body() {
    check(
        "push_request",
        &PushRequest {
            sent_at_ms: Some(1_730_441_041_000),
            entries: vec![entry()],
        },
    );
}

#[test]
fn push_response_body() {
    let mut details = serde_json::Map::new();
    details.insert("sku".into(), "RICE".into());
    details.insert("on_hand_after_milli".into(), (-500).into());
    check(
        "push_response",
        &PushResponse {
            acks: vec![DeviceAck {
                device_id: DEVICE,
                acked_seq: 3,
                expected_seq: Some(4),
                cloud_acked_seq: None,
            }],
            stored: 2,
            duplicates: 1,
            refused: vec![RefusedEntry {
                device_id: DEVICE,
                seq: 5,
                reason: RefusalReason::Gap,
                detail: "expected seq 4, got seq 5".into(),
            }],
            quarantined: vec![QuarantinedEntry {
                device_id: DEVICE,
                seq: 3,
                reason: "unknown_kind: unknown entry kind \"loyalty_points\"".into(),
            }],
            conflicts: vec![ConflictNotice {
                kind: "oversold".into(),
                device_id: DEVICE,
                seq: 2,
                details: serde_json::Value::Object(details),
            }],
        },
    );
}

#[test]
fn pull_response_body() {
    check(
        "pull_response",
        &PullResponse {
            changes: vec![
                signed(Change {
                    entity: "price".into(),
                    key: "17".into(),
                    data: serde_json::json!({"price_id": 17, "sku": "TEH-BTL", "price": 6000,
                        "branch": null, "effective_from": "2026-11-23T00:00:00.000Z"}),
                    deleted: false,
                    scope: None,
                    version: 44,
                    signature: String::new(),
                }),
                signed(Change {
                    entity: "price".into(),
                    key: "9".into(),
                    data: serde_json::Value::Null,
                    deleted: true,
                    scope: Some("JKT01".into()),
                    version: 45,
                    signature: String::new(),
                }),
            ],
            next_cursor: "v1.812.44".into(),
            more: false,
        },
    );
}

/// The golden page is what a third party checks its verifier against: each
/// change verifies with the golden key for branch JKT01, and the bytes
/// signed are the documented ones.
#[test]
fn golden_changes_verify_with_the_cloud_key() {
    let text = std::fs::read_to_string(golden("pull_response")).unwrap();
    let page: PullResponse = serde_json::from_str(&text).unwrap();
    let key = cloud_key().verifying_key();
    for c in &page.changes {
        sentra_protocol::master::verify_change(c, &key, "JKT01").unwrap();
    }
    let bytes = sentra_protocol::master::change_signing_bytes(&page.changes[1]).unwrap();
    let bytes = String::from_utf8(bytes).unwrap();
    assert_eq!(
        bytes,
        r#"sentra.master{"data":null,"deleted":true,"entity":"price","key":"9","scope":"JKT01","version":45}"#
    );
    // The protocol document gives the same example.
    let doc = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/sync-protocol.md"),
    )
    .unwrap();
    assert!(
        doc.contains(&format!("`{bytes}`")),
        "docs/sync-protocol.md example is stale"
    );
    assert!(doc.contains("sentra.master") && doc.contains("seed `[3; 32]`"));
}

#[test]
fn error_body() {
    let mut details = BTreeMap::new();
    details.insert(
        "min".to_owned(),
        serde_json::Value::from(MIN_PROTOCOL_VERSION),
    );
    details.insert("max".to_owned(), serde_json::Value::from(PROTOCOL_VERSION));
    check(
        "error_body",
        &ErrorBody {
            error: "unsupported_protocol_version".into(),
            message: "protocol version 99 is not supported; this server speaks 1 to 1".into(),
            retryable: false,
            details,
        },
    );
}

#[test]
fn refusal_codes_match_their_serde_names() {
    for r in [
        RefusalReason::UnknownDevice,
        RefusalReason::DeviceRevoked,
        RefusalReason::WrongBranch,
        RefusalReason::NotOwnEntry,
        RefusalReason::UnsupportedFormat,
        RefusalReason::Malformed,
        RefusalReason::HashMismatch,
        RefusalReason::BadSignature,
        RefusalReason::BrokenLink,
        RefusalReason::Gap,
        RefusalReason::Fork,
        RefusalReason::AfterRefused,
    ] {
        assert_eq!(serde_json::to_value(r).unwrap(), r.code());
    }
}

#[test]
fn relay_head_response_body() {
    check(
        "head_response_relay",
        &HeadResponse {
            device_id: DEVICE,
            acked_seq: 120,
            cloud_acked_seq: Some(100),
            uplink: Some(UplinkState::Down),
            parked: None,
        },
    );
}

#[test]
fn relay_head_response_of_a_parked_device_behind_a_refused_relay() {
    check(
        "head_response_relay_parked",
        &HeadResponse {
            device_id: DEVICE,
            acked_seq: 1100,
            cloud_acked_seq: Some(0),
            uplink: Some(UplinkState::Refusing),
            parked: Some(
                "device_revoked: device 0192f3a0-7c00-7abc-8def-000000000002 has been revoked"
                    .into(),
            ),
        },
    );
}

#[test]
fn relay_push_ack_names_what_the_cloud_holds() {
    check(
        "device_ack_relay",
        &DeviceAck {
            device_id: DEVICE,
            acked_seq: 120,
            expected_seq: None,
            cloud_acked_seq: Some(100),
        },
    );
}

#[test]
fn relay_devices_response_body() {
    check(
        "relay_devices_response",
        &RelayDevicesResponse {
            branch: "JKT01".into(),
            devices: vec![RelayDevice {
                device_id: DEVICE,
                kind: DeviceKind::Terminal,
                name: "T01".into(),
                public_key: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
                    .into(),
                credential_sha256:
                    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
                revoked: false,
            }],
        },
    );
}
