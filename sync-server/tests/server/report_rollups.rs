//! The head-office reports by item, category, cashier and hour and the PPN
//! return read summaries (`item_daily_rollup`, `item_monthly_rollup`,
//! `item_yearly_rollup`, `cashier_…`, `tax_…`) that the folder fills from
//! the deltas ingest appends in each batch's transaction, plus the deltas
//! not folded yet. Here they must give exactly what the ledger's own rows
//! give — the reference queries below read `sales`, `sale_lines`, `refunds`
//! and `refund_lines` directly — before the deltas are folded and after,
//! whichever mix of years, months and days a period is read by, for
//! periods that are single days, whole months, whole months with odd days
//! on either side and whole years, after voids, refunds parked until their
//! sale arrived from another till, a refund whose sale never arrives, and
//! sales on both sides of a month's end. And
//! `sentra_rebuild_report_rollups`, which the migrations used to fill them
//! from an existing ledger, rebuilds the same summaries.

use crate::common;

use std::collections::BTreeMap;

use chrono::{Datelike, Months, NaiveDate, NaiveTime, TimeZone as _, Utc};
use chrono_tz::Asia::Jakarta;
use common::{Device, Server};
use sentra_office::reports::kinds::{self, Kind};
use sentra_protocol::payload::{
    RefundIssued, RefundLine, SaleCompleted, SaleLine, SaleVoided, ShiftOpened, TenderRecord,
};
use sentra_protocol::wire::DeviceKind;
use sqlx::AssertSqlSafe;
use uuid::Uuid;

/// An inclusive line at `rate` %: tax = round(net × r / (100 + r)).
fn line(no: u32, sku: &str, rate: i64, qty: i64, price: i64, disc: i64) -> SaleLine {
    let gross = price * qty;
    let net = gross - disc;
    SaleLine {
        line_no: no,
        sku: sku.into(),
        name: format!("Barang {sku}"),
        quantity_milli: qty * 1000,
        unit_price: price,
        tax_category: "standard".into(),
        tax_rate: rate.to_string(),
        discount: None,
        gross,
        line_discount: disc,
        cart_discount_share: 0,
        net,
        tax: (2 * net * rate + 100 + rate) / (2 * (100 + rate)),
        total: net,
    }
}

fn sale(receipt: &str, shift: Uuid, cashier: Option<&str>, lines: Vec<SaleLine>) -> SaleCompleted {
    let total: i64 = lines.iter().map(|l| l.total).sum();
    SaleCompleted {
        receipt_no: receipt.into(),
        shift_id: shift,
        currency: "IDR".into(),
        tax_mode: "inclusive".into(),
        gross: lines.iter().map(|l| l.gross).sum(),
        discounts: lines.iter().map(|l| l.line_discount).sum(),
        tax: lines.iter().map(|l| l.tax).sum(),
        total,
        lines,
        cart_discount: None,
        tenders: vec![TenderRecord {
            method: "cash".into(),
            amount: total,
            reference: None,
        }],
        paid: total,
        change: 0,
        cashier: cashier.map(str::to_owned),
        discount_approved_by: None,
    }
}

fn refund(no: &str, receipt: &str, sale: Option<Uuid>, shift: Uuid, l: &SaleLine) -> RefundIssued {
    RefundIssued {
        refund_no: no.into(),
        receipt_no: receipt.into(),
        sale_entry_id: sale,
        shift_id: shift,
        lines: vec![RefundLine {
            line_no: l.line_no,
            sku: l.sku.clone(),
            quantity_milli: l.quantity_milli,
            amount: l.total,
            tax: l.tax,
        }],
        total: l.total,
        tax: l.tax,
        method: "cash".into(),
        reason: Some("rusak".into()),
        unverified: false,
    }
}

/// Local wall time in Jakarta as the device's clock (ms).
fn at(d: NaiveDate, h: u32, m: u32) -> u64 {
    let t = NaiveTime::from_hms_opt(h, m, 0).expect("time");
    Jakarta
        .from_local_datetime(&d.and_time(t))
        .single()
        .expect("local time")
        .timestamp_millis() as u64
}

async fn push(s: &Server, d: &Device, entries: &[sentra_protocol::Entry]) {
    let (status, body) = s.push(&d.credential, entries, None).await;
    assert_eq!(status, 200, "{body}");
    for k in ["refused", "quarantined"] {
        assert!(body[k].as_array().is_none_or(Vec::is_empty), "{body}");
    }
}

