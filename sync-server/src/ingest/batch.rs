//! One attempt at a push batch, in one transaction: place each device's
//! entries against its chain tip, store the accepted ones in the journal
//! (`journal.rs`) and apply them (`apply`), raise the conflicts found, move
//! the chain tips, commit. [`CloudStore`]'s `commit` retries an attempt and
//! decides when to isolate entries.

use std::collections::BTreeMap;

use sentra_ledger::rules;
use sentra_protocol::wire::{
    ConflictNotice, DeviceAck, QuarantinedEntry, RefusalReason, RefusedEntry,
};
use sentra_protocol::{ChainPoint, EntryKind, Hash};
use serde_json::json;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::apply::{Accepted, Applier, ApplyError, NewConflict, ms_to_time};
use super::journal::insert_journal;
use super::{CloudStore, is_entry_error, printable};
use crate::receive::check::{self, Placement};
use crate::receive::{DeviceBatch, Sender};

/// What one attempt at a push made of it.
#[derive(Default)]
pub(super) struct Outcome {
    pub(super) acks: Vec<DeviceAck>,
    pub(super) stored: u64,
    pub(super) duplicates: u64,
    pub(super) refused: Vec<RefusedEntry>,
    pub(super) quarantined: Vec<QuarantinedEntry>,
    pub(super) conflicts: Vec<ConflictNotice>,
    pub(super) stored_kinds: BTreeMap<String, u64>,
}

