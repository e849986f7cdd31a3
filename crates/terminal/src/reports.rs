//! X (running) and Z (closing) shift reports, read from the projections.

use std::fmt::Write as _;

use rusqlite::{Connection, params};
use sentra_domain::Money;
use sentra_protocol::payload::{CashCount, ShiftTotals};
use serde::Serialize;
use uuid::Uuid;

use crate::error::Result;
use crate::manifest::Manifest;
use crate::projection;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ShiftReport {
    /// "X" while the shift is open, "Z" once it is closed.
    pub report: String,
    pub branch: String,
    pub device: String,
    pub shift_id: Uuid,
    pub cashier: Option<String>,
    pub opened_at_ms: i64,
    pub closed_at_ms: Option<i64>,
    pub opening_float: i64,
    /// Counts, money figures and takings per method. `sales_count` counts
    /// every sale rung, voided ones included; the money figures exclude
    /// voided sales; takings are net of change and refunds.
    #[serde(flatten)]
    pub totals: ShiftTotals,
    pub expected_cash: i64,
    pub counted_cash: Option<i64>,
    pub variance: Option<i64>,
    /// The drawer counted by note and coin at close, largest first; empty
    /// when only the total was typed (or the shift is open).
    pub counted_denominations: Vec<CashCount>,
}

pub fn shift_report(conn: &Connection, manifest: &Manifest, shift_id: Uuid) -> Result<ShiftReport> {
    let summary = projection::load_summary(conn, shift_id)?;
    struct ShiftRow {
        status: String,
        cashier: Option<String>,
        opened: i64,
        closed: Option<i64>,
        expected: Option<i64>,
        counted: Option<i64>,
        variance: Option<i64>,
        denominations: Option<String>,
    }
    let row = conn.query_row(
        "SELECT status, cashier, opened_at_ms, closed_at_ms, expected_cash, counted_cash, variance,
                counted_denominations
         FROM shifts WHERE shift_id = ?1",
        params![shift_id.to_string()],
        |r| {
            Ok(ShiftRow {
                status: r.get(0)?,
                cashier: r.get(1)?,
                opened: r.get(2)?,
                closed: r.get(3)?,
                expected: r.get(4)?,
                counted: r.get(5)?,
                variance: r.get(6)?,
                denominations: r.get(7)?,
            })
        },
    )?;
    let expected_cash = match row.expected {
        Some(e) => e,
        None => summary.expected_cash()?.minor(),
    };
    Ok(ShiftReport {
        report: if row.status == "closed" { "Z" } else { "X" }.to_owned(),
        branch: manifest.branch.clone(),
        device: manifest.device_name.clone(),
        shift_id,
        cashier: row.cashier,
        opened_at_ms: row.opened,
        closed_at_ms: row.closed,
        opening_float: summary.opening_float.minor(),
        totals: projection::totals_of(&summary),
        expected_cash,
        counted_cash: row.counted,
        variance: row.variance,
        // Written by this till's own projection from a signed entry.
        counted_denominations: row
            .denominations
            .and_then(|d| serde_json::from_str(&d).ok())
            .unwrap_or_default(),
    })
}

/// The report's labels in one language.
struct Labels {
    report: &'static str,
    shift: &'static str,
    opening_float: &'static str,
    sales: &'static str,
    gross: &'static str,
    discounts: &'static str,
    tax: &'static str,
    refunds: &'static str,
    voids: &'static str,
    takings: &'static str,
    cash_in: &'static str,
    cash_out: &'static str,
    no_sales: &'static str,
    expected_cash: &'static str,
    counted_cash: &'static str,
    variance: &'static str,
}

const ENGLISH: Labels = Labels {
    report: "REPORT",
    shift: "Shift",
    opening_float: "Opening float",
    sales: "Sales (net of voids)",
    gross: "  Gross",
    discounts: "  Discounts",
    tax: "  Tax (PPN)",
    refunds: "Refunds",
    voids: "Voids",
    takings: "Takings",
    cash_in: "Cash in",
    cash_out: "Cash out",
    no_sales: "No-sale drawer opens",
    expected_cash: "Expected cash",
    counted_cash: "Counted cash",
    variance: "Variance",
};

const INDONESIAN: Labels = Labels {
    report: "LAPORAN",
    shift: "Shift",
    opening_float: "Modal awal",
    sales: "Penjualan (tanpa void)",
    gross: "  Kotor",
    discounts: "  Diskon",
    tax: "  Pajak (PPN)",
    refunds: "Retur",
    voids: "Void",
    takings: "Terima",
    cash_in: "Kas masuk",
    cash_out: "Kas keluar",
    no_sales: "Laci dibuka tanpa jual",
    expected_cash: "Kas seharusnya",
    counted_cash: "Kas dihitung",
    variance: "Selisih",
};

/// A tender method as the report names it.
fn method_name(method: &str, indonesian: bool) -> &str {
    match (method, indonesian) {
        ("cash", true) => "tunai",
        ("card", true) => "kartu",
        ("cash", false) => "cash",
        ("card", false) => "card",
        ("qris", _) => "QRIS",
        ("voucher", _) => "voucher",
        (other, _) => other,
    }
}

