//! What each report is: its columns and its one query. Every query takes
//! the same parameters ([`query`]) — `$1` the branch ids asked for
//! (`int[]`), `$2` and `$3` the first and last business date, and for the
//! reports read from summaries `$4`, `$5`, … the ranges of the period's
//! cover ([`super::cover`]) — and runs under the caller's row-level
//! security (`scope`), so a branch outside the caller's set yields no rows
//! even if it were asked for.
//!
//! Sales by item, category, cashier and hour and the PPN return read the
//! summaries kept per day, month and year (`item_daily_rollup`,
//! `item_monthly_rollup`, `item_yearly_rollup`, `cashier_…`, `tax_…`;
//! migrations `20261209000001_report_rollups.sql` and
//! `20261210000001_report_rollup_deltas.sql`): the cheapest mix of whole
//! years, months and days, added or taken away, that counts each day of
//! the period once — plus the sums ingest wrote that are not folded in yet.
//!
//! The figures are those of `sentra-sync ledger` (sync-server
//! `admin/ledger.rs`): sales that stand (not voided) on their business
//! date; refunds on the refund's business date; tax = sales' tax − refunds'
//! tax; payments net of change, voids and refunds.

use chrono::{NaiveDate, NaiveDateTime, Utc};
use sqlx::Row as _;
use sqlx::postgres::PgRow;

use super::cover::{Grain, Part, cover};
use crate::error::{OfficeError, Result};
use crate::ui::Lang;

/// The report's query over `[from, to]`, bound to its parameters (see the
/// module's doc), returning at most `limit` rows.
pub fn query(
    kind: Kind,
    ids: Vec<i32>,
    from: NaiveDate,
    to: NaiveDate,
    limit: Option<usize>,
) -> sqlx::query::Query<'static, sqlx::Postgres, sqlx::postgres::PgArguments> {
    // Business dates run up to a day ahead of UTC's (UTC+14 at most).
    let today = Utc::now().date_naive().succ_opt().unwrap_or(NaiveDate::MAX);
    query_as_of(kind, ids, from, to, limit, today)
}

/// [`query`], its summaries read by the cover that is cheapest if no
/// unit after `today` holds rows yet. Every `today` gives the same rows
/// (the tests try several); only the speed differs.
pub fn query_as_of(
    kind: Kind,
    ids: Vec<i32>,
    from: NaiveDate,
    to: NaiveDate,
    limit: Option<usize>,
    today: NaiveDate,
) -> sqlx::query::Query<'static, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let (mut sql, dates) = statement(kind, from, to, today);
    if let Some(n) = limit {
        sql.push_str(&format!("\nLIMIT {n}"));
    }
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(ids);
    for d in dates {
        q = q.bind(d);
    }
    q
}

/// The report's SQL over `[from, to]` as of `today` (see [`query_as_of`]),
/// and the dates it takes after the branch ids: `from`, `to`, then each
/// range of the cover.
pub fn statement(
    kind: Kind,
    from: NaiveDate,
    to: NaiveDate,
    today: NaiveDate,
) -> (String, Vec<NaiveDate>) {
    let mut dates = vec![from, to];
    let sql = match kind.summed() {
        Some(s) => {
            let parts = cover(from, to, s.grains, today);
            dates.extend(parts.iter().flat_map(|p| [p.from, p.until]));
            kind.sql().replace(SUMMED, &s.sql(&parts))
        }
        None => kind.sql().to_owned(),
    };
    (sql, dates)
}

/// How a column's values are typed, shown and exported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    Text,
    /// A count.
    Int,
    /// Whole rupiah.
    Money,
    /// Thousandths of a unit (`quantity_milli`).
    Qty,
    Date,
    /// The first day of a month.
    Month,
    /// Local time in the branch's zone.
    DateTime,
}

pub struct Column {
    /// The CSV header and the `data-col` of the page's cells.
    pub key: &'static str,
    pub id: &'static str,
    pub en: &'static str,
    pub ty: Ty,
}

