//! The column buffers of a sales flush: one vector per column of `sales`,
//! `sale_lines`, `sale_payments` and the sales' `stock_movements`, each
//! written with one `INSERT … SELECT … FROM UNNEST(…)`. Every `insert` binds
//! the fields in the order of its statement's column list, so a column and
//! its bind can be checked by name.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use sentra_protocol::payload::{SaleCompleted, SaleLine, TenderRecord};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{Accepted, R, date_of, ms_to_time};

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

/// Rows of `sale_lines`, and the time of each line's sale (not a column of
/// `sale_lines`: for the stock movements and the price in force).
#[derive(Default)]
pub(super) struct LineColumns {
    sale_entry_id: Vec<Uuid>,
    line_no: Vec<i32>,
    pub(super) sku: Vec<String>,
    name: Vec<String>,
    quantity_milli: Vec<i64>,
    unit_price: Vec<i64>,
    tax_rate: Vec<String>,
    gross: Vec<i64>,
    line_discount: Vec<i64>,
    cart_discount_share: Vec<i64>,
    net: Vec<i64>,
    tax: Vec<i64>,
    total: Vec<i64>,
    pub(super) occurred_at: Vec<DateTime<Utc>>,
}

impl LineColumns {
    /// Line `l` of the sale of entry `a`.
    pub(super) fn push(&mut self, a: &Accepted<'_>, l: &SaleLine) {
        self.sale_entry_id.push(a.entry.id);
        self.line_no.push(l.line_no as i32);
        self.sku.push(l.sku.clone());
        self.name.push(l.name.clone());
        self.quantity_milli.push(l.quantity_milli);
        self.unit_price.push(l.unit_price);
        self.tax_rate.push(l.tax_rate.clone());
        self.gross.push(l.gross);
        self.line_discount.push(l.line_discount);
        self.cart_discount_share.push(l.cart_discount_share);
        self.net.push(l.net);
        self.tax.push(l.tax);
        self.total.push(l.total);
        self.occurred_at.push(ms_to_time(a.occurred_ms));
    }

    pub(super) async fn insert(&self, tx: &mut Transaction<'_, Postgres>, branch_id: i32) -> R<()> {
        sqlx::query(
            "INSERT INTO sale_lines (branch_id, sale_entry_id, line_no, sku, name, quantity_milli,
                 unit_price, tax_rate, gross, line_discount, cart_discount_share, net, tax, total)
             SELECT $1, * FROM UNNEST($2::uuid[], $3::int[], $4::text[], $5::text[],
                 $6::bigint[], $7::bigint[], $8::text[], $9::bigint[], $10::bigint[],
                 $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[])",
        )
        .bind(branch_id)
        .bind(&self.sale_entry_id)
        .bind(&self.line_no)
        .bind(&self.sku)
        .bind(&self.name)
        .bind(&self.quantity_milli)
        .bind(&self.unit_price)
        .bind(&self.tax_rate)
        .bind(&self.gross)
        .bind(&self.line_discount)
        .bind(&self.cart_discount_share)
        .bind(&self.net)
        .bind(&self.tax)
        .bind(&self.total)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

/// Rows of `sale_payments`.
#[derive(Default)]
pub(super) struct PaymentColumns {
    sale_entry_id: Vec<Uuid>,
    tender_no: Vec<i32>,
    method: Vec<String>,
    amount: Vec<i64>,
    reference: Vec<Option<String>>,
}

impl PaymentColumns {
    /// Tender `t` (number `tender_no`, from 0) of the sale of entry `a`.
    pub(super) fn push(&mut self, a: &Accepted<'_>, tender_no: usize, t: &TenderRecord) {
        self.sale_entry_id.push(a.entry.id);
        self.tender_no.push(tender_no as i32);
        self.method.push(t.method.clone());
        self.amount.push(t.amount);
        self.reference.push(t.reference.clone());
    }

    pub(super) async fn insert(&self, tx: &mut Transaction<'_, Postgres>, branch_id: i32) -> R<()> {
        sqlx::query(
            "INSERT INTO sale_payments (branch_id, sale_entry_id, tender_no, method, amount, reference)
             SELECT $1, * FROM UNNEST($2::uuid[], $3::int[], $4::text[], $5::bigint[], $6::text[])",
        )
        .bind(branch_id)
        .bind(&self.sale_entry_id)
        .bind(&self.tender_no)
        .bind(&self.method)
        .bind(&self.amount)
        .bind(&self.reference)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

/// Rows of `stock_movements` for the lines of the sales (reason `sale`):
/// line `line_no` is index `line_no − 1`, and the quantity sold leaves.
pub(super) struct SaleMovementColumns<'a> {
    entry_id: &'a [Uuid],
    line_index: Vec<i32>,
    sku: &'a [String],
    delta_milli: Vec<i64>,
    occurred_at: &'a [DateTime<Utc>],
}

impl<'a> SaleMovementColumns<'a> {
    pub(super) fn of(lines: &'a LineColumns) -> Self {
        SaleMovementColumns {
            entry_id: &lines.sale_entry_id,
            line_index: lines.line_no.iter().map(|n| n - 1).collect(),
            sku: &lines.sku,
            delta_milli: lines.quantity_milli.iter().map(|q| -q).collect(),
            occurred_at: &lines.occurred_at,
        }
    }

    pub(super) async fn insert(&self, tx: &mut Transaction<'_, Postgres>, branch_id: i32) -> R<()> {
        sqlx::query(
            "INSERT INTO stock_movements (branch_id, entry_id, line_index, sku, delta_milli, reason, occurred_at)
             SELECT $1, e, i, s, d, 'sale', t
             FROM UNNEST($2::uuid[], $3::int[], $4::text[], $5::bigint[], $6::timestamptz[]) AS u(e, i, s, d, t)",
        )
        .bind(branch_id)
        .bind(self.entry_id)
        .bind(&self.line_index)
        .bind(self.sku)
        .bind(&self.delta_milli)
        .bind(self.occurred_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}
