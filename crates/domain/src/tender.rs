//! Payments: cash (with change), card, static QRIS, voucher, and split tender.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::money::Money;

/// How a customer pays.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    /// Cash; the only method that gives change.
    Cash,
    /// Debit or credit card on a stand-alone EDC; approval code optional.
    Card,
    /// Static QRIS; needs the customer's payment reference. A dynamic QR needs
    /// the acquirer online and cannot be settled offline.
    Qris,
    /// Voucher or gift card; needs its code.
    Voucher,
}

impl PaymentMethod {
    /// All methods, in report order.
    pub const ALL: [PaymentMethod; 4] = [
        PaymentMethod::Cash,
        PaymentMethod::Card,
        PaymentMethod::Qris,
        PaymentMethod::Voucher,
    ];

    /// `"cash"`, `"card"`, `"qris"`, `"voucher"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            PaymentMethod::Cash => "cash",
            PaymentMethod::Card => "card",
            PaymentMethod::Qris => "qris",
            PaymentMethod::Voucher => "voucher",
        }
    }

    /// The name shown to people: `Cash`, `Card`, `QRIS`, `Voucher`.
    pub fn label(&self) -> &'static str {
        match self {
            PaymentMethod::Cash => "Cash",
            PaymentMethod::Card => "Card",
            PaymentMethod::Qris => "QRIS",
            PaymentMethod::Voucher => "Voucher",
        }
    }

    /// Whether a tender of this method must carry a reference.
    pub fn requires_reference(&self) -> bool {
        matches!(self, PaymentMethod::Qris | PaymentMethod::Voucher)
    }

    /// What the reference of this method is, for messages.
    pub fn reference_label(&self) -> &'static str {
        match self {
            PaymentMethod::Cash => "no reference",
            PaymentMethod::Card => "an approval code",
            PaymentMethod::Qris => "the customer's payment reference",
            PaymentMethod::Voucher => "the voucher code",
        }
    }
}

impl fmt::Display for PaymentMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PaymentMethod {
    type Err = DomainError;

    /// Case-insensitive `cash`, `card`, `qris`, `voucher`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        PaymentMethod::ALL
            .into_iter()
            .find(|m| m.as_str() == lower)
            .ok_or_else(|| DomainError::UnknownPaymentMethod(s.to_string()))
    }
}

/// One payment towards a sale.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tender {
    pub method: PaymentMethod,
    pub amount: Money,
    /// QRIS customer reference, voucher code, or optional card approval code.
    pub reference: Option<String>,
}

/// Accepted payments of a sale. Invariant: `paid − change == total`, `change <= cash tendered`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settlement {
    pub tenders: Vec<Tender>,
    pub paid: Money,
    pub change: Money,
}

impl Settlement {
    /// Amount kept per method; cash is net of change. Every tendered method
    /// appears, even if its net is zero. (Saturating arithmetic: cannot
    /// overflow for a settlement made by [`settle`].)
    pub fn net_by_method(&self) -> BTreeMap<PaymentMethod, Money> {
        let mut out: BTreeMap<PaymentMethod, Money> = BTreeMap::new();
        for t in &self.tenders {
            let e = out
                .entry(t.method)
                .or_insert_with(|| Money::zero(t.amount.currency()));
            *e = Money::new(e.minor().saturating_add(t.amount.minor()), e.currency());
        }
        if !self.change.is_zero() {
            let e = out
                .entry(PaymentMethod::Cash)
                .or_insert_with(|| Money::zero(self.change.currency()));
            *e = Money::new(e.minor().saturating_sub(self.change.minor()), e.currency());
        }
        out
    }

    /// Cash handed over by the customer, before change.
    pub fn cash_tendered(&self) -> Money {
        let c = self.paid.currency();
        Money::new(
            self.tenders
                .iter()
                .filter(|t| t.method == PaymentMethod::Cash)
                .fold(0i64, |acc, t| acc.saturating_add(t.amount.minor())),
            c,
        )
    }
}

