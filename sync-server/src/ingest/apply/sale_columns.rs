//! The rows of a sales flush. `sales` is one vector per column, written
//! with one `INSERT … SELECT … FROM UNNEST(…) ON CONFLICT DO NOTHING` (a
//! reused entry id must be found); its `insert` binds the fields in the
//! order of the statement's column list. `sale_lines`, `sale_payments` and
//! the sales' `stock_movements` are plain inserts, written by binary `COPY`
//! (`crate::binary_copy`) from the lines and tenders borrowed from the batch,
//! each field next to its column's name.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use sentra_protocol::payload::{SaleCompleted, SaleLine, TenderRecord};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{Accepted, R, date_of, ms_to_time};
use crate::binary_copy::BinaryCopy;

/// Rows of `sales`.
pub(super) struct SaleColumns {
    entry_id: Vec<Uuid>,
    receipt_no: Vec<String>,
    device_id: Vec<Uuid>,
    seq: Vec<i64>,
    shift_id: Vec<Uuid>,
    occurred_at: Vec<DateTime<Utc>>,
    business_date: Vec<NaiveDate>,
    cashier: Vec<Option<String>>,
    gross: Vec<i64>,
    discounts: Vec<i64>,
    tax: Vec<i64>,
    total: Vec<i64>,
    paid: Vec<i64>,
    change: Vec<i64>,
}

impl SaleColumns {
    pub(super) fn with_capacity(n: usize) -> Self {
        SaleColumns {
            entry_id: Vec::with_capacity(n),
            receipt_no: Vec::with_capacity(n),
            device_id: Vec::with_capacity(n),
            seq: Vec::with_capacity(n),
            shift_id: Vec::with_capacity(n),
            occurred_at: Vec::with_capacity(n),
            business_date: Vec::with_capacity(n),
            cashier: Vec::with_capacity(n),
            gross: Vec::with_capacity(n),
            discounts: Vec::with_capacity(n),
            tax: Vec::with_capacity(n),
            total: Vec::with_capacity(n),
            paid: Vec::with_capacity(n),
            change: Vec::with_capacity(n),
        }
    }

    /// The sale `s` of entry `a`; its business date in the branch's `tz`.
    pub(super) fn push(&mut self, a: &Accepted<'_>, s: &SaleCompleted, tz: Tz) {
        self.entry_id.push(a.entry.id);
        self.receipt_no.push(s.receipt_no.clone());
        self.device_id.push(a.entry.device_id);
        self.seq.push(a.entry.seq as i64);
        self.shift_id.push(s.shift_id);
        self.occurred_at.push(ms_to_time(a.occurred_ms));
        self.business_date.push(date_of(a.occurred_ms, tz));
        self.cashier.push(s.cashier.clone());
        self.gross.push(s.gross);
        self.discounts.push(s.discounts);
        self.tax.push(s.tax);
        self.total.push(s.total);
        self.paid.push(s.paid);
        self.change.push(s.change);
    }

    /// Inserts the rows; an entry id already in `sales` is skipped. Returns
    /// the entry ids inserted.
    pub(super) async fn insert(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        branch_id: i32,
    ) -> R<Vec<Uuid>> {
        let inserted = sqlx::query_scalar::<_, Uuid>(
            "INSERT INTO sales (branch_id, entry_id, receipt_no, device_id, seq, shift_id,
                 occurred_at, business_date, cashier, gross, discounts, tax, total, paid, change)
             SELECT $1, * FROM UNNEST($2::uuid[], $3::text[], $4::uuid[], $5::bigint[],
                 $6::uuid[], $7::timestamptz[], $8::date[], $9::text[], $10::bigint[],
                 $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[])
             ON CONFLICT DO NOTHING RETURNING entry_id",
        )
        .bind(branch_id)
        .bind(&self.entry_id)
        .bind(&self.receipt_no)
        .bind(&self.device_id)
        .bind(&self.seq)
        .bind(&self.shift_id)
        .bind(&self.occurred_at)
        .bind(&self.business_date)
        .bind(&self.cashier)
        .bind(&self.gross)
        .bind(&self.discounts)
        .bind(&self.tax)
        .bind(&self.total)
        .bind(&self.paid)
        .bind(&self.change)
        .fetch_all(&mut **tx)
        .await?;
        Ok(inserted)
    }
}

/// The lines of the applied sales, borrowed from the batch: copied into
/// `sale_lines` and, as the quantity that left, into `stock_movements`;
/// their SKUs and times feed the stale-price look-up.
#[derive(Default)]
pub(super) struct SaleLines<'a> {
    rows: Vec<LineRow<'a>>,
}

