//! Pricing a sale: gross, line and cart discounts, tax, totals.
//!
//! The rules are numbered as in `docs/money.md`; each rounding happens at the
//! point named there and nowhere else.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::money::{Currency, Money};
use crate::quantity::Quantity;
use crate::rounding::{decimal_parts, mul_div_round};
use crate::tax::{TaxConfig, TaxMode, line_tax};

/// A discount on a line or on the whole cart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Discount {
    /// A fixed amount off; at least zero and at most what it applies to.
    Amount(Money),
    /// A percentage off, in `[0, 100]`.
    Percent(Decimal),
}

impl Discount {
    /// The discount in money on `base` (rule 3 for lines, rule 4 for the cart):
    /// percent -> `round(base × pct / 100)`; amount -> the amount, which must
    /// not exceed `base`. `what` names the target in error messages.
    pub fn amount_on(&self, base: Money, what: &str) -> Result<Money, DomainError> {
        match self {
            Discount::Amount(a) => {
                if a.currency() != base.currency() {
                    return Err(DomainError::CurrencyMismatch {
                        expected: base.currency(),
                        found: a.currency(),
                    });
                }
                if a.is_negative() {
                    return Err(DomainError::InvalidDiscount(format!(
                        "discount on {what} must not be negative, got {a}"
                    )));
                }
                if *a > base {
                    return Err(DomainError::InvalidDiscount(format!(
                        "discount {a} on {what} is more than its amount {base}"
                    )));
                }
                Ok(*a)
            }
            Discount::Percent(p) => {
                if *p < Decimal::ZERO || *p > Decimal::ONE_HUNDRED {
                    return Err(DomainError::InvalidDiscount(format!(
                        "discount on {what} must be between 0% and 100%, got {p}%"
                    )));
                }
                let (m, scale) = decimal_parts(*p)?;
                let den = scale.checked_mul(100).ok_or(DomainError::Overflow)?;
                Ok(Money::new(
                    mul_div_round(base.minor(), m, den)?,
                    base.currency(),
                ))
            }
        }
    }
}

/// One line as rung up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LineInput {
    pub sku: String,
    pub name: String,
    pub unit_price: Money,
    pub quantity: Quantity,
    pub tax_category: String,
    pub discount: Option<Discount>,
}

/// One priced line. `net = gross − line_discount − cart_discount_share`;
/// `total = net` (inclusive) or `net + tax` (exclusive).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PricedLine {
    pub sku: String,
    pub name: String,
    pub unit_price: Money,
    pub quantity: Quantity,
    pub tax_category: String,
    /// Percent rate applied.
    pub tax_rate: Decimal,
    pub discount: Option<Discount>,
    pub gross: Money,
    pub line_discount: Money,
    pub cart_discount_share: Money,
    pub net: Money,
    pub tax: Money,
    pub total: Money,
}

/// A priced sale. `total = gross − discounts() + (tax if exclusive else 0)`,
/// and every sum equals the sum of the same field over `lines`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PricedSale {
    pub currency: Currency,
    pub tax_mode: TaxMode,
    pub lines: Vec<PricedLine>,
    pub cart_discount: Option<Discount>,
    pub gross: Money,
    pub line_discounts: Money,
    pub cart_discount_amount: Money,
    /// Tax contained in (inclusive) or added to (exclusive) the total.
    pub tax: Money,
    pub total: Money,
}

impl PricedSale {
    /// All discounts: `line_discounts + cart_discount_amount`. Cannot overflow
    /// for a sale from [`price_sale`] (it is at most `gross`); saturates otherwise.
    pub fn discounts(&self) -> Money {
        Money::new(
            self.line_discounts
                .minor()
                .saturating_add(self.cart_discount_amount.minor()),
            self.currency,
        )
    }

    /// Tax added on top of the net amounts: `tax` when exclusive, zero when inclusive.
    pub fn added_tax(&self) -> Money {
        match self.tax_mode {
            TaxMode::Inclusive => Money::zero(self.currency),
            TaxMode::Exclusive => self.tax,
        }
    }
}

/// Rule 4: splits `amount` over `weights` in proportion, by the largest-remainder
/// method, so the shares sum exactly to `amount`; ties go to the earlier weight.
/// Needs `0 <= amount <= sum(weights)` and every weight `>= 0`; then each share
/// is between 0 and its weight.
pub fn allocate(amount: i64, weights: &[i64]) -> Result<Vec<i64>, DomainError> {
    if weights.iter().any(|w| *w < 0) {
        return Err(DomainError::InvalidDiscount(
            "cannot spread a discount over a negative amount".to_string(),
        ));
    }
    if amount < 0 {
        return Err(DomainError::InvalidDiscount(format!(
            "discount must not be negative, got {amount}"
        )));
    }
    let total: i128 = weights.iter().map(|w| i128::from(*w)).sum();
    if i128::from(amount) > total {
        return Err(DomainError::InvalidDiscount(format!(
            "discount {amount} is more than the amount {total} it applies to"
        )));
    }
    if total == 0 {
        return if amount == 0 {
            Ok(vec![0; weights.len()])
        } else {
            Err(DomainError::InvalidDiscount(format!(
                "cannot spread {amount} over a zero amount"
            )))
        };
    }
    let amount128 = i128::from(amount);
    let mut shares = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    let mut given: i128 = 0;
    for (i, w) in weights.iter().enumerate() {
        let p = amount128
            .checked_mul(i128::from(*w))
            .ok_or(DomainError::Overflow)?;
        let share = p.div_euclid(total);
        given = given.checked_add(share).ok_or(DomainError::Overflow)?;
        shares.push(share);
        remainders.push((p.rem_euclid(total), i));
    }
    // Largest remainder first; equal remainders keep line order.
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let left = amount128.checked_sub(given).ok_or(DomainError::Overflow)?;
    let left = usize::try_from(left).map_err(|_| DomainError::Overflow)?;
    for &(_, i) in remainders.iter().take(left) {
        if let Some(s) = shares.get_mut(i) {
            *s += 1;
        }
    }
    shares
        .into_iter()
        .map(|s| i64::try_from(s).map_err(|_| DomainError::Overflow))
        .collect()
}