/// Checks `tenders` against `total` and works out the change (rule 7).
///
/// At least one tender (`NoTender`); each amount > 0 (`NonPositiveTender`);
/// QRIS and voucher need a non-blank reference (`MissingReference`); the sum must
/// reach the total (`TenderShort`); non-cash tenders together may not exceed the
/// total (`NonCashOverpay`), so change comes only out of cash.
pub fn settle(total: Money, tenders: Vec<Tender>) -> Result<Settlement, DomainError> {
    if total.is_negative() {
        return Err(DomainError::NegativeTotal(total));
    }
    if tenders.is_empty() {
        return Err(DomainError::NoTender);
    }
    let currency = total.currency();
    let mut paid = Money::zero(currency);
    let mut cash = Money::zero(currency);
    for t in &tenders {
        if t.amount.currency() != currency {
            return Err(DomainError::CurrencyMismatch {
                expected: currency,
                found: t.amount.currency(),
            });
        }
        if !t.amount.is_positive() {
            return Err(DomainError::NonPositiveTender {
                method: t.method,
                amount: t.amount,
            });
        }
        let has_ref = t.reference.as_deref().is_some_and(|r| !r.trim().is_empty());
        if t.method.requires_reference() && !has_ref {
            return Err(DomainError::MissingReference { method: t.method });
        }
        paid = paid.checked_add(t.amount)?;
        if t.method == PaymentMethod::Cash {
            cash = cash.checked_add(t.amount)?;
        }
    }
    if paid < total {
        return Err(DomainError::TenderShort { total, paid });
    }
    let non_cash = paid.checked_sub(cash)?;
    let change = paid.checked_sub(total)?;
    if non_cash > total || change > cash {
        return Err(DomainError::NonCashOverpay { non_cash, total });
    }
    Ok(Settlement {
        tenders,
        paid,
        change,
    })
}

/// The Rupiah notes and coins a till's drawer holds, largest first: what
/// the cashier counts at shift close (Bank Indonesia's notes of 2022 and the
/// coins in circulation; the rare Rp 75.000 commemorative note and the
/// Rp 50 coin are left out of the drawer).
pub const RUPIAH_DENOMINATIONS: [i64; 10] = [
    100_000, 50_000, 20_000, 10_000, 5_000, 2_000, 1_000, 500, 200, 100,
];

/// The cash a count by denomination adds up to: `Σ value × count`, checked.
/// `None` when a value is not positive or the sum overflows.
pub fn cash_count_total(counts: &[(i64, u64)]) -> Option<i64> {
    counts.iter().try_fold(0i64, |sum, (value, count)| {
        if *value <= 0 {
            return None;
        }
        value
            .checked_mul(i64::try_from(*count).ok()?)
            .and_then(|v| sum.checked_add(v))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn t(method: PaymentMethod, amount: i64, reference: Option<&str>) -> Tender {
        Tender {
            method,
            amount: Money::idr(amount),
            reference: reference.map(str::to_string),
        }
    }

    #[test]
    fn method_strings() {
        assert_eq!(
            "QRIS".parse::<PaymentMethod>().unwrap(),
            PaymentMethod::Qris
        );
        assert_eq!(
            " Cash".parse::<PaymentMethod>().unwrap(),
            PaymentMethod::Cash
        );
        assert_eq!(
            "gopay".parse::<PaymentMethod>(),
            Err(DomainError::UnknownPaymentMethod("gopay".into()))
        );
        for m in PaymentMethod::ALL {
            assert_eq!(m.as_str().parse::<PaymentMethod>().unwrap(), m);
        }
    }

    #[test]
    fn exact_card_no_change() {
        let s = settle(
            Money::idr(52_500),
            vec![t(PaymentMethod::Card, 52_500, None)],
        )
        .unwrap();
        assert_eq!(s.change, Money::idr(0));
        assert_eq!(s.net_by_method()[&PaymentMethod::Card], Money::idr(52_500));
    }

    #[test]
    fn refusals() {
        let total = Money::idr(52_500);
        assert_eq!(settle(total, vec![]), Err(DomainError::NoTender));
        assert!(matches!(
            settle(total, vec![t(PaymentMethod::Cash, 0, None)]),
            Err(DomainError::NonPositiveTender { .. })
        ));
        assert_eq!(
            settle(total, vec![t(PaymentMethod::Qris, 52_500, Some("  "))]),
            Err(DomainError::MissingReference {
                method: PaymentMethod::Qris
            })
        );
        assert_eq!(
            settle(total, vec![t(PaymentMethod::Voucher, 52_500, None)]),
            Err(DomainError::MissingReference {
                method: PaymentMethod::Voucher
            })
        );
        assert!(matches!(
            settle(
                total,
                vec![
                    t(PaymentMethod::Card, 50_000, None),
                    t(PaymentMethod::Voucher, 10_000, Some("V1"))
                ]
            ),
            Err(DomainError::NonCashOverpay { .. })
        ));
        assert!(matches!(
            settle(Money::idr(-1), vec![t(PaymentMethod::Cash, 1, None)]),
            Err(DomainError::NegativeTotal(_))
        ));
    }

    #[test]
    fn messages_read_well() {
        assert_eq!(
            DomainError::MissingReference {
                method: PaymentMethod::Qris
            }
            .to_string(),
            "QRIS payment needs the customer's payment reference"
        );
        assert_eq!(
            DomainError::NonCashOverpay {
                non_cash: Money::idr(60_000),
                total: Money::idr(52_500)
            }
            .to_string(),
            "non-cash payments Rp 60.000 exceed the total Rp 52.500: only cash can give change"
        );
    }
}
