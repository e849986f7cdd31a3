//! The proof behind a figure: a journal row rebuilt into the entry the
//! device signed, its hash recomputed and its signature checked against the
//! device's public key — from the stored bytes, every time a page shows it.

use ed25519_dalek::VerifyingKey;
use sentra_protocol::{ChainPoint, Entry, EntryProblem, Hash, Hlc, Signature, verify_chain};
use uuid::Uuid;

/// A journal row as stored by the cloud.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct JournalRow {
    pub seq: i64,
    pub entry_id: Uuid,
    pub format: i16,
    pub kind: String,
    pub hlc_wall_ms: i64,
    pub hlc_counter: i32,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
    pub signature: Vec<u8>,
    pub payload: Option<serde_json::Value>,
    pub raw_entry: Option<String>,
    pub quarantine_reason: Option<String>,
}

/// The verdict on one entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryCheck {
    Verified,
    NotVerified(String),
}

impl EntryCheck {
    pub fn is_verified(&self) -> bool {
        *self == EntryCheck::Verified
    }
}

fn arr<const N: usize>(v: &[u8], what: &str) -> Result<[u8; N], String> {
    v.try_into()
        .map_err(|_| format!("stored {what} is {} bytes, not {N}", v.len()))
}

/// The entry a stored row says the device signed. Rows kept as raw wire
/// JSON (unstorable payloads) are read from that JSON.
pub fn entry_from_row(branch: &str, device_id: Uuid, row: &JournalRow) -> Result<Entry, String> {
    if let Some(raw) = &row.raw_entry {
        return serde_json::from_str(raw).map_err(|e| format!("stored raw entry: {e}"));
    }
    let payload = row
        .payload
        .clone()
        .ok_or_else(|| "the row holds no payload".to_owned())?;
    let kind = serde_json::from_value(serde_json::Value::String(row.kind.clone()))
        .map_err(|e| format!("kind: {e}"))?;
    Ok(Entry {
        format: u16::try_from(row.format).map_err(|_| "format out of range".to_owned())?,
        id: row.entry_id,
        branch: branch.to_owned(),
        device_id,
        seq: u64::try_from(row.seq).map_err(|_| "seq out of range".to_owned())?,
        hlc: Hlc {
            wall_ms: u64::try_from(row.hlc_wall_ms).map_err(|_| "hlc out of range".to_owned())?,
            counter: u32::try_from(row.hlc_counter).map_err(|_| "hlc out of range".to_owned())?,
        },
        kind,
        payload,
        prev_hash: Hash(arr(&row.prev_hash, "previous hash")?),
        hash: Hash(arr(&row.hash, "hash")?),
        signature: Signature(arr(&row.signature, "signature")?),
    })
}

fn key(public_key: &[u8]) -> Result<VerifyingKey, String> {
    VerifyingKey::from_bytes(&arr(public_key, "public key")?)
        .map_err(|e| format!("device public key: {e}"))
}

/// Checks one stored entry: hash recomputed from the stored content, and the
/// device's signature over it.
pub fn check_entry(
    branch: &str,
    device_id: Uuid,
    public_key: &[u8],
    row: &JournalRow,
) -> EntryCheck {
    let result = entry_from_row(branch, device_id, row).and_then(|entry| {
        if entry.device_id != device_id || entry.seq != row.seq as u64 {
            return Err("the stored row and its entry disagree".into());
        }
        entry
            .verify(&key(public_key)?)
            .map_err(|p: EntryProblem| p.to_string())
    });
    match result {
        Ok(()) => EntryCheck::Verified,
        Err(why) => EntryCheck::NotVerified(why),
    }
}

/// Checks a stretch of a device's chain: every entry verifies and links to
/// the one before. `before` is the stored hash of the entry before `rows`
/// (zero hash at seq 1).
pub fn check_chain(
    branch: &str,
    device_id: Uuid,
    public_key: &[u8],
    before: ChainPoint,
    rows: &[JournalRow],
) -> EntryCheck {
    let entries: Result<Vec<Entry>, String> = rows
        .iter()
        .map(|r| entry_from_row(branch, device_id, r).map_err(|e| format!("seq {}: {e}", r.seq)))
        .collect();
    let result = entries.and_then(|entries| {
        verify_chain(&entries, &key(public_key)?, device_id, before)
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    match result {
        Ok(()) => EntryCheck::Verified,
        Err(why) => EntryCheck::NotVerified(why),
    }
}
