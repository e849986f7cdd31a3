//! One push batch: checked entry by entry, applied in one transaction.
//!
//! 1. Outside any transaction: who may push which device's entries
//!    ([`check::may_push`]), and each entry's branch, size, hash and
//!    signature ([`check::verify_entry`], on a blocking thread).
//! 2. In one transaction: per device (in device-id order, each under an
//!    advisory lock so two pushes of one device serialise), place the entries
//!    against the chain tip ([`check::place`]): duplicates, forks, gaps.
//! 3. Store the accepted entries in the journal (quarantine for payloads
//!    that fail validation), apply them to the projections and run the
//!    conflict rules ([`apply`]), move the chain tips, commit.
//!
//! A transaction that fails on a deadlock or serialisation error is retried.

pub mod apply;
pub mod every;
pub mod orphans;
pub mod summaries;

use std::collections::{BTreeMap, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use sentra_ledger::rules;
use sentra_protocol::wire::{
    ConflictNotice, DeviceAck, PushRequest, PushResponse, QuarantinedEntry, RefusalReason,
    RefusedEntry,
};
use sentra_protocol::{ChainPoint, EntryKind, Hash};
use serde_json::json;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use crate::error::ApiError;
use crate::http::{AppState, Caller};
use crate::receive::check::{self, Placement};
use crate::receive::{Arrival, DeviceBatch, DeviceRecord, ReceiveStore, Sender, receive};
use apply::{Accepted, Applier, ApplyError, NewConflict, ms_to_time};

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The cloud's side of [`ReceiveStore`]: one branch's partitions of the
/// PostgreSQL ledger.
pub struct CloudStore<'a> {
    pub state: &'a AppState,
    pub branch_id: i32,
    pub tz: chrono_tz::Tz,
}

impl<'a> CloudStore<'a> {
    /// The store for pushes of `caller`'s branch.
    pub fn for_caller(state: &'a AppState, caller: &Caller) -> Result<Self, ApiError> {
        let tz = caller.branch_timezone.parse().map_err(|_| {
            ApiError::Internal(format!("branch {} has a bad time zone", caller.branch_code))
        })?;
        Ok(CloudStore {
            state,
            branch_id: caller.branch_id,
            tz,
        })
    }
}

impl ReceiveStore for CloudStore<'_> {
    async fn devices(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, DeviceRecord>, ApiError> {
        load_devices(self.state, ids).await
    }

    async fn commit(
        &self,
        sender: &Sender,
        batches: Vec<DeviceBatch>,
        arrival: Arrival,
    ) -> Result<PushResponse, ApiError> {
        // The sender's clock, when it is the entries' own device.
        // (i128: any u64 the sender writes is a valid, if absurd, clock.)
        let sender_offset = arrival.sent_at_ms.map(|s| {
            let d = i128::from(s) - i128::from(arrival.received_ms);
            i64::try_from(d).unwrap_or(if d < 0 { i64::MIN } else { i64::MAX })
        });
        let mut attempt = 0;
        // First the whole batch at once (fast); if one entry's data breaks
        // it, again entry by entry, each under a savepoint, so that entry is
        // quarantined and the rest of the batch still lands.
        let mut isolate = false;
        let outcome = loop {
            attempt += 1;
            match ingest_tx(
                self,
                sender,
                &batches,
                arrival.received_ms,
                sender_offset,
                isolate,
            )
            .await
            {
                Ok(o) => break o,
                Err(e) if attempt < 4 && is_retryable(&e) => {
                    tracing::info!(attempt, error = %e, "push transaction retried");
                    continue;
                }
                Err(e) if !isolate && is_entry_error(&e) => {
                    tracing::warn!(error = %e, "an entry broke the batch; applying entry by entry");
                    isolate = true;
                    attempt = 0;
                    continue;
                }
                Err(ApplyError::Db(e)) => return Err(e.into()),
                Err(ApplyError::Entry(e)) => return Err(ApiError::InternalPermanent(e)),
            }
        };
        let m = &self.state.metrics;
        for (kind, n) in outcome.stored_kinds {
            m.entries_ingested
                .get_or_create(&crate::metrics::KindLabel { kind })
                .inc_by(n);
        }
        Ok(PushResponse {
            acks: outcome.acks,
            stored: outcome.stored,
            duplicates: outcome.duplicates,
            refused: outcome.refused,
            quarantined: outcome.quarantined,
            conflicts: outcome.conflicts,
        })
    }
}

