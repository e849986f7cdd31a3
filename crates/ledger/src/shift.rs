//! A sale payload's contribution to its shift, and a shift summary in its wire
//! form. The terminal and the cloud fold shifts with these same functions, so
//! a recomputed shift equals the terminal's own figures to the rupiah.

use std::collections::BTreeMap;

use sentra_domain::{DomainError, Money, PaymentMethod, SaleFigures, ShiftSummary};
use sentra_protocol::payload::{SaleCompleted, ShiftTotals};

/// A payment method by its wire name (`cash`, `card`, `qris`, `voucher`).
pub fn parse_method(name: &str) -> Result<PaymentMethod, DomainError> {
    name.parse::<PaymentMethod>()
}

/// A sale's contribution to its shift, from the figures in its payload:
/// tenders per method, change taken out of cash.
pub fn figures_of(p: &SaleCompleted) -> Result<SaleFigures, DomainError> {
    let mut payments: BTreeMap<PaymentMethod, Money> = BTreeMap::new();
    for t in &p.tenders {
        let slot = payments
            .entry(parse_method(&t.method)?)
            .or_insert(Money::idr(0));
        *slot = slot.checked_add(Money::idr(t.amount))?;
    }
    if p.change != 0 {
        let cash = payments.entry(PaymentMethod::Cash).or_insert(Money::idr(0));
        *cash = cash.checked_sub(Money::idr(p.change))?;
    }
    payments.retain(|_, m| !m.is_zero());
    Ok(SaleFigures {
        gross: Money::idr(p.gross),
        discounts: Money::idr(p.discounts),
        tax: Money::idr(p.tax),
        total: Money::idr(p.total),
        payments,
    })
}

/// A shift summary as the wire and the reports carry it: integers, methods by
/// name.
pub fn totals_of(s: &ShiftSummary) -> ShiftTotals {
    ShiftTotals {
        sales_count: s.sales_count,
        gross: s.gross.minor(),
        discounts: s.discounts.minor(),
        tax: s.tax.minor(),
        sales_total: s.sales_total.minor(),
        refunds_count: s.refunds_count,
        refunds_total: s.refunds_total.minor(),
        voids_count: s.voids_count,
        voids_total: s.voids_total.minor(),
        payments: s
            .payments
            .iter()
            .map(|(m, a)| (m.as_str().to_owned(), a.minor()))
            .collect(),
        cash_in: s.cash_in.minor(),
        cash_out: s.cash_out.minor(),
        no_sales: s.no_sales,
    }
}

/// The reverse of [`totals_of`]: a summary from its wire form and the shift's
/// opening float.
pub fn summary_of(opening_float: i64, t: &ShiftTotals) -> Result<ShiftSummary, DomainError> {
    let mut s = ShiftSummary::open(Money::idr(opening_float));
    s.sales_count = t.sales_count;
    s.gross = Money::idr(t.gross);
    s.discounts = Money::idr(t.discounts);
    s.tax = Money::idr(t.tax);
    s.sales_total = Money::idr(t.sales_total);
    s.refunds_count = t.refunds_count;
    s.refunds_total = Money::idr(t.refunds_total);
    s.voids_count = t.voids_count;
    s.voids_total = Money::idr(t.voids_total);
    s.cash_in = Money::idr(t.cash_in);
    s.cash_out = Money::idr(t.cash_out);
    s.no_sales = t.no_sales;
    for (name, amount) in &t.payments {
        if *amount != 0 {
            s.payments.insert(parse_method(name)?, Money::idr(*amount));
        }
    }
    Ok(s)
}
