//! In-store EAN-13 labels printed by a shop's scales (GS1 prefixes 20–29):
//! which product, and the weight or the price the scale put in the code.
//!
//! A label is `PP IIIII VVVVV C` for the default rule: two prefix digits,
//! the item code, the embedded value, and the EAN-13 check digit. A branch
//! says per prefix how long the item code is (4–6 digits; the value takes
//! the rest) and whether the value is the weight in grams or the price in
//! rupiah. The rules are written in `docs/money.md` ("Weighed labels").

use serde::{Deserialize, Serialize};

/// What the value digits of a label hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Embeds {
    /// Net weight in grams (thousandths of a kilogram).
    Weight,
    /// The price the scale computed, in whole rupiah.
    Price,
}

/// How the labels with one prefix are read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScaleRule {
    /// `"20"` to `"29"`.
    pub prefix: String,
    /// 4, 5 or 6: the value takes the other `10 - item_digits` digits.
    pub item_digits: u8,
    pub embeds: Embeds,
}

/// A label read by a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScaleLabel {
    /// The item code as printed (leading zeros kept).
    pub item_code: String,
    /// The catalog barcode of the item: the label with its value zeroed
    /// and the check digit recomputed, e.g. `2012345000001`.
    pub item_barcode: String,
    pub embeds: Embeds,
    /// Grams, or whole rupiah.
    pub value: i64,
}

/// Why a scanned code starting with 20–29 is not a label the till can use.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    #[error("the check digit of {0} is wrong: scan it again or type it")]
    CheckDigit(String),
    #[error("the label {0} has no weight or price in it")]
    Zero(String),
}

impl ScaleRule {
    /// The default when a branch set none: prefix 20, a 5-digit item code,
    /// the weight in grams.
    pub fn defaults() -> Vec<ScaleRule> {
        vec![ScaleRule {
            prefix: "20".into(),
            item_digits: 5,
            embeds: Embeds::Weight,
        }]
    }

    /// Checks the rule's shape; the error names what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        let p = self.prefix.as_bytes();
        if !(p.len() == 2 && p[0] == b'2' && p[1].is_ascii_digit()) {
            return Err(format!(
                "scale prefix {:?} must be 20 to 29 (the in-store range)",
                self.prefix
            ));
        }
        if !(4..=6).contains(&self.item_digits) {
            return Err(format!(
                "scale prefix {}: the item code is 4, 5 or 6 digits, not {}",
                self.prefix, self.item_digits
            ));
        }
        Ok(())
    }

    /// One rule as written in the office form: `20 5 weight`.
    pub fn parse_line(line: &str) -> Result<ScaleRule, String> {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [prefix, digits, embeds] = parts.as_slice() else {
            return Err(format!(
                "scale rule {line:?} must be: prefix, item digits, weight or price (e.g. 20 5 weight)"
            ));
        };
        let embeds = match embeds.to_ascii_lowercase().as_str() {
            "weight" | "berat" => Embeds::Weight,
            "price" | "harga" => Embeds::Price,
            other => {
                return Err(format!(
                    "scale rule {line:?}: {other:?} is not weight or price"
                ));
            }
        };
        let item_digits = digits
            .parse::<u8>()
            .map_err(|_| format!("scale rule {line:?}: {digits:?} is not a number of digits"))?;
        let rule = ScaleRule {
            prefix: (*prefix).to_owned(),
            item_digits,
            embeds,
        };
        rule.validate()?;
        Ok(rule)
    }

    /// The rule as the office form writes it.
    pub fn to_line(&self) -> String {
        let embeds = match self.embeds {
            Embeds::Weight => "weight",
            Embeds::Price => "price",
        };
        format!("{} {} {embeds}", self.prefix, self.item_digits)
    }
}

/// The quantity (thousandths) a price label buys at `unit_price` per unit:
/// `round(price × 1000 / unit_price)`, half away from zero (rule 10 of
/// `docs/money.md`). The line is then priced by rule 2 at the till's price.
/// `None` when there is no price to divide by (0) or nothing to buy.
pub fn quantity_for_price(price: i64, unit_price: i64) -> Option<i64> {
    if unit_price <= 0 || price <= 0 {
        return None;
    }
    crate::rounding::mul_div_round(price, 1000, i128::from(unit_price))
        .ok()
        .filter(|q| *q > 0)
}

