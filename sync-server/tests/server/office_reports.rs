//! Head-office reports and exports over real HTTP against a real server on
//! a real PostgreSQL, from real signed sales: every export's totals equal
//! `sentra-sync ledger` for the same branch and period, the XLSX files read
//! back (calamine) to the same numbers as the CSV, the PPN return matches
//! figures worked by hand from the money rules (ordinary, luxury, exempt
//! goods), a manager cannot report on another branch, and every export is
//! in the audit log.

use crate::common;

use std::collections::BTreeMap;

use calamine::{Data, Reader as _, Xlsx};
use chrono::{Duration, NaiveDate, Utc};
use common::office::{OfficeClient, add_user};
use common::{Device, Server};
use sentra_protocol::payload::{
    RefundIssued, RefundLine, SaleCompleted, SaleLine, SaleVoided, ShiftClosed, ShiftOpened,
    ShiftTotals, TenderRecord,
};
use sentra_protocol::wire::DeviceKind;
use uuid::Uuid;

const PW: &str = "a-long-password-1";

/// round(a × num / den), half away from zero, for positive amounts (rule 1).
fn round_div(a: i64, num: i64, den: i64) -> i64 {
    (2 * a * num + den) / (2 * den)
}

/// An inclusive line (rule 6): tax = round(net × r / (100 + r)).
fn line(no: u32, sku: &str, cat: &str, rate: i64, qty: i64, price: i64, disc: i64) -> SaleLine {
    let gross = price * qty;
    let net = gross - disc;
    SaleLine {
        line_no: no,
        sku: sku.into(),
        name: format!("Barang {sku}"),
        quantity_milli: qty * 1000,
        unit_price: price,
        tax_category: cat.into(),
        tax_rate: rate.to_string(),
        discount: None,
        gross,
        line_discount: disc,
        cart_discount_share: 0,
        net,
        tax: round_div(net, rate, 100 + rate),
        total: net,
    }
}

fn sale(receipt: &str, shift: Uuid, lines: Vec<SaleLine>, method: &str) -> SaleCompleted {
    let gross = lines.iter().map(|l| l.gross).sum();
    let discounts = lines.iter().map(|l| l.line_discount).sum();
    let tax = lines.iter().map(|l| l.tax).sum();
    let total: i64 = lines.iter().map(|l| l.total).sum();
    SaleCompleted {
        receipt_no: receipt.into(),
        shift_id: shift,
        currency: "IDR".into(),
        tax_mode: "inclusive".into(),
        lines,
        cart_discount: None,
        gross,
        discounts,
        tax,
        total,
        tenders: vec![TenderRecord {
            method: method.into(),
            amount: total,
            reference: None,
        }],
        paid: total,
        change: 0,
        cashier: Some("Siti".into()),
        discount_approved_by: None,
    }
}

async fn push_all(s: &Server, d: &Device, entries: &[sentra_protocol::Entry]) {
    let (status, body) = s.push(&d.credential, entries, None).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["refused"].as_array().is_none_or(Vec::is_empty),
        "{body}"
    );
}

struct Fixture {
    s: Server,
    from: NaiveDate,
    to: NaiveDate,
}