/// A column as a literal, so the lists below are promoted to statics.
macro_rules! col {
    ($key:literal, $id:literal, $en:literal, $ty:ident $(,)?) => {
        Column {
            key: $key,
            id: $id,
            en: $en,
            ty: Ty::$ty,
        }
    };
}

/// One value of a report row.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Text(Option<String>),
    Int(i64),
    Money(i64),
    Qty(i64),
    Date(NaiveDate),
    Month(NaiveDate),
    DateTime(Option<NaiveDateTime>),
    /// A number that may be absent (an open shift's counted cash).
    Empty,
}

impl Cell {
    /// The number a total adds, if this cell is one.
    pub fn number(&self) -> Option<i64> {
        match self {
            Cell::Int(v) | Cell::Money(v) | Cell::Qty(v) => Some(*v),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Items,
    Categories,
    Cashiers,
    Payments,
    Hours,
    Discounts,
    Voids,
    Refunds,
    Shifts,
    Ledger,
    Ppn,
}

impl Kind {
    pub const ALL: [Kind; 11] = [
        Kind::Items,
        Kind::Categories,
        Kind::Cashiers,
        Kind::Payments,
        Kind::Hours,
        Kind::Discounts,
        Kind::Voids,
        Kind::Refunds,
        Kind::Shifts,
        Kind::Ledger,
        Kind::Ppn,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            Kind::Items => "items",
            Kind::Categories => "categories",
            Kind::Cashiers => "cashiers",
            Kind::Payments => "payments",
            Kind::Hours => "hours",
            Kind::Discounts => "discounts",
            Kind::Voids => "voids",
            Kind::Refunds => "refunds",
            Kind::Shifts => "shifts",
            Kind::Ledger => "ledger",
            Kind::Ppn => "ppn",
        }
    }

    pub fn parse(s: &str) -> Result<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.slug() == s)
            .ok_or_else(|| OfficeError::BadInput(format!("no such report: {s:?}")))
    }

    pub fn title(self, l: Lang) -> &'static str {
        match self {
            Kind::Items => l.t("Penjualan per barang", "Sales by item"),
            Kind::Categories => l.t("Penjualan per kategori", "Sales by category"),
            Kind::Cashiers => l.t("Penjualan per kasir", "Sales by cashier"),
            Kind::Payments => l.t("Per metode pembayaran", "By payment method"),
            Kind::Hours => l.t("Penjualan per jam", "Sales by hour of day"),
            Kind::Discounts => l.t("Diskon dan persetujuannya", "Discounts and approvals"),
            Kind::Voids => l.t("Pembatalan", "Voids"),
            Kind::Refunds => l.t("Retur", "Refunds"),
            Kind::Shifts => l.t("Selisih kas shift", "Shift cash variances"),
            Kind::Ledger => l.t("Buku besar cabang (harian)", "Branch ledger (daily)"),
            Kind::Ppn => l.t(
                "Laporan PPN (SPT Masa, PMK 131/2024)",
                "PPN return (PMK 131/2024)",
            ),
        }
    }

    /// The columns, in the order the rows hold them (after [`finish`] for
    /// the PPN report).
    pub fn columns(self) -> &'static [Column] {
        match self {
            Kind::Items => &[
                col!("sku", "SKU", "SKU", Text),
                col!("name", "Nama", "Name", Text),
                col!("category", "Kategori", "Category", Text),
                col!("quantity", "Jumlah", "Quantity", Qty),
                col!("gross", "Bruto", "Gross", Money),
                col!("discounts", "Diskon", "Discounts", Money),
                col!("net", "Neto", "Net", Money),
                col!("tax", "PPN", "Tax", Money),
                col!("sales_total", "Penjualan", "Sales", Money),
                col!("refunded_quantity", "Jumlah diretur", "Refunded qty", Qty),
                col!("refunds", "Retur", "Refunds", Money),
                col!("refunds_tax", "PPN retur", "Refunds tax", Money),
                col!(
                    "net_sales",
                    "Penjualan bersih",
                    "Net sales (less refunds)",
                    Money,
                ),
            ],
            Kind::Categories => &[
                col!("category", "Kategori", "Category", Text),
                col!("quantity", "Jumlah", "Quantity", Qty),
                col!("gross", "Bruto", "Gross", Money),
                col!("discounts", "Diskon", "Discounts", Money),
                col!("net", "Neto", "Net", Money),
                col!("tax", "PPN", "Tax", Money),
                col!("sales_total", "Penjualan", "Sales", Money),
                col!("refunds", "Retur", "Refunds", Money),
                col!("refunds_tax", "PPN retur", "Refunds tax", Money),
                col!(
                    "net_sales",
                    "Penjualan bersih",
                    "Net sales (less refunds)",
                    Money,
                ),
            ],
            Kind::Cashiers => &[
                col!("cashier", "Kasir", "Cashier", Text),
                col!("sales_count", "Transaksi", "Sales", Int),
                col!("gross", "Bruto", "Gross", Money),
                col!("discounts", "Diskon", "Discounts", Money),
                col!("tax", "PPN", "Tax", Money),
                col!("sales_total", "Penjualan", "Sales total", Money),
                col!("voids_count", "Dibatalkan", "Voided", Int),
                col!("refunds_count", "Retur (jumlah)", "Refunds (count)", Int),
                col!("refunds", "Retur", "Refunds", Money),
            ],
            Kind::Payments => &[
                col!("method", "Metode", "Method", Text),
                col!("amount", "Jumlah bersih", "Net takings", Money),
            ],
            Kind::Hours => &[
                col!("hour", "Jam", "Hour", Int),
                col!("sales_count", "Transaksi", "Sales", Int),
                col!("gross", "Bruto", "Gross", Money),
                col!("discounts", "Diskon", "Discounts", Money),
                col!("tax", "PPN", "Tax", Money),
                col!("sales_total", "Penjualan", "Sales total", Money),
            ],
            Kind::Discounts => &[
                col!("branch", "Cabang", "Branch", Text),
                col!("receipt", "Struk", "Receipt", Text),
                col!("at", "Waktu", "When", DateTime),
                col!("cashier", "Kasir", "Cashier", Text),
                col!("gross", "Bruto", "Gross", Money),
                col!("discounts", "Diskon", "Discount", Money),
                col!("total", "Total", "Total", Money),
                col!("approved_by", "Disetujui oleh", "Approved by", Text),
            ],
            Kind::Voids => &[
                col!("branch", "Cabang", "Branch", Text),
                col!("receipt", "Struk", "Receipt", Text),
                col!("at", "Waktu", "When", DateTime),
                col!("cashier", "Kasir (shift)", "Cashier (shift)", Text),
                col!("total", "Total", "Total", Money),
                col!("reason", "Alasan", "Reason", Text),
                col!("status", "Status", "Status", Text),
            ],
            Kind::Refunds => &[
                col!("branch", "Cabang", "Branch", Text),
                col!("refund", "No. retur", "Refund no.", Text),
                col!("receipt", "Struk", "Receipt", Text),
                col!("at", "Waktu", "When", DateTime),
                col!("cashier", "Kasir (shift)", "Cashier (shift)", Text),
                col!("method", "Metode", "Method", Text),
                col!("total", "Total", "Total", Money),
                col!("tax", "PPN", "Tax", Money),
                col!("reason", "Alasan", "Reason", Text),
                col!("status", "Status", "Status", Text),
            ],
            Kind::Shifts => &[
                col!("branch", "Cabang", "Branch", Text),
                col!("till", "Kasir (mesin)", "Till", Text),
                col!("cashier", "Kasir", "Cashier", Text),
                col!("opened", "Buka", "Opened", DateTime),
                col!("closed", "Tutup", "Closed", DateTime),
                col!("float", "Modal awal", "Opening float", Money),
                col!("expected", "Kas seharusnya", "Expected cash", Money),
                col!("counted", "Kas dihitung", "Counted cash", Money),
                col!("variance", "Selisih", "Variance", Money),
            ],
            Kind::Ledger => &[
                col!("branch", "Cabang", "Branch", Text),
                col!("date", "Tanggal", "Date", Date),
                col!("sales_count", "Transaksi", "Sales", Int),
                col!("voids_count", "Pembatalan", "Voids", Int),
                col!("gross", "Bruto", "Gross", Money),
                col!("discounts", "Diskon", "Discounts", Money),
                col!("refunds_count", "Retur (jumlah)", "Refunds (count)", Int),
                col!("refunds", "Retur", "Refunds", Money),
                col!("tax", "PPN", "Tax", Money),
                col!("net", "Bersih", "Net", Money),
                col!("cash", "Tunai", "Cash", Money),
                col!("card", "Kartu", "Card", Money),
                col!("qris", "QRIS", "QRIS", Money),
                col!("voucher", "Voucher", "Voucher", Money),
            ],
            Kind::Ppn => &[
                col!("branch", "Cabang", "Branch", Text),
                col!("month", "Masa pajak", "Tax period", Month),
                col!("class", "Kelas pajak", "Tax class", Text),
                col!("rate", "Tarif kasir (%)", "Till rate (%)", Text),
                col!(
                    "sales_incl",
                    "Penjualan termasuk PPN",
                    "Sales incl. PPN",
                    Money,
                ),
                col!(
                    "harga_jual",
                    "Harga jual (tanpa PPN)",
                    "Selling price (excl. PPN)",
                    Money,
                ),
                col!("dpp", "DPP", "DPP (tax base)", Money),
                col!("ppn", "PPN", "PPN", Money),
                col!("rule", "Ketentuan", "Rule", Text),
            ],
        }
    }

    /// The types of the query's columns, in order (the PPN query returns
    /// what [`finish`] turns into its columns).
    fn query_types(self) -> Vec<Ty> {
        match self {
            Kind::Ppn => vec![
                Ty::Text,
                Ty::Month,
                Ty::Text,
                Ty::Text,
                Ty::Money,
                Ty::Money,
                Ty::Int,
                Ty::Int,
                Ty::Text,
            ],
            k => k.columns().iter().map(|c| c.ty).collect(),
        }
    }

    /// The summaries the report reads, if it reads them.
    fn summed(self) -> Option<&'static Summed> {
        match self {
            Kind::Items | Kind::Categories => Some(&BY_SKU),
            Kind::Cashiers => Some(&BY_CASHIER),
            Kind::Hours => Some(&BY_HOUR),
            Kind::Ppn => Some(&BY_BRANCH_MONTH_RATE),
            _ => None,
        }
    }

    /// The report's SQL; [`SUMMED`] marks where its summaries go.
    fn sql(self) -> &'static str {
        match self {
            Kind::Items => ITEMS_SQL,
            Kind::Categories => CATEGORIES_SQL,
            Kind::Cashiers => CASHIERS_SQL,
            Kind::Payments => PAYMENTS_SQL,
            Kind::Hours => HOURS_SQL,
            Kind::Discounts => DISCOUNTS_SQL,
            Kind::Voids => VOIDS_SQL,
            Kind::Refunds => REFUNDS_SQL,
            Kind::Shifts => SHIFTS_SQL,
            Kind::Ledger => LEDGER_SQL,
            Kind::Ppn => PPN_SQL,
        }
    }

    /// A database row as the report's cells.
    pub fn row(self, row: &PgRow) -> Result<Vec<Cell>> {
        let mut cells = Vec::new();
        for (i, ty) in self.query_types().into_iter().enumerate() {
            cells.push(match ty {
                Ty::Text => Cell::Text(row.try_get(i)?),
                Ty::Int | Ty::Money | Ty::Qty => match row.try_get::<Option<i64>, _>(i)? {
                    None => Cell::Empty,
                    Some(v) if ty == Ty::Int => Cell::Int(v),
                    Some(v) if ty == Ty::Money => Cell::Money(v),
                    Some(v) => Cell::Qty(v),
                },
                Ty::Date => Cell::Date(row.try_get(i)?),
                Ty::Month => Cell::Month(row.try_get(i)?),
                Ty::DateTime => Cell::DateTime(row.try_get(i)?),
            });
        }
        if self == Kind::Ppn {
            return ppn_line(cells);
        }
        Ok(cells)
    }
}

