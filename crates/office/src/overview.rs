//! `GET /office?from=&to=`: per branch, today and a chosen period — net
//! sales, transactions, average basket, refunds, voids — and the sync health
//! of every device, with open alerts.

use axum::extract::State;
use axum::http::Uri;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use maud::{Markup, html};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use crate::Office;
use crate::audit::date_inputs;
use crate::auth::Session;
use crate::error::Result;
use crate::form::Form;
use crate::scope;
use crate::ui::{self, Lang, Nav};

/// One branch's figures over a stretch of business days.
#[derive(Clone, Debug, Default)]
pub struct Figures {
    pub code: String,
    pub name: String,
    pub sales_count: i64,
    pub voids_count: i64,
    pub gross: i64,
    pub discounts: i64,
    pub tax: i64,
    pub sales_total: i64,
    pub refunds_count: i64,
    pub refunds: i64,
}

impl Figures {
    pub fn net(&self) -> i64 {
        self.sales_total - self.refunds
    }

    /// Sale totals per sale that stands, rounded half up.
    pub fn average_basket(&self) -> i64 {
        if self.sales_count == 0 {
            0
        } else {
            (2 * self.sales_total + self.sales_count) / (2 * self.sales_count)
        }
    }
}

type FigRow = (String, String, i64, i64, i64, i64, i64, i64, i64, i64);

/// Per visible branch: today (in each branch's zone) when `today`, else the
/// business dates in `[from, to]`.
pub async fn figures(
    tx: &mut Transaction<'static, Postgres>,
    today: bool,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<Vec<Figures>> {
    // Sum the rollup per branch first, then join the branches: joining
    // first carries every rollup row through the join (docs/benchmarks.md,
    // "Head-office pages at 5 M sales"). Today is each branch's own date,
    // bounded by the earliest and latest of them so the date index applies.
    const SUMS: &str = "SELECT r.branch_id, sum(r.sales_count) AS sales_count,
                sum(r.voids_count) AS voids_count, sum(r.gross) AS gross,
                sum(r.discounts) AS discounts, sum(r.tax) - sum(r.refunds_tax) AS tax,
                sum(r.sales_total) AS sales_total, sum(r.refunds_count) AS refunds_count,
                sum(r.refunds_total) AS refunds_total
         FROM daily_rollup r";
    const OUTER: &str = "SELECT b.code, b.name,
                COALESCE(s.sales_count, 0)::bigint, COALESCE(s.voids_count, 0)::bigint,
                COALESCE(s.gross, 0)::bigint, COALESCE(s.discounts, 0)::bigint,
                COALESCE(s.tax, 0)::bigint, COALESCE(s.sales_total, 0)::bigint,
                COALESCE(s.refunds_count, 0)::bigint, COALESCE(s.refunds_total, 0)::bigint
         FROM branches b LEFT JOIN (";
    let rows: Vec<FigRow> = if today {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{OUTER}{SUMS} JOIN branches rb ON rb.branch_id = r.branch_id
               WHERE r.business_date = (now() AT TIME ZONE rb.timezone)::date
                 AND r.business_date BETWEEN
                     (SELECT min((now() AT TIME ZONE timezone)::date) FROM branches)
                     AND (SELECT max((now() AT TIME ZONE timezone)::date) FROM branches)
               GROUP BY r.branch_id) s ON s.branch_id = b.branch_id
             ORDER BY b.code"
        )))
        .fetch_all(&mut **tx)
        .await?
    } else {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{OUTER}{SUMS}
               WHERE ($1::date IS NULL OR r.business_date >= $1)
                 AND ($2::date IS NULL OR r.business_date <= $2)
               GROUP BY r.branch_id) s ON s.branch_id = b.branch_id
             ORDER BY b.code"
        )))
        .bind(from)
        .bind(to)
        .fetch_all(&mut **tx)
        .await?
    };
    Ok(rows
        .into_iter()
        .map(|r| Figures {
            code: r.0,
            name: r.1,
            sales_count: r.2,
            voids_count: r.3,
            gross: r.4,
            discounts: r.5,
            tax: r.6,
            sales_total: r.7,
            refunds_count: r.8,
            refunds: r.9,
        })
        .collect())
}

