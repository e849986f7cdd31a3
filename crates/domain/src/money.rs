//! Money as integer minor units with a currency.
//!
//! For the rupiah the minor unit is the whole rupiah (exponent 0): Indonesian
//! prices have no sen. `Rp 50.000` is `Money::idr(50_000)`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::DomainError;

/// An ISO 4217 currency this build can handle.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Currency {
    /// Indonesian rupiah; minor unit = 1 rupiah.
    IDR,
}

impl Currency {
    /// The ISO 4217 code, e.g. `"IDR"`.
    pub fn code(&self) -> &'static str {
        match self {
            Currency::IDR => "IDR",
        }
    }

    /// Decimal places of the minor unit (0 for the rupiah).
    pub fn minor_exponent(&self) -> u32 {
        match self {
            Currency::IDR => 0,
        }
    }

    /// The symbol printed before amounts, e.g. `"Rp"`.
    pub fn symbol(&self) -> &'static str {
        match self {
            Currency::IDR => "Rp",
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = DomainError;

    /// Case-insensitive ISO code: `"IDR"`, `"idr"`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim().eq_ignore_ascii_case("IDR") {
            Ok(Currency::IDR)
        } else {
            Err(DomainError::UnknownCurrency(s.to_string()))
        }
    }
}

/// An amount of money: a signed count of minor units in one currency.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    /// `minor` units of `currency`.
    pub fn new(minor: i64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    /// Whole rupiah: `Money::idr(50_000)` is `Rp 50.000`.
    pub fn idr(minor: i64) -> Money {
        Money::new(minor, Currency::IDR)
    }

    /// Zero in `c`.
    pub fn zero(c: Currency) -> Money {
        Money::new(0, c)
    }

    /// The amount in minor units.
    pub fn minor(&self) -> i64 {
        self.minor
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    fn same_currency(&self, o: &Money) -> Result<(), DomainError> {
        if self.currency == o.currency {
            Ok(())
        } else {
            Err(DomainError::CurrencyMismatch {
                expected: self.currency,
                found: o.currency,
            })
        }
    }

    /// `self + o`; `CurrencyMismatch` or `Overflow`.
    pub fn checked_add(self, o: Money) -> Result<Money, DomainError> {
        self.same_currency(&o)?;
        let minor = self
            .minor
            .checked_add(o.minor)
            .ok_or(DomainError::Overflow)?;
        Ok(Money::new(minor, self.currency))
    }

    /// `self - o`; `CurrencyMismatch` or `Overflow`.
    pub fn checked_sub(self, o: Money) -> Result<Money, DomainError> {
        self.same_currency(&o)?;
        let minor = self
            .minor
            .checked_sub(o.minor)
            .ok_or(DomainError::Overflow)?;
        Ok(Money::new(minor, self.currency))
    }

    /// `-self`; `Overflow` for the most negative amount.
    pub fn checked_neg(self) -> Result<Money, DomainError> {
        let minor = self.minor.checked_neg().ok_or(DomainError::Overflow)?;
        Ok(Money::new(minor, self.currency))
    }

    /// Sum of `items`, all in `currency`; zero when empty.
    pub fn checked_sum<I: IntoIterator<Item = Money>>(
        currency: Currency,
        items: I,
    ) -> Result<Money, DomainError> {
        items
            .into_iter()
            .try_fold(Money::zero(currency), Money::checked_add)
    }

    /// Below zero.
    pub fn is_negative(&self) -> bool {
        self.minor < 0
    }

    /// Above zero.
    pub fn is_positive(&self) -> bool {
        self.minor > 0
    }

    /// Exactly zero.
    pub fn is_zero(&self) -> bool {
        self.minor == 0
    }
}

/// Groups the digits of `n` in threes with `sep`: `1234567` -> `1.234.567`.
fn group_thousands(n: u64, sep: char) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(ch);
    }
    out
}

impl fmt::Display for Money {
    /// Indonesian style: `Rp 50.000`, `-Rp 1.500` (dot groups thousands; a
    /// currency with a minor exponent shows its decimals after a comma).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        let exp = self.currency.minor_exponent();
        let symbol = self.currency.symbol();
        if exp == 0 {
            write!(f, "{sign}{symbol} {}", group_thousands(abs, '.'))
        } else {
            let scale = 10u64.pow(exp);
            let (major, minor) = (abs / scale, abs % scale);
            write!(
                f,
                "{sign}{symbol} {},{minor:0width$}",
                group_thousands(major, '.'),
                width = exp as usize
            )
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn displays_indonesian_style() {
        assert_eq!(Money::idr(50_000).to_string(), "Rp 50.000");
        assert_eq!(Money::idr(-1_500).to_string(), "-Rp 1.500");
        assert_eq!(Money::idr(0).to_string(), "Rp 0");
        assert_eq!(Money::idr(999).to_string(), "Rp 999");
        assert_eq!(Money::idr(1_000).to_string(), "Rp 1.000");
        assert_eq!(Money::idr(52_500).to_string(), "Rp 52.500");
        assert_eq!(Money::idr(1_234_567).to_string(), "Rp 1.234.567");
        assert_eq!(
            Money::idr(i64::MIN).to_string(),
            "-Rp 9.223.372.036.854.775.808"
        );
    }

    #[test]
    fn checked_arithmetic_reports_overflow() {
        assert_eq!(
            Money::idr(i64::MAX).checked_add(Money::idr(1)),
            Err(DomainError::Overflow)
        );
        assert_eq!(
            Money::idr(i64::MIN).checked_sub(Money::idr(1)),
            Err(DomainError::Overflow)
        );
        assert_eq!(
            Money::idr(5).checked_sub(Money::idr(7)).unwrap(),
            Money::idr(-2)
        );
        assert!(Money::idr(i64::MIN).checked_neg().is_err());
    }

    #[test]
    fn currency_codes() {
        assert_eq!(Currency::IDR.code(), "IDR");
        assert_eq!(Currency::IDR.minor_exponent(), 0);
        assert_eq!("idr".parse::<Currency>().unwrap(), Currency::IDR);
        assert!(matches!(
            "USD".parse::<Currency>(),
            Err(DomainError::UnknownCurrency(_))
        ));
    }
}