/// JKT01: ordinary, luxury and exempt goods, a discount a supervisor
/// approved, a void, a refund, a shift short by Rp 500. BDG01: one sale.
async fn fixture() -> Fixture {
    let s = Server::start_office(Default::default()).await;
    s.branch("JKT01").await;
    s.branch("BDG01").await;
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

    let mut t = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let shift = Uuid::now_v7();
    let open = t.entry(&ShiftOpened {
        shift_id: shift,
        opening_float: 200_000,
        cashier: Some("Siti".into()),
    });
    let s1 = sale(
        "JKT01-R-1",
        shift,
        vec![
            line(1, "KOPI", "standard", 11, 2, 27_750, 0),
            line(2, "PARFUM", "luxury", 12, 1, 112_000, 0),
        ],
        "cash",
    );
    let s2 = sale(
        "JKT01-R-2",
        shift,
        vec![
            line(1, "ROTI", "standard", 11, 1, 10_000, 0),
            line(2, "BERAS", "exempt", 0, 2, 10_000, 0),
        ],
        "qris",
    );
    let s3 = sale(
        "JKT01-R-3",
        shift,
        vec![line(1, "KOPI", "standard", 11, 1, 27_750, 2_750)],
        "card",
    );
    let s4 = sale(
        "JKT01-R-4",
        shift,
        vec![line(1, "KOPI", "standard", 11, 1, 27_750, 0)],
        "cash",
    );
    // The till signs who approved the discount into the sale.
    let s3 = SaleCompleted {
        discount_approved_by: Some("Budi".into()),
        ..s3
    };
    let e1 = t.entry(&s1);
    let e2 = t.entry(&s2);
    let e3 = t.entry(&s3);
    let e4 = t.entry(&s4);
    let void = t.entry(&SaleVoided {
        receipt_no: s4.receipt_no.clone(),
        sale_entry_id: e4.id,
        shift_id: shift,
        total: s4.total,
        reason: Some("salah input (approved by Budi)".into()),
    });
    let roti = &s2.lines[0];
    let refund = t.entry(&RefundIssued {
        refund_no: "JKT01-RF-1".into(),
        receipt_no: s2.receipt_no.clone(),
        sale_entry_id: Some(e2.id),
        shift_id: shift,
        lines: vec![RefundLine {
            line_no: roti.line_no,
            sku: roti.sku.clone(),
            quantity_milli: roti.quantity_milli,
            amount: roti.total,
            tax: roti.tax,
        }],
        total: roti.total,
        tax: roti.tax,
        method: "qris".into(),
        reason: Some("rusak (approved by Budi)".into()),
        unverified: false,
    });
    let close = t.entry(&ShiftClosed {
        shift_id: shift,
        opening_float: 200_000,
        totals: ShiftTotals::default(),
        expected_cash: 200_000 + s1.total,
        counted_cash: 200_000 + s1.total - 500,
        variance: -500,
        counted_denominations: Vec::new(),
    });
    push_all(&s, &t, &[open, e1, e2, e3, e4, void, refund, close]).await;

    let mut b = s.enroll("BDG01", DeviceKind::Terminal, 2).await;
    let bshift = Uuid::now_v7();
    let bopen = b.entry(&ShiftOpened {
        shift_id: bshift,
        opening_float: 100_000,
        cashier: Some("Andi".into()),
    });
    let bs = b.entry(&sale(
        "BDG01-R-1",
        bshift,
        vec![line(1, "KOPI", "standard", 11, 1, 27_750, 0)],
        "cash",
    ));
    push_all(&s, &b, &[bopen, bs]).await;

    add_user(&s.pool, "admin@x.test", "admin", &[], PW).await;
    add_user(&s.pool, "finance@x.test", "finance", &[], PW).await;
    add_user(&s.pool, "jkt@x.test", "manager", &["JKT01"], PW).await;
    let today = Utc::now().date_naive();
    Fixture {
        s,
        from: today - Duration::days(2),
        to: today + Duration::days(2),
    }
}

/// GET with the client's cookies; status, headers, raw body.
async fn fetch(c: &OfficeClient, path: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let cookies = c
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let resp = c
        .http
        .get(format!("{}{path}", c.base))
        .header(reqwest::header::COOKIE, cookies)
        .send()
        .await
        .expect("GET");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.expect("body").to_vec();
    (status, headers, body)
}

fn query(report: &str, f: &Fixture, branches: &[&str]) -> String {
    let mut q = format!("report={report}&from={}&to={}", f.from, f.to);
    for b in branches {
        q.push_str(&format!("&branch={b}"));
    }
    q
}

/// A CSV export as rows of column → text.
async fn csv_rows(c: &OfficeClient, q: &str) -> Vec<BTreeMap<String, String>> {
    let (status, headers, body) = fetch(c, &format!("/office/reports/csv?{q}")).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(
        headers["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/csv")
    );
    let cd = headers["content-disposition"]
        .to_str()
        .expect("disposition");
    assert!(
        cd.starts_with("attachment; filename=\"sentra-") && cd.ends_with(".csv\""),
        "{cd}"
    );
    let mut r = csv::Reader::from_reader(body.as_slice());
    let head: Vec<String> = r
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    r.records()
        .map(|rec| {
            let rec = rec.expect("record");
            head.iter()
                .cloned()
                .zip(rec.iter().map(str::to_owned))
                .collect()
        })
        .collect()
}

/// The XLSX export's first sheet as rows of column → cell.
async fn xlsx_rows(c: &OfficeClient, q: &str) -> Vec<BTreeMap<String, Data>> {
    let (status, headers, body) = fetch(c, &format!("/office/reports/xlsx?{q}")).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(
        headers["content-disposition"]
            .to_str()
            .expect("disposition")
            .ends_with(".xlsx\"")
    );
    let mut book = Xlsx::new(std::io::Cursor::new(body)).expect("an xlsx file");
    let range = book.worksheet_range_at(0).expect("a sheet").expect("range");
    let mut rows = range.rows();
    let head: Vec<String> = rows
        .next()
        .expect("header row")
        .iter()
        .map(|d| d.to_string())
        .collect();
    rows.map(|r| head.iter().cloned().zip(r.iter().cloned()).collect())
        .collect()
}

