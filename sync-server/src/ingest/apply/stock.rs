//! Stock: the movements of a batch (sales, voids, refunds) and stock counts.
//! Movements are collected while the batch applies and moved together at
//! its end ([`Applier::flush_stock`], one upsert in SKU order), where the
//! `oversold` rule runs; a count (`stock_counted`) sets the level, after the
//! movements before it.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use sentra_ledger::rules;
use sentra_protocol::payload::StockCounted;
use serde_json::json;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{Accepted, Applier, ApplyError, NewConflict, R, add, ms_to_time};

/// One stock movement of the batch; `sale` when a sale made it (for
/// `oversold`).
pub(super) struct StockEvent {
    pub(super) sku: String,
    pub(super) delta: i64,
    pub(super) sale: Option<SaleRef>,
}

pub(super) struct SaleRef {
    pub(super) device_id: Uuid,
    pub(super) seq: u64,
    pub(super) entry_id: Uuid,
    pub(super) receipt_no: String,
    pub(super) date: NaiveDate,
}

impl Applier {
    /// Applies the batch's stock movements with one upsert, in SKU order (so
    /// concurrent batches never deadlock on stock rows), and raises
    /// `oversold` where a sale took a tracked item below zero. Stock is
    /// tracked once it has been imported or counted (`count_generation ≥
    /// 1`); an item never counted is not oversold.
    pub(super) async fn flush_stock(&mut self, tx: &mut Transaction<'_, Postgres>) -> R<()> {
        if self.stock_events.is_empty() {
            return Ok(());
        }
        let events = std::mem::take(&mut self.stock_events);
        let mut deltas: BTreeMap<&str, i64> = BTreeMap::new();
        for e in &events {
            add(
                deltas.entry(e.sku.as_str()).or_default(),
                e.delta,
                "stock movement",
            )?;
        }
        let skus: Vec<&str> = deltas.keys().copied().collect();
        let amounts: Vec<i64> = deltas.values().copied().collect();
        let levels: Vec<(String, i64, i64)> = sqlx::query_as(
            "INSERT INTO stock_levels AS s (branch_id, sku, on_hand_milli)
             SELECT $1, sku, d FROM UNNEST($2::text[], $3::bigint[]) AS u(sku, d)
             ON CONFLICT (branch_id, sku) DO UPDATE SET on_hand_milli = s.on_hand_milli + EXCLUDED.on_hand_milli
             RETURNING sku, on_hand_milli, count_generation",
        )
        .bind(self.branch_id)
        .bind(&skus)
        .bind(&amounts)
        .fetch_all(&mut **tx)
        .await?;
        // The level before the batch, for tracked items; then replay the
        // movements in order to find the sales that went below zero.
        let mut running: HashMap<String, (i64, i64)> = HashMap::new();
        for (sku, after, generation) in levels {
            if generation >= 1 {
                let before = after - deltas.get(sku.as_str()).copied().unwrap_or(0);
                running.insert(sku, (before, generation));
            }
        }
        for e in &events {
            let Some((level, generation)) = running.get_mut(&e.sku) else {
                continue;
            };
            let before = *level;
            add(level, e.delta, "stock on hand")?;
            if let Some(sale) = &e.sale
                && *level < 0
            {
                self.conflicts.push(NewConflict {
                    kind: "oversold",
                    dedup_key: rules::oversold_key(&e.sku, sale.date, *generation),
                    device_id: sale.device_id,
                    seq: sale.seq,
                    entry_id: Some(sale.entry_id),
                    details: json!({
                        "sku": e.sku,
                        "receipt_no": sale.receipt_no,
                        "business_date": sale.date,
                        "on_hand_before_milli": before,
                        "on_hand_after_milli": *level,
                        "sold_milli": -e.delta,
                    }),
                });
            }
        }
        Ok(())
    }

    /// One movement of a void or refund: recorded now, moved at the end of
    /// the batch.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn move_stock(
        &mut self,
        tx: &mut Transaction<'_, Postgres>,
        entry_id: Uuid,
        line_index: i32,
        sku: &str,
        delta: i64,
        reason: &str,
        at: DateTime<Utc>,
    ) -> R<()> {
        self.stock_events.push(StockEvent {
            sku: sku.to_owned(),
            delta,
            sale: None,
        });
        sqlx::query(
            "INSERT INTO stock_movements (branch_id, entry_id, line_index, sku, delta_milli, reason, occurred_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(self.branch_id)
        .bind(entry_id)
        .bind(line_index)
        .bind(sku)
        .bind(delta)
        .bind(reason)
        .bind(at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub(super) async fn stock_counted(
        &mut self,
        tx: &mut Transaction<'_, Postgres>,
        a: &Accepted<'_>,
        c: &StockCounted,
    ) -> R<()> {
        // A count sets the level: the movements before it apply first.
        self.flush_stock(tx).await?;
        let before: Option<i64> = sqlx::query_scalar(
            "SELECT on_hand_milli FROM stock_levels WHERE branch_id = $1 AND sku = $2 FOR UPDATE",
        )
        .bind(self.branch_id)
        .bind(&c.sku)
        .fetch_optional(&mut **tx)
        .await?;
        let delta = c
            .counted_milli
            .checked_sub(before.unwrap_or(0))
            .ok_or_else(|| ApplyError::Entry("stock count delta would overflow".into()))?;
        sqlx::query(
            "INSERT INTO stock_levels AS s (branch_id, sku, on_hand_milli, count_generation)
             VALUES ($1, $2, $3, 1)
             ON CONFLICT (branch_id, sku) DO UPDATE
             SET on_hand_milli = EXCLUDED.on_hand_milli, count_generation = s.count_generation + 1",
        )
        .bind(self.branch_id)
        .bind(&c.sku)
        .bind(c.counted_milli)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "INSERT INTO stock_movements (branch_id, entry_id, line_index, sku, delta_milli, reason, occurred_at)
             VALUES ($1, $2, 0, $3, $4, 'count', $5) ON CONFLICT DO NOTHING",
        )
        .bind(self.branch_id)
        .bind(a.entry.id)
        .bind(&c.sku)
        .bind(delta)
        .bind(ms_to_time(a.occurred_ms))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}
