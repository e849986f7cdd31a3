//! Planning a refund against a sale's lines (rule 8).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::money::Money;
use crate::quantity::Quantity;
use crate::rounding::mul_div_round;

/// A line of the original sale, with what has already been refunded of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoldLine {
    pub line_no: u32,
    pub sku: String,
    pub quantity: Quantity,
    /// What the customer paid for the line (tax included).
    pub total: Money,
    /// Tax contained in `total`.
    pub tax: Money,
    pub refunded_quantity: Quantity,
}

impl SoldLine {
    /// What is left to refund: `quantity − refunded_quantity`, never below zero.
    pub fn remaining(&self) -> Quantity {
        Quantity::from_milli(
            self.quantity
                .milli()
                .saturating_sub(self.refunded_quantity.milli())
                .max(0),
        )
    }
}

/// "Give back this much of this sku."
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRequest {
    pub sku: String,
    pub quantity: Quantity,
}

/// What to refund from one sale line: `amount` includes `tax`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundLinePlan {
    pub line_no: u32,
    pub sku: String,
    pub quantity: Quantity,
    pub amount: Money,
    pub tax: Money,
}

/// Rule 8: the part of `line_amount` for refunding `now` after `already` of a
/// line sold in quantity `sold`:
/// `round(T × (already + now) / sold) − round(T × already / sold)`.
/// Refunding a line in any number of pieces therefore returns exactly `T`.
pub fn refund_share(
    line_amount: Money,
    sold: Quantity,
    already: Quantity,
    now: Quantity,
) -> Result<Money, DomainError> {
    let den = i128::from(sold.milli());
    let after = already.checked_add(now)?;
    let upto = mul_div_round(line_amount.minor(), i128::from(after.milli()), den)?;
    let before = mul_div_round(line_amount.minor(), i128::from(already.milli()), den)?;
    let minor = upto.checked_sub(before).ok_or(DomainError::Overflow)?;
    Ok(Money::new(minor, line_amount.currency()))
}

/// Plans a refund: each request is filled from its sku's lines in line order,
/// out of each line's remaining quantity. Several requests for one sku add up;
/// the plan has one entry per touched line, in line order.
///
/// Errors (nothing is planned if any request fails): `EmptyRefund`,
/// `NonPositiveQuantity`, `NotOnSale`, `OverRefund` (with what is still
/// refundable of that sku, after earlier requests of the same call), `Overflow`.
pub fn plan_refund(
    sold: &[SoldLine],
    requests: &[RefundRequest],
) -> Result<Vec<RefundLinePlan>, DomainError> {
    if requests.is_empty() {
        return Err(DomainError::EmptyRefund);
    }
    // Line order, then position for equal numbers.
    let mut order: Vec<usize> = (0..sold.len()).collect();
    order.sort_by_key(|&i| sold.get(i).map(|l| l.line_no));
    // Per sold index: quantity taken by this plan so far.
    let mut taken: BTreeMap<usize, Quantity> = BTreeMap::new();

    for req in requests {
        if !req.quantity.is_positive() {
            return Err(DomainError::NonPositiveQuantity {
                sku: req.sku.clone(),
                quantity: req.quantity,
            });
        }
        let lines: Vec<usize> = order
            .iter()
            .copied()
            .filter(|&i| sold.get(i).is_some_and(|l| l.sku == req.sku))
            .collect();
        if lines.is_empty() {
            return Err(DomainError::NotOnSale {
                sku: req.sku.clone(),
            });
        }
        let left_of =
            |i: usize, taken: &BTreeMap<usize, Quantity>| -> Result<Quantity, DomainError> {
                let remaining = sold.get(i).map_or(Quantity::ZERO, SoldLine::remaining);
                remaining.checked_sub(taken.get(&i).copied().unwrap_or(Quantity::ZERO))
            };
        let mut refundable = Quantity::ZERO;
        for &i in &lines {
            refundable = refundable.checked_add(left_of(i, &taken)?)?;
        }
        if req.quantity > refundable {
            return Err(DomainError::OverRefund {
                sku: req.sku.clone(),
                requested: req.quantity,
                refundable,
            });
        }
        let mut want = req.quantity;
        for &i in &lines {
            if !want.is_positive() {
                break;
            }
            let left = left_of(i, &taken)?;
            let take = want.min(left);
            if take.is_positive() {
                let t = taken.entry(i).or_insert(Quantity::ZERO);
                *t = t.checked_add(take)?;
                want = want.checked_sub(take)?;
            }
        }
    }

    let mut plan = Vec::with_capacity(taken.len());
    for &i in &order {
        let (Some(q), Some(line)) = (taken.get(&i).copied(), sold.get(i)) else {
            continue;
        };
        let already = line.refunded_quantity.max(Quantity::ZERO);
        plan.push(RefundLinePlan {
            line_no: line.line_no,
            sku: line.sku.clone(),
            quantity: q,
            amount: refund_share(line.total, line.quantity, already, q)?,
            tax: refund_share(line.tax, line.quantity, already, q)?,
        });
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn line(no: u32, sku: &str, qty: i64, total: i64, tax: i64, refunded: i64) -> SoldLine {
        SoldLine {
            line_no: no,
            sku: sku.into(),
            quantity: Quantity::from_units(qty),
            total: Money::idr(total),
            tax: Money::idr(tax),
            refunded_quantity: Quantity::from_units(refunded),
        }
    }

    fn req(sku: &str, qty: i64) -> RefundRequest {
        RefundRequest {
            sku: sku.into(),
            quantity: Quantity::from_units(qty),
        }
    }

    #[test]
    fn fills_lines_in_order_across_duplicates() {
        let sold = vec![
            line(2, "A", 2, 20_000, 1_982, 0),
            line(1, "A", 1, 10_000, 991, 1),
            line(3, "B", 1, 5_000, 495, 0),
        ];
        let plan = plan_refund(&sold, &[req("A", 1), req("A", 1)]).unwrap();
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].line_no, 2);
        assert_eq!(plan[0].quantity, Quantity::from_units(2));
        assert_eq!(plan[0].amount, Money::idr(20_000));
        assert_eq!(plan[0].tax, Money::idr(1_982));
    }

    #[test]
    fn refusals() {
        let sold = vec![line(1, "A", 2, 20_000, 1_982, 1)];
        assert_eq!(plan_refund(&sold, &[]), Err(DomainError::EmptyRefund));
        assert_eq!(
            plan_refund(&sold, &[req("Z", 1)]),
            Err(DomainError::NotOnSale { sku: "Z".into() })
        );
        assert!(matches!(
            plan_refund(&sold, &[req("A", 0)]),
            Err(DomainError::NonPositiveQuantity { .. })
        ));
        assert_eq!(
            plan_refund(&sold, &[req("A", 1), req("A", 1)]),
            Err(DomainError::OverRefund {
                sku: "A".into(),
                requested: Quantity::from_units(1),
                refundable: Quantity::ZERO,
            })
        );
        assert_eq!(
            DomainError::OverRefund {
                sku: "A".into(),
                requested: Quantity::from_units(2),
                refundable: Quantity::from_milli(500),
            }
            .to_string(),
            "cannot refund 2 of A: only 0.5 left to refund on this sale"
        );
    }
}
