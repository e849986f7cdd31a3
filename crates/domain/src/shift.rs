//! Running totals of a shift, folded from its events. The same fold serves the
//! live X report and the recomputation of a shift from the journal.
//!
//! Conventions:
//! - `sales_count` counts every sale rung in the shift, voided or not; a void
//!   adds to `voids_count` and takes the sale's money figures and payments
//!   back out. Sales that stand: `sales_count − voids_count`.
//! - `gross`, `discounts`, `sales_total` are those of the sales that stand
//!   (net of voids, not of refunds). Refunds are reported apart in
//!   `refunds_total` (tax included) and come out of `payments` of the method
//!   they were paid back with.
//! - `tax` is the tax of the shift net of voids **and of refunds**: a refund's
//!   tax is subtracted, so `tax` is what the shift owes the tax office.
//! - `payments` are net: change is already out of cash, refunds are out of
//!   their method; so `payments[cash]` is what the drawer gained from trade.
//!   A method whose net is zero is absent from the map (canonical form, so a
//!   recomputed summary equals the live one); read it with [`ShiftSummary::payment`]
//!   and iterate [`PaymentMethod::ALL`] to print every method.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::money::{Currency, Money};
use crate::pricing::PricedSale;
use crate::tender::{PaymentMethod, Settlement};

/// The money figures of one completed sale, as a shift counts them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleFigures {
    pub gross: Money,
    pub discounts: Money,
    pub tax: Money,
    pub total: Money,
    /// Per method, net of change.
    pub payments: BTreeMap<PaymentMethod, Money>,
}

impl SaleFigures {
    /// The figures of a priced and settled sale.
    pub fn of(sale: &PricedSale, settlement: &Settlement) -> SaleFigures {
        SaleFigures {
            gross: sale.gross,
            discounts: sale.discounts(),
            tax: sale.tax,
            total: sale.total,
            payments: settlement.net_by_method(),
        }
    }
}

impl From<(&PricedSale, &Settlement)> for SaleFigures {
    fn from((sale, settlement): (&PricedSale, &Settlement)) -> Self {
        SaleFigures::of(sale, settlement)
    }
}

/// Running totals of one shift.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShiftSummary {
    pub currency: Currency,
    pub opening_float: Money,
    pub sales_count: u64,
    pub gross: Money,
    pub discounts: Money,
    pub tax: Money,
    pub sales_total: Money,
    pub refunds_count: u64,
    pub refunds_total: Money,
    pub voids_count: u64,
    pub voids_total: Money,
    /// Net per method; methods at zero are absent (see the module notes).
    pub payments: BTreeMap<PaymentMethod, Money>,
    pub cash_in: Money,
    pub cash_out: Money,
    /// Times the drawer was opened without a sale ("no sale"), each with a
    /// reason in the journal.
    #[serde(default)]
    pub no_sales: u64,
}

fn add(a: &mut Money, b: Money) -> Result<(), DomainError> {
    *a = a.checked_add(b)?;
    Ok(())
}

fn sub(a: &mut Money, b: Money) -> Result<(), DomainError> {
    *a = a.checked_sub(b)?;
    Ok(())
}

fn bump(n: &mut u64) -> Result<(), DomainError> {
    *n = n.checked_add(1).ok_or(DomainError::Overflow)?;
    Ok(())
}

impl ShiftSummary {
    /// A fresh shift with `opening_float` in the drawer; its currency is the float's.
    pub fn open(opening_float: Money) -> ShiftSummary {
        let c = opening_float.currency();
        let z = Money::zero(c);
        ShiftSummary {
            currency: c,
            opening_float,
            sales_count: 0,
            gross: z,
            discounts: z,
            tax: z,
            sales_total: z,
            refunds_count: 0,
            refunds_total: z,
            voids_count: 0,
            voids_total: z,
            payments: BTreeMap::new(),
            cash_in: z,
            cash_out: z,
            no_sales: 0,
        }
    }

    /// Net of change/refunds per method; zero when none.
    pub fn payment(&self, method: PaymentMethod) -> Money {
        self.payments
            .get(&method)
            .copied()
            .unwrap_or(Money::zero(self.currency))
    }

