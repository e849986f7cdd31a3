//! Tax configuration: inclusive (the default) or exclusive prices, rates per category.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::money::Money;
use crate::rounding::{decimal_parts, mul_div_round};

/// Whether shelf prices already include tax.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaxMode {
    /// Prices include tax (the default, as in most Indonesian retail).
    #[default]
    Inclusive,
    /// Tax is added on top of prices.
    Exclusive,
}

impl TaxMode {
    /// `"inclusive"` or `"exclusive"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            TaxMode::Inclusive => "inclusive",
            TaxMode::Exclusive => "exclusive",
        }
    }
}

impl fmt::Display for TaxMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TaxMode {
    type Err = DomainError;

    /// Case-insensitive `inclusive` / `exclusive`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "inclusive" => Ok(TaxMode::Inclusive),
            "exclusive" => Ok(TaxMode::Exclusive),
            _ => Err(DomainError::UnknownTaxMode(s.to_string())),
        }
    }
}

/// A branch's tax set-up: the mode and a percent rate per tax category.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaxConfig {
    pub mode: TaxMode,
    /// Category -> rate in percent (`11` is 11%).
    pub rates: BTreeMap<String, Decimal>,
}

impl TaxConfig {
    /// Inclusive prices; `"standard"` => 11 (PPN 11%), `"exempt"` => 0.
    pub fn indonesia_default() -> TaxConfig {
        let mut rates = BTreeMap::new();
        rates.insert("standard".to_string(), Decimal::from(11));
        rates.insert("exempt".to_string(), Decimal::ZERO);
        TaxConfig {
            mode: TaxMode::Inclusive,
            rates,
        }
    }

    /// The percent rate of `category`; `UnknownTaxCategory` if missing,
    /// `InvalidTaxRate` if configured below zero.
    pub fn rate_for(&self, category: &str) -> Result<Decimal, DomainError> {
        let rate = self
            .rates
            .get(category)
            .copied()
            .ok_or_else(|| DomainError::UnknownTaxCategory(category.to_string()))?;
        if rate.is_sign_negative() && !rate.is_zero() {
            return Err(DomainError::InvalidTaxRate {
                category: category.to_string(),
                rate: rate.to_string(),
            });
        }
        Ok(rate)
    }
}

/// Tax of one line (rule 6): returns `(tax, total)` for the line's `net` at
/// `rate` percent. Inclusive: `tax = round(net × r / (100 + r))`, `total = net`.
/// Exclusive: `tax = round(net × r / 100)`, `total = net + tax`.
pub fn line_tax(net: Money, rate: Decimal, mode: TaxMode) -> Result<(Money, Money), DomainError> {
    let (m, scale) = decimal_parts(rate)?;
    let hundred = scale.checked_mul(100).ok_or(DomainError::Overflow)?;
    match mode {
        TaxMode::Inclusive => {
            let den = hundred.checked_add(m).ok_or(DomainError::Overflow)?;
            let tax = Money::new(mul_div_round(net.minor(), m, den)?, net.currency());
            Ok((tax, net))
        }
        TaxMode::Exclusive => {
            let tax = Money::new(mul_div_round(net.minor(), m, hundred)?, net.currency());
            Ok((tax, net.checked_add(tax)?))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn indonesia_default_is_inclusive_ppn_11() {
        let t = TaxConfig::indonesia_default();
        assert_eq!(t.mode, TaxMode::Inclusive);
        assert_eq!(t.rate_for("standard").unwrap(), dec!(11));
        assert_eq!(t.rate_for("exempt").unwrap(), dec!(0));
        assert_eq!(
            t.rate_for("luxury"),
            Err(DomainError::UnknownTaxCategory("luxury".into()))
        );
    }

    #[test]
    fn negative_rate_refused() {
        let mut t = TaxConfig::indonesia_default();
        t.rates.insert("odd".into(), dec!(-1));
        assert!(matches!(
            t.rate_for("odd"),
            Err(DomainError::InvalidTaxRate { .. })
        ));
    }

    #[test]
    fn mode_strings() {
        assert_eq!(TaxMode::default(), TaxMode::Inclusive);
        assert_eq!(TaxMode::Exclusive.as_str(), "exclusive");
        assert_eq!("Inclusive".parse::<TaxMode>().unwrap(), TaxMode::Inclusive);
        assert_eq!("exclusive".parse::<TaxMode>().unwrap(), TaxMode::Exclusive);
        assert!("both".parse::<TaxMode>().is_err());
    }

    #[test]
    fn fractional_rates_are_exact() {
        // 12% × 11/12 = 11% expressed as a decimal with many places still rounds exactly.
        let (tax, total) =
            line_tax(Money::idr(100_000), dec!(11.000000), TaxMode::Exclusive).unwrap();
        assert_eq!((tax, total), (Money::idr(11_000), Money::idr(111_000)));
        let (tax, _) = line_tax(Money::idr(1_000), dec!(2.5), TaxMode::Exclusive).unwrap();
        assert_eq!(tax, Money::idr(25));
    }
}
