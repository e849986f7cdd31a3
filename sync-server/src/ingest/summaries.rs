//! The head-office report summaries, per SKU and tax rate (`item_…`) and
//! per cashier and hour of day (`cashier_…`): folded in memory
//! while a batch applies and written once at its end, in the batch's
//! transaction, to a day row and a month row each (`…_daily_rollup`,
//! `…_monthly_rollup`, migration `20261209000001_report_rollups.sql`). They follow the daily rollup's
//! rules: a sale counts on its business date and a void takes it back on
//! that date; a refund counts on its own.

use std::collections::BTreeMap;

use chrono::{Datelike as _, NaiveDate, TimeZone as _, Timelike as _};
use chrono_tz::Tz;
use sentra_protocol::payload::SaleCompleted;
use sqlx::{AssertSqlSafe, Postgres, Transaction};

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

impl ItemSums {
    fn merge(&mut self, o: &ItemSums) -> R<()> {
        if o.name > self.name {
            self.name.clone_from(&o.name);
        }
        for (a, b) in self.n.iter_mut().zip(o.n) {
            add(a, b)?;
        }
        Ok(())
    }
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

    /// Adds the batch's sums to the tables — each to its day's row and its
    /// month's row — in key order (so concurrent batches of a branch, which
    /// share these rows, lock them in one order and never deadlock).
    pub async fn write(&self, tx: &mut Transaction<'_, Postgres>, branch_id: i32) -> R<()> {
        for grain in [Grain::Day, Grain::Month] {
            self.write_items(tx, branch_id, grain).await?;
        }
        for grain in [Grain::Day, Grain::Month] {
            self.write_cashiers(tx, branch_id, grain).await?;
        }
        Ok(())
    }

    async fn write_items(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        branch_id: i32,
        grain: Grain,
    ) -> R<()> {
        if self.items.is_empty() {
            return Ok(());
        }
        let mut rows: BTreeMap<(NaiveDate, &str, &str), ItemSums> = BTreeMap::new();
        for ((date, sku, rate), sums) in &self.items {
            rows.entry((grain.period(*date), sku, rate))
                .or_default()
                .merge(sums)?;
        }
        let n = rows.len();
        let (mut periods, mut skus, mut rates, mut names) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let mut cols: [Vec<i64>; 10] = Default::default();
        for ((period, sku, rate), s) in rows {
            periods.push(period);
            skus.push(sku);
            rates.push(rate);
            names.push(s.name);
            for (c, v) in cols.iter_mut().zip(s.n) {
                c.push(v);
            }
        }
        let (table, date) = match grain {
            Grain::Day => ("item_daily_rollup", "business_date"),
            Grain::Month => ("item_monthly_rollup", "month"),
        };
        let sql = format!(
            "INSERT INTO {table} AS r (branch_id, {date}, sku, tax_rate, name, lines,
                 quantity_milli, gross, discounts, net, tax, total, refunded_milli, refunds,
                 refunds_tax)
             SELECT $1, * FROM UNNEST($2::date[], $3::text[], $4::text[], $5::text[],
                 $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[],
                 $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[])
             ON CONFLICT (branch_id, {date}, sku, tax_rate) DO UPDATE SET
                 name = GREATEST(r.name, EXCLUDED.name),
                 lines = r.lines + EXCLUDED.lines,
                 quantity_milli = r.quantity_milli + EXCLUDED.quantity_milli,
                 gross = r.gross + EXCLUDED.gross,
                 discounts = r.discounts + EXCLUDED.discounts,
                 net = r.net + EXCLUDED.net,
                 tax = r.tax + EXCLUDED.tax,
                 total = r.total + EXCLUDED.total,
                 refunded_milli = r.refunded_milli + EXCLUDED.refunded_milli,
                 refunds = r.refunds + EXCLUDED.refunds,
                 refunds_tax = r.refunds_tax + EXCLUDED.refunds_tax"
        );
        let mut q = sqlx::query(AssertSqlSafe(sql))
            .bind(branch_id)
            .bind(periods)
            .bind(skus)
            .bind(rates)
            .bind(names);
        for c in cols {
            q = q.bind(c);
        }
        q.execute(&mut **tx).await?;
        Ok(())
    }

    async fn write_cashiers(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        branch_id: i32,
        grain: Grain,
    ) -> R<()> {
        if self.cashiers.is_empty() {
            return Ok(());
        }
        let mut rows: BTreeMap<(NaiveDate, &str, i16), CashierSums> = BTreeMap::new();
        for ((date, cashier, hour), sums) in &self.cashiers {
            let e = rows
                .entry((grain.period(*date), cashier, *hour))
                .or_default();
            for (a, b) in e.iter_mut().zip(sums) {
                add(a, *b)?;
            }
        }
        let n = rows.len();
        let (mut periods, mut cashiers, mut hours) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let mut cols: [Vec<i64>; 8] = Default::default();
        for ((period, cashier, hour), s) in rows {
            periods.push(period);
            cashiers.push(cashier);
            hours.push(hour);
            for (c, v) in cols.iter_mut().zip(s) {
                c.push(v);
            }
        }
        let (table, date) = match grain {
            Grain::Day => ("cashier_daily_rollup", "business_date"),
            Grain::Month => ("cashier_monthly_rollup", "month"),
        };
        let sql = format!(
            "INSERT INTO {table} AS r (branch_id, {date}, cashier, hour, sales_count,
                 voids_count, gross, discounts, tax, sales_total, refunds_count, refunds_total)
             SELECT $1, * FROM UNNEST($2::date[], $3::text[], $4::smallint[], $5::bigint[],
                 $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[],
                 $11::bigint[], $12::bigint[])
             ON CONFLICT (branch_id, {date}, cashier, hour) DO UPDATE SET
                 sales_count = r.sales_count + EXCLUDED.sales_count,
                 voids_count = r.voids_count + EXCLUDED.voids_count,
                 gross = r.gross + EXCLUDED.gross,
                 discounts = r.discounts + EXCLUDED.discounts,
                 tax = r.tax + EXCLUDED.tax,
                 sales_total = r.sales_total + EXCLUDED.sales_total,
                 refunds_count = r.refunds_count + EXCLUDED.refunds_count,
                 refunds_total = r.refunds_total + EXCLUDED.refunds_total"
        );
        let mut q = sqlx::query(AssertSqlSafe(sql))
            .bind(branch_id)
            .bind(periods)
            .bind(cashiers)
            .bind(hours);
        for c in cols {
            q = q.bind(c);
        }
        q.execute(&mut **tx).await?;
        Ok(())
    }
}

/// The two tables each sum goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Grain {
    Day,
    Month,
}

impl Grain {
    /// The row a business date's sums go to: the date, or its month's first day.
    fn period(self, date: NaiveDate) -> NaiveDate {
        match self {
            Grain::Day => date,
            Grain::Month => date.with_day(1).unwrap_or(date),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_goes_to_its_day_and_its_month() {
        let d = NaiveDate::from_ymd_opt(2026, 2, 28).expect("date");
        let first = NaiveDate::from_ymd_opt(2026, 2, 1).expect("date");
        assert_eq!(Grain::Day.period(d), d);
        assert_eq!(Grain::Month.period(d), first);
    }

    #[test]
    fn the_hour_is_the_branch_zone_s() {
        let s = Summaries::new(chrono_tz::Asia::Jakarta);
        // 2026-11-22 18:30 UTC is 01:30 on the 23rd in Jakarta.
        assert_eq!(s.hour(1_795_372_200_000), 1);
    }
}
