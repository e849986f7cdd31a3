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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{Hlc, Signature, UnsignedEntry};
    use ed25519_dalek::SigningKey;
    use serde_json::json;

    const DEVICE: Uuid = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0002);

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7u8; 32])
    }

    fn unsigned(seq: u64, prev_hash: Hash) -> UnsignedEntry {
        UnsignedEntry {
            id: Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0001_0000 + u128::from(seq)),
            branch: "JKT01".into(),
            device_id: DEVICE,
            seq,
            hlc: Hlc::new(1_700_000_000_000 + seq, 0),
            kind: crate::EntryKind::CashMoved,
            payload: json!({"amount": seq * 1000, "direction": "in"}),
            prev_hash,
        }
    }

    fn chain(n: u64) -> Vec<Entry> {
        let mut prev = Hash::ZERO;
        (1..=n)
            .map(|seq| {
                let e = unsigned(seq, prev).sign(&key()).unwrap();
                prev = e.hash;
                e
            })
            .collect()
    }

    fn check(entries: &[Entry]) -> Result<ChainPoint, ChainError> {
        verify_chain(entries, &key().verifying_key(), DEVICE, ChainPoint::GENESIS)
    }

    fn at(i: u64) -> usize {
        usize::try_from(i - 1).unwrap()
    }

    #[test]
    fn intact_chain_verifies_and_returns_tip() {
        let entries = chain(10);
        let tip = check(&entries).unwrap();
        assert_eq!(tip, entries[9].point());
        assert_eq!(check(&[]).unwrap(), ChainPoint::GENESIS);
    }

    #[test]
    fn verifies_from_a_midpoint() {
        let entries = chain(10);
        let tip = verify_chain(
            &entries[4..],
            &key().verifying_key(),
            DEVICE,
            entries[3].point(),
        )
        .unwrap();
        assert_eq!(tip.seq, 10);
        // Wrong start hash: the first entry does not link.
        let err = verify_chain(
            &entries[4..],
            &key().verifying_key(),
            DEVICE,
            ChainPoint {
                seq: 4,
                hash: Hash::ZERO,
            },
        )
        .unwrap_err();
        assert_eq!((err.seq, err.problem), (5, EntryProblem::BrokenLink));
    }

    #[test]
    fn deleted_entry_is_missing_at_its_seq() {
        let mut entries = chain(10);
        entries.remove(at(5));
        let err = check(&entries).unwrap_err();
        assert_eq!(err.seq, 5);
        assert_eq!(
            err.problem,
            EntryProblem::Missing {
                expected: 5,
                found: 6
            }
        );
        assert!(err.to_string().starts_with("seq 5: missing"), "{err}");
        assert_eq!(err.problem.code(), "missing");
    }

    #[test]
    fn deleted_first_entry_is_missing_at_1() {
        let mut entries = chain(3);
        entries.remove(0);
        assert_eq!(check(&entries).unwrap_err().seq, 1);
    }

    #[test]
    fn modified_payload_is_a_hash_mismatch() {
        let mut entries = chain(10);
        entries[at(5)].payload = json!({"amount": 1, "direction": "in"});
        let err = check(&entries).unwrap_err();
        assert_eq!(
            (err.seq, err.problem.clone()),
            (5, EntryProblem::HashMismatch)
        );
        assert_eq!(
            err.to_string(),
            "seq 5: payload or header altered (hash mismatch)"
        );
    }

    #[test]
    fn modified_header_is_a_hash_mismatch() {
        let mut entries = chain(10);
        entries[at(5)].branch = "JKT02".into();
        assert_eq!(
            check(&entries).unwrap_err().problem,
            EntryProblem::HashMismatch
        );
        let mut entries = chain(10);
        entries[at(5)].hlc.counter += 1;
        assert_eq!(check(&entries).unwrap_err().seq, 5);
    }

    #[test]
    fn swapped_contents_with_seq_kept_in_place_fail_at_5() {
        let mut entries = chain(10);
        entries.swap(at(5), at(6));
        entries[at(5)].seq = 5;
        entries[at(6)].seq = 6;
        let err = check(&entries).unwrap_err();
        assert_eq!((err.seq, err.problem), (5, EntryProblem::HashMismatch));
    }

    #[test]
    fn swapped_entries_with_their_seq_fail_at_5() {
        let mut entries = chain(10);
        entries.swap(at(5), at(6));
        let err = check(&entries).unwrap_err();
        assert_eq!((err.seq, err.problem), (5, EntryProblem::BrokenLink));
    }

    #[test]
    fn replaced_signature_is_bad_signature() {
        let mut entries = chain(10);
        entries[at(5)].signature = entries[at(6)].signature;
        let err = check(&entries).unwrap_err();
        assert_eq!((err.seq, err.problem), (5, EntryProblem::BadSignature));

        let mut entries = chain(10);
        entries[at(5)].signature = Signature([0u8; 64]);
        assert_eq!(
            check(&entries).unwrap_err().problem,
            EntryProblem::BadSignature
        );
    }

    #[test]
    fn rehashed_forgery_is_bad_signature() {
        let mut entries = chain(10);
        let e = &mut entries[at(5)];
        e.payload = json!({"amount": 1, "direction": "in"});
        e.hash = e.compute_hash().unwrap();
        let err = check(&entries).unwrap_err();
        assert_eq!((err.seq, err.problem), (5, EntryProblem::BadSignature));
    }

    #[test]
    fn entry_signed_by_another_key_is_bad_signature() {
        let mut entries = chain(10);
        let other = SigningKey::from_bytes(&[8u8; 32]);
        let prev = entries[at(4)].hash;
        entries[at(5)] = unsigned(5, prev).sign(&other).unwrap();
        let err = check(&entries).unwrap_err();
        assert_eq!((err.seq, err.problem), (5, EntryProblem::BadSignature));
    }

    #[test]
    fn inserted_entry_breaks_the_link() {
        // A validly signed entry 5 that does not follow 4 (e.g. a fork).
        let mut entries = chain(10);
        entries[at(5)] = unsigned(5, Hash([9u8; 32])).sign(&key()).unwrap();
        let err = check(&entries).unwrap_err();
        assert_eq!((err.seq, err.problem), (5, EntryProblem::BrokenLink));
    }

    #[test]
    fn duplicate_seq_breaks_the_link() {
        let mut entries = chain(6);
        let dup = entries[at(5)].clone();
        entries.insert(at(6), dup);
        let err = check(&entries).unwrap_err();
        assert_eq!((err.seq, err.problem), (6, EntryProblem::BrokenLink));
    }

    #[test]
    fn other_device_and_unknown_format_are_named() {
        let mut entries = chain(10);
        entries[at(5)].device_id = Uuid::nil();
        let err = check(&entries).unwrap_err();
        assert_eq!((err.seq, err.problem), (5, EntryProblem::WrongDevice));

        let mut entries = chain(10);
        entries[at(5)].format = 2;
        let err = check(&entries).unwrap_err();
        assert_eq!(
            (err.seq, err.problem),
            (5, EntryProblem::UnsupportedFormat(2))
        );
    }

    #[test]
    fn problem_codes_are_distinct() {
        let all = [
            EntryProblem::Missing {
                expected: 1,
                found: 2,
            },
            EntryProblem::HashMismatch,
            EntryProblem::BrokenLink,
            EntryProblem::BadSignature,
            EntryProblem::WrongDevice,
            EntryProblem::UnsupportedFormat(9),
            EntryProblem::Malformed("x".into()),
        ];
        let codes: std::collections::BTreeSet<_> = all.iter().map(EntryProblem::code).collect();
        assert_eq!(codes.len(), all.len());
    }
}
