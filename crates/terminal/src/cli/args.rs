//! Parsing of the compact item, tender, discount and amount arguments.

use anyhow::{Context, Result, bail};
use rust_decimal::Decimal;
use sentra_domain::{Discount, Money, PaymentMethod, Quantity, Tender};
use sentra_terminal::ItemRequest;

/// A whole-rupiah amount: digits only, no separators.
pub fn amount(what: &str, text: &str) -> Result<i64> {
    let text = text.trim();
    if text.is_empty() || !text.chars().all(|c| c.is_ascii_digit()) {
        bail!("{what} {text:?} must be a whole number of rupiah, digits only (e.g. 50000)");
    }
    text.parse::<i64>()
        .with_context(|| format!("{what} {text:?} is too large"))
}

/// `10%` or `5000`.
pub fn discount(text: &str) -> Result<Discount> {
    if let Some(pct) = text.strip_suffix('%') {
        let pct: Decimal = pct
            .trim()
            .parse()
            .with_context(|| format!("discount {text:?}: not a percentage"))?;
        Ok(Discount::Percent(pct))
    } else {
        Ok(Discount::Amount(Money::idr(amount("discount", text)?)))
    }
}

/// `CODE`, `CODExQTY`, optionally followed by `@DISCOUNT`.
pub fn item(text: &str) -> Result<ItemRequest> {
    let (body, discount) = match text.rsplit_once('@') {
        Some((body, d)) => (body, Some(self::discount(d)?)),
        None => (text, None),
    };
    let (code, quantity) = match body.rsplit_once(['x', 'X']) {
        Some((code, qty)) if !code.is_empty() && looks_like_quantity(qty) => {
            let q: Quantity = qty
                .parse()
                .with_context(|| format!("item {text:?}: bad quantity {qty:?}"))?;
            (code, q)
        }
        _ => (body, Quantity::ONE),
    };
    if code.trim().is_empty() {
        bail!("item {text:?} names no SKU or barcode");
    }
    Ok(ItemRequest {
        code: code.trim().to_owned(),
        quantity,
        discount,
    })
}

fn looks_like_quantity(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// `METHOD:AMOUNT[:REFERENCE]`.
pub fn tender(text: &str) -> Result<Tender> {
    let mut parts = text.splitn(3, ':');
    let method = parts.next().unwrap_or_default();
    let Some(amount_text) = parts.next() else {
        bail!("tender {text:?} must be METHOD:AMOUNT[:REF], e.g. cash:50000 or qris:30000:REF123");
    };
    let method: PaymentMethod = method.parse().with_context(|| format!("tender {text:?}"))?;
    let reference = parts.next().map(str::to_owned).filter(|r| !r.is_empty());
    Ok(Tender {
        method,
        amount: Money::idr(amount("tender amount", amount_text)?),
        reference,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn items_parse() {
        let i = item("BERASx1.25").unwrap();
        assert_eq!((i.code.as_str(), i.quantity.milli()), ("BERAS", 1250));
        let i = item("8991002101234").unwrap();
        assert_eq!(
            (i.code.as_str(), i.quantity.milli()),
            ("8991002101234", 1000)
        );
        let i = item("BOXX3@10%").unwrap();
        assert_eq!(i.code, "BOX");
        assert_eq!(i.quantity.milli(), 3000);
        assert_eq!(i.discount, Some(Discount::Percent(Decimal::from(10))));
        let i = item("xl-shirt").unwrap();
        assert_eq!(i.code, "xl-shirt");
        assert!(item("x2").is_ok_and(|i| i.code == "x2"));
        assert!(item("Ax1.2345").is_err());
    }

    #[test]
    fn tenders_parse() {
        let t = tender("cash:50000").unwrap();
        assert_eq!(
            (t.method, t.amount.minor(), t.reference),
            (PaymentMethod::Cash, 50_000, None)
        );
        let t = tender("QRIS:30000:REF-9").unwrap();
        assert_eq!(t.reference.as_deref(), Some("REF-9"));
        assert!(tender("cash").is_err());
        assert!(tender("cash:-5").is_err());
        assert!(tender("cash:50.000").is_err());
        assert!(tender("bitcoin:5").is_err());
    }
}
