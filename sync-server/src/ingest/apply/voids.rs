//! Voids (`sale_voided`): parked until their sale is in the ledger, then
//! applied — the sale's figures come out of its shift, its business day and
//! the report summaries, its stock goes back. Rule: `void_not_allowed` (a
//! till voids only its own sale of its open shift); a void applied resolves
//! the `orphan_reference` raised for it.

use chrono::{DateTime, NaiveDate, Utc};
use sentra_ledger::figures_of;
use sentra_protocol::payload::{SaleCompleted, SaleVoided};
use serde_json::json;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{Accepted, Applier, Db, NewConflict, R, add, ms_to_time};

/// A sale as stored, with its payload, for a void or refund to judge.
pub(super) struct SaleRow {
    pub(super) entry_id: Uuid,
    pub(super) device_id: Uuid,
    pub(super) payload: SaleCompleted,
    business_date: NaiveDate,
    pub(super) voided_by: Option<Uuid>,
    occurred_at: DateTime<Utc>,
}

/// device id, payload, business date, voided by, occurred at.
type SaleJoinRow = (
    Uuid,
    sqlx::types::Json<SaleCompleted>,
    NaiveDate,
    Option<Uuid>,
    DateTime<Utc>,
);

impl Applier {
    pub(super) async fn sale_voided(
        &mut self,
        tx: &mut Transaction<'_, Postgres>,
        a: &Accepted<'_>,
        v: &SaleVoided,
    ) -> R<()> {
        sqlx::query(
            "INSERT INTO voids (branch_id, entry_id, device_id, seq, receipt_no, sale_entry_id,
                 shift_id, total, occurred_at, received_at, status)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now(), 'parked') ON CONFLICT DO NOTHING",
        )
        .bind(self.branch_id)
        .bind(a.entry.id)
        .bind(a.entry.device_id)
        .bind(a.entry.seq as i64)
        .bind(&v.receipt_no)
        .bind(v.sale_entry_id)
        .bind(v.shift_id)
        .bind(v.total)
        .bind(ms_to_time(a.occurred_ms))
        .execute(&mut **tx)
        .await?;
        self.lock_receipts(tx, std::slice::from_ref(&v.receipt_no))
            .await?;
        self.try_apply_void(tx, a.entry.id, v.sale_entry_id).await
    }

    /// Applies a parked void if its sale is here: the sale's figures come out
    /// of its shift and of its business day, its stock goes back.
    pub(super) async fn try_apply_void(
        &mut self,
        tx: &mut Transaction<'_, Postgres>,
        void_id: Uuid,
        sale_id: Uuid,
    ) -> R<()> {
        let Some(sale) = self.sale_figures(tx, sale_id).await? else {
            return Ok(());
        };
        let void: Option<(Uuid, Uuid, i64, DateTime<Utc>)> = sqlx::query_as(
            "UPDATE voids SET status = 'applied'
             WHERE branch_id = $1 AND entry_id = $2 AND status = 'parked'
             RETURNING device_id, shift_id, seq, occurred_at",
        )
        .bind(self.branch_id)
        .bind(void_id)
        .fetch_optional(&mut **tx)
        .await?;
        let Some((void_device, void_shift, void_seq, void_at)) = void else {
            return Ok(());
        };
        if sale.voided_by.is_some() {
            // A second void of the same sale changes nothing.
            return Ok(());
        }
        // The terminal's rule, enforced here too: a till voids only its own
        // sale of its open shift. Anything else is kept, not applied (the
        // sale stays counted), and raised.
        let sale_shift = sale.payload.shift_id;
        let closed_at: Option<DateTime<Utc>> = sqlx::query_scalar(
            "SELECT closed_at FROM shifts WHERE branch_id = $1 AND shift_id = $2",
        )
        .bind(self.branch_id)
        .bind(sale_shift)
        .fetch_optional(&mut **tx)
        .await?
        .flatten();
        let why = if sale.device_id != void_device {
            Some("the sale was rung on another till")
        } else if sale_shift != void_shift {
            Some("the sale belongs to another shift")
        } else if closed_at.is_some() {
            // Same device: its entries apply in chain order, so a close
            // already applied came before this void.
            Some("the sale's shift was already closed")
        } else {
            None
        };
        if let Some(why) = why {
            sqlx::query(
                "UPDATE voids SET status = 'refused' WHERE branch_id = $1 AND entry_id = $2",
            )
            .bind(self.branch_id)
            .bind(void_id)
            .execute(&mut **tx)
            .await?;
            self.conflicts.push(NewConflict {
                kind: "void_not_allowed",
                dedup_key: format!("void_not_allowed:{void_id}"),
                device_id: void_device,
                seq: void_seq as u64,
                entry_id: Some(void_id),
                details: json!({
                    "reason": why,
                    "receipt_no": sale.payload.receipt_no,
                    "sale_entry_id": sale.entry_id,
                    "sale_device_id": sale.device_id,
                    "sale_shift_id": sale_shift,
                    "void_shift_id": void_shift,
                }),
            });
            return self.resolve_orphan_conflict(tx, void_id).await;
        }
        sqlx::query("UPDATE sales SET voided_by = $3 WHERE branch_id = $1 AND entry_id = $2")
            .bind(self.branch_id)
            .bind(sale_id)
            .bind(void_id)
            .execute(&mut **tx)
            .await?;
        let fig = figures_of(&sale.payload)?;
        self.load_shifts(tx, &[void_shift]).await?;
        let st = self.shift(void_shift, void_device, void_at.timestamp_millis());
        st.summary.add_void(&fig)?;
        st.dirty = true;
        let r = self
            .rollups
            .entry((sale.business_date, sale.device_id))
            .or_default();
        r.sale(&fig, -1)?;
        add(&mut r.voids_count, 1, "the daily rollup")?;
        self.summaries.sale(
            sale.business_date,
            sale.occurred_at.timestamp_millis(),
            &sale.payload,
            -1,
        )?;
        for (idx, l) in sale.payload.lines.iter().enumerate() {
            self.move_stock(
                tx,
                void_id,
                1000 + idx as i32,
                &l.sku,
                l.quantity_milli,
                "void",
                void_at,
            )
            .await?;
        }
        self.resolve_orphan_conflict(tx, void_id).await
    }

    /// The sale `sale_entry_id` as stored, its row locked; `None` when it
    /// has not arrived.
    pub(super) async fn sale_figures(
        &mut self,
        db: &mut Db,
        sale_entry_id: Uuid,
    ) -> R<Option<SaleRow>> {
        let row: Option<SaleJoinRow> = sqlx::query_as(
            "SELECT s.device_id, j.payload, s.business_date, s.voided_by, s.occurred_at
                 FROM sales s JOIN journal j
                   ON j.branch_id = s.branch_id AND j.device_id = s.device_id AND j.seq = s.seq
                 WHERE s.branch_id = $1 AND s.entry_id = $2 FOR UPDATE OF s",
        )
        .bind(self.branch_id)
        .bind(sale_entry_id)
        .fetch_optional(&mut *db)
        .await?;
        Ok(row.map(
            |(device_id, payload, business_date, voided_by, occurred_at)| SaleRow {
                entry_id: sale_entry_id,
                device_id,
                payload: payload.0,
                business_date,
                voided_by,
                occurred_at,
            },
        ))
    }
}
