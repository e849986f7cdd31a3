//! Deciding, entry by entry, what a push batch may store: who may push it,
//! whether it is genuine, and where it falls in its device's chain.
//!
//! The pure part ([`may_push`], [`verify_entry`], [`place`]) runs without a database; the
//! caller supplies the device rows, the chain tip and the hashes already
//! held.

use std::collections::BTreeMap;

use ed25519_dalek::VerifyingKey;
use sentra_protocol::wire::{DeviceKind, RefusalReason};
use sentra_protocol::{ChainPoint, Entry, EntryProblem, Hash};
use uuid::Uuid;

/// A device as the receiving store knows it (the cloud's registry, or the
/// relay's copy of its branch's devices).
#[derive(Clone, Debug)]
pub struct DeviceRecord {
    pub device_id: Uuid,
    /// Branch code, e.g. "JKT01".
    pub branch: String,
    pub public_key: VerifyingKey,
    pub revoked: bool,
}

/// Who sent the batch.
#[derive(Clone, Debug)]
pub struct Sender {
    pub device_id: Uuid,
    pub kind: DeviceKind,
    /// Branch code, e.g. "JKT01".
    pub branch_code: String,
}

/// One refused entry and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub seq: u64,
    pub reason: RefusalReason,
    pub detail: String,
}

/// Whether the sender may push this device's entries at all; `Err` refuses
/// every entry of the device in the batch.
pub fn may_push(
    sender: &Sender,
    device_id: Uuid,
    device: Option<&DeviceRecord>,
) -> Result<(), (RefusalReason, String)> {
    let Some(d) = device else {
        return Err((
            RefusalReason::UnknownDevice,
            format!("device {device_id} is not enrolled"),
        ));
    };
    if d.branch != sender.branch_code {
        return Err((
            RefusalReason::WrongBranch,
            format!("device {device_id} belongs to another branch"),
        ));
    }
    if d.revoked {
        return Err((
            RefusalReason::DeviceRevoked,
            format!("device {device_id} has been revoked"),
        ));
    }
    if sender.kind == DeviceKind::Terminal && device_id != sender.device_id {
        return Err((
            RefusalReason::NotOwnEntry,
            "a terminal may push only its own entries".into(),
        ));
    }
    Ok(())
}

/// Checks an entry on its own (before any lock is taken): its `branch`,
/// format, hash and signature. Returns the payload's canonical JSON, exactly
/// as signed, which is what the journal stores. What the payload says (its
/// size, text, schema) is not judged here: a genuine entry that breaks those
/// rules is stored in quarantine, never refused, so it cannot wedge its
/// device's queue.
pub fn verify_entry(
    sender: &Sender,
    entry: &Entry,
    key: &VerifyingKey,
) -> Result<String, (RefusalReason, String)> {
    if entry.branch != sender.branch_code {
        return Err((
            RefusalReason::WrongBranch,
            format!(
                "entry names branch {:?}, the sender is of branch {}",
                entry.branch, sender.branch_code
            ),
        ));
    }
    let canonical = entry.verify_canonical(key).map_err(|p| {
        let reason = match &p {
            EntryProblem::HashMismatch => RefusalReason::HashMismatch,
            EntryProblem::BadSignature => RefusalReason::BadSignature,
            EntryProblem::UnsupportedFormat(_) => RefusalReason::UnsupportedFormat,
            EntryProblem::WrongDevice => RefusalReason::UnknownDevice,
            EntryProblem::Missing { .. } => RefusalReason::Gap,
            EntryProblem::BrokenLink => RefusalReason::BrokenLink,
            EntryProblem::Malformed(_) => RefusalReason::Malformed,
        };
        (reason, p.to_string())
    })?;
    let payload = canonical.payload();
    String::from_utf8(payload.to_vec())
        .map_err(|_| (RefusalReason::Malformed, "payload is not UTF-8".to_owned()))
}

