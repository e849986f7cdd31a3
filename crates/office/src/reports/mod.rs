//! `GET /office/reports?report=&from=&to=&branch=…`: sales by item, by
//! category, by cashier, by payment method and by hour; discounts and who
//! approved them; voids and refunds with who, when and why; shift cash
//! variances; the branch ledger day by day; and the monthly PPN return —
//! over any period and any of the caller's branches. Every report is also
//! an export (`/office/reports/csv`, `/office/reports/xlsx`, [`export`]).

pub mod cover;
mod export;
pub mod kinds;

use axum::extract::State;
use axum::http::Uri;
use chrono::{Datelike, NaiveDate, Utc};
use futures_util::TryStreamExt as _;
use maud::{Markup, html};

use crate::Office;
use crate::audit::date_inputs;
use crate::auth::Session;
use crate::error::{OfficeError, Result};
use crate::form::Form;
use crate::scope;
use crate::ui::{self, Lang, Nav};
pub use export::{csv, xlsx};
use kinds::{Cell, Kind, Ty};

/// Rows a page shows; the exports have them all.
const PAGE_ROWS: usize = 1_000;
/// The longest period a report covers (two years and a day).
const MAX_DAYS: i64 = 732;

/// What a report is asked for.
#[derive(Clone, Debug)]
pub struct Params {
    pub kind: Kind,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Codes and ids of the branches asked for, all the caller's.
    pub branches: Vec<(String, i32)>,
}

impl Params {
    /// From the query string; branches default to all of the caller's, a
    /// branch not theirs is refused by name. Period default: this month.
    pub fn parse(s: &Session, uri: &Uri) -> Result<Params> {
        let q = Form::query(uri)?;
        let kind = Kind::parse(q.text("report").unwrap_or("items"))?;
        let tz = s.branches.first().map_or(chrono_tz::Tz::UTC, |b| b.tz);
        let today = Utc::now().with_timezone(&tz).date_naive();
        let from = match q.text("from") {
            Some(v) => scope::parse_date(v)?,
            None => today.with_day(1).unwrap_or(today),
        };
        let to = match q.text("to") {
            Some(v) => scope::parse_date(v)?,
            None => today,
        };
        if to < from {
            return Err(OfficeError::BadInput(
                "the period ends before it starts".into(),
            ));
        }
        if (to - from).num_days() > MAX_DAYS {
            return Err(OfficeError::BadInput(format!(
                "a report covers at most {MAX_DAYS} days; choose a shorter period"
            )));
        }
        let mut branches = Vec::new();
        for code in q.all("branch").map(str::trim).filter(|c| !c.is_empty()) {
            let b = s
                .branch(code)
                .ok_or_else(|| OfficeError::NotYourBranch(code.to_owned()))?;
            if !branches.iter().any(|(c, _)| c == &b.code) {
                branches.push((b.code.clone(), b.id));
            }
        }
        if branches.is_empty() {
            branches = s.branches.iter().map(|b| (b.code.clone(), b.id)).collect();
        }
        Ok(Params {
            kind,
            from,
            to,
            branches,
        })
    }

    pub fn ids(&self) -> Vec<i32> {
        self.branches.iter().map(|(_, id)| *id).collect()
    }

    /// The query string that asks for this report again.
    pub fn query(&self) -> String {
        let mut q = format!(
            "report={}&from={}&to={}",
            self.kind.slug(),
            self.from,
            self.to
        );
        for (code, _) in &self.branches {
            q.push_str("&branch=");
            q.push_str(&ui::url_encode(code));
        }
        q
    }

    /// `sentra-items-2026-12-01-2026-12-31` (plus the branch when one).
    pub fn file_stem(&self) -> String {
        let which = match self.branches.as_slice() {
            [(code, _)] => format!("-{code}"),
            _ => String::new(),
        };
        format!(
            "sentra-{}{which}-{}-{}",
            self.kind.slug(),
            self.from,
            self.to
        )
    }
}

