//! The relay's SQLCipher journal: the relay's side of [`ReceiveStore`], its
//! copy of the branch's devices, the forwarding state per device, and the
//! pull cache it serves to terminals.
//!
//! One connection behind a mutex: every operation is a short transaction on
//! a blocking thread, and `synchronous=FULL` (set by
//! `sentra_journal_store::db::configure`) makes a commit durable when it
//! returns, so an ack is only sent for entries that survive a power cut.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use ed25519_dalek::VerifyingKey;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use sentra_protocol::wire::{
    Change, DeviceAck, DeviceKind, PushResponse, RefusedEntry, RelayDevice,
};
use sentra_protocol::{ChainPoint, Entry, Hash};
use uuid::Uuid;

use crate::error::ApiError;
use crate::receive::check;
use crate::receive::{Arrival, DeviceBatch, DeviceRecord, ReceiveStore, Sender};

/// A device the relay knows, with what it needs to recognise its caller.
#[derive(Clone, Debug)]
pub struct KnownDevice {
    pub device_id: Uuid,
    pub kind: DeviceKind,
    pub revoked: bool,
}

/// One device's forwarding state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub device_id: Uuid,
    pub seq: u64,
    pub cloud_acked_seq: u64,
    /// Why the cloud refuses this device's next entry, while it is parked.
    pub parked_reason: Option<String>,
    /// Unix ms until which the device is left out of forwarding.
    pub parked_until_ms: Option<u64>,
}

/// The first wait of a parked device before it is tried again; doubles with
/// each further refusal, up to [`MAX_PARK_MS`].
pub const FIRST_PARK_MS: u64 = 30_000;
/// The longest wait of a parked device.
pub const MAX_PARK_MS: u64 = 3_600_000;

/// A refusal that resending the same entries cannot cure: the device is
/// parked (a gap, a broken link or "after refused" is cured by resending
/// from the cloud's ack, which the next batch does).
pub fn parks(reason: sentra_protocol::wire::RefusalReason) -> bool {
    use sentra_protocol::wire::RefusalReason as R;
    !matches!(reason, R::Gap | R::BrokenLink | R::AfterRefused)
}

/// Up to `limit` (device, count) shares of a forward batch: each pending
/// device gets an equal share, what one leaves unused goes to the others, so
/// no device (however far behind) can crowd the rest out. `pending` is in
/// device order, `(device, entries pending)`.
pub fn fair_shares(pending: &[(Uuid, u64)], limit: usize) -> Vec<(Uuid, usize)> {
    let mut shares: Vec<(Uuid, usize)> = pending.iter().map(|(d, _)| (*d, 0)).collect();
    let mut left = limit;
    loop {
        let open: Vec<usize> = (0..pending.len())
            .filter(|&i| (shares[i].1 as u64) < pending[i].1)
            .collect();
        if left == 0 || open.is_empty() {
            break;
        }
        let each = (left / open.len()).max(1);
        for i in open {
            if left == 0 {
                break;
            }
            let room = (pending[i].1 - shares[i].1 as u64).min(each as u64) as usize;
            let give = room.min(left);
            shares[i].1 += give;
            left -= give;
        }
    }
    shares.retain(|(_, n)| *n > 0);
    shares
}

#[derive(Clone)]
pub struct RelayStore {
    conn: Arc<Mutex<Connection>>,
    branch: String,
}

fn internal(what: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(format!("relay store, {what}: {e}"))
}

fn sql(e: rusqlite::Error) -> ApiError {
    // A busy database is the only failure a retry can cure.
    if matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    ) {
        return ApiError::Unavailable;
    }
    internal("database", e)
}

fn uuid_of(text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text).map_err(|e| internal("stored device id", e))
}

fn hash_of(blob: Vec<u8>) -> Result<Hash, ApiError> {
    let bytes: [u8; 32] = blob
        .try_into()
        .map_err(|_| internal("stored hash", "not 32 bytes"))?;
    Ok(Hash(bytes))
}