impl ShiftReport {
    /// The report as the CLI prints it: English, fixed-width, Rupiah in id-ID.
    pub fn to_text(&self) -> String {
        self.to_text_in("en")
    }

    /// The report as printed at the till, in the till's receipt language
    /// (`id`, the default, or `en`): fixed-width, Rupiah in id-ID.
    pub fn to_text_in(&self, language: &str) -> String {
        let indonesian = language != "en";
        let w = if indonesian { &INDONESIAN } else { &ENGLISH };
        let rp = |v: i64| Money::idr(v).to_string();
        let mut out = String::new();
        let mut line = |label: &str, value: String| {
            let _ = writeln!(out, "{label:<24}{value:>18}");
        };
        let title = if indonesian {
            format!("{} {}", w.report, self.report)
        } else {
            format!("{} {}", self.report, w.report)
        };
        line(&title, format!("{}-{}", self.branch, self.device));
        line(w.shift, self.shift_id.to_string()[..8].to_owned());
        line(w.opening_float, rp(self.opening_float));
        // sales_count counts every sale rung; the money is net of voids.
        let standing = self
            .totals
            .sales_count
            .saturating_sub(self.totals.voids_count);
        line(
            w.sales,
            format!("{standing} × ") + &rp(self.totals.sales_total),
        );
        line(w.gross, rp(self.totals.gross));
        line(w.discounts, rp(-self.totals.discounts));
        line(w.tax, rp(self.totals.tax));
        line(
            w.refunds,
            format!("{} × ", self.totals.refunds_count) + &rp(-self.totals.refunds_total),
        );
        line(
            w.voids,
            format!("{} × ", self.totals.voids_count) + &rp(self.totals.voids_total),
        );
        for (method, amount) in &self.totals.payments {
            line(
                &format!("{} {}", w.takings, method_name(method, indonesian)),
                rp(*amount),
            );
        }
        line(w.cash_in, rp(self.totals.cash_in));
        line(w.cash_out, rp(-self.totals.cash_out));
        line(w.no_sales, format!("{} ×", self.totals.no_sales));
        line(w.expected_cash, rp(self.expected_cash));
        if let Some(counted) = self.counted_cash {
            line(w.counted_cash, rp(counted));
        }
        // The count by note and coin: "  Rp 50.000 × 3" and the amount.
        for d in &self.counted_denominations {
            let amount = d
                .value
                .saturating_mul(i64::try_from(d.count).unwrap_or(i64::MAX));
            line(&format!("  {} × {}", rp(d.value), d.count), rp(amount));
        }
        if let Some(variance) = self.variance {
            line(w.variance, rp(variance));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closed() -> ShiftReport {
        let mut totals = ShiftTotals {
            sales_count: 3,
            gross: 30_000,
            sales_total: 30_000,
            voids_count: 1,
            voids_total: 5_000,
            ..ShiftTotals::default()
        };
        totals.payments.insert("cash".into(), 20_000);
        totals.payments.insert("qris".into(), 10_000);
        ShiftReport {
            report: "Z".into(),
            branch: "JKT01".into(),
            device: "T01".into(),
            shift_id: Uuid::nil(),
            cashier: Some("Budi".into()),
            opened_at_ms: 0,
            closed_at_ms: Some(1),
            opening_float: 100_000,
            totals,
            expected_cash: 120_000,
            counted_cash: Some(120_000),
            variance: Some(0),
            counted_denominations: vec![
                CashCount {
                    value: 100_000,
                    count: 1,
                },
                CashCount {
                    value: 5_000,
                    count: 4,
                },
            ],
        }
    }

    /// The English labels a report may carry, as whole words.
    fn english_labels() -> Vec<&'static str> {
        let w = &ENGLISH;
        vec![
            w.report,
            w.opening_float,
            w.sales,
            w.gross.trim(),
            w.discounts.trim(),
            w.tax.trim(),
            w.refunds,
            w.voids,
            w.takings,
            w.cash_in,
            w.cash_out,
            w.no_sales,
            w.expected_cash,
            w.counted_cash,
            w.variance,
            "cash",
            "card",
        ]
    }

    #[test]
    fn the_till_s_report_speaks_indonesian_and_the_cli_s_english() {
        let r = closed();
        let id = r.to_text_in("id");
        for label in english_labels() {
            assert!(
                !id.lines().any(|l| l.contains(label)),
                "{label:?} in the Indonesian report:\n{id}"
            );
        }
        for label in [
            "LAPORAN Z",
            "Modal awal",
            "Terima tunai",
            "Kas dihitung",
            "Selisih",
            "Laci dibuka tanpa jual",
            "  Rp 5.000 × 4",
        ] {
            assert!(id.contains(label), "{label}:\n{id}");
        }
        let en = r.to_text();
        for label in ["Z REPORT", "Opening float", "Takings cash", "Variance"] {
            assert!(en.contains(label), "{label}:\n{en}");
        }
        assert_eq!(r.to_text_in("en"), en);
        // Same figures, same layout: only the labels differ.
        let figures = |t: &str| -> Vec<String> {
            t.lines()
                .map(|l| l.get(24..).unwrap_or("").to_owned())
                .collect()
        };
        assert_eq!(figures(&id), figures(&en));
    }
}