fn sum(rows: &[BTreeMap<String, String>], col: &str) -> i64 {
    rows.iter()
        .map(|r| {
            r.get(col)
                .unwrap_or_else(|| panic!("no column {col}"))
                .parse::<i64>()
                .unwrap_or_else(|e| panic!("{col}: {e}"))
        })
        .sum()
}

fn xsum(rows: &[BTreeMap<String, Data>], col: &str) -> i64 {
    rows.iter()
        .map(|r| match r.get(col) {
            Some(Data::Float(v)) => *v as i64,
            Some(Data::Int(v)) => *v,
            other => panic!("{col} is not a number: {other:?}"),
        })
        .sum()
}

#[tokio::test]
async fn every_export_agrees_with_the_ledger_and_the_xlsx_reads_back_the_same() {
    let f = fixture().await;
    let c = OfficeClient::signed_in(&f.s.url, "finance@x.test", PW).await;
    let ledger = sentra_sync::admin::ledger::ledger(&f.s.pool, "JKT01", Some(f.from), Some(f.to))
        .await
        .expect("ledger");
    assert_eq!(ledger.sales_count, 3, "{ledger:?}");
    assert_eq!(ledger.voids_count, 1, "{ledger:?}");
    assert_eq!(ledger.refunds_count, 1, "{ledger:?}");
    let sales_total = ledger.net + ledger.refunds;
    let jkt = ["JKT01"];

    // The branch ledger, day by day.
    let q = query("ledger", &f, &jkt);
    let rows = csv_rows(&c, &q).await;
    assert!(rows.iter().all(|r| r["branch"] == "JKT01"));
    for (col, want) in [
        ("sales_count", ledger.sales_count),
        ("voids_count", ledger.voids_count),
        ("gross", ledger.gross),
        ("discounts", ledger.discounts),
        ("refunds_count", ledger.refunds_count),
        ("refunds", ledger.refunds),
        ("tax", ledger.tax),
        ("net", ledger.net),
        ("cash", ledger.payments["cash"]),
        ("card", ledger.payments["card"]),
        ("qris", ledger.payments["qris"]),
        ("voucher", ledger.payments["voucher"]),
    ] {
        assert_eq!(sum(&rows, col), want, "ledger export {col}");
    }
    let x = xlsx_rows(&c, &q).await;
    assert_eq!(x.len(), rows.len());
    for col in ["sales_count", "gross", "discounts", "refunds", "tax", "net"] {
        assert_eq!(xsum(&x, col), sum(&rows, col), "ledger xlsx {col}");
    }
    assert!(
        matches!(x[0]["date"], Data::DateTime(_)),
        "dates are Excel dates: {:?}",
        x[0]["date"]
    );

    // By item and by category: sales that stand, refunds apart.
    for report in ["items", "categories"] {
        let q = query(report, &f, &jkt);
        let rows = csv_rows(&c, &q).await;
        assert_eq!(sum(&rows, "gross"), ledger.gross, "{report} gross");
        assert_eq!(sum(&rows, "discounts"), ledger.discounts, "{report}");
        assert_eq!(sum(&rows, "sales_total"), sales_total, "{report}");
        assert_eq!(sum(&rows, "refunds"), ledger.refunds, "{report}");
        assert_eq!(
            sum(&rows, "tax") - sum(&rows, "refunds_tax"),
            ledger.tax,
            "{report} tax"
        );
        assert_eq!(sum(&rows, "net_sales"), ledger.net, "{report}");
        let x = xlsx_rows(&c, &q).await;
        for col in [
            "gross",
            "discounts",
            "tax",
            "sales_total",
            "refunds",
            "net_sales",
        ] {
            assert_eq!(xsum(&x, col), sum(&rows, col), "{report} xlsx {col}");
        }
    }
    let items = csv_rows(&c, &query("items", &f, &jkt)).await;
    let kopi = items.iter().find(|r| r["sku"] == "KOPI").expect("KOPI");
    assert_eq!(kopi["quantity"], "3", "two in R-1, one in R-3; R-4 voided");
    assert_eq!(kopi["category"], "Minuman");
    let cats = csv_rows(&c, &query("categories", &f, &jkt)).await;
    let roti = cats.iter().find(|r| r["category"] == "Roti").expect("Roti");
    assert_eq!(
        (roti["refunds"].as_str(), roti["net_sales"].as_str()),
        ("10000", "0")
    );

    // By cashier, by payment method, by hour.
    let rows = csv_rows(&c, &query("cashiers", &f, &jkt)).await;
    assert_eq!(sum(&rows, "sales_count"), ledger.sales_count);
    assert_eq!(sum(&rows, "sales_total"), sales_total);
    assert_eq!(sum(&rows, "voids_count"), ledger.voids_count);
    assert_eq!(sum(&rows, "refunds"), ledger.refunds);
    assert_eq!(rows[0]["cashier"], "Siti");
    let rows = csv_rows(&c, &query("payments", &f, &jkt)).await;
    for r in &rows {
        assert_eq!(
            r["amount"].parse::<i64>().expect("amount"),
            ledger.payments[&r["method"]],
            "{r:?}"
        );
    }
    assert_eq!(sum(&rows, "amount"), ledger.net);
    let rows = csv_rows(&c, &query("hours", &f, &jkt)).await;
    assert_eq!(sum(&rows, "sales_count"), ledger.sales_count);
    assert_eq!(sum(&rows, "sales_total"), sales_total);

    // Discounts with their approver; voids and refunds with who and why.
    let rows = csv_rows(&c, &query("discounts", &f, &jkt)).await;
    assert_eq!(sum(&rows, "discounts"), ledger.discounts);
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0]["receipt"].as_str(), rows[0]["approved_by"].as_str()),
        ("JKT01-R-3", "Budi")
    );
    let rows = csv_rows(&c, &query("voids", &f, &jkt)).await;
    assert_eq!(rows.len() as i64, ledger.voids_count);
    assert_eq!(rows[0]["receipt"], "JKT01-R-4");
    assert_eq!(rows[0]["reason"], "salah input (approved by Budi)");
    assert_eq!(rows[0]["cashier"], "Siti");
    assert!(!rows[0]["at"].is_empty());
    let rows = csv_rows(&c, &query("refunds", &f, &jkt)).await;
    assert_eq!(sum(&rows, "total"), ledger.refunds);
    assert_eq!(rows[0]["reason"], "rusak (approved by Budi)");
    assert_eq!(rows[0]["refund"], "JKT01-RF-1");

    // Shifts whose count was off.
    let rows = csv_rows(&c, &query("shifts", &f, &jkt)).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["variance"], "-500");

    // Two branches: the ledger export holds both, each agreeing.
    let both = csv_rows(&c, &query("ledger", &f, &[])).await;
    let bdg = sentra_sync::admin::ledger::ledger(&f.s.pool, "BDG01", Some(f.from), Some(f.to))
        .await
        .expect("ledger");
    assert_eq!(sum(&both, "net"), ledger.net + bdg.net);
    f.s.stop().await;
}

