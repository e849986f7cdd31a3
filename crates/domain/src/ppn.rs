//! The monthly PPN return of retail sales (PMK 131/2024, in force since
//! 1 January 2025): from the tills' lines of one tax class, summed over a
//! month, to the figures the return asks for. Rule "PPN return" in
//! `docs/money.md`. Also the seller's NPWP as typed and as printed.
//!
//! The PPN reported is the sum of the tills' line taxes, so the return
//! agrees with the terminals to the rupiah; only the DPP is derived here.

use crate::error::DomainError;
use crate::rounding::mul_div_round;

/// A tax class as the return treats it: the DPP is `numerator/denominator`
/// of the selling price (11/12 for ordinary goods, 1/1 for luxury goods);
/// exempt goods have no DPP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DppFraction {
    pub numerator: i64,
    pub denominator: i64,
}

impl DppFraction {
    /// DPP nilai lain of ordinary goods: 11/12 of the selling price.
    pub const NILAI_LAIN: DppFraction = DppFraction {
        numerator: 11,
        denominator: 12,
    };
    /// The full selling price (luxury goods).
    pub const FULL: DppFraction = DppFraction {
        numerator: 1,
        denominator: 1,
    };
}

/// One class's month, as summed from the lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClassSums {
    /// What customers paid, PPN included (line totals, less refunds).
    pub sales_incl: i64,
    /// The PPN in it (line taxes, less refunds' taxes).
    pub ppn: i64,
}

/// The return's figures for one class and month.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReturnLine {
    pub sales_incl: i64,
    /// Harga jual: sales without PPN.
    pub harga_jual: i64,
    /// Dasar pengenaan pajak; 0 for exempt goods.
    pub dpp: i64,
    pub ppn: i64,
}

/// `harga_jual = sales_incl − ppn`; `dpp = round(harga_jual × n / d)`
/// (half away from zero, once, on the month's sum); exempt (`rate_zero`):
/// no DPP.
pub fn return_line(
    sums: ClassSums,
    dpp: DppFraction,
    rate_zero: bool,
) -> Result<ReturnLine, DomainError> {
    let harga_jual = sums
        .sales_incl
        .checked_sub(sums.ppn)
        .ok_or(DomainError::Overflow)?;
    let dpp = if rate_zero {
        0
    } else {
        mul_div_round(
            harga_jual,
            i128::from(dpp.numerator),
            i128::from(dpp.denominator),
        )?
    };
    Ok(ReturnLine {
        sales_incl: sums.sales_incl,
        harga_jual,
        dpp,
        ppn: sums.ppn,
    })
}

/// An NPWP as typed (`01.234.567.8-901.000`, or the 16-digit NIK-based
/// one): digits only, 15 or 16 of them.
pub fn parse_npwp(s: &str) -> std::result::Result<String, String> {
    let digits: String = s
        .chars()
        .filter(|c| !matches!(c, '.' | '-' | ' '))
        .collect();
    if (digits.len() == 15 || digits.len() == 16) && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(digits)
    } else {
        Err(format!(
            "NPWP {s:?} must be 15 digits (01.234.567.8-901.000) or 16 digits"
        ))
    }
}

/// `01.234.567.8-901.000` for 15 digits; 16 digits as they are.
pub fn format_npwp(d: &str) -> String {
    if d.len() == 15 && d.is_ascii() {
        format!(
            "{}.{}.{}.{}-{}.{}",
            &d[0..2],
            &d[2..5],
            &d[5..8],
            &d[8..9],
            &d[9..12],
            &d[12..15]
        )
    } else {
        d.to_owned()
    }
}

#[cfg(test)]
mod npwp_tests {
    use super::*;

    #[test]
    fn npwp_as_typed_is_kept_as_digits_and_shown_with_its_dots() {
        assert_eq!(
            parse_npwp("01.234.567.8-901.000").as_deref(),
            Ok("012345678901000")
        );
        assert_eq!(format_npwp("012345678901000"), "01.234.567.8-901.000");
        assert!(parse_npwp("3171234567890123").is_ok());
        for bad in ["", "12345", "01.234.567.8-901.00A", "0123456789012345678"] {
            assert!(parse_npwp(bad).is_err(), "{bad}");
        }
    }
}