pub async fn page(State(office): State<Office>, s: Session, uri: Uri) -> Result<Markup> {
    let l = s.lang;
    let p = Params::parse(&s, &uri)?;
    let mut tx = scope::read(&office, &s).await?;
    let mut rows: Vec<Vec<Cell>> = Vec::new();
    let mut more = false;
    {
        // One row past the page tells that there are more.
        let mut stream =
            kinds::query(p.kind, p.ids(), p.from, p.to, Some(PAGE_ROWS + 1)).fetch(&mut *tx);
        while let Some(row) = stream.try_next().await? {
            if rows.len() == PAGE_ROWS {
                more = true;
                break;
            }
            rows.push(p.kind.row(&row)?);
        }
    }
    tx.rollback().await?;
    let cols = p.kind.columns();
    let totals: Vec<Option<i64>> = (0..cols.len())
        .map(|i| {
            let summed = matches!(cols[i].ty, Ty::Money | Ty::Qty | Ty::Int)
                && !(p.kind == Kind::Hours && i == 0);
            summed.then(|| {
                rows.iter()
                    .filter_map(|r| r.get(i).and_then(Cell::number))
                    .sum()
            })
        })
        .collect();
    let qs = p.query();
    let body = html! {
        form.filters method="get" action="/office/reports" {
            label { (l.t("Laporan", "Report"))
                select name="report" {
                    @for k in Kind::ALL { option value=(k.slug()) selected[k == p.kind] { (k.title(l)) } }
                }
            }
            (date_inputs(l, Some(p.from), Some(p.to)))
            fieldset.branches {
                legend { (l.t("Cabang", "Branches")) }
                @for b in &s.branches {
                    label.check {
                        input type="checkbox" name="branch" value=(b.code)
                            checked[p.branches.iter().any(|(c, _)| c == &b.code)];
                        " " (b.code)
                    }
                }
            }
            button type="submit" { (l.t("Tampilkan", "Show")) }
        }
        p.exports {
            (l.t("Unduh: ", "Download: "))
            a #export-csv href={ "/office/reports/csv?" (qs) } { "CSV" } " · "
            a #export-xlsx href={ "/office/reports/xlsx?" (qs) } { "XLSX" }
            " " span.muted { (ui::date(l, p.from)) " – " (ui::date(l, p.to)) " · "
                (p.branches.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>().join(", ")) }
        }
        @if p.kind == Kind::Ppn {
            p.muted { (l.t(
                "Penjualan eceran dilaporkan secara gabungan. PPN = jumlah PPN per baris dari kasir (sama persis dengan mesin kasir); DPP barang biasa = 11/12 × harga jual (DPP nilai lain), barang mewah = harga jual, barang dibebaskan tanpa DPP. Retur mengurangi masa terjadinya.",
                "Retail sales reported in aggregate. PPN = the sum of the tills' line taxes (agrees with the terminals to the rupiah); DPP of ordinary goods = 11/12 × selling price (DPP nilai lain), luxury goods = selling price, exempt goods none. Refunds reduce the month they happen in."
            )) }
        }
        @if more {
            p.warn { (l.t("Hanya 1.000 baris pertama yang ditampilkan; unduh CSV/XLSX untuk semuanya.",
                          "Only the first 1,000 rows are shown; download CSV/XLSX for all of them.")) }
        }
        div.scroll {
            table #report data-report=(p.kind.slug()) {
                thead { tr { @for c in cols { th class=[numeric(c.ty).then_some("num")] { (l.t(c.id, c.en)) } } } }
                tbody {
                    @for r in &rows {
                        tr { @for (c, v) in cols.iter().zip(r) { (cell(l, c, v)) } }
                    }
                    @if rows.is_empty() { tr { td colspan=(cols.len()) { (l.t("Tidak ada data.", "No data.")) } } }
                }
                @if !rows.is_empty() && !more && totals.iter().any(Option::is_some) {
                    tfoot { tr {
                        @for (i, (c, t)) in cols.iter().zip(&totals).enumerate() {
                            @match t {
                                Some(v) => th.num data-col=(c.key) data-value=(v) { (shown(l, c.ty, &number_cell(c.ty, *v))) },
                                None => th { @if i == 0 { (l.t("Jumlah", "Total")) } },
                            }
                        }
                    } }
                }
            }
        }
    };
    Ok(ui::page(
        &s,
        Nav::Reports,
        p.kind.title(l),
        &format!("/office/reports?{qs}"),
        body,
    ))
}

fn numeric(ty: Ty) -> bool {
    matches!(ty, Ty::Int | Ty::Money | Ty::Qty)
}

fn number_cell(ty: Ty, v: i64) -> Cell {
    match ty {
        Ty::Money => Cell::Money(v),
        Ty::Qty => Cell::Qty(v),
        _ => Cell::Int(v),
    }
}

fn cell(l: Lang, c: &kinds::Column, v: &Cell) -> Markup {
    let value = v.number();
    html! {
        td class=[numeric(c.ty).then_some("num")] data-col=(c.key) data-value=[value] { (shown(l, c.ty, v)) }
    }
}

/// A cell as the page shows it.
fn shown(l: Lang, ty: Ty, v: &Cell) -> String {
    match v {
        Cell::Text(t) => t.clone().unwrap_or_else(|| "—".into()),
        Cell::Int(n) if ty == Ty::Int => ui::count(*n),
        Cell::Int(n) => n.to_string(),
        Cell::Money(m) => ui::rp(*m),
        Cell::Qty(q) => quantity(*q).replace('.', ","),
        Cell::Date(d) => ui::date(l, *d),
        Cell::Month(d) => d.format("%Y-%m").to_string(),
        Cell::DateTime(Some(t)) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
        Cell::DateTime(None) | Cell::Empty => "—".into(),
    }
}

/// Thousandths as a decimal: `1500` → `1.5`, `2000` → `2`.
pub fn quantity(milli: i64) -> String {
    let sign = if milli < 0 { "-" } else { "" };
    let (whole, frac) = (milli.unsigned_abs() / 1000, milli.unsigned_abs() % 1000);
    if frac == 0 {
        format!("{sign}{whole}")
    } else {
        let f = format!("{frac:03}");
        format!("{sign}{whole}.{}", f.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_as_decimals() {
        assert_eq!(quantity(1500), "1.5");
        assert_eq!(quantity(2000), "2");
        assert_eq!(quantity(125), "0.125");
        assert_eq!(quantity(-1010), "-1.01");
    }
}
