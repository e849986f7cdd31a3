//! Sales (`sale_completed`), the bulk of every batch: buffered while they
//! come in a row and written by [`Applier::flush_sales`] with one statement
//! per table (`sales`, `sale_lines`, `sale_payments`, `stock_movements`; the
//! rows are built in `sale_columns.rs`).
//! Rules: a reused entry id is quarantined, `stale_price` (the price in
//! force at the sale's time), `voucher_double_spend` (chain-wide, in HLC
//! order), `foreign_shift`; `oversold` runs when the batch's stock moves
//! (see `stock`). A sale that arrives lets the voids and refunds parked on
//! it apply.

use std::collections::{BTreeSet, HashMap};

use sentra_ledger::rules;
use sentra_ledger::{Typed, figures_of};
use sentra_protocol::Hlc;
use sentra_protocol::payload::SaleCompleted;
use serde_json::json;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::sale_columns::{SaleColumns, SaleLines, SalePayments};
use super::stock::{SaleRef, StockEvent};
use super::{Accepted, Applier, NewConflict, R, date_of, ms_to_time};

impl Applier {
    /// Writes the sales buffered since the last flush, then runs their
    /// rules and folds them into stock, shifts, the daily rollup and the
    /// report summaries.
    pub(super) async fn flush_sales(
        &mut self,
        tx: &mut Transaction<'_, Postgres>,
        batch: &[Accepted<'_>],
    ) -> R<()> {
        if self.pending_sales.is_empty() {
            return Ok(());
        }
        let pending: Vec<(usize, &SaleCompleted)> = std::mem::take(&mut self.pending_sales)
            .into_iter()
            .filter_map(|i| match &batch[i].typed {
                Ok(Typed::SaleCompleted(s)) => Some((i, s)),
                _ => None,
            })
            .collect();
        let b = self.branch_id;

        // 1. The sale rows; an entry id already used is not applied twice.
        let n = pending.len();
        let mut sales = SaleColumns::with_capacity(n);
        for (i, s) in &pending {
            sales.push(&batch[*i], s, self.tz);
        }
        let inserted: BTreeSet<Uuid> = sales.insert(tx, b).await?.into_iter().collect();
        let mut applied: Vec<(usize, &SaleCompleted)> = Vec::with_capacity(n);
        for (i, s) in &pending {
            if inserted.contains(&batch[*i].entry.id) {
                applied.push((*i, *s));
            } else {
                self.quarantine.insert(
                    *i,
                    format!(
                        "duplicate_entry_id: entry id {} is already used by another sale",
                        batch[*i].entry.id
                    ),
                );
            }
        }

        // 2. Lines, payments, stock movements: plain inserts (no ON CONFLICT),
        // since only sales newly inserted above get here and validation makes
        // line numbers unique within a sale.
        let mut lines = SaleLines::default();
        let mut payments = SalePayments::default();
        for (i, s) in &applied {
            let a = &batch[*i];
            for l in &s.lines {
                lines.push(a, l);
            }
            for (t_no, t) in s.tenders.iter().enumerate() {
                payments.push(a, t_no, t);
            }
        }
        lines.copy_lines(tx, b).await?;
        payments.copy(tx, b).await?;
        lines.copy_movements(tx, b).await?;

        // 3. stale_price: the price in force at each line's time.
        let in_force: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT l.i, p.price
             FROM UNNEST($2::text[], $3::timestamptz[]) WITH ORDINALITY AS l(sku, at, i)
             CROSS JOIN LATERAL (
                 SELECT price FROM prices
                 WHERE sku = l.sku AND (branch_id = $1 OR branch_id IS NULL) AND effective_from <= l.at
                 ORDER BY (branch_id IS NULL), effective_from DESC, price_id DESC
                 LIMIT 1) p",
        )
        .bind(b)
        .bind(lines.skus())
        .bind(lines.times())
        .fetch_all(&mut **tx)
        .await?;
        let in_force: HashMap<usize, i64> = in_force
            .into_iter()
            .map(|(i, p)| ((i - 1) as usize, p))
            .collect();
        let mut line_at = 0usize;
        for (i, s) in &applied {
            let a = &batch[*i];
            for l in &s.lines {
                if let Some(st) = rules::stale_price(l.unit_price, in_force.get(&line_at).copied())
                {
                    self.conflicts.push(NewConflict {
                        kind: "stale_price",
                        dedup_key: format!("stale_price:{}:{}", a.entry.id, l.line_no),
                        device_id: a.entry.device_id,
                        seq: a.entry.seq,
                        entry_id: Some(a.entry.id),
                        details: json!({
                            "receipt_no": s.receipt_no,
                            "line_no": l.line_no,
                            "sku": l.sku,
                            "charged": st.charged,
                            "in_force": st.in_force,
                            "sold_at": ms_to_time(a.occurred_ms),
                        }),
                    });
                }
                line_at += 1;
            }
        }

        // 4. Stock: moved at the end of the batch (see `flush_stock`).
        for (i, sale) in &applied {
            let a = &batch[*i];
            for l in &sale.lines {
                self.stock_events.push(StockEvent {
                    sku: l.sku.clone(),
                    delta: -l.quantity_milli,
                    sale: Some(SaleRef {
                        device_id: a.entry.device_id,
                        seq: a.entry.seq,
                        entry_id: a.entry.id,
                        receipt_no: sale.receipt_no.clone(),
                        date: date_of(a.occurred_ms, self.tz),
                    }),
                });
            }
        }

        // 5. Vouchers.
        for (i, s) in &applied {
            let a = &batch[*i];
            for (t_no, t) in s.tenders.iter().enumerate() {
                if t.method == "voucher"
                    && let Some(code) = &t.reference
                {
                    self.redeem_voucher(tx, a, t_no as i32, code, t.amount)
                        .await?;
                }
            }
        }

        // 6. Shifts and the daily rollup.
        let shift_ids: Vec<Uuid> = applied.iter().map(|(_, s)| s.shift_id).collect();
        self.load_shifts(tx, &shift_ids).await?;
        for (i, s) in &applied {
            let a = &batch[*i];
            let fig = figures_of(s)?;
            self.rollup(a.occurred_ms, a.entry.device_id)
                .sale(&fig, 1)?;
            self.summaries
                .sale(date_of(a.occurred_ms, self.tz), a.occurred_ms, s, 1)?;
            if self.foreign_shift(s.shift_id, a, "sale_completed") {
                continue;
            }
            let st = self.shift(s.shift_id, a.entry.device_id, a.occurred_ms);
            st.summary.add_sale(&fig)?;
            st.dirty = true;
        }

        // 7. Voids and refunds parked for these sales can apply now.
        let sale_ids: Vec<Uuid> = applied.iter().map(|(i, _)| batch[*i].entry.id).collect();
        let receipts: Vec<String> = applied.iter().map(|(_, s)| s.receipt_no.clone()).collect();
        self.lock_receipts(tx, &receipts).await?;
        self.resolve_parked(tx, &sale_ids, &receipts).await?;
        Ok(())
    }