fn figures_table(l: Lang, id: &str, rows: &[Figures]) -> Markup {
    let total = rows.iter().fold(Figures::default(), |mut t, f| {
        t.sales_count += f.sales_count;
        t.voids_count += f.voids_count;
        t.sales_total += f.sales_total;
        t.refunds += f.refunds;
        t.refunds_count += f.refunds_count;
        t.gross += f.gross;
        t.discounts += f.discounts;
        t.tax += f.tax;
        t
    });
    let row = |f: &Figures, head: Markup| {
        html! {
            tr data-branch=(f.code) {
                (head)
                td.num data-figure="net" data-value=(f.net()) { (ui::rp(f.net())) }
                td.num data-figure="sales_count" data-value=(f.sales_count) { (ui::count(f.sales_count)) }
                td.num data-figure="average_basket" data-value=(f.average_basket()) { (ui::rp(f.average_basket())) }
                td.num data-figure="refunds" data-value=(f.refunds) { (ui::rp(f.refunds)) " " small.muted { "(" (f.refunds_count) ")" } }
                td.num data-figure="voids_count" data-value=(f.voids_count) { (ui::count(f.voids_count)) }
                td.num data-figure="gross" data-value=(f.gross) { (ui::rp(f.gross)) }
                td.num data-figure="discounts" data-value=(f.discounts) { (ui::rp(f.discounts)) }
                td.num data-figure="tax" data-value=(f.tax) { (ui::rp(f.tax)) }
            }
        }
    };
    html! {
        div.scroll {
            table id=(id) {
                thead { tr {
                    th { (l.t("Cabang", "Branch")) }
                    th.num { (l.t("Penjualan bersih", "Net sales")) }
                    th.num { (l.t("Transaksi", "Transactions")) }
                    th.num { (l.t("Rata-rata belanja", "Average basket")) }
                    th.num { (l.t("Retur (jumlah)", "Refunds (count)")) }
                    th.num { (l.t("Pembatalan", "Voids")) }
                    th.num { (l.t("Bruto", "Gross")) }
                    th.num { (l.t("Diskon", "Discounts")) }
                    th.num { (l.t("PPN", "Tax")) }
                } }
                tbody {
                    @for f in rows {
                        (row(f, html! { td { a href={ "/office/branches/" (f.code) } { (f.code) } " " span.muted { (f.name) } } }))
                    }
                }
                @if rows.len() > 1 {
                    tfoot { (row(&Figures { code: "*".into(), ..total.clone() }, html! { th { (l.t("Semua cabang", "All branches")) } })) }
                }
            }
        }
    }
}

/// code, device, kind, name, last seen, tip, reported, revoked, flagged,
/// flag reason, quarantined, refused, open forks.
type DeviceRow = (
    String,
    Uuid,
    String,
    String,
    Option<DateTime<Utc>>,
    i64,
    i64,
    bool,
    bool,
    Option<String>,
    i64,
    i64,
    i64,
);

/// branch, kind, device name, seq, raised, details.
type AlertRow = (
    String,
    String,
    String,
    i64,
    DateTime<Utc>,
    serde_json::Value,
);

