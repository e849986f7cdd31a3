//! The head-office report summaries, per SKU and tax rate (`item_…`) and
//! per cashier and hour of day (`cashier_…`): folded in memory while a
//! batch applies and appended once at its end, in the batch's transaction,
//! to the deltas (`…_rollup_delta`); after the commit the folder adds the
//! deltas to the day, month and year rows (`…_daily_rollup`, …; migrations
//! `20261209000001_report_rollups.sql`,
//! `20261210000001_report_rollup_deltas.sql`). They follow the daily
//! rollup's rules: a sale counts on its business date and a void takes it
//! back on that date; a refund counts on its own.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{NaiveDate, TimeZone as _, Timelike as _};
use chrono_tz::Tz;
use sentra_protocol::payload::SaleCompleted;
use sqlx::{PgPool, Postgres, Transaction};

use super::apply::ApplyError;

type R<T> = Result<T, ApplyError>;

/// `a += b`, checked like every running sum of the ledger.
fn add(a: &mut i64, b: i64) -> R<()> {
    super::apply::add(a, b, "the report summaries")
}

/// Business date, SKU, tax rate.
type ItemKey = (NaiveDate, String, String);
/// Business date, cashier ('' for none), hour of day.
type CashierKey = (NaiveDate, String, i16);

#[derive(Clone, Debug, Default)]
struct ItemSums {
    name: Option<String>,
    /// `[lines, quantity_milli, gross, discounts, net, tax, total,
    /// refunded_milli, refunds, refunds_tax]`, the table's column order.
    n: [i64; 10],
}

/// `[sales_count, voids_count, gross, discounts, tax, sales_total,
/// refunds_count, refunds_total]`, the table's column order.
type CashierSums = [i64; 8];

/// Summaries of one batch, by business day.
pub struct Summaries {
    tz: Tz,
    items: BTreeMap<ItemKey, ItemSums>,
    cashiers: BTreeMap<CashierKey, CashierSums>,
}

impl Summaries {
    pub fn new(tz: Tz) -> Summaries {
        Summaries {
            tz,
            items: BTreeMap::new(),
            cashiers: BTreeMap::new(),
        }
    }

    /// Hour of day in the branch's zone.
    fn hour(&self, at_ms: i64) -> i16 {
        self.tz
            .timestamp_millis_opt(at_ms)
            .single()
            .map_or(0, |t| t.hour() as i16)
    }

    fn cashier(&mut self, date: NaiveDate, cashier: Option<&str>, at_ms: i64) -> &mut CashierSums {
        let key = (date, cashier.unwrap_or("").to_owned(), self.hour(at_ms));
        self.cashiers.entry(key).or_default()
    }

    /// A sale that now stands (`sign` 1), or is taken back by its void
    /// (`sign` −1, counted as a void), on its business date.
    pub fn sale(&mut self, date: NaiveDate, at_ms: i64, s: &SaleCompleted, sign: i64) -> R<()> {
        for l in &s.lines {
            let e = self
                .items
                .entry((date, l.sku.clone(), l.tax_rate.clone()))
                .or_default();
            if sign > 0 && Some(&l.name) > e.name.as_ref() {
                e.name = Some(l.name.clone());
            }
            let disc = l
                .line_discount
                .checked_add(l.cart_discount_share)
                .ok_or_else(|| ApplyError::Entry("a line's discounts overflow".into()))?;
            for (i, v) in [1, l.quantity_milli, l.gross, disc, l.net, l.tax, l.total]
                .into_iter()
                .enumerate()
            {
                add(&mut e.n[i], sign * v)?;
            }
        }
        let c = self.cashier(date, s.cashier.as_deref(), at_ms);
        for (i, v) in [1, 0, s.gross, s.discounts, s.tax, s.total]
            .into_iter()
            .enumerate()
        {
            add(&mut c[i], sign * v)?;
        }
        if sign < 0 {
            add(&mut c[1], 1)?;
        }
        Ok(())
    }

    /// A refunded line filed at `rate` (`sign` 1), or taken back from that
    /// rate when it moves to another (`sign` −1), on the refund's date.
    #[allow(clippy::too_many_arguments)]
    pub fn refund_line(
        &mut self,
        date: NaiveDate,
        sku: &str,
        rate: &str,
        quantity_milli: i64,
        amount: i64,
        tax: i64,
        sign: i64,
    ) -> R<()> {
        let e = self
            .items
            .entry((date, sku.to_owned(), rate.to_owned()))
            .or_default();
        for (i, v) in [(0, 1), (7, quantity_milli), (8, amount), (9, tax)] {
            add(&mut e.n[i], sign * v)?;
        }
        Ok(())
    }