/// The PPN query's row (branch, month, class, rate, sales incl., PPN, DPP
/// numerator and denominator, rule) as the return's columns; the DPP is
/// `sentra_domain::ppn` (money rule 9).
fn ppn_line(c: Vec<Cell>) -> Result<Vec<Cell>> {
    use sentra_domain::ppn::{ClassSums, DppFraction, return_line};
    let num = |i: usize| c.get(i).and_then(Cell::number).unwrap_or(0);
    let rate = match c.get(3) {
        Some(Cell::Text(Some(r))) => r.clone(),
        _ => String::new(),
    };
    // Rates are decimal strings ("11", "0", "0.00").
    let rate_zero = !rate.is_empty() && rate.chars().all(|c| c == '0' || c == '.');
    let line = return_line(
        ClassSums {
            sales_incl: num(4),
            ppn: num(5),
        },
        DppFraction {
            numerator: num(6),
            denominator: num(7).max(1),
        },
        rate_zero,
    )
    .map_err(|e| OfficeError::Internal(format!("PPN return: {e}")))?;
    let mut it = c.into_iter();
    let (branch, month, class, rate_cell) = (it.next(), it.next(), it.next(), it.next());
    let rule = it.nth(4);
    Ok(vec![
        branch.unwrap_or(Cell::Text(None)),
        month.unwrap_or(Cell::Text(None)),
        class.unwrap_or(Cell::Text(None)),
        rate_cell.unwrap_or(Cell::Text(None)),
        Cell::Money(line.sales_incl),
        Cell::Money(line.harga_jual),
        Cell::Money(line.dpp),
        Cell::Money(line.ppn),
        rule.unwrap_or(Cell::Text(None)),
    ])
}