/// The queries the reports ran before the summaries: every line and sale of
/// the period, `$1` branch ids, `$2`–`$3` the period.
const REFERENCE_ITEMS: &str = "
WITH x AS (
    SELECT l.sku, l.name, l.quantity_milli AS qty, l.gross,
           l.line_discount + l.cart_discount_share AS disc, l.net, l.tax, l.total,
           0::bigint AS rqty, 0::bigint AS ramount, 0::bigint AS rtax
    FROM sales s
    JOIN sale_lines l ON l.branch_id = s.branch_id AND l.sale_entry_id = s.entry_id
    WHERE s.branch_id = ANY($1) AND s.business_date BETWEEN $2 AND $3 AND s.voided_by IS NULL
    UNION ALL
    SELECT rl.sku, NULL, 0, 0, 0, 0, 0, 0, rl.quantity_milli, rl.amount, rl.tax
    FROM refunds r
    JOIN refund_lines rl ON rl.branch_id = r.branch_id AND rl.refund_entry_id = r.entry_id
    WHERE r.branch_id = ANY($1) AND r.business_date BETWEEN $2 AND $3
), g AS (
    SELECT sku, max(name) AS name, sum(qty)::bigint AS qty, sum(gross)::bigint AS gross,
           sum(disc)::bigint AS disc, sum(net)::bigint AS net, sum(tax)::bigint AS tax,
           sum(total)::bigint AS total, sum(rqty)::bigint AS rqty,
           sum(ramount)::bigint AS ramount, sum(rtax)::bigint AS rtax
    FROM x GROUP BY sku
)
SELECT g.sku, COALESCE(p.name, g.name), p.category, g.qty, g.gross, g.disc, g.net, g.tax,
       g.total, g.rqty, g.ramount, g.rtax, g.total - g.ramount
FROM g LEFT JOIN products p ON p.sku = g.sku";

const REFERENCE_CATEGORIES: &str = "
WITH x AS (
    SELECT l.sku, l.quantity_milli AS qty, l.gross,
           l.line_discount + l.cart_discount_share AS disc, l.net, l.tax, l.total,
           0::bigint AS ramount, 0::bigint AS rtax
    FROM sales s
    JOIN sale_lines l ON l.branch_id = s.branch_id AND l.sale_entry_id = s.entry_id
    WHERE s.branch_id = ANY($1) AND s.business_date BETWEEN $2 AND $3 AND s.voided_by IS NULL
    UNION ALL
    SELECT rl.sku, 0, 0, 0, 0, 0, 0, rl.amount, rl.tax
    FROM refunds r
    JOIN refund_lines rl ON rl.branch_id = r.branch_id AND rl.refund_entry_id = r.entry_id
    WHERE r.branch_id = ANY($1) AND r.business_date BETWEEN $2 AND $3
), g AS (
    SELECT sku, sum(qty) AS qty, sum(gross) AS gross, sum(disc) AS disc, sum(net) AS net,
           sum(tax) AS tax, sum(total) AS total, sum(ramount) AS ramount, sum(rtax) AS rtax
    FROM x GROUP BY sku
)
SELECT COALESCE(p.category, '—'), sum(g.qty)::bigint, sum(g.gross)::bigint, sum(g.disc)::bigint,
       sum(g.net)::bigint, sum(g.tax)::bigint, sum(g.total)::bigint, sum(g.ramount)::bigint,
       sum(g.rtax)::bigint, (sum(g.total) - sum(g.ramount))::bigint
FROM g LEFT JOIN products p ON p.sku = g.sku
GROUP BY 1";

const REFERENCE_CASHIERS: &str = "
WITH x AS (
    SELECT s.cashier, (s.voided_by IS NULL)::int AS n, (s.voided_by IS NOT NULL)::int AS v,
           CASE WHEN s.voided_by IS NULL THEN s.gross ELSE 0 END AS gross,
           CASE WHEN s.voided_by IS NULL THEN s.discounts ELSE 0 END AS disc,
           CASE WHEN s.voided_by IS NULL THEN s.tax ELSE 0 END AS tax,
           CASE WHEN s.voided_by IS NULL THEN s.total ELSE 0 END AS total,
           0 AS rn, 0::bigint AS ramount
    FROM sales s
    WHERE s.branch_id = ANY($1) AND s.business_date BETWEEN $2 AND $3
    UNION ALL
    SELECT sh.cashier, 0, 0, 0, 0, 0, 0, 1, r.total
    FROM refunds r
    LEFT JOIN shifts sh ON sh.branch_id = r.branch_id AND sh.shift_id = r.shift_id
    WHERE r.branch_id = ANY($1) AND r.business_date BETWEEN $2 AND $3
)
SELECT COALESCE(cashier, '—'), sum(n)::bigint, sum(gross)::bigint, sum(disc)::bigint,
       sum(tax)::bigint, sum(total)::bigint, sum(v)::bigint, sum(rn)::bigint,
       sum(ramount)::bigint