    fn check(&self, m: Money) -> Result<(), DomainError> {
        if m.currency() == self.currency {
            Ok(())
        } else {
            Err(DomainError::CurrencyMismatch {
                expected: self.currency,
                found: m.currency(),
            })
        }
    }

    /// Applies `f` to a copy and keeps it only if every step succeeded, so a
    /// failed event leaves the summary unchanged.
    fn apply(
        &mut self,
        f: impl FnOnce(&mut ShiftSummary) -> Result<(), DomainError>,
    ) -> Result<(), DomainError> {
        let mut next = self.clone();
        f(&mut next)?;
        *self = next;
        Ok(())
    }

    fn move_payments(
        &mut self,
        payments: &BTreeMap<PaymentMethod, Money>,
        sign_add: bool,
    ) -> Result<(), DomainError> {
        for (method, amount) in payments {
            self.check(*amount)?;
            let e = self
                .payments
                .entry(*method)
                .or_insert(Money::zero(self.currency));
            if sign_add {
                add(e, *amount)?;
            } else {
                sub(e, *amount)?;
            }
        }
        self.drop_zero_payments();
        Ok(())
    }

    /// Keeps `payments` canonical: a method whose net is zero is absent, so a
    /// summary recomputed from the journal compares equal to the live one.
    fn drop_zero_payments(&mut self) {
        self.payments.retain(|_, m| !m.is_zero());
    }

    /// Counts a completed sale.
    pub fn add_sale(&mut self, s: &SaleFigures) -> Result<(), DomainError> {
        self.apply(|n| {
            for m in [s.gross, s.discounts, s.tax, s.total] {
                n.check(m)?;
            }
            bump(&mut n.sales_count)?;
            add(&mut n.gross, s.gross)?;
            add(&mut n.discounts, s.discounts)?;
            add(&mut n.tax, s.tax)?;
            add(&mut n.sales_total, s.total)?;
            n.move_payments(&s.payments, true)
        })
    }

    /// Voids a sale: takes its figures and payments back out, counts a void of
    /// `s.total`. `sales_count` is left as it is (see the module notes).
    pub fn add_void(&mut self, s: &SaleFigures) -> Result<(), DomainError> {
        self.apply(|n| {
            for m in [s.gross, s.discounts, s.tax, s.total] {
                n.check(m)?;
            }
            bump(&mut n.voids_count)?;
            add(&mut n.voids_total, s.total)?;
            sub(&mut n.gross, s.gross)?;
            sub(&mut n.discounts, s.discounts)?;
            sub(&mut n.tax, s.tax)?;
            sub(&mut n.sales_total, s.total)?;
            n.move_payments(&s.payments, false)
        })
    }

    /// Counts a refund of `total` (tax included) of which `tax` is tax, paid
    /// back by `method`: `refunds_total += total`, `payments[method] −= total`,
    /// `tax −= tax`. Negative amounts are refused (`NegativeAmount`).
    pub fn add_refund(
        &mut self,
        total: Money,
        tax: Money,
        method: PaymentMethod,
    ) -> Result<(), DomainError> {
        self.apply(|n| {
            n.check(total)?;
            n.check(tax)?;
            for (what, m) in [("refund amount", total), ("refund tax", tax)] {
                if m.is_negative() {
                    return Err(DomainError::NegativeAmount { what, amount: m });
                }
            }
            bump(&mut n.refunds_count)?;
            add(&mut n.refunds_total, total)?;
            sub(&mut n.tax, tax)?;
            let z = Money::zero(n.currency);
            sub(n.payments.entry(method).or_insert(z), total)?;
            n.drop_zero_payments();
            Ok(())
        })
    }

    /// Counts an opening of the drawer without a sale.
    pub fn add_no_sale(&mut self) -> Result<(), DomainError> {
        bump(&mut self.no_sales)
    }