/// The summaries a report reads: a family of tables kept per day, month
/// (and for items per year) — `{family}_daily_rollup`,
/// `{family}_monthly_rollup`, `{family}_yearly_rollup` — plus the sums
/// ingest has written but the folder not yet folded into them (`delta`;
/// migration `20261210000001_report_rollup_deltas.sql`).
struct Summed {
    family: &'static str,
    delta: &'static str,
    grains: &'static [Grain],
    /// The keys the parts are grouped by; `{month}` stands for the month's
    /// first day of the table's date.
    keys: &'static str,
    /// `1, 2, …`, as many as there are keys.
    n: &'static str,
    /// `(aggregate, column)`; a part taken away negates its `sum`s.
    sums: &'static [(&'static str, &'static str)],
}

const ITEM_SUMS: &[(&str, &str)] = &[
    ("max", "name"),
    ("sum", "lines"),
    ("sum", "quantity_milli"),
    ("sum", "gross"),
    ("sum", "discounts"),
    ("sum", "net"),
    ("sum", "tax"),
    ("sum", "total"),
    ("sum", "refunded_milli"),
    ("sum", "refunds"),
    ("sum", "refunds_tax"),
];

const CASHIER_SUMS: &[(&str, &str)] = &[
    ("sum", "sales_count"),
    ("sum", "voids_count"),
    ("sum", "gross"),
    ("sum", "discounts"),
    ("sum", "tax"),
    ("sum", "sales_total"),
    ("sum", "refunds_count"),
    ("sum", "refunds_total"),
];

