//! Target `canonical_entry`: bytes read as a payload, as an entry and as a
//! master-data change, and their canonical encodings (`docs/sync-protocol.md`,
//! "Canonical encoding" and "Master data is signed by the cloud").

use sentra_protocol::master::{
    MASTER_DOMAIN_TAG, change_signing_bytes, sign_change, verify_change,
};
use sentra_protocol::wire::Change;
use sentra_protocol::{ENTRY_FORMAT_VERSION, Entry, Hash, canonical_json, encode_payload};
use serde_json::Value;

use crate::fuzz_key;
use crate::push::has_float;

pub fn canonical_entry(data: &[u8]) {
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        payload(&value);
    }
    if let Ok(e) = serde_json::from_slice::<Entry>(data) {
        entry(&e);
    }
    if let Ok(c) = serde_json::from_slice::<Change>(data) {
        change(c);
    }
}

/// The canonical JSON of a value is JSON that reads back as the same value
/// and is its own canonical form; it exists exactly when `encode_payload`
/// accepts the value.
fn payload(value: &Value) {
    let canonical = canonical_json(value);
    assert_eq!(canonical.is_ok(), encode_payload(value).is_ok());
    let Ok(bytes) = canonical else {
        return;
    };
    let back: Value = serde_json::from_slice(&bytes).expect("canonical JSON parses");
    assert_eq!(&back, value, "canonical JSON reads back as another value");
    assert_eq!(
        canonical_json(&back).expect("canonical again"),
        bytes,
        "canonical JSON is not its own canonical form"
    );
}

/// An entry's JSON form round-trips; its canonical bytes and hash do not
/// depend on anything the JSON form leaves out.
fn entry(e: &Entry) {
    let json = serde_json::to_vec(e).expect("an entry serialises");
    let back: Entry = serde_json::from_slice(&json).expect("a serialised entry parses");
    // serde_json reads floats inexactly; a payload with one has no
    // canonical form anyway.
    if !has_float(&e.payload) {
        assert_eq!(&back, e, "entry JSON round trip");
    }
    payload(&e.payload);
    match e.canonical_bytes() {
        Ok(bytes) => {
            assert_eq!(e.format, ENTRY_FORMAT_VERSION);
            assert_eq!(back.canonical_bytes().ok().as_ref(), Some(&bytes));
            assert_eq!(
                e.to_unsigned().canonical_bytes().ok().as_ref(),
                Some(&bytes)
            );
            assert_eq!(e.compute_hash().ok(), Some(Hash::digest(&bytes)));
        }
        Err(_) => assert!(e.format != ENTRY_FORMAT_VERSION || canonical_json(&e.payload).is_err()),
    }
}

/// A change the cloud can sign verifies as signed, for its own scope.
fn change(mut c: Change) {
    let Ok(bytes) = change_signing_bytes(&c) else {
        assert!(sign_change(&mut c, &fuzz_key()).is_err());
        return;
    };
    assert!(bytes.starts_with(MASTER_DOMAIN_TAG));
    let cloud = fuzz_key();
    sign_change(&mut c, &cloud).expect("a change with signing bytes signs");
    let branch = c.scope.clone().unwrap_or_else(|| "JKT01".to_owned());
    verify_change(&c, &cloud.verifying_key(), &branch).expect("a signed change verifies");
    // Through JSON, as a relay passes it on.
    let json = serde_json::to_vec(&c).expect("a change serialises");
    let back: Change = serde_json::from_slice(&json).expect("a serialised change parses");
    assert_eq!(back, c);
    verify_change(&back, &cloud.verifying_key(), &branch).expect("a relayed change verifies");
}
