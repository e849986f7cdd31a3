//! The daily rollup (`daily_rollup`): one row per business date and device.
//! Sales, voids and refunds fold into it in memory while the batch applies
//! (a sale counts on its business date, a void takes it back on that date,
//! a refund counts on its own); [`Applier::write_rollups`] adds the folded
//! sums to the stored rows with one upsert at the end of the batch. Every
//! sum is checked (`add`).

use chrono::NaiveDate;
use sentra_domain::SaleFigures;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{Applier, R, add, date_of};

/// One day's and device's sums, as the batch changes them.
#[derive(Clone, Debug, Default)]
pub(super) struct Rollup {
    sales_count: i64,
    pub(super) voids_count: i64,
    gross: i64,
    discounts: i64,
    tax: i64,
    sales_total: i64,
    refunds_count: i64,
    refunds_total: i64,
    refunds_tax: i64,
    cash: i64,
    card: i64,
    qris: i64,
    voucher: i64,
}

impl Rollup {
    /// The sum paid by `method`; `None` for a method the rollup has no
    /// column for.
    fn paid_by(&mut self, method: &str) -> Option<&mut i64> {
        match method {
            "cash" => Some(&mut self.cash),
            "card" => Some(&mut self.card),
            "qris" => Some(&mut self.qris),
            "voucher" => Some(&mut self.voucher),
            _ => None,
        }
    }

    /// Adds (`sign` 1) or takes back (`sign` −1) a sale; every sum checked.
    pub(super) fn sale(&mut self, f: &SaleFigures, sign: i64) -> R<()> {
        let what = "the daily rollup";
        add(&mut self.sales_count, sign, what)?;
        add(&mut self.gross, sign * f.gross.minor(), what)?;
        add(&mut self.discounts, sign * f.discounts.minor(), what)?;
        add(&mut self.tax, sign * f.tax.minor(), what)?;
        add(&mut self.sales_total, sign * f.total.minor(), what)?;
        for (m, a) in &f.payments {
            if let Some(paid) = self.paid_by(m.as_str()) {
                add(paid, sign * a.minor(), what)?;
            }
        }
        Ok(())
    }

    pub(super) fn refund(&mut self, total: i64, tax: i64, method: &str) -> R<()> {
        let what = "the daily rollup";
        add(&mut self.refunds_count, 1, what)?;
        add(&mut self.refunds_total, total, what)?;
        add(&mut self.refunds_tax, tax, what)?;
        if let Some(paid) = self.paid_by(method) {
            add(paid, -total, what)?;
        }
        Ok(())
    }
}

/// The rows of the `daily_rollup` upsert, one vector per column.
struct RollupColumns {
    business_date: Vec<NaiveDate>,
    device_id: Vec<Uuid>,
    sales_count: Vec<i64>,
    voids_count: Vec<i64>,
    gross: Vec<i64>,
    discounts: Vec<i64>,
    tax: Vec<i64>,
    sales_total: Vec<i64>,
    refunds_count: Vec<i64>,
    refunds_total: Vec<i64>,
    refunds_tax: Vec<i64>,
    cash: Vec<i64>,
    card: Vec<i64>,
    qris: Vec<i64>,
    voucher: Vec<i64>,
}

impl RollupColumns {
    fn with_capacity(n: usize) -> Self {
        RollupColumns {
            business_date: Vec::with_capacity(n),
            device_id: Vec::with_capacity(n),
            sales_count: Vec::with_capacity(n),
            voids_count: Vec::with_capacity(n),
            gross: Vec::with_capacity(n),
            discounts: Vec::with_capacity(n),
            tax: Vec::with_capacity(n),
            sales_total: Vec::with_capacity(n),
            refunds_count: Vec::with_capacity(n),
            refunds_total: Vec::with_capacity(n),
            refunds_tax: Vec::with_capacity(n),
            cash: Vec::with_capacity(n),
            card: Vec::with_capacity(n),
            qris: Vec::with_capacity(n),
            voucher: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, business_date: NaiveDate, device_id: Uuid, r: &Rollup) {
        self.business_date.push(business_date);
        self.device_id.push(device_id);
        self.sales_count.push(r.sales_count);
        self.voids_count.push(r.voids_count);
        self.gross.push(r.gross);
        self.discounts.push(r.discounts);
        self.tax.push(r.tax);
        self.sales_total.push(r.sales_total);
        self.refunds_count.push(r.refunds_count);
        self.refunds_total.push(r.refunds_total);
        self.refunds_tax.push(r.refunds_tax);
        self.cash.push(r.cash);
        self.card.push(r.card);
        self.qris.push(r.qris);
        self.voucher.push(r.voucher);
    }

    /// Adds the rows to the stored ones (inserted where there are none).
    async fn insert(self, tx: &mut Transaction<'_, Postgres>, branch_id: i32) -> R<()> {
        sqlx::query(
            "INSERT INTO daily_rollup AS r (branch_id, business_date, device_id, sales_count,
                 voids_count, gross, discounts, tax, sales_total, refunds_count, refunds_total,
                 refunds_tax, cash, card, qris, voucher)
             SELECT $1, * FROM UNNEST($2::date[], $3::uuid[], $4::bigint[], $5::bigint[],
                 $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[],
                 $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[],
                 $16::bigint[])
             ON CONFLICT (branch_id, business_date, device_id) DO UPDATE SET
                 sales_count = r.sales_count + EXCLUDED.sales_count,
                 voids_count = r.voids_count + EXCLUDED.voids_count,
                 gross = r.gross + EXCLUDED.gross,
                 discounts = r.discounts + EXCLUDED.discounts,
                 tax = r.tax + EXCLUDED.tax,
                 sales_total = r.sales_total + EXCLUDED.sales_total,
                 refunds_count = r.refunds_count + EXCLUDED.refunds_count,
                 refunds_total = r.refunds_total + EXCLUDED.refunds_total,
                 refunds_tax = r.refunds_tax + EXCLUDED.refunds_tax,
                 cash = r.cash + EXCLUDED.cash,
                 card = r.card + EXCLUDED.card,
                 qris = r.qris + EXCLUDED.qris,
                 voucher = r.voucher + EXCLUDED.voucher",
        )
        .bind(branch_id)
        .bind(self.business_date)
        .bind(self.device_id)
        .bind(self.sales_count)
        .bind(self.voids_count)
        .bind(self.gross)
        .bind(self.discounts)
        .bind(self.tax)
        .bind(self.sales_total)
        .bind(self.refunds_count)
        .bind(self.refunds_total)
        .bind(self.refunds_tax)
        .bind(self.cash)
        .bind(self.card)
        .bind(self.qris)
        .bind(self.voucher)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

impl Applier {
    /// The rollup of the business day of `ms` (in the branch's time zone)
    /// and of `device`.
    pub(super) fn rollup(&mut self, ms: i64, device: Uuid) -> &mut Rollup {
        let d = date_of(ms, self.tz);
        self.rollups.entry((d, device)).or_default()
    }

    /// Adds the batch's folded rollups to `daily_rollup`.
    pub(super) async fn write_rollups(&mut self, tx: &mut Transaction<'_, Postgres>) -> R<()> {
        if self.rollups.is_empty() {
            return Ok(());
        }
        let mut cols = RollupColumns::with_capacity(self.rollups.len());
        for ((d, dev), r) in &self.rollups {
            cols.push(*d, *dev, r);
        }
        cols.insert(tx, self.branch_id).await
    }
}