FROM x GROUP BY 1";

const REFERENCE_HOURS: &str = "
SELECT extract(hour FROM s.occurred_at AT TIME ZONE b.timezone)::bigint AS h, count(*)::bigint,
       sum(s.gross)::bigint, sum(s.discounts)::bigint, sum(s.tax)::bigint, sum(s.total)::bigint
FROM sales s JOIN branches b ON b.branch_id = s.branch_id
WHERE s.branch_id = ANY($1) AND s.business_date BETWEEN $2 AND $3 AND s.voided_by IS NULL
GROUP BY 1";

const REFERENCE_PPN: &str = "
WITH x AS (
    SELECT s.branch_id, date_trunc('month', s.business_date)::date AS month, l.tax_rate AS rate,
           l.total AS incl, l.tax
    FROM sales s
    JOIN sale_lines l ON l.branch_id = s.branch_id AND l.sale_entry_id = s.entry_id
    WHERE s.branch_id = ANY($1) AND s.business_date BETWEEN $2 AND $3 AND s.voided_by IS NULL
    UNION ALL
    SELECT r.branch_id, date_trunc('month', r.business_date)::date,
           COALESCE(sl.tax_rate, pt.rate, '0'), -rl.amount, -rl.tax
    FROM refunds r
    JOIN refund_lines rl ON rl.branch_id = r.branch_id AND rl.refund_entry_id = r.entry_id
    LEFT JOIN sale_lines sl ON sl.branch_id = r.branch_id AND sl.sale_entry_id = r.sale_entry_id
                           AND sl.line_no = rl.line_no
    LEFT JOIN products p ON p.sku = rl.sku
    LEFT JOIN tax_rates pt ON pt.category = p.tax_category
    WHERE r.branch_id = ANY($1) AND r.business_date BETWEEN $2 AND $3
), g AS (
    SELECT branch_id, month, rate, sum(incl)::bigint AS incl, sum(tax)::bigint AS tax
    FROM x GROUP BY 1, 2, 3
)
SELECT b.code, g.month, COALESCE(t.category, 'rate ' || g.rate), g.rate, g.incl, g.tax,
       COALESCE(t.dpp_numerator, 1)::bigint, COALESCE(t.dpp_denominator, 1)::bigint, t.rule
FROM g
JOIN branches b ON b.branch_id = g.branch_id
LEFT JOIN LATERAL (SELECT * FROM tax_rates t
                   WHERE t.rate ~ '^[0-9.]+$' AND g.rate ~ '^[0-9.]+$'
                     AND t.rate::numeric = g.rate::numeric
                   ORDER BY t.category LIMIT 1) t ON true";

/// A query's rows as text, sorted (row order is the page's business, not
/// the figures').
async fn rows_of(pool: &sqlx::PgPool, sql: &str, binds: &[NaiveDate], ids: &[i32]) -> Vec<String> {
    let wrapped = format!("SELECT q::text FROM ({sql}) q");
    let mut q = sqlx::query_scalar::<_, String>(AssertSqlSafe(wrapped)).bind(ids.to_vec());
    for d in binds {
        q = q.bind(*d);
    }
    let mut rows = q.fetch_all(pool).await.expect("report query");
    rows.sort();
    rows
}

