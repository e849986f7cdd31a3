//! The cart being rung up: what was scanned, how many, which discounts. It
//! holds no prices: every view re-prices it from the catalog through the
//! same `price_sale` the recorded sale uses, so the screen always shows what
//! the customer will be charged.

use std::str::FromStr;

use rust_decimal::Decimal;
use sentra_domain::{Discount, LineInput, Money, PricedSale, Quantity, TaxConfig};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::catalog::Product;
use crate::error::{Result, SaleError, TerminalError};

/// A discount as the cashier enters it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[ts(export)]
pub enum DiscountInput {
    /// Percent off, decimal string ("10", "12,5").
    Percent { percent: String },
    /// Rupiah off.
    Amount {
        #[ts(type = "number")]
        amount: i64,
    },
}

impl DiscountInput {
    pub fn to_domain(&self) -> Result<Discount> {
        match self {
            DiscountInput::Percent { percent } => {
                let p = Decimal::from_str(&percent.trim().replace(',', ".")).map_err(|_| {
                    TerminalError::invalid("discount", format!("{percent:?} is not a percentage"))
                })?;
                if p < Decimal::ZERO || p > Decimal::ONE_HUNDRED {
                    return Err(TerminalError::invalid(
                        "discount",
                        format!("{p}% is not between 0 and 100"),
                    ));
                }
                Ok(Discount::Percent(p.normalize()))
            }
            DiscountInput::Amount { amount } => {
                if *amount < 0 {
                    return Err(TerminalError::invalid("discount", "must not be negative"));
                }
                Ok(Discount::Amount(Money::idr(*amount)))
            }
        }
    }
}

/// One line of the cart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartItem {
    pub sku: String,
    pub quantity_milli: i64,
    pub discount: Option<DiscountInput>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cart {
    pub items: Vec<CartItem>,
    pub discount: Option<DiscountInput>,
    /// The supervisor who last approved a discount on this cart (signed
    /// into the sale).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_approved_by: Option<String>,
}

/// Largest quantity on one line: 99,999 units (or kg).
const MAX_QUANTITY_MILLI: i64 = 99_999_000;

/// Parse a quantity as typed: `3`, `0,450`, `1.5` (kg or units), at most
/// three decimals.
pub fn parse_quantity(text: &str) -> Result<Quantity> {
    let t = text.trim().replace(',', ".");
    let d = Decimal::from_str(&t)
        .map_err(|_| TerminalError::invalid("quantity", format!("{text:?} is not a number")))?;
    if d.scale() > 3 && d.normalize().scale() > 3 {
        return Err(TerminalError::invalid(
            "quantity",
            format!("{text:?} has more than 3 decimals"),
        ));
    }
    let milli = (d * Decimal::from(1000))
        .normalize()
        .to_string()
        .parse::<i64>()
        .map_err(|_| TerminalError::invalid("quantity", format!("{text:?} is out of range")))?;
    if milli <= 0 || milli > MAX_QUANTITY_MILLI {
        return Err(TerminalError::invalid(
            "quantity",
            format!("{text:?} must be more than 0 and at most 99999"),
        ));
    }
    Ok(Quantity::from_milli(milli))
}

/// Split a scan into a multiplier and a code: `3*8991234567890` rings three.
pub fn split_multiplier(input: &str) -> Result<(Quantity, String)> {
    let input = input.trim();
    match input.split_once('*') {
        Some((qty, code)) if !code.trim().is_empty() => {
            Ok((parse_quantity(qty)?, code.trim().to_owned()))
        }
        Some(_) => Err(TerminalError::invalid("scan", "nothing after the '*'")),
        None if input.is_empty() => Err(TerminalError::invalid("scan", "empty code")),
        None => Ok((Quantity::ONE, input.to_owned())),
    }
}

impl Cart {
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Add `quantity` of `sku`: onto the last line if it is the same
    /// undiscounted item (a second scan of the same tin), else a new line.
    /// Returns the index of the line that changed.
    pub fn add(&mut self, sku: &str, quantity: Quantity) -> Result<usize> {
        if let Some(last) = self.items.last_mut()
            && last.sku == sku
            && last.discount.is_none()
        {
            let sum = last.quantity_milli.saturating_add(quantity.milli());
            if sum > MAX_QUANTITY_MILLI {
                return Err(TerminalError::invalid(
                    "quantity",
                    "at most 99999 on a line",
                ));
            }
            last.quantity_milli = sum;
            return Ok(self.items.len() - 1);
        }
        self.items.push(CartItem {
            sku: sku.to_owned(),
            quantity_milli: quantity.milli(),
            discount: None,
        });
        Ok(self.items.len() - 1)
    }

    /// A line of its own, never merged (a scale label: one package each).
    pub fn add_line(&mut self, sku: &str, quantity: Quantity) -> Result<usize> {
        if quantity.milli() > MAX_QUANTITY_MILLI {
            return Err(TerminalError::invalid(
                "quantity",
                "at most 99999 on a line",
            ));
        }
        self.items.push(CartItem {
            sku: sku.to_owned(),
            quantity_milli: quantity.milli(),
            discount: None,
        });
        Ok(self.items.len() - 1)
    }

    fn line_mut(&mut self, index: usize) -> Result<&mut CartItem> {
        let len = self.items.len();
        self.items.get_mut(index).ok_or_else(|| {
            TerminalError::invalid("line", format!("{} is not in the cart of {len}", index + 1))
        })
    }

    pub fn set_quantity(&mut self, index: usize, quantity: Quantity) -> Result<()> {
        if quantity.milli() <= 0 || quantity.milli() > MAX_QUANTITY_MILLI {
            return Err(TerminalError::invalid(
                "quantity",
                "must be more than 0 and at most 99999",
            ));
        }
        self.line_mut(index)?.quantity_milli = quantity.milli();
        Ok(())
    }