#[tokio::test]
async fn the_ppn_return_matches_figures_worked_by_hand() {
    let f = fixture().await;
    let c = OfficeClient::signed_in(&f.s.url, "finance@x.test", PW).await;
    let q = query("ppn", &f, &["JKT01"]);
    let rows = csv_rows(&c, &q).await;
    let by_class: BTreeMap<&str, &BTreeMap<String, String>> =
        rows.iter().map(|r| (r["class"].as_str(), r)).collect();
    assert_eq!(by_class.len(), 3, "{rows:?}");

    // Ordinary goods (rule 6 at 11 %): R-1 KOPI 55.500 (tax 5.500), R-2
    // ROTI 10.000 (tax 991), R-3 KOPI 25.000 after discount (tax
    // 2.477,48 → 2.477); the void of R-4 takes it out; the ROTI refund
    // comes off the month.
    assert_eq!(round_div(25_000, 11, 111), 2_477);
    let incl = 55_500 + 10_000 + 25_000 - 10_000;
    let ppn = 5_500 + 991 + 2_477 - 991;
    let harga_jual = incl - ppn;
    assert_eq!(harga_jual, 72_523);
    // DPP nilai lain: 72.523 × 11/12 = 66.479,42 → 66.479.
    let dpp = round_div(harga_jual, 11, 12);
    assert_eq!(dpp, 66_479);
    let std = by_class["standard"];
    for (col, want) in [
        ("sales_incl", incl),
        ("harga_jual", harga_jual),
        ("dpp", dpp),
        ("ppn", ppn),
    ] {
        assert_eq!(std[col].parse::<i64>().expect("n"), want, "standard {col}");
    }
    assert_eq!(std["rate"], "11");
    assert!(std["rule"].contains("11/12"), "{}", std["rule"]);

    // Luxury goods: 12 % of the full price; 112.000 × 12/112 = 12.000.
    let lux = by_class["luxury"];
    for (col, want) in [
        ("sales_incl", 112_000),
        ("harga_jual", 100_000),
        ("dpp", 100_000),
        ("ppn", 12_000),
    ] {
        assert_eq!(lux[col].parse::<i64>().expect("n"), want, "luxury {col}");
    }
    // Exempt goods: no DPP, no PPN.
    let ex = by_class["exempt"];
    for (col, want) in [
        ("sales_incl", 20_000),
        ("harga_jual", 20_000),
        ("dpp", 0),
        ("ppn", 0),
    ] {
        assert_eq!(ex[col].parse::<i64>().expect("n"), want, "exempt {col}");
    }
    // The PPN reported is the tills' own: the ledger's tax to the rupiah.
    let ledger = sentra_sync::admin::ledger::ledger(&f.s.pool, "JKT01", Some(f.from), Some(f.to))
        .await
        .expect("ledger");
    assert_eq!(sum(&rows, "ppn"), ledger.tax);
    assert_eq!(sum(&rows, "sales_incl"), ledger.net);

    // The XLSX holds the same numbers, the month as a date.
    let x = xlsx_rows(&c, &q).await;
    for col in ["sales_incl", "harga_jual", "dpp", "ppn"] {
        assert_eq!(xsum(&x, col), sum(&rows, col), "ppn xlsx {col}");
    }
    assert!(matches!(x[0]["month"], Data::DateTime(_)));

    // The page shows the return.
    let page = fetch(&c, &format!("/office/reports?{q}")).await;
    assert_eq!(page.0, 200);
    let html = String::from_utf8_lossy(&page.2);
    assert!(html.contains("data-value=\"66479\""), "{html}");
    f.s.stop().await;
}

