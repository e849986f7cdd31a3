//! Target `push_body`: the body of `POST /v1/push`, then what the cloud and
//! the relay check per entry before any lock (`sentra_sync::receive`):
//! branch, format, hash, signature ([`verify_entry`]), the payload rules
//! ([`validate`]) and the placement of a device's entries against its
//! chain ([`place`]).

use std::collections::BTreeMap;

use sentra_ledger::validate::{validate, validate_sized};
use sentra_protocol::wire::{DeviceKind, PushRequest, RefusalReason};
use sentra_protocol::{
    ChainPoint, ENTRY_DOMAIN_TAG, ENTRY_FORMAT_VERSION, Entry, Hash, canonical_json, encode_payload,
};
use sentra_sync::receive::check::{Placement, Sender, place, verify_entry};
use uuid::Uuid;

use crate::fuzz_key;

type Verified<T> = Result<T, (RefusalReason, String)>;

pub fn push_body(data: &[u8]) {
    let Ok(req) = serde_json::from_slice::<PushRequest>(data) else {
        return;
    };
    // What the server read, written and read again, is the same request
    // (a relay forwards what it received this way). serde_json reads floats
    // with a fast, inexact algorithm, so payloads with floats (which every
    // receiver refuses as `malformed`) are compared without their payload.
    let text = serde_json::to_vec(&req).expect("a parsed push request serialises");
    let again: PushRequest =
        serde_json::from_slice(&text).expect("a serialised push request parses");
    assert_eq!(
        without_float_payloads(&again),
        without_float_payloads(&req),
        "push request round trip"
    );

    for e in &req.entries {
        entry(e);
    }

    // As `receive` does: per device, in seq order.
    let mut by_device: BTreeMap<Uuid, Vec<Entry>> = BTreeMap::new();
    for e in req.entries {
        by_device.entry(e.device_id).or_default().push(e);
    }
    let key = fuzz_key().verifying_key();
    for (device_id, mut entries) in by_device {
        entries.sort_by_key(|e| e.seq);
        let sender = Sender {
            device_id,
            kind: DeviceKind::Terminal,
            branch_code: entries[0].branch.clone(),
        };
        let verified: Vec<Verified<String>> = entries
            .iter()
            .map(|e| verify_entry(&sender, e, &key))
            .collect();
        placement(&entries, &verified);
        // As if every entry were genuine, so the chain rules get inputs
        // that reach them.
        let genuine: Vec<Verified<()>> = vec![Ok(()); entries.len()];
        placement(&entries, &genuine);
        // Fail closed: no verification result, nothing accepted.
        let none: Vec<Verified<()>> = Vec::new();
        let p = place(&entries, &none, ChainPoint::GENESIS, &BTreeMap::new());
        assert!(p.accept.is_empty(), "accepted an unverified entry");
    }
}

/// `req` with the payloads that hold a float (which serde_json does not
/// read back bit for bit) set to `null`.
pub(crate) fn without_float_payloads(req: &PushRequest) -> PushRequest {
    let mut req = req.clone();
    for e in &mut req.entries {
        if has_float(&e.payload) {
            e.payload = serde_json::Value::Null;
        }
    }
    req
}

pub(crate) fn has_float(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Number(n) => n.is_f64(),
        serde_json::Value::Array(items) => items.iter().any(has_float),
        serde_json::Value::Object(members) => members.values().any(has_float),
        _ => false,
    }
}

