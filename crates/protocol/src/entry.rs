//! The journal entry: build, encode canonically, hash, sign, verify.

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::canonical::{ENTRY_DOMAIN_TAG, canonical_json, check_payload, put_field};
use crate::{
    ChainPoint, EntryKind, EntryPayload, EntryProblem, Hash, Hlc, ProtocolError, Signature,
};

/// The entry format this build writes and the only one it reads.
pub const ENTRY_FORMAT_VERSION: u16 = 1;

/// An entry before it is hashed and signed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnsignedEntry {
    /// UUIDv7, made by the caller.
    pub id: Uuid,
    /// Branch code, e.g. "JKT01".
    pub branch: String,
    pub device_id: Uuid,
    /// Gapless per device, from 1.
    pub seq: u64,
    pub hlc: Hlc,
    pub kind: EntryKind,
    /// The payload JSON, integers only (see [`encode_payload`]).
    pub payload: serde_json::Value,
    /// Hash of the device's previous entry; [`Hash::ZERO`] for seq 1.
    pub prev_hash: Hash,
}

/// A hashed and signed journal entry. Its serde form is the JSON used in
/// exports and on the wire: fields `format, id, branch, device_id, seq, hlc,
/// kind, payload, prev_hash, hash, signature`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub format: u16,
    pub id: Uuid,
    pub branch: String,
    pub device_id: Uuid,
    pub seq: u64,
    pub hlc: Hlc,
    pub kind: EntryKind,
    pub payload: serde_json::Value,
    pub prev_hash: Hash,
    /// SHA-256 of the canonical bytes.
    pub hash: Hash,
    /// Ed25519 signature by the device over the canonical bytes.
    pub signature: Signature,
}

/// The canonical bytes of a verified entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Canonical {
    pub bytes: Vec<u8>,
    payload_start: usize,
}

impl Canonical {
    /// The payload's canonical JSON (RFC 8785, integers only): valid JSON
    /// text, exactly what the hash and signature cover.
    pub fn payload(&self) -> &[u8] {
        &self.bytes[self.payload_start..]
    }
}

/// Serialises a payload to JSON, refusing floats and integers outside
/// ±(2^53 − 1).
pub fn encode_payload<T: Serialize>(p: &T) -> Result<serde_json::Value, ProtocolError> {
    let value = serde_json::to_value(p)?;
    check_payload(&value)?;
    Ok(value)
}

#[allow(clippy::too_many_arguments)]
fn canonical_bytes_v1(
    id: &Uuid,
    branch: &str,
    device_id: &Uuid,
    seq: u64,
    hlc: Hlc,
    kind: &EntryKind,
    prev_hash: &Hash,
    payload: &serde_json::Value,
) -> Result<Vec<u8>, ProtocolError> {
    let payload = canonical_json(payload)?;
    let mut out = Vec::with_capacity(ENTRY_DOMAIN_TAG.len() + 2 + 9 * 4 + 150 + payload.len());
    out.extend_from_slice(ENTRY_DOMAIN_TAG);
    out.extend_from_slice(&ENTRY_FORMAT_VERSION.to_be_bytes());
    put_field(&mut out, "id", id.as_bytes())?;
    put_field(&mut out, "branch", branch.as_bytes())?;
    put_field(&mut out, "device_id", device_id.as_bytes())?;
    put_field(&mut out, "seq", &seq.to_be_bytes())?;
    put_field(&mut out, "hlc.wall_ms", &hlc.wall_ms.to_be_bytes())?;
    put_field(&mut out, "hlc.counter", &hlc.counter.to_be_bytes())?;
    put_field(&mut out, "kind", kind.as_str().as_bytes())?;
    put_field(&mut out, "prev_hash", &prev_hash.0)?;
    put_field(&mut out, "payload", &payload)?;
    Ok(out)
}