const TAX_SUMS: &[(&str, &str)] = &[
    ("sum", "lines"),
    ("sum", "total"),
    ("sum", "tax"),
    ("sum", "refunds"),
    ("sum", "refunds_tax"),
];

const BY_SKU: Summed = Summed {
    family: "item",
    delta: "item_rollup_delta",
    grains: &[Grain::Year, Grain::Month, Grain::Day],
    keys: "sku",
    n: "1",
    sums: ITEM_SUMS,
};

const BY_CASHIER: Summed = Summed {
    family: "cashier",
    delta: "cashier_rollup_delta",
    grains: &[Grain::Month, Grain::Day],
    keys: "cashier",
    n: "1",
    sums: CASHIER_SUMS,
};

const BY_HOUR: Summed = Summed {
    keys: "hour",
    ..BY_CASHIER
};

/// Per branch, month and rate: the PPN return is monthly, so no year rows.
const BY_BRANCH_MONTH_RATE: Summed = Summed {
    family: "tax",
    delta: "item_rollup_delta",
    grains: &[Grain::Month, Grain::Day],
    keys: "branch_id, {month} AS period, tax_rate",
    n: "1, 2, 3",
    sums: TAX_SUMS,
};

impl Summed {
    /// The period's sums by the keys, as `r`: each part of the period's
    /// [`cover`] summed on its own (so each is one parallel scan, or one
    /// range of the primary key) — `$4`, `$5` the first part's range, and
    /// so on — plus the deltas of `[$2, $3]`, all put together.
    fn sql(&self, parts: &[Part]) -> String {
        let select = |table: &str, date: &str, month: &str, lo: &str, hi: &str, sign: i8| {
            let keys = self.keys.replace("{month}", month);
            let sums = self
                .sums
                .iter()
                .map(|(agg, col)| {
                    let neg = if sign < 0 && *agg == "sum" { "-" } else { "" };
                    format!("{neg}{agg}({col}) AS {col}")
                })
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "SELECT {keys}, {sums}
      FROM {table}
      WHERE branch_id = ANY($1) AND {date} >= {lo} AND {date} {hi}
      GROUP BY {n}",
                n = self.n
            )
        };
        let by_month = "date_trunc('month', business_date)::date";
        let mut out = vec![select(
            self.delta,
            "business_date",
            by_month,
            "$2",
            "<= $3",
            1,
        )];
        for (i, p) in parts.iter().enumerate() {
            let (table, date, month) = match p.grain {
                Grain::Day => ("daily", "business_date", by_month),
                Grain::Month => ("monthly", "month", "month"),
                Grain::Year => ("yearly", "year", "year"),
            };
            let table = format!("{}_{table}_rollup", self.family);
            let (lo, hi) = (format!("${}", 4 + 2 * i), format!("< ${}", 5 + 2 * i));
            out.push(select(&table, date, month, &lo, &hi, p.sign));
        }
        format!("({}) r", out.join("\n      UNION ALL\n      "))
    }
}