pub async fn page(State(office): State<Office>, s: Session, uri: Uri) -> Result<Markup> {
    let q = Form::query(&uri)?;
    let l = s.lang;
    let tz = s.branches.first().map_or(chrono_tz::Tz::UTC, |b| b.tz);
    let today = Utc::now().with_timezone(&tz).date_naive();
    let from = match q.text("from") {
        Some(v) => Some(scope::parse_date(v)?),
        None => today.with_day(1),
    };
    let to = match q.text("to") {
        Some(v) => Some(scope::parse_date(v)?),
        None => Some(today),
    };
    let mut tx = scope::read(&office, &s).await?;
    let today_figs = figures(&mut tx, true, None, None).await?;
    let period_figs = figures(&mut tx, false, from, to).await?;
    let devices: Vec<DeviceRow> = sqlx::query_as(
        "SELECT b.code, d.device_id, d.kind, d.name, a.last_seen_at,
                COALESCE(h.seq, 0), GREATEST(COALESCE(a.reported_seq, 0), COALESCE(h.seq, 0)),
                d.revoked_at IS NOT NULL, d.flagged_at IS NOT NULL, d.flag_reason,
                COALESCE(al.quarantined, 0), COALESCE(al.refused, 0), COALESCE(cf.forks, 0)
         FROM devices d
         JOIN branches b ON b.branch_id = d.branch_id
         LEFT JOIN device_heads h ON h.branch_id = d.branch_id AND h.device_id = d.device_id
         LEFT JOIN device_activity a ON a.device_id = d.device_id
         LEFT JOIN LATERAL (
             SELECT count(*) FILTER (WHERE x.kind = 'quarantined') AS quarantined,
                    count(*) FILTER (WHERE x.kind = 'refused_entry') AS refused
             FROM alerts x WHERE x.branch_id = d.branch_id AND x.device_id = d.device_id) al ON true
         LEFT JOIN LATERAL (
             SELECT count(*) AS forks FROM conflicts c
             WHERE c.branch_id = d.branch_id AND c.device_id = d.device_id
               AND c.kind = 'fork' AND c.resolved_at IS NULL) cf ON true
         ORDER BY b.code, d.kind DESC, d.name, d.device_id",
    )
    .fetch_all(&mut *tx)
    .await?;
    let alerts: Vec<AlertRow> = sqlx::query_as(
        "SELECT b.code, x.kind, COALESCE(d.name, x.device_id::text), x.seq, x.raised_at, x.details
         FROM alerts x JOIN branches b ON b.branch_id = x.branch_id
         LEFT JOIN devices d ON d.device_id = x.device_id
         ORDER BY x.raised_at DESC LIMIT 20",
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let tz_of = |code: &str| s.branch(code).map_or(chrono_tz::Tz::UTC, |b| b.tz);
    let body = html! {
        section {
            h2 { (l.t("Hari ini", "Today")) " " span.muted { (ui::date(l, today)) } }
            (figures_table(l, "today", &today_figs))
        }
        section {
            h2 { (l.t("Periode", "Period")) }
            form.filters method="get" action="/office" {
                (date_inputs(l, from, to))
                button type="submit" { (l.t("Tampilkan", "Show")) }
            }
            (figures_table(l, "period", &period_figs))
        }
        section {
            h2 { (l.t("Kesehatan sinkronisasi", "Sync health")) }
            div.scroll {
                table #devices {
                    thead { tr {
                        th { (l.t("Cabang", "Branch")) } th { (l.t("Perangkat", "Device")) }
                        th { (l.t("Terakhir terlihat", "Last seen")) }
                        th.num { (l.t("Ujung rantai", "Chain tip")) }
                        th.num { (l.t("Belum terkirim", "Not delivered")) }
                        th { (l.t("Peringatan", "Alerts")) }
                    } }
                    tbody {
                        @for d in &devices {
                            @let undelivered = (d.6 - d.5).max(0);
                            tr data-device=(d.1) class=[(d.7 || d.8 || d.10 + d.11 + d.12 > 0 || undelivered > 0).then_some("warn")] {
                                td { (d.0) }
                                td { (d.3) " " small.muted { (if d.2 == "relay" { l.t("relay", "relay") } else { l.t("kasir", "till") }) } }
                                td { (d.4.map(|t| ui::datetime(l, t, tz_of(&d.0))).unwrap_or_else(|| l.t("belum pernah", "never").to_owned())) }
                                td.num { a href={ "/office/devices/" (d.1) "/verify" } title=(l.t("Periksa rantai", "Verify the chain")) { (d.5) } }
                                td.num data-figure="undelivered" { (undelivered) }
                                td {
                                    @if d.7 { span.badge.bad { (l.t("dicabut — entri ditahan", "revoked — entries parked")) } " " }
                                    @if d.8 { span.badge.bad title=(d.9.clone().unwrap_or_default()) { (l.t("ditandai — perlu ditinjau", "flagged — needs review")) } " " }
                                    @if d.12 > 0 { span.badge.bad { (d.12) " fork" } " " }
                                    @if d.11 > 0 { span.badge.bad { (d.11) " " (l.t("entri palsu ditolak", "forged entries refused")) } " " }
                                    @if d.10 > 0 { span.badge.warn { (d.10) " " (l.t("dikarantina", "quarantined")) } }
                                }
                            }
                        }
                    }
                }
            }
        }
        section {
            h2 { (l.t("Peringatan terbaru", "Recent alerts")) }
            @if alerts.is_empty() { p.muted { (l.t("Tidak ada peringatan.", "No alerts.")) } }
            @else {
                div.scroll { table #alerts {
                    thead { tr { th { (l.t("Waktu", "When")) } th { (l.t("Cabang", "Branch")) } th { (l.t("Jenis", "Kind")) } th { (l.t("Perangkat", "Device")) } th.num { "seq" } th { (l.t("Rincian", "Details")) } } }
                    tbody { @for a in &alerts { tr {
                        td { (ui::datetime(l, a.4, tz_of(&a.0))) } td { (a.0) } td { (alert_kind(l, &a.1)) } td { (a.2) } td.num { (a.3) } td.json { (a.5.to_string()) }
                    } } }
                } }
            }
        }
    };
    Ok(ui::page(
        &s,
        Nav::Overview,
        l.t("Ringkasan", "Overview"),
        "/office",
        body,
    ))
}

pub fn alert_kind(l: Lang, kind: &str) -> String {
    match kind {
        "quarantined" => l.t("entri dikarantina", "entry quarantined").into(),
        "refused_entry" => l
            .t(
                "entri palsu/diubah ditolak",
                "forged or altered entry refused",
            )
            .into(),
        "pin_locked_out" => l.t("PIN terkunci", "PIN locked out").into(),
        "clock_stepped_back" => l.t("jam mundur", "clock stepped back").into(),
        "master_data_refused" => l.t("data induk ditolak", "master data refused").into(),
        other => other.to_owned(),
    }
}