/// The summaries' rows that hold anything, as text.
async fn summaries(pool: &sqlx::PgPool) -> BTreeMap<&'static str, Vec<String>> {
    let mut out = BTreeMap::new();
    for (table, sql) in [
        (
            "item_daily_rollup",
            "SELECT r::text FROM item_daily_rollup r
             WHERE lines <> 0 OR quantity_milli <> 0 OR total <> 0 OR refunds <> 0",
        ),
        (
            "item_monthly_rollup",
            "SELECT r::text FROM item_monthly_rollup r
             WHERE lines <> 0 OR quantity_milli <> 0 OR total <> 0 OR refunds <> 0",
        ),
        (
            "item_yearly_rollup",
            "SELECT r::text FROM item_yearly_rollup r
             WHERE lines <> 0 OR quantity_milli <> 0 OR total <> 0 OR refunds <> 0",
        ),
        (
            "tax_daily_rollup",
            "SELECT r::text FROM tax_daily_rollup r
             WHERE lines <> 0 OR total <> 0 OR refunds <> 0",
        ),
        (
            "tax_monthly_rollup",
            "SELECT r::text FROM tax_monthly_rollup r
             WHERE lines <> 0 OR total <> 0 OR refunds <> 0",
        ),
        (
            "cashier_daily_rollup",
            "SELECT r::text FROM cashier_daily_rollup r
             WHERE sales_count <> 0 OR voids_count <> 0 OR refunds_count <> 0",
        ),
        (
            "cashier_monthly_rollup",
            "SELECT r::text FROM cashier_monthly_rollup r
             WHERE sales_count <> 0 OR voids_count <> 0 OR refunds_count <> 0",
        ),
    ] {
        let mut rows: Vec<String> = sqlx::query_scalar(sql)
            .fetch_all(pool)
            .await
            .expect("summaries");
        rows.sort();
        out.insert(table, rows);
    }
    out
}