impl RelayStore {
    /// Wraps an open, migrated connection (see `relay::identity`).
    pub fn new(conn: Connection, branch: &str) -> Self {
        RelayStore {
            conn: Arc::new(Mutex::new(conn)),
            branch: branch.to_owned(),
        }
    }

    pub fn branch(&self) -> &str {
        &self.branch
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>, ApiError> {
        self.conn
            .lock()
            .map_err(|_| internal("lock", "a thread panicked while holding the database"))
    }

    /// Runs `f` with the connection on a blocking thread.
    pub async fn with<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, ApiError> + Send + 'static,
    {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = this.lock()?;
            f(&mut conn)
        })
        .await
        .map_err(|e| internal("task", e))?
    }

    /// Replaces the copy of the branch's devices with the cloud's list.
    pub async fn replace_devices(&self, devices: Vec<RelayDevice>) -> Result<usize, ApiError> {
        self.with(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql)?;
            tx.execute("DELETE FROM relay_devices", []).map_err(sql)?;
            let mut n = 0;
            for d in &devices {
                let key = hex::decode(&d.public_key)
                    .ok()
                    .filter(|k| k.len() == 32)
                    .ok_or_else(|| internal("cloud device key", &d.public_key))?;
                // No relay credential (the relay itself, or a terminal that
                // has not asked for one yet): all zeroes, which no credential
                // hashes to, so nobody signs in as it here.
                let cred = if d.credential_sha256.is_empty() {
                    vec![0u8; 32]
                } else {
                    hex::decode(&d.credential_sha256)
                        .ok()
                        .filter(|k| k.len() == 32)
                        .ok_or_else(|| internal("cloud credential hash", d.device_id))?
                };
                tx.execute(
                    "INSERT INTO relay_devices (device_id, kind, name, public_key, credential_hash, revoked)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        d.device_id.to_string(),
                        d.kind.as_str(),
                        d.name,
                        key,
                        cred,
                        i64::from(d.revoked)
                    ],
                )
                .map_err(sql)?;
                n += 1;
            }
            tx.commit().map_err(sql)?;
            Ok(n)
        })
        .await
    }

    /// The device whose credential hashes to `credential_hash`.
    pub async fn device_by_credential(
        &self,
        credential_hash: [u8; 32],
    ) -> Result<Option<KnownDevice>, ApiError> {
        self.with(move |conn| {
            let row: Option<(String, String, i64)> = conn
                .prepare_cached(
                    "SELECT device_id, kind, revoked FROM relay_devices WHERE credential_hash = ?1",
                )
                .map_err(sql)?
                .query_row([credential_hash.as_slice()], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()
                .map_err(sql)?;
            let Some((id, kind, revoked)) = row else {
                return Ok(None);
            };
            Ok(Some(KnownDevice {
                device_id: uuid_of(&id)?,
                kind: DeviceKind::from_name(&kind)
                    .ok_or_else(|| internal("stored device kind", &kind))?,
                revoked: revoked != 0,
            }))
        })
        .await
    }

    /// Every device's forwarding state.
    pub async fn heads(&self) -> Result<Vec<Head>, ApiError> {
        self.with(|conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT device_id, seq, cloud_acked_seq, parked_reason, parked_until_ms
                     FROM relay_heads ORDER BY device_id",
                )
                .map_err(sql)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, Option<i64>>(4)?,
                    ))
                })
                .map_err(sql)?;
            let mut out = Vec::new();
            for row in rows {
                let (id, seq, cloud, parked_reason, parked_until) = row.map_err(sql)?;
                out.push(Head {
                    device_id: uuid_of(&id)?,
                    seq: seq as u64,
                    cloud_acked_seq: cloud as u64,
                    parked_reason,
                    parked_until_ms: parked_until.map(|t| t as u64),
                });
            }
            Ok(out)
        })
        .await
    }

    /// Up to `limit` entries the cloud does not hold yet, in seq order per
    /// device, a fair share of each device that is not parked at `now_ms`
    /// ([`fair_shares`]).
    pub async fn unforwarded(&self, limit: usize, now_ms: u64) -> Result<Vec<Entry>, ApiError> {
        let heads = self.heads().await?;
        let pending: Vec<(Uuid, u64)> = heads
            .iter()
            .filter(|h| h.seq > h.cloud_acked_seq)
            .filter(|h| h.parked_until_ms.is_none_or(|t| t <= now_ms))
            .map(|h| (h.device_id, h.seq - h.cloud_acked_seq))
            .collect();
        let shares = fair_shares(&pending, limit);
        let from: std::collections::HashMap<Uuid, u64> = heads
            .iter()
            .map(|h| (h.device_id, h.cloud_acked_seq))
            .collect();
        self.with(move |conn| {
            let mut out = Vec::new();
            for (device, n) in shares {
                let after = from.get(&device).copied().unwrap_or(0);
                let more = sentra_journal_store::journal::read_after(conn, device, after, n)
                    .map_err(|e| internal("reading the journal", e))?;
                out.extend(more);
            }
            Ok(out)
        })
        .await
    }

    /// The entries naming `receipt_no` (its sale, voids and refunds), from
    /// every device of the branch.
    pub async fn by_receipt(&self, receipt_no: String) -> Result<Vec<Entry>, ApiError> {
        self.with(move |conn| {
            sentra_journal_store::journal::by_receipt(
                conn,
                &receipt_no,
                sentra_protocol::wire::MAX_RECEIPT_ENTRIES,
            )
            .map_err(|e| internal("reading the journal", e))
        })
        .await
    }

    /// Records what the cloud now holds (its acks are authoritative: a
    /// lower ack than recorded means the cloud wants those entries again).
    ///
    /// A device whose next entry is refused for a reason resending cannot
    /// cure is parked (see [`parks`]); one the cloud takes again is unparked.
    /// Returns the devices parked by this answer.
    pub async fn record_cloud_acks(
        &self,
        acks: Vec<DeviceAck>,
        refusals: Vec<RefusedEntry>,
        now_ms: u64,
    ) -> Result<Vec<(Uuid, String)>, ApiError> {
        self.with(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql)?;
            let mut parked = Vec::new();
            // A device refused as a whole (revoked, unknown) gets no ack.
            let mut devices: Vec<Uuid> = acks.iter().map(|a| a.device_id).collect();
            for r in &refusals {
                if !devices.contains(&r.device_id) {
                    devices.push(r.device_id);
                }
            }
            for device in devices {
                let first = refusals.iter().find(|r| r.device_id == device);
                let refusal =
                    first.map(|r| format!("seq {}: {}: {}", r.seq, r.reason.code(), r.detail));
                match acks.iter().find(|a| a.device_id == device) {
                    Some(a) => tx.execute(
                        "UPDATE relay_heads SET cloud_acked_seq = min(?2, seq), last_refusal = ?3
                         WHERE device_id = ?1",
                        params![device.to_string(), a.acked_seq as i64, refusal],
                    ),
                    None => tx.execute(
                        "UPDATE relay_heads SET last_refusal = ?2 WHERE device_id = ?1",
                        params![device.to_string(), refusal],
                    ),
                }
                .map_err(sql)?;
                match first {
                    Some(r) if parks(r.reason) => {
                        let count: i64 = tx
                            .query_row(
                                "SELECT park_count FROM relay_heads WHERE device_id = ?1",
                                [device.to_string()],
                                |row| row.get(0),
                            )
                            .map_err(sql)?;
                        let wait = FIRST_PARK_MS
                            .saturating_mul(1u64 << count.clamp(0, 16))
                            .min(MAX_PARK_MS);
                        let reason = format!("{}: {}", r.reason.code(), r.detail);
                        tx.execute(
                            "UPDATE relay_heads SET parked_reason = ?2, parked_until_ms = ?3,
                                 park_count = park_count + 1
                             WHERE device_id = ?1",
                            params![
                                device.to_string(),
                                reason,
                                now_ms.saturating_add(wait) as i64
                            ],
                        )
                        .map_err(sql)?;
                        parked.push((device, reason));
                    }
                    Some(_) => {}
                    None => {
                        tx.execute(
                            "UPDATE relay_heads SET parked_reason = NULL, parked_until_ms = NULL,
                                 park_count = 0
                             WHERE device_id = ?1 AND parked_reason IS NOT NULL",
                            [device.to_string()],
                        )
                        .map_err(sql)?;
                    }
                }
            }
            tx.commit().map_err(sql)?;
            Ok(parked)
        })
        .await
    }

    /// Entries held here and not yet by the cloud.
    pub async fn pending(&self) -> Result<u64, ApiError> {
        Ok(self
            .heads()
            .await?
            .iter()
            .map(|h| h.seq.saturating_sub(h.cloud_acked_seq))
            .sum())
    }

    /// Saves one pulled page and its cursor together.
    pub async fn save_pulled(
        &self,
        changes: Vec<Change>,
        cursor: String,
        now_ms: u64,
    ) -> Result<(), ApiError> {
        self.with(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql)?;
            for c in &changes {
                let data = serde_json::to_string(&c.data).map_err(|e| internal("change", e))?;
                tx.execute(
                    "INSERT OR REPLACE INTO pull_cache
                         (entity, key, data, deleted, scope, version, signature)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        c.entity,
                        c.key,
                        data,
                        i64::from(c.deleted),
                        c.scope,
                        i64::try_from(c.version).unwrap_or(i64::MAX),
                        c.signature
                    ],
                )
                .map_err(sql)?;
            }
            tx.execute(
                "INSERT INTO relay_pull_state (singleton, cursor, pulled_at_ms) VALUES (1, ?1, ?2)
                 ON CONFLICT (singleton) DO UPDATE SET cursor = ?1, pulled_at_ms = ?2",
                params![cursor, now_ms as i64],
            )
            .map_err(sql)?;
            tx.commit().map_err(sql)?;
            Ok(())
        })
        .await
    }

    /// The cloud pull cursor the cache is at ("" before the first pull).
    pub async fn pull_cursor(&self) -> Result<String, ApiError> {
        self.with(|conn| {
            conn.query_row(
                "SELECT cursor FROM relay_pull_state WHERE singleton = 1",
                [],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map_err(sql)
            .map(Option::unwrap_or_default)
        })
        .await
    }

    /// Cached changes after revision `after`, at most `limit`, and the
    /// revision of the last one.
    pub async fn cached_changes(
        &self,
        after: u64,
        limit: u32,
    ) -> Result<Vec<(u64, Change)>, ApiError> {
        self.with(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT rev, entity, key, data, deleted, scope, version, signature
                     FROM pull_cache WHERE rev > ?1 ORDER BY rev LIMIT ?2",
                )
                .map_err(sql)?;
            let rows = stmt
                .query_map(params![after as i64, i64::from(limit)], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, Option<String>>(5)?,
                        r.get::<_, i64>(6)?,
                        r.get::<_, String>(7)?,
                    ))
                })
                .map_err(sql)?;
            let mut out = Vec::new();
            for row in rows {
                let (rev, entity, key, data, deleted, scope, version, signature) =
                    row.map_err(sql)?;
                let data = serde_json::from_str(&data).map_err(|e| internal("cached change", e))?;
                out.push((
                    rev as u64,
                    Change {
                        entity,
                        key,
                        data,
                        deleted: deleted != 0,
                        scope,
                        version: version.max(0) as u64,
                        signature,
                    },
                ));
            }
            Ok(out)
        })
        .await
    }
}