    async fn redeem_voucher(
        &mut self,
        tx: &mut Transaction<'_, Postgres>,
        a: &Accepted<'_>,
        tender_no: i32,
        code: &str,
        amount: i64,
    ) -> R<()> {
        // Vouchers are chain-wide: serialise redemptions of one code.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('voucher:' || $1, 0))")
            .bind(code)
            .execute(&mut **tx)
            .await?;
        sqlx::query(
            "INSERT INTO voucher_redemptions (branch_id, entry_id, tender_no, code, device_id, seq,
                 hlc_wall_ms, hlc_counter, amount)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
        )
        .bind(self.branch_id)
        .bind(a.entry.id)
        .bind(tender_no)
        .bind(code)
        .bind(a.entry.device_id)
        .bind(a.entry.seq as i64)
        .bind(a.entry.hlc.wall_ms as i64)
        .bind(a.entry.hlc.counter as i32)
        .bind(amount)
        .execute(&mut **tx)
        .await?;
        let rows: Vec<(i32, Uuid, Uuid, i64, i64, i32)> = sqlx::query_as(
            "SELECT branch_id, entry_id, device_id, seq, hlc_wall_ms, hlc_counter
             FROM voucher_redemptions WHERE code = $1",
        )
        .bind(code)
        .fetch_all(&mut **tx)
        .await?;
        let redemptions: Vec<rules::Redemption> = rows
            .iter()
            .map(|r| rules::Redemption {
                entry_id: r.1,
                device_id: r.2,
                seq: r.3 as u64,
                hlc: Hlc {
                    wall_ms: r.4 as u64,
                    counter: r.5 as u32,
                },
            })
            .collect();
        let first = {
            let mut s = redemptions.clone();
            s.sort_by_key(|r| (r.hlc, r.device_id, r.seq));
            s.first().copied()
        };
        for flagged in rules::double_spends(&redemptions) {
            let branch_of = rows
                .iter()
                .find(|r| r.1 == flagged.entry_id)
                .map(|r| r.0)
                .unwrap_or(self.branch_id);
            if branch_of != self.branch_id {
                // Raised in its own branch when that branch pushed it.
                continue;
            }
            self.conflicts.push(NewConflict {
                kind: "voucher_double_spend",
                dedup_key: format!("voucher:{code}:{}", flagged.entry_id),
                device_id: flagged.device_id,
                seq: flagged.seq,
                entry_id: Some(flagged.entry_id),
                details: json!({
                    "code": code,
                    "first_entry_id": first.map(|f| f.entry_id),
                    "first_device_id": first.map(|f| f.device_id),
                    "redemptions": redemptions.len(),
                }),
            });
        }
        Ok(())
    }
}