/// The EAN-13 check digit of the first 12 digits (weights 1, 3, 1, 3, …).
pub fn ean13_check_digit(first12: &[u8; 12]) -> u8 {
    let sum: u32 = first12
        .iter()
        .enumerate()
        .map(|(i, d)| u32::from(*d) * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// Reads `code` with the first rule whose prefix it starts with. `None`:
/// not an in-store label under these rules (13 digits, prefix matched), so
/// the caller looks the code up as it is.
pub fn read_label(code: &str, rules: &[ScaleRule]) -> Option<Result<ScaleLabel, LabelError>> {
    let bytes = code.as_bytes();
    if bytes.len() != 13 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let rule = rules
        .iter()
        .find(|r| r.validate().is_ok() && code.starts_with(&r.prefix))?;
    let digits: Vec<u8> = bytes.iter().map(|b| b - b'0').collect();
    let mut first12 = [0u8; 12];
    first12.copy_from_slice(&digits[..12]);
    if ean13_check_digit(&first12) != digits[12] {
        return Some(Err(LabelError::CheckDigit(code.to_owned())));
    }
    let item_end = 2 + usize::from(rule.item_digits);
    let value = digits[item_end..12]
        .iter()
        .fold(0i64, |v, d| v * 10 + i64::from(*d));
    if value == 0 {
        return Some(Err(LabelError::Zero(code.to_owned())));
    }
    let mut base = first12;
    base[item_end..].fill(0);
    let check = ean13_check_digit(&base);
    let item_barcode: String = base
        .iter()
        .chain(std::iter::once(&check))
        .map(|d| char::from(b'0' + d))
        .collect();
    Some(Ok(ScaleLabel {
        item_code: code[2..item_end].to_owned(),
        item_barcode,
        embeds: rule.embeds,
        value,
    }))
}

/// Builds a label (for tests, demos and the docs' examples).
pub fn make_label(rule: &ScaleRule, item_code: &str, value: i64) -> Option<String> {
    let value_digits = 10 - usize::from(rule.item_digits);
    if rule.validate().is_err()
        || item_code.len() != usize::from(rule.item_digits)
        || !item_code.bytes().all(|b| b.is_ascii_digit())
        || value < 0
        || value.to_string().len() > value_digits
    {
        return None;
    }
    let body = format!("{}{item_code}{value:0value_digits$}", rule.prefix);
    let mut first12 = [0u8; 12];
    for (d, b) in first12.iter_mut().zip(body.bytes()) {
        *d = b - b'0';
    }
    Some(format!("{body}{}", ean13_check_digit(&first12)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weight5() -> Vec<ScaleRule> {
        ScaleRule::defaults()
    }

    #[test]
    fn a_published_ean13_has_the_check_digit_we_compute() {
        // Indomie Goreng's printed code: 899886620030 + 1.
        let d: Vec<u8> = "899886620030".bytes().map(|b| b - b'0').collect();
        let mut a = [0u8; 12];
        a.copy_from_slice(&d);
        assert_eq!(ean13_check_digit(&a), 1);
    }

    #[test]
    fn a_weight_label_gives_the_item_and_the_grams() {
        let code = make_label(&weight5()[0], "12345", 450).expect("label");
        assert_eq!(&code[..12], "201234500450");
        let label = read_label(&code, &weight5())
            .expect("a label")
            .expect("valid");
        assert_eq!(label.item_code, "12345");
        assert_eq!(label.value, 450);
        assert_eq!(label.embeds, Embeds::Weight);
        assert_eq!(&label.item_barcode[..12], "201234500000");
        assert!(read_label(&label.item_barcode, &weight5()).is_some());
    }

    #[test]
    fn a_wrong_check_digit_or_a_zero_value_is_refused() {
        let code = make_label(&weight5()[0], "12345", 450).expect("label");
        let last = code.as_bytes()[12] - b'0';
        let bad = format!("{}{}", &code[..12], (last + 1) % 10);
        assert_eq!(
            read_label(&bad, &weight5()),
            Some(Err(LabelError::CheckDigit(bad.clone())))
        );
        let zero = make_label(&weight5()[0], "12345", 0).expect("label");
        assert!(matches!(
            read_label(&zero, &weight5()),
            Some(Err(LabelError::Zero(_)))
        ));
    }

    #[test]
    fn codes_outside_the_rules_are_left_to_the_catalog() {
        assert_eq!(read_label("8998866200301", &weight5()), None);
        assert_eq!(read_label("2112345004505", &weight5()), None); // prefix 21 not set
        assert_eq!(read_label("20123450045", &weight5()), None); // 11 digits
        assert_eq!(read_label("2012345a04505", &weight5()), None);
        assert_eq!(read_label("2012345004505", &[]), None);
    }

    #[test]
    fn price_labels_with_a_four_digit_item_code() {
        let rule = ScaleRule::parse_line("22 4 price").expect("rule");
        let code = make_label(&rule, "0042", 14_400).expect("label");
        assert_eq!(&code[..12], "220042014400");
        let label = read_label(&code, &[rule]).expect("a label").expect("valid");
        assert_eq!((label.item_code.as_str(), label.value), ("0042", 14_400));
        assert_eq!(label.embeds, Embeds::Price);
    }

    #[test]
    fn rules_as_typed_are_checked() {
        assert_eq!(
            ScaleRule::parse_line(" 21  6 Berat ").map(|r| r.to_line()),
            Ok("21 6 weight".into())
        );
        for bad in [
            "19 5 weight",
            "20 7 weight",
            "20 5 volume",
            "20 weight",
            "2a 5 price",
        ] {
            assert!(ScaleRule::parse_line(bad).is_err(), "{bad}");
        }
    }
}