/// Where one device's entries of the batch fall.
#[derive(Debug)]
pub struct Placement {
    /// Indexes (into the device's sorted entries) to store, in chain order.
    pub accept: Vec<usize>,
    /// Entries already held with the same hash.
    pub duplicates: u64,
    pub refused: Vec<Refusal>,
    /// Seqs whose held entry differs from a genuinely signed one.
    pub forks: Vec<Fork>,
    /// The chain tip after the accepted entries.
    pub tip: ChainPoint,
    /// The seq the server wants next, when the batch stopped short.
    pub expected: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fork {
    pub seq: u64,
    pub held: Hash,
    pub received: Hash,
}

/// Places a device's entries (sorted by seq) against its chain tip.
///
/// * `verified[i]` is the result of [`verify_entry`] for `entries[i]`;
/// * `held` maps seqs at or below the tip to the hash held for them.
///
/// A genuine entry at or below the tip is a duplicate when its hash matches
/// and a fork when it does not; one that does not verify is refused (it may
/// be a forgery, and the genuine copy may still arrive). Above the tip,
/// entries must follow on from it without a gap; the first that does not,
/// and every later one of the device, is refused.
pub fn place<T>(
    entries: &[Entry],
    verified: &[Result<T, (RefusalReason, String)>],
    tip: ChainPoint,
    held: &BTreeMap<u64, Hash>,
) -> Placement {
    let mut out = Placement {
        accept: Vec::new(),
        duplicates: 0,
        refused: Vec::new(),
        forks: Vec::new(),
        tip,
        expected: None,
    };
    let mut stopped = false;
    let mut seen_in_batch: BTreeMap<u64, Hash> = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        // Fail closed: an entry without a verification result is refused.
        let check: Result<(), (RefusalReason, String)> = match verified.get(i) {
            Some(Ok(_)) => Ok(()),
            Some(Err(e)) => Err(e.clone()),
            None => Err((
                RefusalReason::Malformed,
                format!("seq {} was not verified", e.seq),
            )),
        };
        // Held already (before this batch, or earlier in it)?
        let held_hash = held
            .get(&e.seq)
            .copied()
            .or_else(|| seen_in_batch.get(&e.seq).copied());
        if e.seq <= out.tip.seq {
            match (held_hash, check) {
                (Some(h), Ok(())) if h == e.hash => out.duplicates += 1,
                (Some(h), Ok(())) => {
                    out.forks.push(Fork {
                        seq: e.seq,
                        held: h,
                        received: e.hash,
                    });
                    out.refused.push(Refusal {
                        seq: e.seq,
                        reason: RefusalReason::Fork,
                        detail: format!(
                            "seq {} is already held with hash {}; this entry hashes to {}",
                            e.seq,
                            h.to_hex(),
                            e.hash.to_hex()
                        ),
                    });
                }
                (_, Err((reason, detail))) => out.refused.push(Refusal {
                    seq: e.seq,
                    reason,
                    detail,
                }),
                // At or below the tip but its hash was not looked up: the
                // caller always looks up every such seq, so this is a bug
                // upstream; refuse rather than guess.
                (None, Ok(())) => out.refused.push(Refusal {
                    seq: e.seq,
                    reason: RefusalReason::Malformed,
                    detail: format!("seq {} could not be compared with the held entry", e.seq),
                }),
            }
            continue;
        }
        if stopped {
            out.refused.push(Refusal {
                seq: e.seq,
                reason: RefusalReason::AfterRefused,
                detail: format!("an earlier entry of device {} was refused", e.device_id),
            });
            continue;
        }
        let next = out.tip.seq + 1;
        let refusal = if e.seq > next {
            Some((
                RefusalReason::Gap,
                format!("expected seq {next}, got seq {}", e.seq),
            ))
        } else if let Err((reason, detail)) = check {
            Some((reason, detail))
        } else if e.prev_hash != out.tip.hash {
            Some((
                RefusalReason::BrokenLink,
                format!(
                    "prev_hash {} is not the hash {} held at seq {}",
                    e.prev_hash.to_hex(),
                    out.tip.hash.to_hex(),
                    out.tip.seq
                ),
            ))
        } else {
            None
        };
        match refusal {
            Some((reason, detail)) => {
                out.refused.push(Refusal {
                    seq: e.seq,
                    reason,
                    detail,
                });
                // A forged copy must not hold up the genuine entry when both
                // are in the batch (e.g. a relay carried both).
                let another_copy_follows = entries.get(i + 1).is_some_and(|n| n.seq == e.seq);
                if !another_copy_follows {
                    out.expected = Some(next);
                    stopped = true;
                }
            }
            None => {
                out.accept.push(i);
                seen_in_batch.insert(e.seq, e.hash);
                out.tip = e.point();
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use sentra_protocol::{EntryKind, Hlc, UnsignedEntry};

    fn chain(key: &SigningKey, n: u64, salt: i64) -> Vec<Entry> {
        let device = Uuid::from_u128(7);
        let mut prev = Hash::ZERO;
        (1..=n)
            .map(|seq| {
                let e = UnsignedEntry {
                    id: Uuid::from_u128(u128::from(seq)),
                    branch: "JKT01".into(),
                    device_id: device,
                    seq,
                    hlc: Hlc::new(seq, 0),
                    kind: EntryKind::Other("note".into()),
                    payload: serde_json::json!({ "n": seq as i64 + salt }),
                    prev_hash: prev,
                }
                .sign(key)
                .expect("sign");
                prev = e.hash;
                e
            })
            .collect()
    }

    fn ok(n: usize) -> Vec<Result<(), (RefusalReason, String)>> {
        vec![Ok(()); n]
    }

    #[test]
    fn replay_is_duplicate_and_new_entries_follow_the_tip() {
        let key = SigningKey::from_bytes(&[1; 32]);
        let c = chain(&key, 4, 0);
        let held: BTreeMap<u64, Hash> = c[..2].iter().map(|e| (e.seq, e.hash)).collect();
        let p = place(&c, &ok(4), c[1].point(), &held);
        assert_eq!(p.duplicates, 2);
        assert_eq!(p.accept, vec![2, 3]);
        assert_eq!(p.tip.seq, 4);
        assert!(p.refused.is_empty() && p.expected.is_none());
    }

    #[test]
    fn a_different_genuine_entry_at_a_held_seq_is_a_fork() {
        let key = SigningKey::from_bytes(&[1; 32]);
        let a = chain(&key, 2, 0);
        let b = chain(&key, 2, 100);
        let held: BTreeMap<u64, Hash> = a.iter().map(|e| (e.seq, e.hash)).collect();
        let p = place(&b[1..], &ok(1), a[1].point(), &held);
        assert_eq!(p.forks.len(), 1);
        assert_eq!(p.refused[0].reason, RefusalReason::Fork);
        assert_eq!(p.tip.seq, 2);
    }

    #[test]
    fn a_gap_stops_the_device_and_names_the_expected_seq() {
        let key = SigningKey::from_bytes(&[1; 32]);
        let c = chain(&key, 5, 0);
        let p = place(&c[3..], &ok(2), c[1].point(), &BTreeMap::new());
        assert_eq!(p.expected, Some(3));
        assert_eq!(p.refused[0].reason, RefusalReason::Gap);
        assert_eq!(p.refused[1].reason, RefusalReason::AfterRefused);
        assert!(p.accept.is_empty());
    }

    #[test]
    fn an_entry_without_a_verification_result_is_refused_not_accepted() {
        let key = SigningKey::from_bytes(&[1; 32]);
        let c = chain(&key, 3, 0);
        // Only the first entry was verified.
        let p = place(&c, &ok(1), ChainPoint::GENESIS, &BTreeMap::new());
        assert_eq!(p.accept, vec![0]);
        assert_eq!(p.refused[0].seq, 2);
        assert_eq!(p.refused[0].reason, RefusalReason::Malformed);
        assert_eq!(p.refused[1].reason, RefusalReason::AfterRefused);
        assert_eq!(p.tip.seq, 1);
    }

    #[test]
    fn a_forged_copy_before_the_genuine_one_does_not_hold_it_up() {
        let key = SigningKey::from_bytes(&[1; 32]);
        let c = chain(&key, 2, 0);
        let forged = c[0].clone();
        let batch = vec![forged, c[0].clone(), c[1].clone()];
        let verified = vec![
            Err((RefusalReason::BadSignature, "bad signature".into())),
            Ok(()),
            Ok(()),
        ];
        let p = place(&batch, &verified, ChainPoint::GENESIS, &BTreeMap::new());
        assert_eq!(p.accept, vec![1, 2]);
        assert_eq!(p.refused.len(), 1);
        assert_eq!(p.refused[0].reason, RefusalReason::BadSignature);
        assert_eq!(p.tip.seq, 2);
        assert_eq!(p.expected, None);
    }
}
