//! What the cloud knows of each device's sync, for head office's sync
//! health: when the device last called, and the highest seq it has shown
//! (see `device_activity` in the migrations).

use std::collections::BTreeMap;

use sentra_protocol::Entry;
use sqlx::PgPool;
use uuid::Uuid;

use crate::http::Caller;

/// The highest seq per device among `entries`.
pub fn reported_seqs(entries: &[Entry]) -> BTreeMap<Uuid, u64> {
    let mut out = BTreeMap::new();
    for e in entries {
        let seq = out.entry(e.device_id).or_insert(0);
        *seq = (*seq).max(e.seq);
    }
    out
}

/// Records that `caller` called now and that the devices in `reported`
/// hold at least the given seqs. Devices of another branch are ignored (their
/// entries were refused). Best effort: a failure is logged, never fails the
/// request it rides on.
pub async fn record(pool: &PgPool, caller: &Caller, reported: &BTreeMap<Uuid, u64>) {
    let mut devices = vec![caller.device_id];
    let mut seqs = vec![reported.get(&caller.device_id).copied().unwrap_or(0) as i64];
    for (d, s) in reported {
        if *d != caller.device_id {
            devices.push(*d);
            seqs.push(i64::try_from(*s).unwrap_or(i64::MAX));
        }
    }
    let result = sqlx::query(
        "INSERT INTO device_activity AS a (device_id, branch_id, last_seen_at, reported_seq)
         SELECT d.device_id, d.branch_id,
                CASE WHEN d.device_id = $3 THEN now() END, x.seq
         FROM unnest($1::uuid[], $2::bigint[]) AS x(device_id, seq)
         JOIN devices d ON d.device_id = x.device_id AND d.branch_id = $4
         ON CONFLICT (device_id) DO UPDATE
            SET last_seen_at = COALESCE(EXCLUDED.last_seen_at, a.last_seen_at),
                reported_seq = GREATEST(a.reported_seq, EXCLUDED.reported_seq)
          WHERE a.reported_seq < EXCLUDED.reported_seq
             OR (EXCLUDED.last_seen_at IS NOT NULL
                 AND (a.last_seen_at IS NULL OR a.last_seen_at < now() - interval '1 second'))",
    )
    .bind(&devices)
    .bind(&seqs)
    .bind(caller.device_id)
    .bind(caller.branch_id)
    .execute(pool)
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, device = %caller.device_id, "could not record device activity");
    }
}