pub async fn ingest(
    state: &AppState,
    caller: &Caller,
    req: PushRequest,
) -> Result<PushResponse, ApiError> {
    let arrival = Arrival {
        received_ms: now_ms(),
        sent_at_ms: req.sent_at_ms,
    };
    let sender = Sender {
        device_id: caller.device_id,
        kind: caller.kind,
        branch_code: caller.branch_code.clone(),
    };
    let store = CloudStore::for_caller(state, caller)?;
    let resp = receive(&store, &sender, req, arrival).await?;

    let m = &state.metrics;
    m.entries_duplicate.inc_by(resp.duplicates);
    m.entries_quarantined.inc_by(resp.quarantined.len() as u64);
    for r in &resp.refused {
        m.refused(r.reason.code());
    }
    for c in &resp.conflicts {
        m.conflicts
            .get_or_create(&crate::metrics::KindLabel {
                kind: c.kind.clone(),
            })
            .inc();
    }
    m.device_last_seen
        .get_or_create(&crate::metrics::DeviceLabel {
            device_id: caller.device_id.to_string(),
            branch: caller.branch_code.clone(),
        })
        .set((arrival.received_ms / 1000) as i64);
    tracing::info!(
        device = %caller.device_id,
        branch = %caller.branch_code,
        stored = resp.stored,
        duplicates = resp.duplicates,
        refused = resp.refused.len(),
        quarantined = resp.quarantined.len(),
        conflicts = resp.conflicts.len(),
        "push ingested"
    );
    Ok(resp)
}

fn is_retryable(e: &ApplyError) -> bool {
    match e {
        ApplyError::Db(sqlx::Error::Database(db)) => {
            matches!(db.code().as_deref(), Some("40001") | Some("40P01"))
        }
        _ => false,
    }
}

/// An error that one entry's data causes, and would cause again.
fn is_entry_error(e: &ApplyError) -> bool {
    match e {
        ApplyError::Entry(_) => true,
        ApplyError::Db(sqlx::Error::Database(db)) => {
            crate::error::is_data_refusal(db.code().as_deref())
        }
        _ => false,
    }
}