#[tokio::test]
async fn a_manager_reports_only_on_their_branch_and_every_export_is_audited() {
    let f = fixture().await;
    let c = OfficeClient::signed_in(&f.s.url, "jkt@x.test", PW).await;
    // Asking for another branch is refused by name, page and export alike.
    for path in [
        "/office/reports",
        "/office/reports/csv",
        "/office/reports/xlsx",
    ] {
        for branches in [&["BDG01"][..], &["JKT01", "BDG01"][..]] {
            let (status, _, body) =
                fetch(&c, &format!("{path}?{}", query("ledger", &f, branches))).await;
            assert_eq!(status, 403, "{path} {branches:?}");
            assert!(String::from_utf8_lossy(&body).contains("BDG01"));
        }
    }
    // By default a manager's reports are of their branch alone.
    let rows = csv_rows(&c, &query("ledger", &f, &[])).await;
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r["branch"] == "JKT01"), "{rows:?}");
    let rows = csv_rows(&c, &query("items", &f, &[])).await;
    assert_eq!(
        sum(&rows, "sales_total"),
        55_500 + 112_000 + 30_000 + 25_000
    );
    // Every page renders, every report has its two links.
    for report in [
        "items",
        "categories",
        "cashiers",
        "payments",
        "hours",
        "discounts",
        "voids",
        "refunds",
        "shifts",
        "ledger",
        "ppn",
    ] {
        let (status, _, body) =
            fetch(&c, &format!("/office/reports?{}", query(report, &f, &[]))).await;
        let html = String::from_utf8_lossy(&body);
        assert_eq!(status, 200, "{report}: {html}");
        assert!(html.contains("id=\"export-csv\"") && html.contains("id=\"export-xlsx\""));
        assert!(!html.contains("BDG01-R-1"));
    }
    let (status, _, _) = fetch(&c, "/office/reports?report=nope").await;
    assert_eq!(status, 400);
    let (status, _, _) = fetch(&c, "/office/reports?from=2026-12-31&to=2026-01-01").await;
    assert_eq!(status, 400);

    let exports: Vec<(String, serde_json::Value)> = sqlx::query_as(
        "SELECT actor_email, new_value FROM audit_log WHERE action = 'export' ORDER BY audit_id",
    )
    .fetch_all(&f.s.pool)
    .await
    .expect("audit");
    assert_eq!(exports.len(), 2, "two exports made: {exports:?}");
    assert_eq!(exports[0].0, "jkt@x.test");
    assert_eq!(exports[0].1["report"], "ledger");
    assert_eq!(exports[0].1["format"], "csv");
    assert_eq!(exports[0].1["branches"], serde_json::json!(["JKT01"]));
    assert_eq!(exports[0].1["from"], f.from.to_string());
    f.s.stop().await;
}
