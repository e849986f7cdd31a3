//! `sentra-sync ledger --branch CODE [--from DATE --to DATE] [--json]`: a
//! branch's reconciled totals, summed from the daily rollup.
//!
//! Figures (integers in minor units, as on the terminal):
//! - `sales_count`: sales that stand (voided ones excluded); `voids_count`
//!   apart;
//! - `gross`, `discounts`: of the sales that stand;
//! - `refunds`: money given back (tax included), `refunds_count`;
//! - `tax`: tax of the sales that stand minus the tax of refunds;
//! - `net`: sale totals minus refunds;
//! - `payments`: per method, takings net of change, voids and refunds.
//!
//! Dates are business dates in the branch's time zone, from each entry's
//! corrected time. A sale counts on its own date; its void takes it out of
//! that same date; a refund counts on the refund's date.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use sqlx::PgPool;

use super::{Result, branch_id};

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Ledger {
    pub branch: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<NaiveDate>,
    pub sales_count: i64,
    pub voids_count: i64,
    pub gross: i64,
    pub discounts: i64,
    pub refunds: i64,
    pub refunds_count: i64,
    pub tax: i64,
    pub net: i64,
    pub payments: BTreeMap<String, i64>,
}

impl Ledger {
    pub fn to_text(&self) -> String {
        let period = match (self.from, self.to) {
            (None, None) => "all dates".to_owned(),
            (f, t) => format!(
                "{} to {}",
                f.map_or("start".into(), |d| d.to_string()),
                t.map_or("today".into(), |d| d.to_string())
            ),
        };
        let mut s = format!("Ledger {} ({period})\n", self.branch);
        for (name, v) in [
            ("sales", self.sales_count),
            ("voids", self.voids_count),
            ("refunds (count)", self.refunds_count),
        ] {
            s.push_str(&format!("  {name:<18}{v:>14}\n"));
        }
        for (name, v) in [
            ("gross", self.gross),
            ("discounts", self.discounts),
            ("refunds", self.refunds),
            ("tax", self.tax),
            ("net", self.net),
        ] {
            s.push_str(&format!(
                "  {name:<18}{:>14}\n",
                sentra_domain::Money::idr(v).to_string()
            ));
        }
        for (m, v) in &self.payments {
            s.push_str(&format!(
                "  {:<18}{:>14}\n",
                format!("paid by {m}"),
                sentra_domain::Money::idr(*v).to_string()
            ));
        }
        s
    }
}

/// Thirteen sums of `daily_rollup`, in the order of the query below.
type Sums = (
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
);

/// The branch's totals over `[from, to]` (open ends when `None`).
pub async fn ledger(
    pool: &PgPool,
    branch: &str,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<Ledger> {
    let id = branch_id(pool, branch).await?;
    let row: Sums = sqlx::query_as(
        "SELECT COALESCE(sum(sales_count), 0)::bigint, COALESCE(sum(voids_count), 0)::bigint,
                COALESCE(sum(gross), 0)::bigint, COALESCE(sum(discounts), 0)::bigint,
                COALESCE(sum(tax), 0)::bigint, COALESCE(sum(sales_total), 0)::bigint,
                COALESCE(sum(refunds_count), 0)::bigint, COALESCE(sum(refunds_total), 0)::bigint,
                COALESCE(sum(refunds_tax), 0)::bigint,
                COALESCE(sum(cash), 0)::bigint, COALESCE(sum(card), 0)::bigint,
                COALESCE(sum(qris), 0)::bigint, COALESCE(sum(voucher), 0)::bigint
         FROM daily_rollup
         WHERE branch_id = $1
           AND ($2::date IS NULL OR business_date >= $2)
           AND ($3::date IS NULL OR business_date <= $3)",
    )
    .bind(id)
    .bind(from)
    .bind(to)
    .fetch_one(pool)
    .await?;
    let mut payments = BTreeMap::new();
    for (m, v) in [
        ("cash", row.9),
        ("card", row.10),
        ("qris", row.11),
        ("voucher", row.12),
    ] {
        payments.insert(m.to_owned(), v);
    }
    Ok(Ledger {
        branch: branch.to_owned(),
        from,
        to,
        sales_count: row.0,
        voids_count: row.1,
        gross: row.2,
        discounts: row.3,
        refunds: row.7,
        refunds_count: row.6,
        tax: row.4 - row.8,
        net: row.5 - row.7,
        payments,
    })
}