async fn load_devices(
    state: &AppState,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, DeviceRecord>, ApiError> {
    let rows: Vec<(Uuid, String, Vec<u8>, bool)> = sqlx::query_as(
        "SELECT d.device_id, b.code, d.public_key, d.revoked_at IS NOT NULL
         FROM devices d JOIN branches b USING (branch_id)
         WHERE d.device_id = ANY($1)",
    )
    .bind(ids)
    .fetch_all(&state.pool)
    .await?;
    let mut out = HashMap::new();
    for (device_id, branch, key, revoked) in rows {
        let bytes: [u8; 32] = key
            .try_into()
            .map_err(|_| ApiError::Internal(format!("device {device_id} has a bad key")))?;
        let public_key = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map_err(|_| ApiError::Internal(format!("device {device_id} has a bad key")))?;
        out.insert(
            device_id,
            DeviceRecord {
                device_id,
                branch,
                public_key,
                revoked,
            },
        );
    }
    Ok(out)
}

#[derive(Default)]
struct Outcome {
    acks: Vec<DeviceAck>,
    stored: u64,
    duplicates: u64,
    refused: Vec<RefusedEntry>,
    quarantined: Vec<QuarantinedEntry>,
    conflicts: Vec<ConflictNotice>,
    stored_kinds: BTreeMap<String, u64>,
}

async fn ingest_tx(
    store: &CloudStore<'_>,
    sender: &Sender,
    batches: &[DeviceBatch],
    received_ms: u64,
    sender_offset: Option<i64>,
    isolate: bool,
) -> Result<Outcome, ApplyError> {
    let (state, branch_id, tz) = (store.state, store.branch_id, store.tz);
    let tolerance = state.rules.skew_tolerance.as_millis() as u64;
    let mut out = Outcome::default();
    let mut tx = state.pool.begin().await?;
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
pub(crate) async fn insert_conflicts(
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

/// Text from a device, made safe for a PostgreSQL `text` or `jsonb` value and
/// a log line: control characters become U+FFFD.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}

/// Whether the entry's kind and payload fit the journal's typed columns:
/// `jsonb` cannot hold U+0000 (canonical JSON writes it `\u0000`), and a kind
/// is a short snake_case name.
fn storable(a: &Accepted<'_>) -> bool {
    let kind = a.entry.kind.as_str();
    !a.payload_json.contains("\\u0000")
        && !kind.is_empty()
        && kind.len() <= 64
        && kind
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
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

async fn insert_journal(
    tx: &mut Transaction<'_, Postgres>,
    branch_id: i32,
    accepted: &[Accepted<'_>],
    received_ms: u64,
) -> Result<(), ApplyError> {
    if accepted.is_empty() {
        return Ok(());
    }
    let n = accepted.len();
    let mut device = Vec::with_capacity(n);
    let mut seq = Vec::with_capacity(n);
    let mut id = Vec::with_capacity(n);
    let mut format = Vec::with_capacity(n);
    let mut kind = Vec::with_capacity(n);
    let mut wall = Vec::with_capacity(n);
    let mut counter = Vec::with_capacity(n);
    let mut prev = Vec::with_capacity(n);
    let mut hash = Vec::with_capacity(n);
    let mut sig = Vec::with_capacity(n);
    let mut payload = Vec::with_capacity(n);
    let mut occurred = Vec::with_capacity(n);
    let mut quarantine: Vec<Option<String>> = Vec::with_capacity(n);
    let mut raw: Vec<Option<String>> = Vec::with_capacity(n);
    for a in accepted {
        let e = &a.entry;
        device.push(e.device_id);
        seq.push(e.seq as i64);
        id.push(e.id);
        format.push(e.format as i16);
        wall.push(e.hlc.wall_ms as i64);
        counter.push(e.hlc.counter as i32);
        prev.push(e.prev_hash.0.to_vec());
        hash.push(e.hash.0.to_vec());
        sig.push(e.signature.0.to_vec());
        occurred.push(ms_to_time(a.occurred_ms));
        if storable(a) {
            kind.push(e.kind.as_str().to_owned());
            payload.push(Some(a.payload_json));
            raw.push(None);
            quarantine.push(a.typed.as_ref().err().map(|r| printable(r)));
        } else {
            // Kept as received (serde escapes every control character), so
            // the signature can still be checked; never applied.
            kind.push("unstorable".to_owned());
            payload.push(None);
            raw.push(Some(serde_json::to_string(e).map_err(|err| {
                ApplyError::Entry(format!("entry cannot be kept as JSON: {err}"))
            })?));
            quarantine.push(Some(printable(
                a.typed
                    .as_ref()
                    .err()
                    .map_or("unstorable: kind or payload cannot be stored", |r| r),
            )));
        }
    }
    sqlx::query(
        "INSERT INTO journal (branch_id, device_id, seq, entry_id, format, kind, hlc_wall_ms,
             hlc_counter, prev_hash, hash, signature, payload, received_at, occurred_at,
             quarantine_reason, raw_entry)
         SELECT $1, d, s, i, f, k, w, c, p, h, g, y::jsonb, $2, o, q, r
         FROM UNNEST($3::uuid[], $4::bigint[], $5::uuid[], $6::smallint[], $7::text[],
                     $8::bigint[], $9::int[], $10::bytea[], $11::bytea[], $12::bytea[],
                     $13::text[], $14::timestamptz[], $15::text[], $16::text[])
              AS u(d, s, i, f, k, w, c, p, h, g, y, o, q, r)",
    )
    .bind(branch_id)
    .bind(ms_to_time(received_ms as i64))
    .bind(&device)
    .bind(&seq)
    .bind(&id)
    .bind(&format)
    .bind(&kind)
    .bind(&wall)
    .bind(&counter)
    .bind(&prev)
    .bind(&hash)
    .bind(&sig)
    .bind(&payload)
    .bind(&occurred)
    .bind(&quarantine)
    .bind(&raw)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