/// Where a report's SQL puts its summaries.
const SUMMED: &str = "@SUMMED@";

/// Sale lines that stand, and refund lines on the refund's date (the
/// summaries by SKU, [`BY_SKU`]).
const ITEMS_SQL: &str = concat!(
    "
WITH g AS (
    SELECT sku, max(name) AS name, sum(quantity_milli)::bigint AS qty, sum(gross)::bigint AS gross,
           sum(discounts)::bigint AS disc, sum(net)::bigint AS net, sum(tax)::bigint AS tax,
           sum(total)::bigint AS total, sum(refunded_milli)::bigint AS rqty,
           sum(refunds)::bigint AS ramount, sum(refunds_tax)::bigint AS rtax
    FROM ",
    "@SUMMED@",
    "
    GROUP BY sku HAVING sum(lines) > 0
)
SELECT g.sku, COALESCE(p.name, g.name), p.category, g.qty, g.gross, g.disc, g.net, g.tax,
       g.total, g.rqty, g.ramount, g.rtax, g.total - g.ramount
FROM g LEFT JOIN products p ON p.sku = g.sku
ORDER BY g.total - g.ramount DESC, g.sku"
);

const CATEGORIES_SQL: &str = concat!(
    "
WITH g AS (
    SELECT sku, sum(lines) AS lines, sum(quantity_milli) AS qty, sum(gross) AS gross,
           sum(discounts) AS disc, sum(net) AS net, sum(tax) AS tax, sum(total) AS total,
           sum(refunds) AS ramount, sum(refunds_tax) AS rtax
    FROM ",
    "@SUMMED@",
    "
    GROUP BY sku
)
SELECT COALESCE(p.category, '—'), sum(g.qty)::bigint, sum(g.gross)::bigint, sum(g.disc)::bigint,
       sum(g.net)::bigint, sum(g.tax)::bigint, sum(g.total)::bigint, sum(g.ramount)::bigint,
       sum(g.rtax)::bigint, (sum(g.total) - sum(g.ramount))::bigint
FROM g LEFT JOIN products p ON p.sku = g.sku
GROUP BY 1 HAVING sum(g.lines) > 0 ORDER BY 10 DESC, 1"
);