/// One entry, as received and re-signed with the fuzz key.
fn entry(e: &Entry) {
    let payload = canonical_json(&e.payload);
    assert_eq!(
        encode_payload(&e.payload).is_ok(),
        payload.is_ok(),
        "encode_payload and canonical_json disagree"
    );
    match e.canonical_bytes() {
        Ok(bytes) => {
            assert_eq!(e.format, ENTRY_FORMAT_VERSION, "an unknown format encoded");
            assert!(bytes.starts_with(ENTRY_DOMAIN_TAG));
            let payload = payload
                .as_ref()
                .expect("encoded without a canonical payload");
            assert!(bytes.ends_with(payload), "payload is not the last field");
            assert_eq!(
                e.compute_hash().expect("hash of an encodable entry"),
                Hash::digest(&bytes)
            );
        }
        Err(_) => assert!(
            e.format != ENTRY_FORMAT_VERSION || payload.is_err(),
            "a format-1 entry with a canonical payload did not encode"
        ),
    }

    let key = fuzz_key();
    let sender = Sender {
        device_id: e.device_id,
        kind: DeviceKind::Terminal,
        branch_code: e.branch.clone(),
    };
    // As received: only genuine bytes verify, and then the payload the
    // journal stores is exactly the canonical one.
    if let Ok(stored) = verify_entry(&sender, e, &key.verifying_key()) {
        assert_eq!(Some(stored.as_bytes()), payload.as_deref().ok());
        assert_eq!(e.compute_hash().ok(), Some(e.hash));
    }

    // Re-signed by its device: it must verify exactly when the payload has
    // a canonical form, and then give the canonical payload.
    if e.format == ENTRY_FORMAT_VERSION {
        match e.to_unsigned().sign(&key) {
            Ok(signed) => {
                let stored = verify_entry(&sender, &signed, &key.verifying_key())
                    .expect("a genuinely signed entry of the sender's branch verifies");
                let payload = payload
                    .as_ref()
                    .expect("signed without a canonical payload");
                assert_eq!(stored.as_bytes(), payload.as_slice());
                let elsewhere = Sender {
                    branch_code: format!("{}X", e.branch),
                    ..sender.clone()
                };
                let refused = verify_entry(&elsewhere, &signed, &key.verifying_key())
                    .expect_err("an entry of another branch verified");
                assert_eq!(refused.0, RefusalReason::WrongBranch);
                // The cloud validates with the length it already holds.
                assert_eq!(validate_sized(&signed, stored.len()), validate(&signed));
            }
            Err(_) => assert!(payload.is_err(), "a canonical payload did not sign"),
        }
    }

    // The payload rules: a verdict, never a panic; what passes can be
    // written again as a payload (as the terminal does before it signs).
    match validate(e) {
        Ok(typed) => {
            assert!(e.kind.is_known(), "an unknown kind validated");
            assert!(
                payload.is_ok(),
                "a payload without canonical form validated"
            );
            let again = match &typed {
                sentra_ledger::validate::Typed::SaleCompleted(p) => encode_payload(p),
                sentra_ledger::validate::Typed::SaleVoided(p) => encode_payload(p),
                sentra_ledger::validate::Typed::RefundIssued(p) => encode_payload(p),
                sentra_ledger::validate::Typed::ShiftOpened(p) => encode_payload(p),
                sentra_ledger::validate::Typed::ShiftClosed(p) => encode_payload(p),
                sentra_ledger::validate::Typed::CashMoved(p) => encode_payload(p),
                sentra_ledger::validate::Typed::DrawerOpened(p) => encode_payload(p),
                sentra_ledger::validate::Typed::StockCounted(p) => encode_payload(p),
                sentra_ledger::validate::Typed::PinLockedOut(p) => encode_payload(p),
                sentra_ledger::validate::Typed::ClockSteppedBack(p) => encode_payload(p),
                sentra_ledger::validate::Typed::MasterDataRefused(p) => encode_payload(p),
            };
            again.expect("a valid payload re-encodes");
        }
        Err(invalid) => assert!(!invalid.code().is_empty() && !invalid.to_string().is_empty()),
    }
}

/// What [`place`] decides for a device's sorted entries from the genesis
/// tip: every entry accounted for once, accepted ones a gapless, linked
/// chain of verified entries.
fn placement<T>(entries: &[Entry], verified: &[Verified<T>]) {
    let p: Placement = place(entries, verified, ChainPoint::GENESIS, &BTreeMap::new());
    assert_eq!(
        p.accept.len() as u64 + p.duplicates + p.refused.len() as u64,
        entries.len() as u64,
        "an entry was lost or counted twice"
    );
    assert!(
        p.accept.windows(2).all(|w| w[0] < w[1]),
        "accepted out of order"
    );
    let mut tip = ChainPoint::GENESIS;
    for &i in &p.accept {
        let e = &entries[i];
        assert!(
            matches!(verified.get(i), Some(Ok(_))),
            "accepted seq {} that did not verify",
            e.seq
        );
        assert_eq!(e.seq, tip.seq + 1, "accepted with a gap");
        assert_eq!(e.prev_hash, tip.hash, "accepted with a broken link");
        tip = e.point();
    }
    assert_eq!(p.tip, tip, "tip is not the last accepted entry");
    if let Some(expected) = p.expected {
        assert_eq!(
            expected,
            p.tip.seq + 1,
            "expected seq is not the tip's next"
        );
        assert!(!p.refused.is_empty(), "stopped short without a refusal");
    }
    // Nothing was held before: a fork can only be against an entry this
    // batch stored (two genuine entries at one seq).
    for f in &p.forks {
        assert!(
            p.accept
                .iter()
                .any(|&i| entries[i].seq == f.seq && entries[i].hash == f.held),
            "fork at seq {} against nothing held",
            f.seq
        );
    }
}