    /// A refund, by the cashier of the shift it was given in.
    pub fn refund(
        &mut self,
        date: NaiveDate,
        at_ms: i64,
        cashier: Option<&str>,
        total: i64,
    ) -> R<()> {
        let c = self.cashier(date, cashier, at_ms);
        add(&mut c[6], 1)?;
        add(&mut c[7], total)
    }

    /// Appends the batch's sums to the deltas (`item_rollup_delta`,
    /// `cashier_rollup_delta`), in one statement. Nothing is shared with
    /// another batch, so nothing waits; the folder ([`spawn_folder`]) adds
    /// them to the day, month and year rows after the commit.
    pub async fn write(&self, tx: &mut Transaction<'_, Postgres>, branch_id: i32) -> R<()> {
        if self.items.is_empty() && self.cashiers.is_empty() {
            return Ok(());
        }
        let n = self.items.len();
        let (mut dates, mut skus, mut rates, mut names) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let mut cols: [Vec<i64>; 10] = Default::default();
        for ((date, sku, rate), s) in &self.items {
            dates.push(*date);
            skus.push(sku.as_str());
            rates.push(rate.as_str());
            names.push(s.name.as_deref());
            for (c, v) in cols.iter_mut().zip(s.n) {
                c.push(v);
            }
        }
        let m = self.cashiers.len();
        let (mut c_dates, mut cashiers, mut hours) = (
            Vec::with_capacity(m),
            Vec::with_capacity(m),
            Vec::with_capacity(m),
        );
        let mut c_cols: [Vec<i64>; 8] = Default::default();
        for ((date, cashier, hour), s) in &self.cashiers {
            c_dates.push(*date);
            cashiers.push(cashier.as_str());
            hours.push(*hour);
            for (c, v) in c_cols.iter_mut().zip(s) {
                c.push(*v);
            }
        }
        let mut q = sqlx::query(
            "WITH items AS (
                 INSERT INTO item_rollup_delta (branch_id, business_date, sku, tax_rate, name,
                     lines, quantity_milli, gross, discounts, net, tax, total, refunded_milli,
                     refunds, refunds_tax)
                 SELECT $1, * FROM UNNEST($2::date[], $3::text[], $4::text[], $5::text[],
                     $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[],
                     $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[]))
             INSERT INTO cashier_rollup_delta (branch_id, business_date, cashier, hour,
                 sales_count, voids_count, gross, discounts, tax, sales_total, refunds_count,
                 refunds_total)
             SELECT $1, * FROM UNNEST($16::date[], $17::text[], $18::smallint[], $19::bigint[],
                 $20::bigint[], $21::bigint[], $22::bigint[], $23::bigint[], $24::bigint[],
                 $25::bigint[], $26::bigint[])",
        )
        .bind(branch_id)
        .bind(dates)
        .bind(skus)
        .bind(rates)
        .bind(names);
        for c in cols {
            q = q.bind(c);
        }
        q = q.bind(c_dates).bind(cashiers).bind(hours);
        for c in c_cols {
            q = q.bind(c);
        }
        q.execute(&mut **tx).await?;
        Ok(())
    }
}

/// Folds the deltas into the summaries (`sentra_fold_report_rollups`):
/// how many delta rows it moved, 0 if another server's folder was at it.
pub async fn fold(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT sentra_fold_report_rollups()")
        .fetch_one(pool)
        .await
}

/// Runs [`fold`] every `every` until `stop` turns true. Every server runs
/// one; the database lets one fold at a time.
pub fn spawn_folder(
    pool: PgPool,
    every: Duration,
    stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    super::every::spawn_every(every, stop, move || {
        let pool = pool.clone();
        async move {
            if let Err(e) = fold(&pool).await {
                tracing::warn!(error = %e, "folding the report summaries failed");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hour_is_the_branch_zone_s() {
        let s = Summaries::new(chrono_tz::Asia::Jakarta);
        // 2026-11-22 18:30 UTC is 01:30 on the 23rd in Jakarta.
        assert_eq!(s.hour(1_795_372_200_000), 1);
    }
}