impl UnsignedEntry {
    /// Builds an entry from a typed payload; the kind comes from the type.
    pub fn with_payload<P: EntryPayload>(
        id: Uuid,
        branch: impl Into<String>,
        device_id: Uuid,
        seq: u64,
        hlc: Hlc,
        payload: &P,
        prev_hash: Hash,
    ) -> Result<UnsignedEntry, ProtocolError> {
        Ok(UnsignedEntry {
            id,
            branch: branch.into(),
            device_id,
            seq,
            hlc,
            kind: P::kind(),
            payload: encode_payload(payload)?,
            prev_hash,
        })
    }

    /// The canonical bytes for [`ENTRY_FORMAT_VERSION`].
    pub fn canonical_bytes(&self) -> Result<Vec<u8>, ProtocolError> {
        canonical_bytes_v1(
            &self.id,
            &self.branch,
            &self.device_id,
            self.seq,
            self.hlc,
            &self.kind,
            &self.prev_hash,
            &self.payload,
        )
    }

    /// Hashes (SHA-256) and signs (Ed25519, over the canonical bytes).
    pub fn sign(self, key: &SigningKey) -> Result<Entry, ProtocolError> {
        let bytes = self.canonical_bytes()?;
        let hash = Hash::digest(&bytes);
        let signature = Signature(key.sign(&bytes).to_bytes());
        Ok(Entry {
            format: ENTRY_FORMAT_VERSION,
            id: self.id,
            branch: self.branch,
            device_id: self.device_id,
            seq: self.seq,
            hlc: self.hlc,
            kind: self.kind,
            payload: self.payload,
            prev_hash: self.prev_hash,
            hash,
            signature,
        })
    }
}

impl Entry {
    /// The canonical bytes for the entry's `format`; a format this build does
    /// not know gives [`ProtocolError::UnsupportedFormat`].
    pub fn canonical_bytes(&self) -> Result<Vec<u8>, ProtocolError> {
        if self.format != ENTRY_FORMAT_VERSION {
            return Err(ProtocolError::UnsupportedFormat(self.format));
        }
        canonical_bytes_v1(
            &self.id,
            &self.branch,
            &self.device_id,
            self.seq,
            self.hlc,
            &self.kind,
            &self.prev_hash,
            &self.payload,
        )
    }

    /// SHA-256 of the canonical bytes, recomputed (not the stored `hash`).
    pub fn compute_hash(&self) -> Result<Hash, ProtocolError> {
        Ok(Hash::digest(&self.canonical_bytes()?))
    }