#[tokio::test]
async fn summaries_give_what_the_ledger_rows_give_for_any_period() {
    // The folder is left to the test, which folds the deltas itself.
    let s = Server::start_folding(
        common::default_rules(),
        std::time::Duration::from_secs(3600),
        Default::default(),
        std::time::Duration::from_secs(3600),
    )
    .await;
    let jkt = s.branch("JKT01").await;
    let bdg = s.branch("BDG01").await;
    sqlx::query(
        "INSERT INTO products (sku, name, tax_category, category) VALUES
           ('KOPI', 'Kopi bubuk', 'standard', 'Minuman'),
           ('ROTI', 'Roti tawar', 'standard', 'Roti'),
           ('PARFUM', 'Parfum', 'luxury', 'Kosmetik'),
           ('BERAS', 'Beras 5 kg', 'exempt', 'Sembako')",
    )
    .execute(&s.pool)
    .await
    .expect("products");

    // The first of the month two months back, and the day before it.
    let today = Utc::now().with_timezone(&Jakarta).date_naive();
    let m = (today - Months::new(2)).with_day(1).expect("first");
    let d1 = m.pred_opt().expect("day before");
    let next = m + Months::new(1);

    let mut a = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let mut b = s.enroll("JKT01", DeviceKind::Terminal, 2).await;
    let mut c = s.enroll("BDG01", DeviceKind::Terminal, 3).await;
    let (sa, sb, sc) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let mut ea = Vec::new();
    a.wall_ms = at(d1, 21, 0);
    ea.push(a.entry(&ShiftOpened {
        shift_id: sa,
        opening_float: 100_000,
        cashier: Some("Siti".into()),
    }));
    // KOPI rung at 12 % (the till held an old class): a refund of it is
    // filed at the rate of the line refunded once its sale is known.
    let a1 = sale(
        "A-1",
        sa,
        Some("Siti"),
        vec![
            line(1, "KOPI", 12, 2, 27_750, 0),
            line(2, "PARFUM", 12, 1, 112_000, 0),
        ],
    );
    a.wall_ms = at(d1, 23, 30);
    let e_a1 = a.entry(&a1);
    ea.push(e_a1.clone());
    let a2 = sale(
        "A-2",
        sa,
        Some("Siti"),
        vec![
            line(1, "ROTI", 11, 1, 10_000, 0),
            line(2, "BERAS", 0, 2, 10_000, 0),
        ],
    );
    a.wall_ms = at(m, 0, 30);
    let e_a2 = a.entry(&a2);
    ea.push(e_a2.clone());
    let a3 = sale(
        "A-3",
        sa,
        Some("Rina"),
        vec![line(1, "KOPI", 11, 1, 27_750, 2_750)],
    );
    a.wall_ms = at(m, 0, 40);
    let e_a3 = a.entry(&a3);
    ea.push(e_a3.clone());
    a.wall_ms = at(m, 0, 45);
    ea.push(a.entry(&SaleVoided {
        receipt_no: a3.receipt_no.clone(),
        sale_entry_id: e_a3.id,
        shift_id: sa,
        total: a3.total,
        reason: Some("salah input".into()),
    }));
    a.wall_ms = at(next + chrono::Days::new(2), 15, 0);
    ea.push(a.entry(&sale(
        "A-4",
        sa,
        Some("Siti"),
        vec![line(1, "KOPI", 11, 3, 27_750, 0)],
    )));
    a.wall_ms = at(next + chrono::Days::new(2), 15, 10);
    ea.push(a.entry(&refund("A-RF-1", "A-2", Some(e_a2.id), sa, &a2.lines[0])));

    let mut eb = Vec::new();
    b.wall_ms = at(m, 8, 0);
    eb.push(b.entry(&ShiftOpened {
        shift_id: sb,
        opening_float: 50_000,
        cashier: Some("Andi".into()),
    }));
    // Pushed before A's sales: parked until A-1 arrives.
    b.wall_ms = at(m, 9, 0);
    eb.push(b.entry(&refund("B-RF-1", "A-1", Some(e_a1.id), sb, &a1.lines[0])));
    // A sale that never reaches the cloud, of an item it does not know.
    b.wall_ms = at(m, 9, 30);
    eb.push(b.entry(&refund(
        "B-RF-2",
        "ELSEWHERE-9",
        None,
        sb,
        &line(1, "GULA", 11, 1, 15_000, 0),
    )));
    b.wall_ms = at(m, 10, 0);
    eb.push(b.entry(&sale(
        "B-1",
        sb,
        None,
        vec![
            line(1, "ROTI", 11, 2, 10_000, 1_000),
            line(2, "KOPI", 11, 1, 27_750, 0),
        ],
    )));

    let mut ec = Vec::new();
    c.wall_ms = at(m, 12, 0);
    ec.push(c.entry(&ShiftOpened {
        shift_id: sc,
        opening_float: 0,
        cashier: Some("Siti".into()),
    }));
    c.wall_ms = at(m, 13, 0);
    ec.push(c.entry(&sale(
        "C-1",
        sc,
        Some("Siti"),
        vec![line(1, "KOPI", 11, 1, 27_750, 0)],
    )));

    push(&s, &b, &eb).await;
    push(&s, &c, &ec).await;
    push(&s, &a, &ea).await;
    let linked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM refunds WHERE refund_no = 'B-RF-1' AND sale_entry_id IS NOT NULL",
    )
    .fetch_one(&s.pool)
    .await
    .expect("linked");
    assert_eq!(linked, 1, "the parked refund found its sale");

    let month_end = next.pred_opt().expect("month end");
    let year = today.with_ordinal(1).expect("1 January");
    let periods = [
        (d1, d1),
        (m, m),
        (d1, m),
        (m, month_end),
        (m + chrono::Days::new(5), month_end),
        (d1, next + chrono::Days::new(2)),
        (next, next + chrono::Days::new(2)),
        (d1.with_day(1).expect("first"), today),
        (year, today),
        (today - chrono::Days::new(364), today),
        (
            year - Months::new(12),
            year + Months::new(12) - chrono::Days::new(1),
        ),
    ];
    // Each "today" makes a different cover the cheapest: far back, every
    // unit is free and the coarsest win; far ahead, none is.
    let todays = [
        today.succ_opt().expect("tomorrow"),
        NaiveDate::from_ymd_opt(2000, 1, 1).expect("date"),
        NaiveDate::from_ymd_opt(2100, 1, 1).expect("date"),
    ];
    let pending = |pool: sqlx::PgPool| async move {
        sqlx::query_scalar::<_, i64>(
            "SELECT (SELECT count(*) FROM item_rollup_delta)
                  + (SELECT count(*) FROM cashier_rollup_delta)",
        )
        .fetch_one(&pool)
        .await
        .expect("deltas")
    };
    assert!(pending(s.pool.clone()).await > 0, "the pushes left deltas");
    for folded in [false, true] {
        if folded {
            let n = sentra_sync::ingest::summaries::fold(&s.pool)
                .await
                .expect("fold");
            assert!(n > 0, "folded {n} deltas");
            assert_eq!(pending(s.pool.clone()).await, 0, "all folded");
        }
        let mut compared = 0;
        let mut covers = std::collections::BTreeSet::new();
        for (from, to) in periods {
            for ids in [vec![jkt], vec![jkt, bdg]] {
                for (kind, reference) in [
                    (Kind::Items, REFERENCE_ITEMS),
                    (Kind::Categories, REFERENCE_CATEGORIES),
                    (Kind::Cashiers, REFERENCE_CASHIERS),
                    (Kind::Hours, REFERENCE_HOURS),
                    (Kind::Ppn, REFERENCE_PPN),
                ] {
                    let want = rows_of(&s.pool, reference, &[from, to], &ids).await;
                    for t in todays {
                        let (sql, dates) = kinds::statement(kind, from, to, t);
                        covers.insert(sql.clone());
                        let got = rows_of(&s.pool, &sql, &dates, &ids).await;
                        assert_eq!(
                            got, want,
                            "{kind:?} from {from} to {to} as of {t}, branches {ids:?}, \
                             folded {folded}:\n{sql}"
                        );
                    }
                    compared += want.len();
                }
            }
        }
        assert!(compared > 100, "the periods hold figures ({compared} rows)");
        assert!(covers.len() > 40, "{} different statements", covers.len());
    }

    // Rebuilt from the ledger rows, the summaries are the same.
    let kept = summaries(&s.pool).await;
    assert!(kept.values().all(|r| !r.is_empty()), "{kept:?}");
    sqlx::query("SELECT sentra_rebuild_report_rollups(branch_id) FROM branches")
        .execute(&s.pool)
        .await
        .expect("rebuild");
    assert_eq!(summaries(&s.pool).await, kept);
    s.stop().await;
}