fn load_records(
    conn: &Connection,
    branch: &str,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, DeviceRecord>, ApiError> {
    let mut out = HashMap::new();
    let mut stmt = conn
        .prepare_cached("SELECT public_key, revoked FROM relay_devices WHERE device_id = ?1")
        .map_err(sql)?;
    for id in ids {
        let row: Option<(Vec<u8>, i64)> = stmt
            .query_row([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(sql)?;
        let Some((key, revoked)) = row else { continue };
        let bytes: [u8; 32] = key
            .try_into()
            .map_err(|_| internal("stored device key", "not 32 bytes"))?;
        let public_key =
            VerifyingKey::from_bytes(&bytes).map_err(|e| internal("stored device key", e))?;
        out.insert(
            *id,
            DeviceRecord {
                device_id: *id,
                // The relay knows only its own branch's devices.
                branch: branch.to_owned(),
                public_key,
                revoked: revoked != 0,
            },
        );
    }
    Ok(out)
}

/// Places and stores the batches in one IMMEDIATE transaction.
fn commit_blocking(
    conn: &mut Connection,
    batches: &[DeviceBatch],
) -> Result<PushResponse, ApiError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql)?;
    let mut resp = PushResponse::default();
    for b in batches {
        let id = b.device_id.to_string();
        let head: Option<(i64, Vec<u8>, i64)> = tx
            .prepare_cached(
                "SELECT seq, hash, cloud_acked_seq FROM relay_heads WHERE device_id = ?1",
            )
            .map_err(sql)?
            .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()
            .map_err(sql)?;
        let (tip, cloud_acked) = match head {
            Some((seq, hash, cloud)) => (
                ChainPoint {
                    seq: seq as u64,
                    hash: hash_of(hash)?,
                },
                cloud as u64,
            ),
            None => (ChainPoint::GENESIS, 0),
        };
        let mut held = BTreeMap::new();
        {
            let mut stmt = tx
                .prepare_cached("SELECT hash FROM journal WHERE device_id = ?1 AND seq = ?2")
                .map_err(sql)?;
            for e in b.entries.iter().filter(|e| e.seq <= tip.seq) {
                let hash: Option<Vec<u8>> = stmt
                    .query_row(params![id, e.seq as i64], |r| r.get(0))
                    .optional()
                    .map_err(sql)?;
                if let Some(h) = hash {
                    held.insert(e.seq, hash_of(h)?);
                }
            }
        }
        let p = check::place(&b.entries, &b.verified, tip, &held);
        for &i in &p.accept {
            sentra_journal_store::journal::insert(&tx, &b.entries[i]).map_err(|e| match e {
                sentra_journal_store::StoreError::Sqlite(e) => sql(e),
                other => internal("storing an entry", other),
            })?;
        }
        if p.tip.seq > tip.seq {
            tx.execute(
                "INSERT INTO relay_heads (device_id, seq, hash) VALUES (?1, ?2, ?3)
                 ON CONFLICT (device_id) DO UPDATE SET seq = ?2, hash = ?3",
                params![id, p.tip.seq as i64, p.tip.hash.0.as_slice()],
            )
            .map_err(sql)?;
        }
        resp.stored += p.accept.len() as u64;
        resp.duplicates += p.duplicates;
        resp.refused.extend(p.refused.iter().map(|r| RefusedEntry {
            device_id: b.device_id,
            seq: r.seq,
            reason: r.reason,
            detail: r.detail.clone(),
        }));
        resp.acks.push(DeviceAck {
            device_id: b.device_id,
            acked_seq: p.tip.seq,
            expected_seq: p.expected,
            cloud_acked_seq: Some(cloud_acked.min(p.tip.seq)),
        });
    }
    tx.commit().map_err(sql)?;
    Ok(resp)
}

impl ReceiveStore for RelayStore {
    async fn devices(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, DeviceRecord>, ApiError> {
        let ids = ids.to_vec();
        let branch = self.branch.clone();
        self.with(move |conn| load_records(conn, &branch, &ids))
            .await
    }

    async fn commit(
        &self,
        _sender: &Sender,
        batches: Vec<DeviceBatch>,
        _arrival: Arrival,
    ) -> Result<PushResponse, ApiError> {
        // The relay stores genuine entries as they are; payload rules and
        // clock skew are the cloud's to judge.
        self.with(move |conn| commit_blocking(conn, &batches)).await
    }
}