    /// Checks the entry on its own: format known, hash recomputes, signature
    /// verifies. Chain rules (seq, prev_hash) are [`crate::verify_chain`]'s.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), EntryProblem> {
        let bytes = self.checked_bytes()?;
        self.check_signature(&bytes, key)
    }

    /// [`Entry::verify`], keeping the canonical bytes for callers that also
    /// need them (a size limit on the payload, storing the payload as
    /// written) without encoding the entry twice.
    pub fn verify_canonical(&self, key: &VerifyingKey) -> Result<Canonical, EntryProblem> {
        let bytes = self.checked_bytes()?;
        self.check_signature(&bytes, key)?;
        // The payload is the last field: the bytes after its u32 length.
        let header = ENTRY_DOMAIN_TAG.len()
            + 2
            + 9 * 4
            + 16
            + self.branch.len()
            + 16
            + 8
            + 8
            + 4
            + self.kind.as_str().len()
            + 32;
        Ok(Canonical {
            payload_start: header.min(bytes.len()),
            bytes,
        })
    }

    /// Format check, canonical bytes and hash check, in that order.
    pub(crate) fn checked_bytes(&self) -> Result<Vec<u8>, EntryProblem> {
        if self.format != ENTRY_FORMAT_VERSION {
            return Err(EntryProblem::UnsupportedFormat(self.format));
        }
        let bytes = self
            .canonical_bytes()
            .map_err(|e| EntryProblem::Malformed(e.to_string()))?;
        if Hash::digest(&bytes) != self.hash {
            return Err(EntryProblem::HashMismatch);
        }
        Ok(bytes)
    }

    pub(crate) fn check_signature(
        &self,
        bytes: &[u8],
        key: &VerifyingKey,
    ) -> Result<(), EntryProblem> {
        let sig = ed25519_dalek::Signature::from_bytes(&self.signature.0);
        key.verify_strict(bytes, &sig)
            .map_err(|_| EntryProblem::BadSignature)
    }

    /// Decodes the payload into `T`. Fields `T` does not name are ignored.
    pub fn decode_payload<T: DeserializeOwned>(&self) -> Result<T, ProtocolError> {
        Ok(T::deserialize(&self.payload)?)
    }

    /// Decodes the payload into the typed payload of the entry's kind,
    /// refusing an entry of another kind.
    pub fn payload_as<P: EntryPayload>(&self) -> Result<P, ProtocolError> {
        let expected = P::kind();
        if self.kind != expected {
            return Err(ProtocolError::KindMismatch {
                expected: expected.as_str().to_owned(),
                found: self.kind.as_str().to_owned(),
            });
        }
        self.decode_payload()
    }

    /// This entry as a chain point: its `seq` and stored `hash`.
    pub fn point(&self) -> ChainPoint {
        ChainPoint {
            seq: self.seq,
            hash: self.hash,
        }
    }

    /// The entry without its format, hash and signature.
    pub fn to_unsigned(&self) -> UnsignedEntry {
        UnsignedEntry {
            id: self.id,
            branch: self.branch.clone(),
            device_id: self.device_id,
            seq: self.seq,
            hlc: self.hlc,
            kind: self.kind.clone(),
            payload: self.payload.clone(),
            prev_hash: self.prev_hash,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::payload::{CashDirection, CashMoved, ShiftOpened};
    use serde_json::json;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7u8; 32])
    }

    fn shift() -> Uuid {
        Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0005)
    }

    fn cash_moved() -> UnsignedEntry {
        UnsignedEntry::with_payload(
            Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001),
            "JKT01",
            Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0002),
            3,
            Hlc::new(1_730_000_000_000, 2),
            &CashMoved {
                shift_id: shift(),
                direction: CashDirection::Out,
                amount: 150_000,
                reason: Some("petty cash".into()),
            },
            Hash([1u8; 32]),
        )
        .unwrap()
    }

    #[test]
    fn sign_then_verify() {
        let e = cash_moved().sign(&key()).unwrap();
        assert_eq!(e.format, ENTRY_FORMAT_VERSION);
        assert_eq!(e.kind, EntryKind::CashMoved);
        assert_eq!(e.hash, e.compute_hash().unwrap());
        assert_eq!(
            e.canonical_bytes().unwrap(),
            cash_moved().canonical_bytes().unwrap()
        );
        e.verify(&key().verifying_key()).unwrap();
        assert_eq!(e.to_unsigned(), cash_moved());
        let other = SigningKey::from_bytes(&[8u8; 32]).verifying_key();
        assert_eq!(e.verify(&other), Err(EntryProblem::BadSignature));
    }

    #[test]
    fn verify_names_the_problem() {
        let good = cash_moved().sign(&key()).unwrap();
        let vk = key().verifying_key();

        let mut e = good.clone();
        e.payload["amount"] = json!(1);
        assert_eq!(e.verify(&vk), Err(EntryProblem::HashMismatch));

        let mut e = good.clone();
        e.format = 2;
        assert_eq!(e.verify(&vk), Err(EntryProblem::UnsupportedFormat(2)));
        assert!(matches!(
            e.canonical_bytes(),
            Err(ProtocolError::UnsupportedFormat(2))
        ));

        let mut e = good.clone();
        e.payload["amount"] = json!(1.5);
        assert!(matches!(e.verify(&vk), Err(EntryProblem::Malformed(_))));
    }

    #[test]
    fn encode_payload_refuses_floats() {
        #[derive(Serialize)]
        struct Bad {
            price: f64,
        }
        assert!(matches!(
            encode_payload(&Bad { price: 1.0 }),
            Err(ProtocolError::FloatInPayload)
        ));
        let mut u = cash_moved();
        u.payload = json!({"x": 0.5});
        assert!(matches!(u.sign(&key()), Err(ProtocolError::FloatInPayload)));
    }

    #[test]
    fn typed_payload_round_trip_and_kind_check() {
        let e = cash_moved().sign(&key()).unwrap();
        let p: CashMoved = e.payload_as().unwrap();
        assert_eq!(p.amount, 150_000);
        assert_eq!(e.decode_payload::<CashMoved>().unwrap(), p);
        assert!(matches!(
            e.payload_as::<ShiftOpened>(),
            Err(ProtocolError::KindMismatch { .. })
        ));
    }

    #[test]
    fn newer_writer_extra_payload_field_still_verifies_and_decodes() {
        // A newer writer adds `approved_by`, which this build's CashMoved
        // does not know.
        let mut u = cash_moved();
        u.payload["approved_by"] = json!({"supervisor": "S-01", "pin_checked": true});
        let e = u.sign(&key()).unwrap();
        // Over the wire and back, as an older reader would receive it.
        let wire = serde_json::to_string(&e).unwrap();
        let received: Entry = serde_json::from_str(&wire).unwrap();
        received.verify(&key().verifying_key()).unwrap();
        let old: CashMoved = received.payload_as().unwrap();
        assert_eq!(old.amount, 150_000);
        assert_eq!(old.direction, CashDirection::Out);
    }

    #[test]
    fn newer_writer_extra_top_level_field_is_ignored_by_serde() {
        let e = cash_moved().sign(&key()).unwrap();
        let mut v = serde_json::to_value(&e).unwrap();
        v["added_in_a_later_version"] = json!("x");
        let back: Entry = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn unknown_kind_is_carried_and_verified() {
        let mut u = cash_moved();
        u.kind = EntryKind::from_name("price_overridden");
        let e = u.sign(&key()).unwrap();
        let back: Entry = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back.kind, EntryKind::Other("price_overridden".into()));
        back.verify(&key().verifying_key()).unwrap();
    }

    #[test]
    fn json_form_has_the_documented_fields() {
        let e = cash_moved().sign(&key()).unwrap();
        let v = serde_json::to_value(&e).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "branch",
                "device_id",
                "format",
                "hash",
                "hlc",
                "id",
                "kind",
                "payload",
                "prev_hash",
                "seq",
                "signature"
            ]
        );
        assert_eq!(v["kind"], "cash_moved");
        assert_eq!(
            v["hlc"],
            json!({"wall_ms": 1_730_000_000_000u64, "counter": 2})
        );
        assert_eq!(v["hash"], e.hash.to_hex());
        assert_eq!(v["signature"], e.signature.to_hex());
        assert_eq!(v["id"], "01900000-0000-7000-8000-000000000001");
    }

    #[test]
    fn canonical_bytes_layout() {
        let u = cash_moved();
        let b = u.canonical_bytes().unwrap();
        assert!(b.starts_with(b"sentra.entry\x00\x01\x00\x00\x00\x10"));
        assert_eq!(&b[18..34], u.id.as_bytes());
        let payload = canonical_json(&u.payload).unwrap();
        assert!(b.ends_with(&payload));
        let len = u32::try_from(payload.len()).unwrap().to_be_bytes();
        assert_eq!(
            &b[b.len() - payload.len() - 4..b.len() - payload.len()],
            &len
        );
    }
}

#[cfg(test)]
mod canonical_tests {
    use super::*;
    use crate::payload::ShiftOpened;

    #[test]
    fn verify_canonical_keeps_the_payload_json_as_signed() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let e = UnsignedEntry::with_payload(
            Uuid::from_u128(1),
            "JKT01",
            Uuid::from_u128(2),
            9,
            Hlc::new(5, 1),
            &ShiftOpened {
                shift_id: Uuid::from_u128(3),
                opening_float: 500,
                cashier: Some("Siti".into()),
            },
            Hash::ZERO,
        )
        .and_then(|u| u.sign(&key))
        .expect("entry");
        let c = e.verify_canonical(&key.verifying_key()).expect("verifies");
        assert_eq!(c.bytes, e.canonical_bytes().expect("bytes"));
        assert_eq!(
            c.payload(),
            canonical_json(&e.payload).expect("json").as_slice()
        );
        let other = SigningKey::from_bytes(&[4; 32]).verifying_key();
        assert_eq!(e.verify_canonical(&other), Err(EntryProblem::BadSignature));
    }
}