/// Rule 2: `round(unit_price × quantity_milli / 1000)`.
pub fn line_gross(unit_price: Money, quantity: Quantity) -> Result<Money, DomainError> {
    let minor = mul_div_round(
        unit_price.minor(),
        i128::from(quantity.milli()),
        i128::from(Quantity::MILLI_PER_UNIT),
    )?;
    Ok(Money::new(minor, unit_price.currency()))
}

struct Pending<'a> {
    input: &'a LineInput,
    rate: Decimal,
    gross: Money,
    line_discount: Money,
    after_line: Money,
}

/// Prices a sale by the rules of `docs/money.md`.
///
/// Errors: `EmptySale`, `NonPositiveQuantity`, `NegativePrice`, `InvalidDiscount`,
/// `UnknownTaxCategory`, `InvalidTaxRate`, `CurrencyMismatch`, `Overflow`.
pub fn price_sale(
    lines: &[LineInput],
    cart_discount: Option<Discount>,
    tax: &TaxConfig,
) -> Result<PricedSale, DomainError> {
    let currency = lines
        .first()
        .ok_or(DomainError::EmptySale)?
        .unit_price
        .currency();

    let mut pending = Vec::with_capacity(lines.len());
    for input in lines {
        if input.unit_price.currency() != currency {
            return Err(DomainError::CurrencyMismatch {
                expected: currency,
                found: input.unit_price.currency(),
            });
        }
        if !input.quantity.is_positive() {
            return Err(DomainError::NonPositiveQuantity {
                sku: input.sku.clone(),
                quantity: input.quantity,
            });
        }
        if input.unit_price.is_negative() {
            return Err(DomainError::NegativePrice {
                sku: input.sku.clone(),
                price: input.unit_price,
            });
        }
        let rate = tax.rate_for(&input.tax_category)?;
        let gross = line_gross(input.unit_price, input.quantity)?;
        let line_discount = match &input.discount {
            Some(d) => d.amount_on(gross, &input.sku)?,
            None => Money::zero(currency),
        };
        let after_line = gross.checked_sub(line_discount)?;
        pending.push(Pending {
            input,
            rate,
            gross,
            line_discount,
            after_line,
        });
    }

    let subtotal = Money::checked_sum(currency, pending.iter().map(|p| p.after_line))?;
    let cart_discount_amount = match &cart_discount {
        Some(d) => d.amount_on(subtotal, "the sale")?,
        None => Money::zero(currency),
    };
    let weights: Vec<i64> = pending.iter().map(|p| p.after_line.minor()).collect();
    let shares = allocate(cart_discount_amount.minor(), &weights)?;

    let mut priced = Vec::with_capacity(pending.len());
    for (p, share) in pending.into_iter().zip(shares) {
        let share = Money::new(share, currency);
        let net = p.after_line.checked_sub(share)?;
        let (line_tax_amount, total) = line_tax(net, p.rate, tax.mode)?;
        priced.push(PricedLine {
            sku: p.input.sku.clone(),
            name: p.input.name.clone(),
            unit_price: p.input.unit_price,
            quantity: p.input.quantity,
            tax_category: p.input.tax_category.clone(),
            tax_rate: p.rate,
            discount: p.input.discount.clone(),
            gross: p.gross,
            line_discount: p.line_discount,
            cart_discount_share: share,
            net,
            tax: line_tax_amount,
            total,
        });
    }

    let sum = |f: fn(&PricedLine) -> Money| Money::checked_sum(currency, priced.iter().map(f));
    Ok(PricedSale {
        currency,
        tax_mode: tax.mode,
        gross: sum(|l| l.gross)?,
        line_discounts: sum(|l| l.line_discount)?,
        cart_discount_amount,
        tax: sum(|l| l.tax)?,
        total: sum(|l| l.total)?,
        lines: priced,
        cart_discount,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn allocate_edges() {
        assert_eq!(allocate(0, &[0, 0]).unwrap(), vec![0, 0]);
        assert!(allocate(1, &[0, 0]).is_err());
        assert_eq!(allocate(3, &[1, 1, 1]).unwrap(), vec![1, 1, 1]);
        assert_eq!(allocate(2, &[1, 1, 1]).unwrap(), vec![1, 1, 0]);
        assert_eq!(allocate(5, &[0, 10]).unwrap(), vec![0, 5]);
        assert_eq!(
            allocate(7, &[]).unwrap_err(),
            allocate(7, &[0]).unwrap_err()
        );
    }
}
