//! The one rounding primitive: exact `round(a × num / den)`, half away from zero.
//!
//! Rates and proportions are `rust_decimal::Decimal`; a decimal `m × 10^-s` is
//! turned into the exact integer fraction `m / 10^s` and the quotient is rounded
//! on exact 128-bit integers, which is the same as
//! `RoundingStrategy::MidpointAwayFromZero` on the exact value, with no
//! intermediate precision loss (a property test checks the equivalence).

use rust_decimal::Decimal;

use crate::error::DomainError;

/// `round(num / den)` half away from zero. `den` must be non-zero.
pub(crate) fn round_div(num: i128, den: i128) -> Result<i128, DomainError> {
    if den == 0 {
        return Err(DomainError::Overflow);
    }
    let (num, den) = if den < 0 {
        (
            num.checked_neg().ok_or(DomainError::Overflow)?,
            den.checked_neg().ok_or(DomainError::Overflow)?,
        )
    } else {
        (num, den)
    };
    let q = num / den;
    let r = num % den;
    // |r| >= den - |r|  <=>  2|r| >= den, written without overflow.
    let ar = r.unsigned_abs();
    let half_or_more = ar >= den.unsigned_abs() - ar;
    if r != 0 && half_or_more {
        if num < 0 {
            q.checked_sub(1).ok_or(DomainError::Overflow)
        } else {
            q.checked_add(1).ok_or(DomainError::Overflow)
        }
    } else {
        Ok(q)
    }
}

/// `d` as the exact fraction `(mantissa, 10^scale)`, trailing zeros removed.
pub(crate) fn decimal_parts(d: Decimal) -> Result<(i128, i128), DomainError> {
    let n = d.normalize();
    let den = 10i128.checked_pow(n.scale()).ok_or(DomainError::Overflow)?;
    Ok((n.mantissa(), den))
}

/// `round(a × num / den)` to an `i64`, half away from zero.
pub(crate) fn mul_div_round(a: i64, num: i128, den: i128) -> Result<i64, DomainError> {
    let prod = i128::from(a)
        .checked_mul(num)
        .ok_or(DomainError::Overflow)?;
    let q = round_div(prod, den)?;
    i64::try_from(q).map_err(|_| DomainError::Overflow)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;
    use rust_decimal::RoundingStrategy;

    #[test]
    fn halves_go_away_from_zero() {
        assert_eq!(round_div(5, 2).unwrap(), 3);
        assert_eq!(round_div(-5, 2).unwrap(), -3);
        assert_eq!(round_div(7, 3).unwrap(), 2);
        assert_eq!(round_div(-7, 3).unwrap(), -2);
        assert_eq!(round_div(8, 3).unwrap(), 3);
        assert_eq!(round_div(5, -2).unwrap(), -3);
        assert_eq!(round_div(0, 7).unwrap(), 0);
        assert!(round_div(1, 0).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn matches_decimal_midpoint_away_from_zero(
            num in -1_000_000_000_000i64..1_000_000_000_000,
            den in 1i64..1_000_000,
        ) {
            let exact = Decimal::from(num) / Decimal::from(den);
            let want = exact.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
            let got = round_div(i128::from(num), i128::from(den)).unwrap();
            prop_assert_eq!(Decimal::from_i128_with_scale(got, 0), want);
        }
    }
}