/// The folder every server runs moves the pushed sums into the summaries by
/// itself, and two folders at once (two servers on one database) neither
/// count a delta twice nor lose one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_s_folder_folds_the_pushed_sums() {
    let s = Server::start_folding(
        common::default_rules(),
        std::time::Duration::from_secs(3600),
        Default::default(),
        std::time::Duration::from_millis(50),
    )
    .await;
    s.branch("JKT01").await;
    let mut a = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let today = Utc::now().with_timezone(&Jakarta).date_naive();
    let shift = Uuid::now_v7();
    a.wall_ms = at(today, 0, 10);
    let mut entries = vec![a.entry(&ShiftOpened {
        shift_id: shift,
        opening_float: 0,
        cashier: Some("Siti".into()),
    })];
    for i in 0..20 {
        entries.push(a.entry(&sale(
            &format!("A-{i}"),
            shift,
            Some("Siti"),
            vec![line(1, "KOPI", 11, 1 + i, 27_750, 0)],
        )));
    }
    // Folds by hand race the server's folder while the batch arrives.
    let racing = {
        let pool = s.pool.clone();
        tokio::spawn(async move {
            let mut folded = 0;
            for _ in 0..40 {
                folded += sentra_sync::ingest::summaries::fold(&pool)
                    .await
                    .expect("fold");
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            folded
        })
    };
    push(&s, &a, &entries).await;
    racing.await.expect("racing folds");

    // Poll until the server's folder has emptied the deltas (never a fixed
    // sleep: the folder runs every 50 ms).
    let mut left = i64::MAX;
    for _ in 0..400 {
        left = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM item_rollup_delta)
                  + (SELECT count(*) FROM cashier_rollup_delta)",
        )
        .fetch_one(&s.pool)
        .await
        .expect("deltas");
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(left, 0, "the folder emptied the deltas");
    let (lines, qty, sales): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT sum(lines)::bigint FROM item_yearly_rollup),
                (SELECT sum(quantity_milli)::bigint FROM item_daily_rollup),
                (SELECT sum(sales_count)::bigint FROM cashier_monthly_rollup)",
    )
    .fetch_one(&s.pool)
    .await
    .expect("folded sums");
    assert_eq!(lines, 20, "each line counted once");
    assert_eq!(qty, (1..=20).sum::<i64>() * 1000);
    assert_eq!(sales, 20);
    s.stop().await;
}

/// Making a branch's partitions while folders run deadlocked once (each
/// locks the partitioned tables in its own order); now neither waits on
/// the other in a cycle, and every branch is made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branches_are_made_while_the_summaries_are_folded() {
    let s = Server::start_folding(
        common::default_rules(),
        std::time::Duration::from_secs(3600),
        Default::default(),
        std::time::Duration::from_millis(1),
    )
    .await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let folders: Vec<_> = (0..2)
        .map(|_| {
            let (pool, stop) = (s.pool.clone(), stop.clone());
            tokio::spawn(async move {
                let mut folds = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    sentra_sync::ingest::summaries::fold(&pool)
                        .await
                        .expect("a fold never deadlocks");
                    folds += 1;
                }
                folds
            })
        })
        .collect();
    for i in 0..15 {
        s.branch(&format!("B{i:02}")).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for f in folders {
        assert!(f.await.expect("folder") > 0);
    }
    s.stop().await;
}
