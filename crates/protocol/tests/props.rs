//! Property tests of the entry encoding, signatures and the HLC.
#![allow(clippy::unwrap_used)]

use std::sync::LazyLock;

use ed25519_dalek::{SigningKey, VerifyingKey};
use proptest::prelude::*;
use sentra_protocol::{
    Entry, EntryKind, EntryProblem, Hash, Hlc, HlcClock, MAX_SAFE_INTEGER, UnsignedEntry,
    canonical_json,
};
use serde_json::{Map, Value};
use uuid::Uuid;

static KEY: LazyLock<(SigningKey, VerifyingKey)> = LazyLock::new(|| {
    let sk = SigningKey::from_bytes(&[7u8; 32]);
    let vk = sk.verifying_key();
    (sk, vk)
});

fn key() -> &'static SigningKey {
    &KEY.0
}

fn vk() -> &'static VerifyingKey {
    &KEY.1
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        "[a-z_]{0,12}".prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((any::<String>(), inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

fn payload() -> impl Strategy<Value = Value> {
    prop::collection::vec(("[a-z_]{1,10}|\\PC{1,4}", json_value()), 0..8)
        .prop_map(|members| Value::Object(members.into_iter().collect()))
}

fn kind() -> impl Strategy<Value = EntryKind> {
    prop_oneof![
        prop::sample::select(EntryKind::KNOWN.to_vec()),
        "[a-z_]{1,20}".prop_map(|s| EntryKind::from_name(&s)),
    ]
}

prop_compose! {
    fn unsigned()(
        id in any::<u128>(),
        branch in "\\PC{0,12}",
        device in any::<u128>(),
        seq in any::<u64>(),
        wall_ms in any::<u64>(),
        counter in any::<u32>(),
        kind in kind(),
        payload in payload(),
        prev in any::<[u8; 32]>(),
    ) -> UnsignedEntry {
        UnsignedEntry {
            id: Uuid::from_u128(id),
            branch,
            device_id: Uuid::from_u128(device),
            seq,
            hlc: Hlc::new(wall_ms, counter),
            kind,
            payload,
            prev_hash: Hash(prev),
        }
    }
}

/// One change to an entry's content (header or payload).
fn tamper(e: &mut Entry, which: u8, bit: u8) {
    let bit = u32::from(bit % 32);
    match which % 10 {
        0 => e.seq ^= 1u64 << bit,
        1 => e.branch.push('x'),
        2 => e.device_id = Uuid::from_u128(e.device_id.as_u128() ^ (1u128 << bit)),
        3 => e.hlc.wall_ms ^= 1u64 << bit,
        4 => e.hlc.counter ^= 1u32 << bit,
        5 => e.kind = EntryKind::from_name(&format!("{}_x", e.kind.as_str())),
        6 => e.prev_hash.0[usize::try_from(bit).unwrap()] ^= 1,
        7 => e.payload = Value::Array(vec![e.payload.take()]),
        8 => {
            if let Value::Object(map) = &mut e.payload {
                map.insert("__tampered".into(), Value::Bool(true));
            }
        }
        _ => e.id = Uuid::from_u128(e.id.as_u128() ^ (1u128 << bit)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn sign_then_verify(u in unsigned()) {
        let e = u.clone().sign(key()).unwrap();
        prop_assert_eq!(e.verify(vk()), Ok(()));
        prop_assert_eq!(e.to_unsigned(), u);
        // The JSON form round-trips and still verifies.
        let back: Entry = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        prop_assert_eq!(&back, &e);
        prop_assert_eq!(back.verify(vk()), Ok(()));
    }

    #[test]
    fn any_content_change_breaks_verification(u in unsigned(), which in any::<u8>(), bit in any::<u8>()) {
        let e = u.sign(key()).unwrap();
        let mut t = e.clone();
        tamper(&mut t, which, bit);
        prop_assume!(t != e);
        prop_assert_eq!(t.verify(vk()), Err(EntryProblem::HashMismatch));
        // Re-hashing does not help: the signature no longer matches.
        t.hash = t.compute_hash().unwrap();
        prop_assert_eq!(t.verify(vk()), Err(EntryProblem::BadSignature));
    }

    #[test]
    fn flipping_any_canonical_byte_breaks_hash_and_signature(
        u in unsigned(), pos in any::<prop::sample::Index>(), mask in 1u8..=255,
    ) {
        let e = u.sign(key()).unwrap();
        let mut bytes = e.canonical_bytes().unwrap();
        let i = pos.index(bytes.len());
        bytes[i] ^= mask;
        prop_assert_ne!(Hash::digest(&bytes), e.hash);
        let sig = ed25519_dalek::Signature::from_bytes(&e.signature.0);
        prop_assert!(vk().verify_strict(&bytes, &sig).is_err());
    }

    #[test]
    fn flipping_signature_or_hash_is_detected(u in unsigned(), i in 0usize..64, mask in 1u8..=255) {
        let e = u.sign(key()).unwrap();
        let mut t = e.clone();
        t.signature.0[i] ^= mask;
        prop_assert_eq!(t.verify(vk()), Err(EntryProblem::BadSignature));
        let mut t = e;
        t.hash.0[i % 32] ^= mask;
        prop_assert_eq!(t.verify(vk()), Err(EntryProblem::HashMismatch));
    }

    #[test]
    fn canonical_json_ignores_insertion_order(
        (members, shuffled) in prop::collection::btree_map(any::<String>(), json_value(), 0..10)
            .prop_map(|m| m.into_iter().collect::<Vec<_>>())
            .prop_flat_map(|v| (Just(v.clone()), Just(v).prop_shuffle())),
    ) {
        let forward: Map<String, Value> = members.into_iter().collect();
        let mut reversed: Vec<(String, Value)> = forward.clone().into_iter().collect();
        reversed.reverse();
        let a = canonical_json(&Value::Object(forward.clone())).unwrap();
        let b = canonical_json(&Value::Object(shuffled.into_iter().collect())).unwrap();
        let c = canonical_json(&Value::Object(reversed.into_iter().collect())).unwrap();
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(&a, &c);
        // It is valid JSON of the same value, and canonicalising is idempotent.
        let parsed: Value = serde_json::from_slice(&a).unwrap();
        prop_assert_eq!(&parsed, &Value::Object(forward));
        prop_assert_eq!(canonical_json(&parsed).unwrap(), a);
    }

    #[test]
    fn canonical_keys_are_sorted_by_utf16(keys in prop::collection::btree_set(any::<String>(), 0..10)) {
        let map: Map<String, Value> = keys.iter().map(|k| (k.clone(), Value::from(1))).collect();
        let bytes = canonical_json(&Value::Object(map)).unwrap();
        let mut sorted: Vec<&String> = keys.iter().collect();
        sorted.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
        let members: Vec<String> = sorted
            .into_iter()
            .map(|k| format!("{}:1", serde_json::to_string(k).unwrap()))
            .collect();
        let expected = format!("{{{}}}", members.join(","));
        prop_assert_eq!(String::from_utf8(bytes).unwrap(), expected);
    }

    #[test]
    fn canonical_strings_match_jcs_escaping(s in any::<String>()) {
        // serde_json escapes exactly the RFC 8785 set, lowercase hex.
        let canon = canonical_json(&Value::String(s.clone())).unwrap();
        prop_assert_eq!(canon, serde_json::to_vec(&s).unwrap());
    }

    #[test]
    fn hlc_is_monotonic_under_any_physical_clock(
        start_wall in 0u64..(u64::MAX / 2),
        start_counter in prop_oneof![any::<u32>(), (u32::MAX - 3)..=u32::MAX],
        ops in prop::collection::vec(
            (any::<bool>(), 0u64..(u64::MAX / 2), 0u64..(u64::MAX / 2), any::<u32>()),
            1..64,
        ),
    ) {
        let mut clock = HlcClock::new(Hlc::new(start_wall, start_counter));
        for (local, physical, remote_wall, remote_counter) in ops {
            let before = clock.last();
            let stamp = if local {
                clock.tick(physical)
            } else {
                let remote = Hlc::new(remote_wall, remote_counter);
                let s = clock.observe(remote, physical);
                prop_assert!(s > remote);
                prop_assert!(s.wall_ms >= remote.wall_ms);
                s
            };
            prop_assert!(stamp > before);
            prop_assert!(stamp.wall_ms >= physical);
            prop_assert_eq!(clock.last(), stamp);
        }
    }
}