    /// Cash put into the drawer (not a sale); must be > 0.
    pub fn add_cash_in(&mut self, a: Money) -> Result<(), DomainError> {
        self.apply(|n| {
            n.check(a)?;
            if !a.is_positive() {
                return Err(DomainError::NonPositiveAmount {
                    what: "cash in",
                    amount: a,
                });
            }
            add(&mut n.cash_in, a)
        })
    }

    /// Cash taken out of the drawer (not a refund); must be > 0.
    pub fn add_cash_out(&mut self, a: Money) -> Result<(), DomainError> {
        self.apply(|n| {
            n.check(a)?;
            if !a.is_positive() {
                return Err(DomainError::NonPositiveAmount {
                    what: "cash out",
                    amount: a,
                });
            }
            add(&mut n.cash_out, a)
        })
    }

    /// Cash that should be in the drawer: `opening_float + payments[cash] + cash_in − cash_out`.
    pub fn expected_cash(&self) -> Result<Money, DomainError> {
        self.opening_float
            .checked_add(self.payment(PaymentMethod::Cash))?
            .checked_add(self.cash_in)?
            .checked_sub(self.cash_out)
    }

    /// `counted − expected_cash()`: positive is a surplus, negative a shortage.
    pub fn variance(&self, counted: Money) -> Result<Money, DomainError> {
        self.check(counted)?;
        counted.checked_sub(self.expected_cash()?)
    }

    /// Sales that stand minus refunds: `sales_total − refunds_total`.
    pub fn net_sales(&self) -> Result<Money, DomainError> {
        self.sales_total.checked_sub(self.refunds_total)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn figures(total: i64, cash: i64, card: i64) -> SaleFigures {
        let mut payments = BTreeMap::new();
        if cash != 0 {
            payments.insert(PaymentMethod::Cash, Money::idr(cash));
        }
        if card != 0 {
            payments.insert(PaymentMethod::Card, Money::idr(card));
        }
        SaleFigures {
            gross: Money::idr(total + 500),
            discounts: Money::idr(500),
            tax: Money::idr(total * 11 / 111),
            total: Money::idr(total),
            payments,
        }
    }

    #[test]
    fn a_day_at_the_till() {
        let mut s = ShiftSummary::open(Money::idr(500_000));
        s.add_sale(&figures(52_500, 52_500, 0)).unwrap();
        s.add_sale(&figures(100_000, 40_000, 60_000)).unwrap();
        s.add_refund(Money::idr(10_000), Money::idr(991), PaymentMethod::Cash)
            .unwrap();
        s.add_cash_in(Money::idr(100_000)).unwrap();
        s.add_cash_out(Money::idr(50_000)).unwrap();
        assert_eq!(s.sales_count, 2);
        assert_eq!(s.sales_total, Money::idr(152_500));
        assert_eq!(s.refunds_total, Money::idr(10_000));
        assert_eq!(s.tax, Money::idr(5202 + 9909 - 991));
        assert_eq!(s.payment(PaymentMethod::Cash), Money::idr(82_500));
        assert_eq!(s.payment(PaymentMethod::Card), Money::idr(60_000));
        assert_eq!(s.expected_cash().unwrap(), Money::idr(632_500));
        assert_eq!(s.variance(Money::idr(630_000)).unwrap(), Money::idr(-2_500));
        assert_eq!(s.net_sales().unwrap(), Money::idr(142_500));
    }

    #[test]
    fn failed_event_changes_nothing() {
        let mut s = ShiftSummary::open(Money::idr(0));
        let before = s.clone();
        assert!(s.add_cash_out(Money::idr(0)).is_err());
        assert!(
            s.add_refund(Money::idr(-1), Money::idr(0), PaymentMethod::Cash)
                .is_err()
        );
        let mut huge = figures(1, 1, 0);
        huge.payments
            .insert(PaymentMethod::Card, Money::idr(i64::MAX));
        s.add_sale(&figures(0, 0, 0)).unwrap();
        s.add_sale(&huge).unwrap();
        let mid = s.clone();
        assert_eq!(s.add_sale(&huge), Err(DomainError::Overflow));
        assert_eq!(s, mid);
        assert_ne!(before, mid);
    }
}
