//! `orphan_reference`: a void or refund names a sale the cloud has not seen.
//! It is parked at once (see `apply`), applied automatically when the sale
//! arrives, and raised here only if the sale has not come within the grace
//! period. Raising is idempotent (one conflict per parked entry).

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

use crate::metrics::Metrics;

/// Raises `orphan_reference` for every void/refund parked longer than
/// `grace` (`RulesConfig::orphan_grace`); returns how many were newly raised.
pub async fn sweep(pool: &PgPool, metrics: &Metrics, grace: Duration) -> Result<u64, sqlx::Error> {
    let grace_ms = grace.as_millis() as f64;
    let raised = sqlx::query(
        "INSERT INTO conflicts (branch_id, conflict_id, kind, dedup_key, device_id, seq, entry_id, details)
         SELECT branch_id, gen_random_uuid(), 'orphan_reference', 'orphan:' || entry_id,
                device_id, seq, entry_id,
                jsonb_build_object('entry_kind', what, 'receipt_no', receipt_no,
                                   'sale_entry_id', sale_entry_id, 'parked_since', received_at)
         FROM (
             SELECT branch_id, entry_id, device_id, seq, 'sale_voided' AS what, receipt_no,
                    sale_entry_id, received_at
             FROM voids WHERE status = 'parked'
             UNION ALL
             SELECT branch_id, entry_id, device_id, seq, 'refund_issued', receipt_no,
                    sale_entry_id, received_at
             FROM refunds WHERE status = 'parked'
         ) parked
         WHERE received_at < now() - make_interval(secs => $1 / 1000.0)
         ON CONFLICT (branch_id, dedup_key) DO NOTHING",
    )
    .bind(grace_ms)
    .execute(pool)
    .await?;
    let n = raised.rows_affected();
    if n > 0 {
        metrics
            .conflicts
            .get_or_create(&crate::metrics::KindLabel {
                kind: "orphan_reference".into(),
            })
            .inc_by(n);
        tracing::warn!(raised = n, "orphan references raised");
    }
    Ok(n)
}

/// Applies voids and refunds still parked although their sale is in the
/// ledger (a race that the receipt locks now prevent, or a server stopped
/// between the two): one transaction per branch. Returns how many of them
/// are no longer parked.
pub async fn apply_arrived(pool: &PgPool) -> Result<u64, super::apply::ApplyError> {
    let rows: Vec<(i32, String, Vec<Uuid>, Vec<String>)> = sqlx::query_as(
        "SELECT p.branch_id, b.timezone, array_agg(s.entry_id), array_agg(s.receipt_no)
         FROM (SELECT branch_id, sale_entry_id, receipt_no FROM voids WHERE status = 'parked'
               UNION ALL
               SELECT branch_id, sale_entry_id, receipt_no FROM refunds WHERE status = 'parked') p
         JOIN sales s ON s.branch_id = p.branch_id
              AND (s.entry_id = p.sale_entry_id OR s.receipt_no = p.receipt_no)
         JOIN branches b ON b.branch_id = p.branch_id
         GROUP BY p.branch_id, b.timezone",
    )
    .fetch_all(pool)
    .await?;
    let mut done = 0;
    for (branch_id, tz, sale_ids, receipts) in rows {
        let Ok(tz) = tz.parse::<chrono_tz::Tz>() else {
            tracing::error!(branch_id, %tz, "branch has an unknown time zone; parked entries left");
            continue;
        };
        let mut tx = pool.begin().await?;
        let mut applier = super::apply::Applier::new(branch_id, tz);
        applier.apply_arrived(&mut tx, &sale_ids, &receipts).await?;
        let conflicts = std::mem::take(&mut applier.conflicts);
        super::batch::insert_conflicts(&mut tx, branch_id, conflicts).await?;
        tx.commit().await?;
        done += sale_ids.len() as u64;
        tracing::warn!(
            branch_id,
            entries = sale_ids.len(),
            "parked voids/refunds applied by the sweep"
        );
    }
    Ok(done)
}

/// Runs [`apply_arrived`] and [`sweep`] (with `grace`) every `every` until
/// `stop` turns true — on one server at a time (job `orphan_sweep`).
pub fn spawn_sweeper(
    pool: PgPool,
    metrics: Arc<Metrics>,
    grace: Duration,
    every: Duration,
    stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let (job_pool, job_metrics) = (pool.clone(), metrics.clone());
    super::every::spawn_singleton("orphan_sweep", pool, metrics, every, stop, move || {
        let (pool, metrics) = (job_pool.clone(), job_metrics.clone());
        async move {
            if let Err(e) = apply_arrived(&pool).await {
                tracing::warn!(error = %e, "applying parked entries failed");
            }
            if let Err(e) = sweep(&pool, &metrics, grace).await {
                tracing::warn!(error = %e, "orphan sweep failed");
            }
        }
    })
}
