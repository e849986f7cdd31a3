//! `GET /office/branches/{code}?from=&to=`: a branch's ledger day by day
//! (from the daily rollup), its shifts with cash variances, and charts of
//! sales by day and by hour. Default period: this month in the branch's zone.

use axum::extract::{Path, State};
use axum::http::Uri;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use maud::{Markup, html};
use uuid::Uuid;

use crate::Office;
use crate::audit::date_inputs;
use crate::auth::Session;
use crate::error::{OfficeError, Result};
use crate::form::Form;
use crate::scope;
use crate::ui::{self, Nav};

/// date, sales, voids, gross, discounts, refunds, tax, net, cash, card, qris, voucher.
type DayRow = (
    NaiveDate,
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

/// shift, cashier, till, opened, closed, float, expected, counted, variance.
type ShiftRow = (
    Uuid,
    Option<String>,
    Option<String>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

pub async fn page(
    State(office): State<Office>,
    s: Session,
    Path(code): Path<String>,
    uri: Uri,
) -> Result<Markup> {
    let l = s.lang;
    let branch = s.branch(&code).cloned().ok_or(OfficeError::NotFound)?;
    let q = Form::query(&uri)?;
    let today = Utc::now().with_timezone(&branch.tz).date_naive();
    let from = match q.text("from") {
        Some(v) => scope::parse_date(v)?,
        None => today.with_day(1).unwrap_or(today),
    };
    let to = match q.text("to") {
        Some(v) => scope::parse_date(v)?,
        None => today,
    };
    let tz_name = branch.tz.name().to_owned();
    let mut tx = scope::read(&office, &s).await?;
    let days: Vec<DayRow> = sqlx::query_as(
        "SELECT business_date, sum(sales_count)::bigint, sum(voids_count)::bigint, sum(gross)::bigint,
                sum(discounts)::bigint, sum(refunds_total)::bigint,
                (sum(tax) - sum(refunds_tax))::bigint, (sum(sales_total) - sum(refunds_total))::bigint,
                sum(cash)::bigint, sum(card)::bigint, sum(qris)::bigint, sum(voucher)::bigint
         FROM daily_rollup
         WHERE branch_id = $1 AND business_date BETWEEN $2 AND $3
         GROUP BY business_date ORDER BY business_date",
    )
    .bind(branch.id)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *tx)
    .await?;
    let shifts: Vec<ShiftRow> = sqlx::query_as(
        "SELECT s.shift_id, s.cashier, d.name, s.opened_at, s.closed_at, s.opening_float,
                s.expected_cash, s.counted_cash, s.variance
         FROM shifts s LEFT JOIN devices d ON d.device_id = s.device_id
         WHERE s.branch_id = $1
           AND s.opened_at >= ($2::date)::timestamp AT TIME ZONE $4
           AND s.opened_at < ($3::date + 1)::timestamp AT TIME ZONE $4
         ORDER BY s.opened_at DESC LIMIT 500",
    )
    .bind(branch.id)
    .bind(from)
    .bind(to)
    .bind(&tz_name)
    .fetch_all(&mut *tx)
    .await?;
    let hours: Vec<(i32, i64, i64)> = sqlx::query_as(
        "SELECT extract(hour FROM occurred_at AT TIME ZONE $4)::int, count(*)::bigint, sum(total)::bigint
         FROM sales
         WHERE branch_id = $1 AND business_date BETWEEN $2 AND $3 AND voided_by IS NULL
         GROUP BY 1 ORDER BY 1",
    )
    .bind(branch.id)
    .bind(from)
    .bind(to)
    .bind(&tz_name)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;

    let mut by_hour = vec![0f64; 24];
    for (h, _, total) in &hours {
        if let Some(slot) = by_hour.get_mut(*h as usize) {
            *slot = *total as f64;
        }
    }
    let day_labels: Vec<String> = days.iter().map(|d| ui::date(l, d.0)).collect();
    let day_values: Vec<f64> = days.iter().map(|d| d.7 as f64).collect();
    let hour_labels: Vec<String> = (0..24).map(|h| format!("{h:02}")).collect();
    let sum = |f: fn(&DayRow) -> i64| days.iter().map(f).sum::<i64>();
    let threshold = office.config.variance_threshold;
    let title = format!("{} — {}", branch.code, branch.name);
    let body = html! {
        form.filters method="get" action={ "/office/branches/" (branch.code) } {
            (date_inputs(l, Some(from), Some(to)))
            button type="submit" { (l.t("Tampilkan", "Show")) }
            span.muted { (l.t("Zona waktu", "Time zone")) ": " (tz_name) }
        }
        div.charts {
            (ui::bar_chart("chart-days", l.t("Penjualan bersih per hari", "Net sales by day"), &day_labels, &day_values))
            (ui::bar_chart("chart-hours", l.t("Penjualan per jam", "Sales by hour"), &hour_labels, &by_hour))
        }
        h2 { (l.t("Per hari", "Day by day")) }
        div.scroll {
            table #days {
                thead { tr {
                    th { (l.t("Tanggal", "Date")) } th.num { (l.t("Penjualan", "Sales")) } th.num { (l.t("Batal", "Voids")) }
                    th.num { (l.t("Bruto", "Gross")) } th.num { (l.t("Diskon", "Discounts")) } th.num { (l.t("Retur", "Refunds")) }
                    th.num { (l.t("PPN", "Tax")) } th.num { (l.t("Bersih", "Net")) }
                    th.num { (l.t("Tunai", "Cash")) } th.num { (l.t("Kartu", "Card")) } th.num { "QRIS" } th.num { "Voucher" }
                } }
                tbody {
                    @for d in &days {
                        tr data-date=(d.0) {
                            td { (ui::date(l, d.0)) } td.num { (ui::count(d.1)) } td.num { (ui::count(d.2)) }
                            td.num { (ui::rp(d.3)) } td.num { (ui::rp(d.4)) } td.num { (ui::rp(d.5)) }
                            td.num { (ui::rp(d.6)) } td.num data-figure="net" { (ui::rp(d.7)) }
                            td.num { (ui::rp(d.8)) } td.num { (ui::rp(d.9)) } td.num { (ui::rp(d.10)) } td.num { (ui::rp(d.11)) }
                        }
                    }
                    @if days.is_empty() { tr { td colspan="12" { (l.t("Belum ada penjualan pada periode ini.", "No sales in this period.")) } } }
                }
                tfoot { tr {
                    th { (l.t("Jumlah", "Total")) } th.num { (ui::count(sum(|d| d.1))) } th.num { (ui::count(sum(|d| d.2))) }
                    th.num { (ui::rp(sum(|d| d.3))) } th.num { (ui::rp(sum(|d| d.4))) } th.num { (ui::rp(sum(|d| d.5))) }
                    th.num { (ui::rp(sum(|d| d.6))) } th.num data-figure="net-total" { (ui::rp(sum(|d| d.7))) }
                    th.num { (ui::rp(sum(|d| d.8))) } th.num { (ui::rp(sum(|d| d.9))) } th.num { (ui::rp(sum(|d| d.10))) } th.num { (ui::rp(sum(|d| d.11))) }
                } }
            }
        }
        h2 { (l.t("Shift", "Shifts")) }
        p.muted { (l.t("Selisih kas melebihi ", "Cash variances beyond ")) (ui::rp(threshold)) (l.t(" ditandai.", " are highlighted.")) }
        div.scroll {
            table #shifts {
                thead { tr {
                    th { (l.t("Kasir", "Cashier")) } th { (l.t("Mesin kasir", "Till")) } th { (l.t("Buka", "Opened")) } th { (l.t("Tutup", "Closed")) }
                    th.num { (l.t("Modal awal", "Opening float")) } th.num { (l.t("Kas seharusnya", "Expected cash")) }
                    th.num { (l.t("Kas dihitung", "Counted cash")) } th.num { (l.t("Selisih", "Variance")) }
                } }
                tbody {
                    @for sh in &shifts {
                        @let over = sh.8.is_some_and(|v| v.abs() > threshold);
                        tr data-shift=(sh.0) class=[over.then_some("warn")] {
                            td { (sh.1.clone().unwrap_or_else(|| "—".into())) }
                            td { (sh.2.clone().unwrap_or_else(|| "—".into())) }
                            td { (ui::datetime(l, sh.3, branch.tz)) }
                            td { (sh.4.map(|t| ui::datetime(l, t, branch.tz)).unwrap_or_else(|| l.t("masih buka", "still open").into())) }
                            td.num { (ui::rp(sh.5)) }
                            td.num { (sh.6.map(ui::rp).unwrap_or_else(|| "—".into())) }
                            td.num { (sh.7.map(ui::rp).unwrap_or_else(|| "—".into())) }
                            td.num.variance { (sh.8.map(ui::rp).unwrap_or_else(|| "—".into())) @if over { " ⚠" } }
                        }
                    }
                    @if shifts.is_empty() { tr { td colspan="8" { (l.t("Tidak ada shift.", "No shifts.")) } } }
                }
            }
        }
    };
    Ok(ui::page(
        &s,
        Nav::Branch,
        &title,
        &format!("/office/branches/{}", branch.code),
        body,
    ))
}