    pub fn set_line_discount(
        &mut self,
        index: usize,
        discount: Option<DiscountInput>,
    ) -> Result<()> {
        self.line_mut(index)?.discount = discount;
        Ok(())
    }

    pub fn remove(&mut self, index: usize) -> Result<CartItem> {
        self.line_mut(index)?;
        Ok(self.items.remove(index))
    }

    /// Price the cart with the products as they are now. `lookup` finds a
    /// product by SKU.
    pub fn price(
        &self,
        tax: &TaxConfig,
        mut lookup: impl FnMut(&str) -> Result<Option<Product>>,
    ) -> Result<PricedSale> {
        let mut inputs = Vec::with_capacity(self.items.len());
        for item in &self.items {
            let product =
                lookup(&item.sku)?.ok_or_else(|| SaleError::UnknownItem(item.sku.clone()))?;
            inputs.push(LineInput {
                sku: product.sku,
                name: product.name,
                unit_price: Money::idr(product.unit_price),
                quantity: Quantity::from_milli(item.quantity_milli),
                tax_category: product.tax_category,
                discount: item
                    .discount
                    .as_ref()
                    .map(DiscountInput::to_domain)
                    .transpose()?,
            });
        }
        let cart_discount = self
            .discount
            .as_ref()
            .map(DiscountInput::to_domain)
            .transpose()?;
        Ok(sentra_domain::price_sale(&inputs, cart_discount, tax)?)
    }
}

/// Whether a discount of `amount` on `base` goes above `threshold_pct`
/// percent and so needs a supervisor. Exactly at the threshold does not.
pub fn needs_supervisor(amount: Money, base: Money, threshold_pct: Decimal) -> bool {
    if amount.minor() <= 0 {
        return false;
    }
    if base.minor() <= 0 {
        return true;
    }
    // amount / base > pct / 100  <=>  amount × 100 > pct × base (exact).
    Decimal::from(amount.minor()) * Decimal::ONE_HUNDRED
        > threshold_pct * Decimal::from(base.minor())
}

/// Cash amounts a customer is likely to hand over for `total`: the exact
/// amount, then the next round figures in Rupiah notes, at most five.
pub fn quick_cash_amounts(total: i64) -> Vec<i64> {
    let mut out = vec![total.max(0)];
    if total <= 0 {
        return out;
    }
    for step in [1_000i64, 5_000, 10_000, 20_000, 50_000, 100_000] {
        let rounded = ((total + step - 1) / step).saturating_mul(step);
        if !out.contains(&rounded) {
            out.push(rounded);
        }
    }
    for note in [50_000i64, 100_000] {
        if note > total && !out.contains(&note) {
            out.push(note);
        }
    }
    out.sort_unstable();
    out.dedup();
    out.truncate(5);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn quantities_parse_with_comma_or_dot() {
        assert_eq!(parse_quantity("3").unwrap().milli(), 3000);
        assert_eq!(parse_quantity("0,450").unwrap().milli(), 450);
        assert_eq!(parse_quantity("1.5").unwrap().milli(), 1500);
        for bad in ["0", "-1", "abc", "0.0001", "100000", ""] {
            assert!(parse_quantity(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn multiplier_prefix_rings_several() {
        let (q, code) = split_multiplier("3*899100").unwrap();
        assert_eq!((q.milli(), code.as_str()), (3000, "899100"));
        let (q, code) = split_multiplier(" 899100 ").unwrap();
        assert_eq!((q.milli(), code.as_str()), (1000, "899100"));
        assert!(split_multiplier("3*").is_err());
        assert!(split_multiplier("").is_err());
    }

    #[test]
    fn a_second_scan_of_the_same_item_adds_to_its_line() {
        let mut cart = Cart::default();
        assert_eq!(cart.add("A", Quantity::ONE).unwrap(), 0);
        assert_eq!(cart.add("A", Quantity::ONE).unwrap(), 0);
        assert_eq!(cart.add("B", Quantity::ONE).unwrap(), 1);
        assert_eq!(cart.add("A", Quantity::ONE).unwrap(), 2);
        assert_eq!(cart.items[0].quantity_milli, 2000);
        cart.set_line_discount(2, Some(DiscountInput::Amount { amount: 100 }))
            .unwrap();
        assert_eq!(
            cart.add("A", Quantity::ONE).unwrap(),
            3,
            "a discounted line is not merged"
        );
        cart.remove(1).unwrap();
        assert_eq!(cart.items.len(), 3);
        assert!(cart.remove(3).is_err());
        assert!(cart.set_quantity(0, Quantity::ZERO).is_err());
    }

    #[test]
    fn supervisor_threshold_is_exclusive_and_exact() {
        let t = Decimal::from(10);
        assert!(!needs_supervisor(Money::idr(1_000), Money::idr(10_000), t));
        assert!(needs_supervisor(Money::idr(1_001), Money::idr(10_000), t));
        assert!(!needs_supervisor(Money::idr(0), Money::idr(0), t));
        assert!(needs_supervisor(Money::idr(1), Money::idr(0), t));
    }

    #[test]
    fn quick_amounts_start_with_the_exact_total() {
        assert_eq!(
            quick_cash_amounts(37_500),
            vec![37_500, 38_000, 40_000, 50_000, 100_000]
        );
        assert_eq!(quick_cash_amounts(50_000), vec![50_000, 60_000, 100_000]);
        assert_eq!(quick_cash_amounts(0), vec![0]);
        assert_eq!(quick_cash_amounts(123_456)[0], 123_456);
    }
}