/// Sales by the cashier on the sale (voided ones counted apart); refunds by
/// the cashier of the shift they were given in.
const CASHIERS_SQL: &str = concat!(
    "
SELECT CASE WHEN cashier = '' THEN '—' ELSE cashier END, sum(sales_count)::bigint,
       sum(gross)::bigint, sum(discounts)::bigint, sum(tax)::bigint, sum(sales_total)::bigint,
       sum(voids_count)::bigint, sum(refunds_count)::bigint, sum(refunds_total)::bigint
FROM ",
    "@SUMMED@",
    "
GROUP BY 1 HAVING sum(sales_count) + sum(voids_count) + sum(refunds_count) > 0
ORDER BY 6 DESC, 1"
);

/// The rollup's takings per method (net of change, voids and refunds).
const PAYMENTS_SQL: &str = "
SELECT m.method, m.amount::bigint
FROM (SELECT sum(cash) AS cash, sum(card) AS card, sum(qris) AS qris, sum(voucher) AS voucher
      FROM daily_rollup
      WHERE branch_id = ANY($1) AND business_date BETWEEN $2 AND $3) r
CROSS JOIN LATERAL (VALUES (1, 'cash', COALESCE(r.cash, 0)), (2, 'card', COALESCE(r.card, 0)),
                           (3, 'qris', COALESCE(r.qris, 0)),
                           (4, 'voucher', COALESCE(r.voucher, 0))) m(o, method, amount)
ORDER BY m.o";

/// Hour of the sale in its branch's zone; sales that stand.
const HOURS_SQL: &str = concat!(
    "
SELECT hour::bigint, sum(sales_count)::bigint, sum(gross)::bigint, sum(discounts)::bigint,
       sum(tax)::bigint, sum(sales_total)::bigint
FROM ",
    "@SUMMED@",
    "
GROUP BY 1 HAVING sum(sales_count) > 0 ORDER BY 1"
);

/// Who approved a discount is what the till signed into the sale
/// (`discount_approved_by`); a discount under the branch's threshold needs
/// no approval. The order is the `sales_discounted` index's.
const DISCOUNTS_SQL: &str = "
SELECT b.code, s.receipt_no, (s.occurred_at AT TIME ZONE b.timezone), s.cashier, s.gross,
       s.discounts, s.total, j.payload->>'discount_approved_by'
FROM sales s
JOIN branches b ON b.branch_id = s.branch_id
LEFT JOIN journal j ON j.branch_id = s.branch_id AND j.device_id = s.device_id AND j.seq = s.seq
WHERE s.branch_id = ANY($1) AND s.business_date BETWEEN $2 AND $3 AND s.voided_by IS NULL
  AND s.discounts > 0
ORDER BY s.branch_id, s.business_date, s.occurred_at, s.receipt_no";

/// A void counts on its sale's business date (as in the ledger); one still
/// waiting for its sale, on its own date. The reason (which names the
/// approving supervisor) is in the signed entry.
const VOIDS_SQL: &str = "
SELECT b.code, v.receipt_no, (v.occurred_at AT TIME ZONE b.timezone), sh.cashier, v.total,
       j.payload->>'reason', v.status
FROM voids v
JOIN branches b ON b.branch_id = v.branch_id
LEFT JOIN sales s ON s.branch_id = v.branch_id AND s.entry_id = v.sale_entry_id
LEFT JOIN shifts sh ON sh.branch_id = v.branch_id AND sh.shift_id = v.shift_id
LEFT JOIN journal j ON j.branch_id = v.branch_id AND j.device_id = v.device_id AND j.seq = v.seq
WHERE v.branch_id = ANY($1)
  AND COALESCE(s.business_date, (v.occurred_at AT TIME ZONE b.timezone)::date) BETWEEN $2 AND $3