struct LineRow<'a> {
    sale_entry_id: Uuid,
    line: &'a SaleLine,
    occurred_at: DateTime<Utc>,
}

const COPY_SALE_LINES: &str = "COPY sale_lines (branch_id, sale_entry_id, line_no, sku, name,
    quantity_milli, unit_price, tax_rate, gross, line_discount, cart_discount_share, net, tax,
    total) FROM STDIN (FORMAT binary)";

const COPY_SALE_MOVEMENTS: &str = "COPY stock_movements (branch_id, entry_id, line_index, sku,
    delta_milli, reason, occurred_at) FROM STDIN (FORMAT binary)";

impl<'a> SaleLines<'a> {
    /// Line `l` of the sale of entry `a`.
    pub(super) fn push(&mut self, a: &Accepted<'_>, l: &'a SaleLine) {
        self.rows.push(LineRow {
            sale_entry_id: a.entry.id,
            line: l,
            occurred_at: ms_to_time(a.occurred_ms),
        });
    }

    pub(super) fn skus(&self) -> Vec<&'a str> {
        self.rows.iter().map(|r| r.line.sku.as_str()).collect()
    }

    pub(super) fn times(&self) -> Vec<DateTime<Utc>> {
        self.rows.iter().map(|r| r.occurred_at).collect()
    }

    /// The `sale_lines` rows, fields in the order of [`COPY_SALE_LINES`].
    pub(super) async fn copy_lines(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        branch_id: i32,
    ) -> R<()> {
        let mut rows = BinaryCopy::new(14);
        for r in &self.rows {
            let l = r.line;
            rows.row()
                .int4(branch_id)
                .uuid(r.sale_entry_id)
                .int4(l.line_no as i32)
                .text(&l.sku)
                .text(&l.name)
                .int8(l.quantity_milli)
                .int8(l.unit_price)
                .text(&l.tax_rate)
                .int8(l.gross)
                .int8(l.line_discount)
                .int8(l.cart_discount_share)
                .int8(l.net)
                .int8(l.tax)
                .int8(l.total);
        }
        rows.send(tx, COPY_SALE_LINES).await?;
        Ok(())
    }

    /// The sales' `stock_movements` (reason `sale`): line `line_no` is index
    /// `line_no − 1`, and the quantity sold leaves. Fields in the order of
    /// [`COPY_SALE_MOVEMENTS`].
    pub(super) async fn copy_movements(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        branch_id: i32,
    ) -> R<()> {
        let mut rows = BinaryCopy::new(7);
        for r in &self.rows {
            let l = r.line;
            rows.row()
                .int4(branch_id)
                .uuid(r.sale_entry_id)
                .int4(l.line_no as i32 - 1)
                .text(&l.sku)
                .int8(-l.quantity_milli)
                .text("sale")
                .timestamptz(r.occurred_at);
        }
        rows.send(tx, COPY_SALE_MOVEMENTS).await?;
        Ok(())
    }
}

/// The tenders of the applied sales, borrowed from the batch, for
/// `sale_payments`.
#[derive(Default)]
pub(super) struct SalePayments<'a> {
    rows: Vec<(Uuid, i32, &'a TenderRecord)>,
}

const COPY_SALE_PAYMENTS: &str = "COPY sale_payments (branch_id, sale_entry_id, tender_no, method,
    amount, reference) FROM STDIN (FORMAT binary)";

impl<'a> SalePayments<'a> {
    /// Tender `t` (number `tender_no`, from 0) of the sale of entry `a`.
    pub(super) fn push(&mut self, a: &Accepted<'_>, tender_no: usize, t: &'a TenderRecord) {
        self.rows.push((a.entry.id, tender_no as i32, t));
    }

    /// Fields in the order of [`COPY_SALE_PAYMENTS`].
    pub(super) async fn copy(&self, tx: &mut Transaction<'_, Postgres>, branch_id: i32) -> R<()> {
        let mut rows = BinaryCopy::new(6);
        for (sale_entry_id, tender_no, t) in &self.rows {
            rows.row()
                .int4(branch_id)
                .uuid(*sale_entry_id)
                .int4(*tender_no)
                .text(&t.method)
                .int8(t.amount)
                .opt_text(t.reference.as_deref());
        }
        rows.send(tx, COPY_SALE_PAYMENTS).await?;
        Ok(())
    }
}
