//! Quantities in integer thousandths, so weighed goods (3 decimals) are exact.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::DomainError;

/// A quantity in thousandths of a unit: `1.5` kg is `Quantity::from_milli(1500)`.
///
/// Serialised as the bare integer count of thousandths.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Quantity(i64);

impl Quantity {
    /// One whole unit (1000 thousandths).
    pub const ONE: Quantity = Quantity(1000);
    /// Nothing.
    pub const ZERO: Quantity = Quantity(0);
    /// Thousandths per unit.
    pub const MILLI_PER_UNIT: i64 = 1000;

    /// `m` thousandths.
    pub fn from_milli(m: i64) -> Quantity {
        Quantity(m)
    }

    /// `u` whole units; saturates at the i64 range (use `checked_from_units` to detect it).
    pub fn from_units(u: i64) -> Quantity {
        Quantity(u.saturating_mul(Self::MILLI_PER_UNIT))
    }

    /// `u` whole units; `Overflow` when out of range.
    pub fn checked_from_units(u: i64) -> Result<Quantity, DomainError> {
        u.checked_mul(Self::MILLI_PER_UNIT)
            .map(Quantity)
            .ok_or(DomainError::Overflow)
    }

    /// The quantity in thousandths.
    pub fn milli(&self) -> i64 {
        self.0
    }

    /// Above zero.
    pub fn is_positive(&self) -> bool {
        self.0 > 0
    }

    /// `self + o`; `Overflow` when out of range.
    pub fn checked_add(self, o: Quantity) -> Result<Quantity, DomainError> {
        self.0
            .checked_add(o.0)
            .map(Quantity)
            .ok_or(DomainError::Overflow)
    }

    /// `self - o`; `Overflow` when out of range.
    pub fn checked_sub(self, o: Quantity) -> Result<Quantity, DomainError> {
        self.0
            .checked_sub(o.0)
            .map(Quantity)
            .ok_or(DomainError::Overflow)
    }
}

impl FromStr for Quantity {
    type Err = DomainError;

    /// `"2"` -> 2000, `"1.5"` -> 1500, `"0.125"` -> 125. A dot is the only
    /// decimal separator (a comma would be ambiguous with `1,500`); no sign, no
    /// spaces, at most 3 decimals. Zero parses (and is then refused by pricing
    /// and refunds as not positive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || DomainError::InvalidQuantity(s.to_string());
        let (int, frac) = match s.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (s, None),
        };
        if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let units: i64 = int.parse().map_err(|_| bad())?;
        let mut milli = units.checked_mul(Self::MILLI_PER_UNIT).ok_or_else(bad)?;
        if let Some(frac) = frac {
            if frac.is_empty() || frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let mut f: i64 = frac.parse().map_err(|_| bad())?;
            for _ in frac.len()..3 {
                f *= 10;
            }
            milli = milli.checked_add(f).ok_or_else(bad)?;
        }
        Ok(Quantity(milli))
    }
}

impl fmt::Display for Quantity {
    /// `2`, `1.5`, `0.125`, `-0.25`: no trailing zeros, no thousands separator.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let per = Self::MILLI_PER_UNIT.unsigned_abs();
        let (units, frac) = (abs / per, abs % per);
        if frac == 0 {
            write!(f, "{sign}{units}")
        } else {
            let digits = format!("{frac:03}");
            write!(f, "{sign}{units}.{}", digits.trim_end_matches('0'))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_and_displays() {
        for (text, milli) in [
            ("2", 2000),
            ("1.5", 1500),
            ("0.125", 125),
            ("0", 0),
            ("10.25", 10250),
            ("0.001", 1),
        ] {
            let q: Quantity = text.parse().unwrap();
            assert_eq!(q.milli(), milli, "{text}");
            assert_eq!(q.to_string(), text);
        }
        assert_eq!("1.500".parse::<Quantity>().unwrap().to_string(), "1.5");
        assert_eq!("007".parse::<Quantity>().unwrap().milli(), 7000);
        assert_eq!(Quantity::from_milli(-250).to_string(), "-0.25");
        assert_eq!(Quantity::ONE, Quantity::from_units(1));
    }

    #[test]
    fn rejects_junk() {
        for text in [
            "",
            "-1",
            "+1",
            "1.2345",
            "abc",
            "1.",
            ".5",
            "1,5",
            " 1",
            "1 ",
            "1.2.3",
            "1e3",
            "99999999999999999999",
            "9223372036854775.807x",
        ] {
            assert!(
                matches!(text.parse::<Quantity>(), Err(DomainError::InvalidQuantity(ref s)) if s == text),
                "{text:?} should be refused"
            );
        }
    }
}
