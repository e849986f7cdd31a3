//! Verifying a device's hash chain and naming the first bad entry.

use ed25519_dalek::VerifyingKey;
use uuid::Uuid;

use crate::{ENTRY_FORMAT_VERSION, Entry, Hash};

/// A position in a device's chain: the last verified `seq` and its hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainPoint {
    pub seq: u64,
    pub hash: Hash,
}

impl ChainPoint {
    /// Before a device's first entry: seq 0, hash zero.
    pub const GENESIS: ChainPoint = ChainPoint {
        seq: 0,
        hash: Hash::ZERO,
    };
}

/// What is wrong with one entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryProblem {
    /// A gap: `expected` was due but the next entry found is `found` (a
    /// deleted entry). Reported at seq `expected`.
    #[error("missing (next entry found is seq {found})")]
    Missing { expected: u64, found: u64 },
    /// The content (payload or header) no longer hashes to the stored hash.
    #[error("payload or header altered (hash mismatch)")]
    HashMismatch,
    /// `prev_hash` is not the hash of the entry before, or the entries are
    /// out of order: swapped, reordered or inserted.
    #[error("broken link (swapped, reordered or inserted entry)")]
    BrokenLink,
    /// The signature does not verify with the device's key.
    #[error("bad signature")]
    BadSignature,
    /// The entry names another device.
    #[error("entry belongs to another device")]
    WrongDevice,
    /// The entry's format is not one this build reads.
    #[error("unsupported entry format {0}")]
    UnsupportedFormat(u16),
    /// The entry cannot be encoded at all (e.g. a float in its payload).
    #[error("malformed entry: {0}")]
    Malformed(String),
}

impl EntryProblem {
    /// A stable snake_case code for machine output (`--json`).
    pub fn code(&self) -> &'static str {
        match self {
            EntryProblem::Missing { .. } => "missing",
            EntryProblem::HashMismatch => "hash_mismatch",
            EntryProblem::BrokenLink => "broken_link",
            EntryProblem::BadSignature => "bad_signature",
            EntryProblem::WrongDevice => "wrong_device",
            EntryProblem::UnsupportedFormat(_) => "unsupported_format",
            EntryProblem::Malformed(_) => "malformed",
        }
    }
}

/// The first bad entry of a chain: its `seq` and what is wrong with it.
/// Displays as e.g. `seq 7: payload or header altered (hash mismatch)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("seq {seq}: {problem}")]
pub struct ChainError {
    pub seq: u64,
    pub problem: EntryProblem,
}

/// Walks `entries` in order from `start` and returns the new tip.
///
/// For each entry, in this order: its `seq` is the previous one plus one, it
/// belongs to `device_id`, its format is supported, its hash recomputes, its
/// `prev_hash` is the previous entry's hash, its signature verifies. The
/// first failure is returned, named at the seq where the chain went wrong:
///
/// * a deleted entry → [`EntryProblem::Missing`] at the deleted seq;
/// * entries out of order (the due seq turns up later in `entries`) →
///   [`EntryProblem::BrokenLink`] at the due seq; a seq at or below one
///   already verified → [`EntryProblem::BrokenLink`] at the due seq;
/// * altered content → [`EntryProblem::HashMismatch`];
/// * content re-hashed after altering, or a replaced signature →
///   [`EntryProblem::BadSignature`].
///
/// Entries missing from the *end* cannot be seen here; the push
/// acknowledgement (highest contiguous seq held) covers that.
pub fn verify_chain<'a>(
    entries: impl IntoIterator<Item = &'a Entry>,
    key: &VerifyingKey,
    device_id: Uuid,
    start: ChainPoint,
) -> Result<ChainPoint, ChainError> {
    let mut tip = start;
    let mut iter = entries.into_iter();
    while let Some(entry) = iter.next() {
        let Some(expected) = tip.seq.checked_add(1) else {
            return Err(ChainError {
                seq: entry.seq,
                problem: EntryProblem::Malformed("seq past u64::MAX".into()),
            });
        };
        let fail = |problem| ChainError {
            seq: expected,
            problem,
        };
        if entry.seq != expected {
            let problem = if entry.seq > expected && !iter.any(|later| later.seq == expected) {
                EntryProblem::Missing {
                    expected,
                    found: entry.seq,
                }
            } else {
                EntryProblem::BrokenLink
            };
            return Err(fail(problem));
        }
        if entry.device_id != device_id {
            return Err(fail(EntryProblem::WrongDevice));
        }
        if entry.format != ENTRY_FORMAT_VERSION {
            return Err(fail(EntryProblem::UnsupportedFormat(entry.format)));
        }
        let bytes = entry.checked_bytes().map_err(fail)?;
        if entry.prev_hash != tip.hash {
            return Err(fail(EntryProblem::BrokenLink));
        }
        entry.check_signature(&bytes, key).map_err(fail)?;
        tip = entry.point();
    }
    Ok(tip)
}
