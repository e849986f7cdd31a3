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