/// One attempt at a push in one transaction: places every device's
/// entries, stores and applies the accepted ones (`isolate`: each under its
/// own savepoint, so one that cannot be applied is quarantined alone),
/// inserts the conflicts found, moves the chain tips and commits.
pub(super) async fn ingest_tx(
    store: &CloudStore,
    sender: &Sender,
    batches: &[DeviceBatch],
    received_ms: u64,
    sender_offset: Option<i64>,
    isolate: bool,
) -> Result<Outcome, ApplyError> {
    let (branch_id, tz) = (store.branch_id, store.tz);
    let tolerance = store.skew_tolerance.as_millis() as u64;
    let mut out = Outcome::default();
    let mut tx = store.pool.begin().await?;
    let mut accepted: Vec<Accepted> = Vec::new();
    let mut conflicts: Vec<NewConflict> = Vec::new();
    let mut tips: Vec<(Uuid, ChainPoint, bool)> = Vec::new();
    let mut tampered: Vec<(Uuid, u64, RefusalReason, String)> = Vec::new();

    for b in batches {
        let placement = place_device(&mut tx, branch_id, b).await?;
        let held_before = placement.0;
        let p = placement.1;
        out.duplicates += p.duplicates;
        for r in &p.refused {
            // Content that does not match its hash or signature was altered
            // on the way (or forged): head office must hear of it, even
            // though the genuine copy may still arrive.
            if matches!(
                r.reason,
                RefusalReason::HashMismatch | RefusalReason::BadSignature
            ) {
                tampered.push((b.device_id, r.seq, r.reason, r.detail.clone()));
            }
            out.refused.push(RefusedEntry {
                device_id: b.device_id,
                seq: r.seq,
                reason: r.reason,
                detail: r.detail.clone(),
            });
        }
        for f in &p.forks {
            conflicts.push(NewConflict {
                kind: "fork",
                dedup_key: format!("fork:{}:{}:{}", b.device_id, f.seq, f.received.to_hex()),
                device_id: b.device_id,
                seq: f.seq,
                entry_id: None,
                details: json!({
                    "held_hash": f.held.to_hex(),
                    "received_hash": f.received.to_hex(),
                }),
            });
            sqlx::query(
                "UPDATE devices SET flagged_at = COALESCE(flagged_at, now()),
                     flag_reason = COALESCE(flag_reason, $2)
                 WHERE device_id = $1",
            )
            .bind(b.device_id)
            .bind(format!("fork at seq {}", f.seq))
            .execute(&mut *tx)
            .await?;
        }
        out.acks.push(DeviceAck {
            device_id: b.device_id,
            acked_seq: p.tip.seq,
            expected_seq: p.expected,
            cloud_acked_seq: None,
        });
        // Clock skew: the sender's offset applies to its own entries only.
        let offset = if b.device_id == sender.device_id {
            sender_offset
        } else {
            None
        };
        let mut skewed: Option<(u64, u64, i64)> = None;
        // The offset measured now explains only the entries made since the
        // clock went wrong, not a whole backlog.
        let stamps: Vec<rules::Stamp> = p
            .accept
            .iter()
            .map(|&i| rules::Stamp {
                wall_ms: b.entries[i].hlc.wall_ms,
                counter: b.entries[i].hlc.counter,
                stepped_back: b.entries[i].kind == EntryKind::ClockSteppedBack,
            })
            .collect();
        let explained = offset.map(|o| rules::offset_applies(&stamps, o, tolerance));
        for (n, &i) in p.accept.iter().enumerate() {
            let e = &b.entries[i];
            let applies = explained.as_ref().is_none_or(|x| x.get(n) == Some(&true));
            let measured = if applies { offset } else { None };
            let t = rules::assess_time(e.hlc.wall_ms, received_ms, measured, tolerance);
            if let Some(skew) = t.skew_ms {
                skewed = Some(match skewed {
                    None => (e.seq, e.seq, skew),
                    Some((first, _, s)) => (first, e.seq, s.max(skew)),
                });
            }
            let payload_json = match b.verified.get(i) {
                Some(Ok(json)) => json.as_str(),
                // place() accepts only verified entries.
                _ => continue,
            };
            // The canonical payload is in hand: its size is not encoded again.
            let typed = sentra_ledger::validate::validate_sized(e, payload_json.len())
                .map_err(|inv| format!("{}: {inv}", inv.code()));
            accepted.push(Accepted {
                entry: e,
                payload_json,
                occurred_ms: t.occurred_ms,
                typed,
            });
        }
        if let Some((first, last, skew)) = skewed {
            conflicts.push(NewConflict {
                kind: "clock_skew",
                dedup_key: format!("clock_skew:{}:{first}", b.device_id),
                device_id: b.device_id,
                seq: first,
                entry_id: None,
                details: json!({
                    "first_seq": first,
                    "last_seq": last,
                    "skew_ms": skew,
                    "received_at": ms_to_time(received_ms as i64),
                    "measured_by": if offset.is_some() { "sender clock at push" } else { "entry in the future" },
                }),
            });
        }
        if p.tip.seq > held_before {
            tips.push((b.device_id, p.tip, held_before > 0));
        }
    }

    for (device_id, seq, reason, detail) in &tampered {
        sqlx::query(
            "INSERT INTO alerts (branch_id, alert_id, kind, device_id, seq, details)
             VALUES ($1, $2, 'refused_entry', $3, $4, $5)",
        )
        .bind(branch_id)
        .bind(Uuid::now_v7())
        .bind(device_id)
        .bind(*seq as i64)
        .bind(json!({"reason": reason.code(), "detail": printable(detail), "sender": sender.device_id}))
        .execute(&mut *tx)
        .await?;
    }

    if isolate {
        for a in &accepted {
            sqlx::query("SAVEPOINT entry").execute(&mut *tx).await?;
            let one = std::slice::from_ref(a);
            match store_and_apply(&mut tx, branch_id, tz, one, received_ms).await {
                Ok((mut q, mut c)) => {
                    sqlx::query("RELEASE SAVEPOINT entry")
                        .execute(&mut *tx)
                        .await?;
                    out.quarantined.append(&mut q);
                    conflicts.append(&mut c);
                }
                Err(e) if is_entry_error(&e) => {
                    sqlx::query("ROLLBACK TO SAVEPOINT entry")
                        .execute(&mut *tx)
                        .await?;
                    tracing::warn!(device = %a.entry.device_id, seq = a.entry.seq, error = %e,
                        "entry cannot be applied; quarantined");
                    let held = Accepted {
                        entry: a.entry,
                        payload_json: a.payload_json,
                        occurred_ms: a.occurred_ms,
                        typed: Err(format!("cannot_apply: {e}")),
                    };
                    let (mut q, _) =
                        store_and_apply(&mut tx, branch_id, tz, &[held], received_ms).await?;
                    out.quarantined.append(&mut q);
                }
                Err(e) => return Err(e),
            }
        }
    } else {
        let (mut q, mut c) =
            store_and_apply(&mut tx, branch_id, tz, &accepted, received_ms).await?;
        out.quarantined.append(&mut q);
        conflicts.append(&mut c);
    }

    out.conflicts = insert_conflicts(&mut tx, branch_id, conflicts).await?;

    // Chain tips.
    for (device_id, tip, existed) in tips {
        let q = if existed {
            "UPDATE device_heads SET seq = $3, hash = $4, updated_at = now()
             WHERE branch_id = $1 AND device_id = $2"
        } else {
            "INSERT INTO device_heads (branch_id, device_id, seq, hash, updated_at)
             VALUES ($1, $2, $3, $4, now())"
        };
        sqlx::query(q)
            .bind(branch_id)
            .bind(device_id)
            .bind(tip.seq as i64)
            .bind(&tip.hash.0[..])
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;

    out.stored = accepted.len() as u64;
    for a in &accepted {
        // A kind this server does not know is counted as "other": a device
        // must not be able to mint metric labels.
        let kind = match &a.entry.kind {
            sentra_protocol::EntryKind::Other(_) => "other",
            k => k.as_str(),
        };
        *out.stored_kinds.entry(kind.to_owned()).or_default() += 1;
    }
    Ok(out)
}

/// Inserts conflicts; a dedup key already raised is not raised again.
/// Returns the newly raised ones.
pub(super) async fn insert_conflicts(
    tx: &mut Transaction<'_, Postgres>,
    branch_id: i32,
    conflicts: Vec<NewConflict>,
) -> Result<Vec<ConflictNotice>, sqlx::Error> {
    let mut out = Vec::new();
    for c in conflicts {
        let raised: Option<Uuid> = sqlx::query_scalar(
            "INSERT INTO conflicts (branch_id, conflict_id, kind, dedup_key, device_id, seq, entry_id, details)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (branch_id, dedup_key) DO NOTHING RETURNING conflict_id",
        )
        .bind(branch_id)
        .bind(Uuid::now_v7())
        .bind(c.kind)
        .bind(&c.dedup_key)
        .bind(c.device_id)
        .bind(c.seq as i64)
        .bind(c.entry_id)
        .bind(&c.details)
        .fetch_optional(&mut **tx)
        .await?;
        if raised.is_some() {
            out.push(ConflictNotice {
                kind: c.kind.to_owned(),
                device_id: c.device_id,
                seq: c.seq,
                details: c.details,
            });
        }
    }
    Ok(out)
}

/// Stores a run of accepted entries in the journal, applies them to the
/// projections and writes their quarantine marks and alerts. Returns the
/// quarantined entries and the conflicts the rules found (inserted later).
async fn store_and_apply(
    tx: &mut Transaction<'_, Postgres>,
    branch_id: i32,
    tz: chrono_tz::Tz,
    accepted: &[Accepted<'_>],
    received_ms: u64,
) -> Result<(Vec<QuarantinedEntry>, Vec<NewConflict>), ApplyError> {
    // The raw journal first, so voids and refunds in the batch can read the
    // sales they name.
    insert_journal(tx, branch_id, accepted, received_ms).await?;
    let mut applier = Applier::new(branch_id, tz);
    applier.apply_all(tx, accepted).await?;
    for (i, reason) in &applier.quarantine {
        sqlx::query(
            "UPDATE journal SET quarantine_reason = $4 WHERE branch_id = $1 AND device_id = $2 AND seq = $3",
        )
        .bind(branch_id)
        .bind(accepted[*i].entry.device_id)
        .bind(accepted[*i].entry.seq as i64)
        .bind(printable(reason))
        .execute(&mut **tx)
        .await?;
    }
    let mut quarantined = Vec::new();
    for (i, a) in accepted.iter().enumerate() {
        let reason = match (&a.typed, applier.quarantine.get(&i)) {
            (Err(r), _) => printable(r),
            (Ok(_), Some(r)) => printable(r),
            _ => continue,
        };
        sqlx::query(
            "INSERT INTO alerts (branch_id, alert_id, kind, device_id, seq, details)
             VALUES ($1, $2, 'quarantined', $3, $4, $5)",
        )
        .bind(branch_id)
        .bind(Uuid::now_v7())
        .bind(a.entry.device_id)
        .bind(a.entry.seq as i64)
        .bind(json!({"reason": reason, "kind": printable(a.entry.kind.as_str()), "entry_id": a.entry.id}))
        .execute(&mut **tx)
        .await?;
        quarantined.push(QuarantinedEntry {
            device_id: a.entry.device_id,
            seq: a.entry.seq,
            reason,
        });
    }
    Ok((quarantined, applier.conflicts))
}

/// Locks the device's chain and places its entries: returns the seq held
/// before the batch and the placement.
async fn place_device(
    tx: &mut Transaction<'_, Postgres>,
    branch_id: i32,
    b: &DeviceBatch,
) -> Result<(u64, Placement), ApplyError> {
    let lock_key = i64::from_be_bytes(b.device_id.as_bytes()[..8].try_into().unwrap_or([0; 8]));
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(lock_key ^ 0x5E47_7A00)
        .execute(&mut **tx)
        .await?;
    let head: Option<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT seq, hash FROM device_heads WHERE branch_id = $1 AND device_id = $2",
    )
    .bind(branch_id)
    .bind(b.device_id)
    .fetch_optional(&mut **tx)
    .await?;
    let tip = match head {
        Some((seq, hash)) => ChainPoint {
            seq: seq as u64,
            hash: stored_hash(b.device_id, seq, hash)?,
        },
        None => ChainPoint::GENESIS,
    };
    let old: Vec<i64> = b
        .entries
        .iter()
        .filter(|e| e.seq <= tip.seq)
        .map(|e| e.seq as i64)
        .collect();
    let mut held = BTreeMap::new();
    if !old.is_empty() {
        let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
            "SELECT seq, hash FROM journal WHERE branch_id = $1 AND device_id = $2 AND seq = ANY($3)",
        )
        .bind(branch_id)
        .bind(b.device_id)
        .bind(&old)
        .fetch_all(&mut **tx)
        .await?;
        for (seq, hash) in rows {
            held.insert(seq as u64, stored_hash(b.device_id, seq, hash)?);
        }
    }
    Ok((tip.seq, check::place(&b.entries, &b.verified, tip, &held)))
}

/// A hash read back from the database; anything but 32 bytes is corruption,
/// never "zeros".
fn stored_hash(device_id: Uuid, seq: i64, bytes: Vec<u8>) -> Result<Hash, ApplyError> {
    let len = bytes.len();
    bytes.try_into().map(Hash).map_err(|_| {
        ApplyError::Db(sqlx::Error::Protocol(format!(
            "the hash held for device {device_id} seq {seq} is {len} bytes, not 32"
        )))
    })
}