ORDER BY v.branch_id, v.occurred_at, v.receipt_no";

const REFUNDS_SQL: &str = "
SELECT b.code, r.refund_no, r.receipt_no, (r.occurred_at AT TIME ZONE b.timezone), sh.cashier,
       r.method, r.total, r.tax, j.payload->>'reason',
       r.status || CASE WHEN r.over_refund THEN ', over_refund' ELSE '' END
FROM refunds r
JOIN branches b ON b.branch_id = r.branch_id
LEFT JOIN shifts sh ON sh.branch_id = r.branch_id AND sh.shift_id = r.shift_id
LEFT JOIN journal j ON j.branch_id = r.branch_id AND j.device_id = r.device_id AND j.seq = r.seq
WHERE r.branch_id = ANY($1) AND r.business_date BETWEEN $2 AND $3
ORDER BY r.branch_id, r.occurred_at, r.refund_no";

/// Closed shifts opened in the period (local dates) whose count differed
/// from what the till expected.
const SHIFTS_SQL: &str = "
SELECT b.code, d.name, sh.cashier, (sh.opened_at AT TIME ZONE b.timezone),
       (sh.closed_at AT TIME ZONE b.timezone), sh.opening_float, sh.expected_cash,
       sh.counted_cash, sh.variance
FROM branches b
JOIN shifts sh ON sh.branch_id = b.branch_id
LEFT JOIN devices d ON d.device_id = sh.device_id
WHERE b.branch_id = ANY($1) AND sh.branch_id = ANY($1)
  AND sh.opened_at >= ($2::date)::timestamp AT TIME ZONE b.timezone
  AND sh.opened_at < ($3::date + 1)::timestamp AT TIME ZONE b.timezone
  AND sh.variance <> 0
ORDER BY sh.branch_id, sh.opened_at";

/// The daily rows of the branch ledger page, per branch.
const LEDGER_SQL: &str = "
SELECT b.code, r.business_date, sum(r.sales_count)::bigint, sum(r.voids_count)::bigint,
       sum(r.gross)::bigint, sum(r.discounts)::bigint, sum(r.refunds_count)::bigint,
       sum(r.refunds_total)::bigint, (sum(r.tax) - sum(r.refunds_tax))::bigint,
       (sum(r.sales_total) - sum(r.refunds_total))::bigint, sum(r.cash)::bigint,
       sum(r.card)::bigint, sum(r.qris)::bigint, sum(r.voucher)::bigint
FROM daily_rollup r JOIN branches b ON b.branch_id = r.branch_id
WHERE r.branch_id = ANY($1) AND r.business_date BETWEEN $2 AND $3
GROUP BY b.code, r.business_date ORDER BY b.code, r.business_date";

/// Per branch, month and rate the tills applied: line totals and taxes of
/// the sales that stand, less refunds in the refund's month at the rate of
/// the line refunded (or, without the sale, of the product's class; see
/// `refund_lines.tax_rate`). The class is the tax class with that rate.
const PPN_SQL: &str = concat!(
    "
WITH g AS (
    SELECT branch_id, period AS month, tax_rate AS rate,
           sum(total - refunds)::bigint AS incl, sum(tax - refunds_tax)::bigint AS tax
    FROM ",
    "@SUMMED@",
    "
    GROUP BY 1, 2, 3 HAVING sum(lines) > 0
)
SELECT b.code, g.month, COALESCE(t.category, 'rate ' || g.rate), g.rate, g.incl, g.tax,
       COALESCE(t.dpp_numerator, 1)::bigint, COALESCE(t.dpp_denominator, 1)::bigint, t.rule
FROM g
JOIN branches b ON b.branch_id = g.branch_id
LEFT JOIN LATERAL (SELECT * FROM tax_rates t
                   WHERE t.rate ~ '^[0-9.]+$' AND g.rate ~ '^[0-9.]+$'
                     AND t.rate::numeric = g.rate::numeric
                   ORDER BY t.category LIMIT 1) t ON true
ORDER BY b.code, g.month, g.rate"
);
