//! X (running) and Z (closing) shift reports, read from the projections.

use std::fmt::Write as _;

use rusqlite::{Connection, params};
use sentra_domain::Money;
use sentra_protocol::payload::ShiftTotals;
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
    }
    let row = conn.query_row(
        "SELECT status, cashier, opened_at_ms, closed_at_ms, expected_cash, counted_cash, variance
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
    })
}

impl ShiftReport {
    /// The report as printed for the cashier: fixed-width, Rupiah in id-ID.
    pub fn to_text(&self) -> String {
        let rp = |v: i64| Money::idr(v).to_string();
        let mut out = String::new();
        let mut line = |label: &str, value: String| {
            let _ = writeln!(out, "{label:<24}{value:>18}");
        };
        line(
            &format!("{} REPORT", self.report),
            format!("{}-{}", self.branch, self.device),
        );
        line("Shift", self.shift_id.to_string()[..8].to_owned());
        line("Opening float", rp(self.opening_float));
        // sales_count counts every sale rung; the money is net of voids.
        let standing = self
            .totals
            .sales_count
            .saturating_sub(self.totals.voids_count);
        line(
            "Sales (net of voids)",
            format!("{standing} × ") + &rp(self.totals.sales_total),
        );
        line("  Gross", rp(self.totals.gross));
        line("  Discounts", rp(-self.totals.discounts));
        line("  Tax (PPN)", rp(self.totals.tax));
        line(
            "Refunds",
            format!("{} × ", self.totals.refunds_count) + &rp(-self.totals.refunds_total),
        );
        line(
            "Voids",
            format!("{} × ", self.totals.voids_count) + &rp(self.totals.voids_total),
        );
        for (method, amount) in &self.totals.payments {
            line(&format!("Takings {method}"), rp(*amount));
        }
        line("Cash in", rp(self.totals.cash_in));
        line("Cash out", rp(-self.totals.cash_out));
        line("Expected cash", rp(self.expected_cash));
        if let Some(counted) = self.counted_cash {
            line("Counted cash", rp(counted));
        }
        if let Some(variance) = self.variance {
            line("Variance", rp(variance));
        }
        out
    }
}
