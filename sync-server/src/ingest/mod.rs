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
//!
//! This file: [`CloudStore`] (it holds its pool, metrics, skew tolerance and
//! branch; the HTTP layer builds it), its retries, and [`ingest`], which
//! counts and logs a push. `batch.rs`: one attempt in one transaction (2 and
//! 3); `journal.rs`: the journal insert; [`apply`]: the projections and the
//! rules, one file per entry kind; [`orphans`] and [`summaries`]: background
//! jobs, on the timers of [`every`].
//!
//! [`check::may_push`]: crate::receive::check::may_push
//! [`check::verify_entry`]: crate::receive::check::verify_entry
//! [`check::place`]: crate::receive::check::place

pub mod apply;
mod batch;
pub mod every;
mod journal;
pub mod orphans;
pub mod summaries;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sentra_protocol::wire::{PushRequest, PushResponse};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::receive::{Arrival, DeviceBatch, DeviceRecord, ReceiveStore, Sender, receive};
use apply::ApplyError;
use batch::ingest_tx;

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The cloud's side of [`ReceiveStore`]: one branch's partitions of the
/// PostgreSQL ledger. It holds what it uses (a pool clone is cheap), so
/// nothing here depends on the HTTP layer.
pub struct CloudStore {
    pub pool: PgPool,
    pub metrics: Arc<Metrics>,
    /// A device clock off by more than this is `clock_skew`
    /// (`RulesConfig::skew_tolerance`).
    pub skew_tolerance: Duration,
    pub branch_id: i32,
    /// The branch's time zone: business dates are its days.
    pub tz: chrono_tz::Tz,
}

impl CloudStore {
    /// The store of branch `branch_id`.
    pub fn new(
        pool: PgPool,
        metrics: Arc<Metrics>,
        skew_tolerance: Duration,
        branch_id: i32,
        tz: chrono_tz::Tz,
    ) -> Self {
        CloudStore {
            pool,
            metrics,
            skew_tolerance,
            branch_id,
            tz,
        }
    }
}

impl ReceiveStore for CloudStore {
    async fn devices(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, DeviceRecord>, ApiError> {
        load_devices(&self.pool, ids).await
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
        let m = &self.metrics;
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

/// Receives a push of `sender`'s into `store`, then counts and logs it.
pub async fn ingest(
    store: &CloudStore,
    sender: &Sender,
    req: PushRequest,
) -> Result<PushResponse, ApiError> {
    let arrival = Arrival {
        received_ms: now_ms(),
        sent_at_ms: req.sent_at_ms,
    };
    let resp = receive(store, sender, req, arrival).await?;

    let m = &store.metrics;
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
            device_id: sender.device_id.to_string(),
            branch: sender.branch_code.clone(),
        })
        .set((arrival.received_ms / 1000) as i64);
    tracing::info!(
        device = %sender.device_id,
        branch = %sender.branch_code,
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
    matches!(e, ApplyError::Db(e) if crate::db::is_transient(e))
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
    pool: &PgPool,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, DeviceRecord>, ApiError> {
    let rows: Vec<(Uuid, String, Vec<u8>, bool)> = sqlx::query_as(
        "SELECT d.device_id, b.code, d.public_key, d.revoked_at IS NOT NULL
         FROM devices d JOIN branches b USING (branch_id)
         WHERE d.device_id = ANY($1)",
    )
    .bind(ids)
    .fetch_all(pool)
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

/// Text from a device, made safe for a PostgreSQL `text` or `jsonb` value and
/// a log line: control characters become U+FFFD.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}
