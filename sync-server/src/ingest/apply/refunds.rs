//! Refunds (`refund_issued`): counted at once in their shift, their day and
//! the report summaries, their items back to stock; linked to their sale
//! when it is here, parked until then. Rules: `unverified_return` (a refund
//! made without the sale), `over_refund` (every refund of a sale re-judged
//! in HLC order). Also the parked voids and refunds a newly arrived sale
//! resolves, and the receipt locks that keep a sale and its void or refund
//! from missing each other.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDate;
use sentra_domain::Money;
use sentra_ledger::parse_method;
use sentra_ledger::rules::{self, RefundClaim, SoldLine};
use sentra_protocol::Hlc;
use sentra_protocol::payload::RefundIssued;
use serde_json::json;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{Accepted, Applier, ApplyError, Db, NewConflict, R, date_of, ms_to_time};

impl Applier {
    /// A refund counts at once in its shift and its day (the money left the
    /// till) and its items go back to stock; it is linked to its sale, and
    /// judged against it (`over_refund`), when the sale is here — parked
    /// until then.
    pub(super) async fn refund_issued(
        &mut self,
        tx: &mut Transaction<'_, Postgres>,
        a: &Accepted<'_>,
        r: &RefundIssued,
    ) -> R<()> {
        let at = ms_to_time(a.occurred_ms);
        let inserted = sqlx::query(
            "INSERT INTO refunds (branch_id, entry_id, device_id, seq, hlc_wall_ms, hlc_counter,
                 refund_no, receipt_no, sale_entry_id, shift_id, occurred_at, business_date,
                 received_at, total, tax, method, status)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, now(), $13, $14, $15, $16)
             ON CONFLICT DO NOTHING",
        )
        .bind(self.branch_id)
        .bind(a.entry.id)
        .bind(a.entry.device_id)
        .bind(a.entry.seq as i64)
        .bind(a.entry.hlc.wall_ms as i64)
        .bind(a.entry.hlc.counter as i32)
        .bind(&r.refund_no)
        .bind(&r.receipt_no)
        .bind(r.sale_entry_id)
        .bind(r.shift_id)
        .bind(at)
        .bind(date_of(a.occurred_ms, self.tz))
        .bind(r.total)
        .bind(r.tax)
        .bind(&r.method)
        .bind(if r.unverified { "unverified" } else { "parked" })
        .execute(&mut **tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Ok(());
        }
        // The PPN return files a refunded line at the rate of its product's
        // class until its sale is linked (`link_refund` moves it then).
        let skus: Vec<&str> = r.lines.iter().map(|l| l.sku.as_str()).collect();
        let class_rates: HashMap<String, String> = sqlx::query_as(
            "SELECT p.sku, t.rate FROM products p JOIN tax_rates t ON t.category = p.tax_category
             WHERE p.sku = ANY($1)",
        )
        .bind(&skus)
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .collect();
        let refund_date = date_of(a.occurred_ms, self.tz);
        for (idx, l) in r.lines.iter().enumerate() {
            let rate = class_rates.get(&l.sku).map_or("0", String::as_str);
            sqlx::query(
                "INSERT INTO refund_lines (branch_id, refund_entry_id, line_index, line_no, sku,
                     quantity_milli, amount, tax, tax_rate)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(self.branch_id)
            .bind(a.entry.id)
            .bind(idx as i32)
            .bind(l.line_no as i32)
            .bind(&l.sku)
            .bind(l.quantity_milli)
            .bind(l.amount)
            .bind(l.tax)
            .bind(rate)
            .execute(&mut **tx)
            .await?;
            self.summaries.refund_line(
                refund_date,
                &l.sku,
                rate,
                l.quantity_milli,
                l.amount,
                l.tax,
                1,
            )?;
            self.move_stock(
                tx,
                a.entry.id,
                idx as i32,
                &l.sku,
                l.quantity_milli,
                "refund",
                at,
            )
            .await?;
        }
        self.load_shifts(tx, &[r.shift_id]).await?;
        let foreign = self.foreign_shift(r.shift_id, a, "refund_issued");
        if let Ok(method) = parse_method(&r.method)
            && !foreign
        {
            let st = self.shift(r.shift_id, a.entry.device_id, a.occurred_ms);
            st.summary
                .add_refund(Money::idr(r.total), Money::idr(r.tax), method)?;
            st.dirty = true;
        }
        self.rollup(a.occurred_ms, a.entry.device_id)
            .refund(r.total, r.tax, &r.method)?;
        let cashier: Option<String> =
            sqlx::query_scalar("SELECT cashier FROM shifts WHERE branch_id = $1 AND shift_id = $2")
                .bind(self.branch_id)
                .bind(r.shift_id)
                .fetch_optional(&mut **tx)
                .await?
                .flatten();
        self.summaries
            .refund(refund_date, a.occurred_ms, cashier.as_deref(), r.total)?;
        // Made without the original sale: the money left the till, so it
        // counts; a person at head office checks it against the sale.
        if r.unverified {
            self.conflicts.push(NewConflict {
                kind: "unverified_return",
                dedup_key: format!("unverified_return:{}", a.entry.id),
                device_id: a.entry.device_id,
                seq: a.entry.seq,
                entry_id: Some(a.entry.id),
                details: json!({
                    "refund_no": r.refund_no,
                    "receipt_no": r.receipt_no,
                    "total": r.total,
                    "reason": r.reason,
                    "lines": r.lines.iter().map(|l| json!({
                        "sku": l.sku, "quantity_milli": l.quantity_milli, "amount": l.amount
                    })).collect::<Vec<_>>(),
                }),
            });
            return Ok(());
        }
        // Serialised with the sale's own batch (see `lock_receipts`): if the
        // sale is not visible now, its batch will see this refund parked.
        self.lock_receipts(tx, std::slice::from_ref(&r.receipt_no))
            .await?;
        let sale_id = self.find_sale(tx, r.sale_entry_id, &r.receipt_no).await?;
        if let Some(sale_id) = sale_id {
            self.link_refund(tx, a.entry.id, sale_id).await?;
        }
        Ok(())
    }

    async fn find_sale(
        &mut self,
        db: &mut Db,
        sale_entry_id: Option<Uuid>,
        receipt_no: &str,
    ) -> R<Option<Uuid>> {
        if let Some(id) = sale_entry_id {
            let found: Option<Uuid> = sqlx::query_scalar(
                "SELECT entry_id FROM sales WHERE branch_id = $1 AND entry_id = $2",
            )
            .bind(self.branch_id)
            .bind(id)
            .fetch_optional(&mut *db)
            .await?;
            return Ok(found);
        }
        sqlx::query_scalar(
            "SELECT entry_id FROM sales WHERE branch_id = $1 AND receipt_no = $2
             ORDER BY occurred_at LIMIT 1",
        )
        .bind(self.branch_id)
        .bind(receipt_no)
        .fetch_optional(&mut *db)
        .await
        .map_err(ApplyError::from)
    }

    /// Links a refund to its sale and re-judges every refund of that sale in
    /// HLC order (`over_refund`).
    async fn link_refund(
        &mut self,
        tx: &mut Transaction<'_, Postgres>,
        refund_id: Uuid,
        sale_id: Uuid,
    ) -> R<()> {
        let Some(sale) = self.sale_figures(tx, sale_id).await? else {
            return Ok(());
        };
        sqlx::query(
            "UPDATE refunds SET status = 'applied', sale_entry_id = $3
             WHERE branch_id = $1 AND entry_id = $2",
        )
        .bind(self.branch_id)
        .bind(refund_id)
        .bind(sale_id)
        .execute(&mut **tx)
        .await?;
        self.refile_refund_lines(tx, refund_id, sale_id).await?;
        self.resolve_orphan_conflict(tx, refund_id).await?;
        let claims_rows: Vec<(Uuid, Uuid, i64, i64, i32, bool)> = sqlx::query_as(
            "SELECT entry_id, device_id, seq, hlc_wall_ms, hlc_counter, over_refund FROM refunds
             WHERE branch_id = $1 AND sale_entry_id = $2 AND status = 'applied'",
        )
        .bind(self.branch_id)
        .bind(sale_id)
        .fetch_all(&mut **tx)
        .await?;
        let ids: Vec<Uuid> = claims_rows.iter().map(|c| c.0).collect();
        let lines: Vec<(Uuid, i32, i64, i64)> = sqlx::query_as(
            "SELECT refund_entry_id, line_no, quantity_milli, amount FROM refund_lines
             WHERE branch_id = $1 AND refund_entry_id = ANY($2)",
        )
        .bind(self.branch_id)
        .bind(&ids)
        .fetch_all(&mut **tx)
        .await?;
        let claims: Vec<RefundClaim> = claims_rows
            .iter()
            .map(|c| RefundClaim {
                entry_id: c.0,
                device_id: c.1,
                seq: c.2 as u64,
                hlc: Hlc {
                    wall_ms: c.3 as u64,
                    counter: c.4 as u32,
                },
                lines: lines
                    .iter()
                    .filter(|l| l.0 == c.0)
                    .map(|l| (l.1 as u32, l.2, l.3))
                    .collect(),
            })
            .collect();
        let sold: Vec<SoldLine> = sale
            .payload
            .lines
            .iter()
            .map(|l| SoldLine {
                line_no: l.line_no,
                quantity_milli: l.quantity_milli,
                total: l.total,
            })
            .collect();
        let over = rules::over_refunds(&sold, &claims);
        let over_ids: BTreeSet<Uuid> = over.iter().map(|o| o.entry_id).collect();
        for c in &claims_rows {
            let now_over = over_ids.contains(&c.0);
            if now_over != c.5 {
                sqlx::query(
                    "UPDATE refunds SET over_refund = $3 WHERE branch_id = $1 AND entry_id = $2",
                )
                .bind(self.branch_id)
                .bind(c.0)
                .bind(now_over)
                .execute(&mut **tx)
                .await?;
            }
        }
        for o in over {
            let Some(c) = claims.iter().find(|c| c.entry_id == o.entry_id) else {
                continue;
            };
            self.conflicts.push(NewConflict {
                kind: "over_refund",
                dedup_key: format!("over_refund:{}", o.entry_id),
                device_id: c.device_id,
                seq: c.seq,
                entry_id: Some(o.entry_id),
                details: json!({
                    "sale_entry_id": sale.entry_id,
                    "receipt_no": sale.payload.receipt_no,
                    "sale_device_id": sale.device_id,
                    "over": o,
                }),
            });
        }
        Ok(())
    }

    /// A refund's lines filed at their product's rate move to the rate of
    /// the sale lines they refund, now that the sale is known.
    async fn refile_refund_lines(
        &mut self,
        tx: &mut Transaction<'_, Postgres>,
        refund_id: Uuid,
        sale_id: Uuid,
    ) -> R<()> {
        // `o` is the line as it was before this update.
        let moved: Vec<(NaiveDate, String, String, String, i64, i64, i64)> = sqlx::query_as(
            "UPDATE refund_lines rl SET tax_rate = sl.tax_rate
             FROM refund_lines o, refunds r, sale_lines sl
             WHERE rl.branch_id = $1 AND rl.refund_entry_id = $2
               AND o.branch_id = $1 AND o.refund_entry_id = $2 AND o.line_index = rl.line_index
               AND r.branch_id = $1 AND r.entry_id = $2
               AND sl.branch_id = $1 AND sl.sale_entry_id = $3 AND sl.line_no = rl.line_no
               AND rl.tax_rate <> sl.tax_rate
             RETURNING r.business_date, rl.sku, o.tax_rate, rl.tax_rate, rl.quantity_milli,
                       rl.amount, rl.tax",
        )
        .bind(self.branch_id)
        .bind(refund_id)
        .bind(sale_id)
        .fetch_all(&mut **tx)
        .await?;
        for (date, sku, old, new, qty, amount, tax) in moved {
            self.summaries
                .refund_line(date, &sku, &old, qty, amount, tax, -1)?;
            self.summaries
                .refund_line(date, &sku, &new, qty, amount, tax, 1)?;
        }
        Ok(())
    }

    /// Takes a transaction-scoped lock per receipt number (in a fixed
    /// order). A sale's batch takes it after inserting the sale and before
    /// looking for voids and refunds parked on it; a void's or refund's
    /// batch takes it before looking for its sale. So whichever commits
    /// second sees the other: a void or refund racing its sale from another
    /// device (READ COMMITTED, each invisible to the other) can no longer
    /// stay parked.
    pub(super) async fn lock_receipts(&mut self, db: &mut Db, receipts: &[String]) -> R<()> {
        if receipts.is_empty() {
            return Ok(());
        }
        let mut keys: Vec<String> = receipts
            .iter()
            .map(|r| format!("{}:{r}", self.branch_id))
            .collect();
        keys.sort();
        keys.dedup();
        sqlx::query(
            "SELECT pg_advisory_xact_lock(7, hashtext(k))
             FROM (SELECT k FROM unnest($1::text[]) WITH ORDINALITY AS u(k, n) ORDER BY n) s",
        )
        .bind(&keys)
        .execute(&mut *db)
        .await?;
        Ok(())
    }

    /// Voids and refunds waiting for these sales.
    pub(super) async fn resolve_parked(
        &mut self,
        tx: &mut Transaction<'_, Postgres>,
        sale_ids: &[Uuid],
        receipts: &[String],
    ) -> R<()> {
        let voids: Vec<(Uuid, Uuid)> = sqlx::query_as(
            "SELECT entry_id, sale_entry_id FROM voids
             WHERE branch_id = $1 AND status = 'parked' AND sale_entry_id = ANY($2)",
        )
        .bind(self.branch_id)
        .bind(sale_ids)
        .fetch_all(&mut **tx)
        .await?;
        for (void_id, sale_id) in voids {
            self.try_apply_void(tx, void_id, sale_id).await?;
        }
        let refunds: Vec<(Uuid, Option<Uuid>, String)> = sqlx::query_as(
            "SELECT entry_id, sale_entry_id, receipt_no FROM refunds
             WHERE branch_id = $1 AND status = 'parked'
               AND (sale_entry_id = ANY($2) OR receipt_no = ANY($3))",
        )
        .bind(self.branch_id)
        .bind(sale_ids)
        .bind(receipts)
        .fetch_all(&mut **tx)
        .await?;
        for (refund_id, sale_entry_id, receipt_no) in refunds {
            if let Some(sale_id) = self.find_sale(tx, sale_entry_id, &receipt_no).await? {
                self.link_refund(tx, refund_id, sale_id).await?;
            }
        }
        Ok(())
    }

    /// An `orphan_reference` raised for this void/refund is resolved: its
    /// sale has arrived.
    pub(super) async fn resolve_orphan_conflict(&mut self, db: &mut Db, entry_id: Uuid) -> R<()> {
        sqlx::query(
            "UPDATE conflicts SET resolved_at = now(), resolution = 'sale arrived'
             WHERE branch_id = $1 AND kind = 'orphan_reference' AND entry_id = $2 AND resolved_at IS NULL",
        )
        .bind(self.branch_id)
        .bind(entry_id)
        .execute(&mut *db)
        .await?;
        Ok(())
    }
}
