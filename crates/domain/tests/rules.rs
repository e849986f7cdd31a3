//! One test per rule of `docs/money.md`, using the worked examples printed there.
#![allow(clippy::unwrap_used)]

use rust_decimal_macros::dec;
use sentra_domain::{
    Discount, DomainError, LineInput, Money, PaymentMethod, Quantity, RefundRequest, SoldLine,
    TaxConfig, TaxMode, Tender, allocate, line_gross, line_tax, plan_refund, price_sale, settle,
};

fn idr(m: i64) -> Money {
    Money::idr(m)
}

fn qty(s: &str) -> Quantity {
    s.parse().unwrap()
}

fn line(sku: &str, price: i64, q: &str, discount: Option<Discount>) -> LineInput {
    LineInput {
        sku: sku.into(),
        name: format!("Item {sku}"),
        unit_price: idr(price),
        quantity: qty(q),
        tax_category: "standard".into(),
        discount,
    }
}

fn tender(method: PaymentMethod, amount: i64, reference: Option<&str>) -> Tender {
    Tender {
        method,
        amount: idr(amount),
        reference: reference.map(str::to_string),
    }
}

#[test]
fn rule1_whole_rupiah_rounded_half_away_from_zero() {
    // 11% added on Rp 1.050 is Rp 115,5 -> Rp 116.
    let (tax, total) = line_tax(idr(1_050), dec!(11), TaxMode::Exclusive).unwrap();
    assert_eq!((tax, total), (idr(116), idr(1_166)));
    // 5% off Rp 1.010 is Rp 50,5 -> Rp 51.
    assert_eq!(
        Discount::Percent(dec!(5))
            .amount_on(idr(1_010), "x")
            .unwrap(),
        idr(51)
    );
    // Away from zero on the negative side too: -Rp 115,5 -> -Rp 116.
    let (tax, _) = line_tax(idr(-1_050), dec!(11), TaxMode::Exclusive).unwrap();
    assert_eq!(tax, idr(-116));
}

#[test]
fn rule2_line_gross() {
    // 1,5 kg at Rp 12.999/kg = Rp 19.498,5 -> Rp 19.499.
    assert_eq!(line_gross(idr(12_999), qty("1.5")).unwrap(), idr(19_499));
    // 0,125 kg at Rp 9.900/kg = Rp 1.237,5 -> Rp 1.238.
    assert_eq!(line_gross(idr(9_900), qty("0.125")).unwrap(), idr(1_238));
    assert_eq!(line_gross(idr(25_000), qty("2")).unwrap(), idr(50_000));
}

#[test]
fn rule3_line_discount() {
    let tax = TaxConfig::indonesia_default();
    // 15% off a gross of Rp 19.499 = Rp 2.924,85 -> Rp 2.925.
    let sale = price_sale(
        &[line(
            "CHEESE",
            12_999,
            "1.5",
            Some(Discount::Percent(dec!(15))),
        )],
        None,
        &tax,
    )
    .unwrap();
    assert_eq!(sale.lines[0].gross, idr(19_499));
    assert_eq!(sale.lines[0].line_discount, idr(2_925));
    assert_eq!(sale.lines[0].net, idr(16_574));
    // An amount discount may not exceed the line's gross.
    let err = price_sale(
        &[line("SOAP", 3_000, "1", Some(Discount::Amount(idr(5_000))))],
        None,
        &tax,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid discount: discount Rp 5.000 on SOAP is more than its amount Rp 3.000"
    );
    for bad in [dec!(-1), dec!(100.01)] {
        assert!(matches!(
            price_sale(
                &[line("SOAP", 3_000, "1", Some(Discount::Percent(bad)))],
                None,
                &tax
            ),
            Err(DomainError::InvalidDiscount(_))
        ));
    }
    assert!(matches!(
        price_sale(
            &[line("SOAP", 3_000, "1", Some(Discount::Amount(idr(-1))))],
            None,
            &tax
        ),
        Err(DomainError::InvalidDiscount(_))
    ));
}

#[test]
fn rule4_cart_discount_largest_remainder() {
    // Rp 1.000 over 10.000 / 20.000 / 30.000: 166,67 / 333,33 / 500 -> 167 / 333 / 500.
    assert_eq!(
        allocate(1_000, &[10_000, 20_000, 30_000]).unwrap(),
        vec![167, 333, 500]
    );
    // A tie goes to the earlier line: Rp 1 over 5.000 / 5.000 -> 1 / 0.
    assert_eq!(allocate(1, &[5_000, 5_000]).unwrap(), vec![1, 0]);
    // A percent cart discount is taken of the sum after line discounts:
    // 10% of Rp 60.000 = Rp 6.000 -> 1.000 / 2.000 / 3.000.
    let sale = price_sale(
        &[
            line("A", 10_000, "1", None),
            line("B", 20_000, "1", None),
            line("C", 40_000, "1", Some(Discount::Amount(idr(10_000)))),
        ],
        Some(Discount::Percent(dec!(10))),
        &TaxConfig::indonesia_default(),
    )
    .unwrap();
    assert_eq!(sale.cart_discount_amount, idr(6_000));
    let shares: Vec<_> = sale.lines.iter().map(|l| l.cart_discount_share).collect();
    assert_eq!(shares, vec![idr(1_000), idr(2_000), idr(3_000)]);
    // A cart amount over the sale's amount is refused.
    assert!(matches!(
        price_sale(
            &[line("A", 10_000, "1", None)],
            Some(Discount::Amount(idr(10_001))),
            &TaxConfig::indonesia_default()
        ),
        Err(DomainError::InvalidDiscount(_))
    ));
}

fn rule5_sale(mode: TaxMode) -> sentra_domain::PricedSale {
    let mut tax = TaxConfig::indonesia_default();
    tax.mode = mode;
    price_sale(
        &[
            line("RICE5KG", 25_000, "2", Some(Discount::Percent(dec!(10)))),
            line("OIL1L", 15_000, "1", None),
        ],
        Some(Discount::Amount(idr(6_000))),
        &tax,
    )
    .unwrap()
}

#[test]
fn rule5_line_net() {
    let sale = rule5_sale(TaxMode::Inclusive);
    let a = &sale.lines[0];
    assert_eq!(
        (a.gross, a.line_discount, a.cart_discount_share, a.net),
        (idr(50_000), idr(5_000), idr(4_500), idr(40_500))
    );
    let b = &sale.lines[1];
    assert_eq!(
        (b.gross, b.line_discount, b.cart_discount_share, b.net),
        (idr(15_000), idr(0), idr(1_500), idr(13_500))
    );
    assert_eq!(sale.discounts(), idr(11_000));
}

#[test]
fn rule6_tax_inclusive() {
    let sale = rule5_sale(TaxMode::Inclusive);
    // 40.500 × 11/111 = 4.013,51 -> 4.014; 13.500 × 11/111 = 1.337,84 -> 1.338.
    let taxes: Vec<_> = sale.lines.iter().map(|l| l.tax).collect();
    assert_eq!(taxes, vec![idr(4_014), idr(1_338)]);
    assert_eq!(sale.tax, idr(5_352));
    assert_eq!(sale.total, idr(54_000));
    assert_eq!(
        sale.total,
        sale.gross.checked_sub(sale.discounts()).unwrap()
    );
    // Tax is summed per line, not taken of the total (54.000 × 11/111 would be 5.351).
    assert_ne!(
        line_tax(sale.total, dec!(11), TaxMode::Inclusive)
            .unwrap()
            .0,
        sale.tax
    );
}

#[test]
fn rule6_tax_exclusive() {
    let sale = rule5_sale(TaxMode::Exclusive);
    let taxes: Vec<_> = sale.lines.iter().map(|l| l.tax).collect();
    assert_eq!(taxes, vec![idr(4_455), idr(1_485)]);
    assert_eq!(sale.tax, idr(5_940));
    assert_eq!(sale.total, idr(59_940));
    assert_eq!(
        sale.total,
        sale.gross
            .checked_sub(sale.discounts())
            .unwrap()
            .checked_add(sale.tax)
            .unwrap()
    );
}

#[test]
fn rule7_no_cash_rounding_tender_and_change() {
    let total = idr(52_500);
    let err = settle(total, vec![tender(PaymentMethod::Cash, 40_000, None)]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "tender short of total: paid Rp 40.000, total Rp 52.500"
    );
    let s = settle(
        total,
        vec![
            tender(PaymentMethod::Qris, 30_000, Some("QR-8812")),
            tender(PaymentMethod::Cash, 25_000, None),
        ],
    )
    .unwrap();
    assert_eq!((s.paid, s.change), (idr(55_000), idr(2_500)));
    let net = s.net_by_method();
    assert_eq!(net[&PaymentMethod::Cash], idr(22_500));
    assert_eq!(net[&PaymentMethod::Qris], idr(30_000));
    assert!(matches!(
        settle(total, vec![tender(PaymentMethod::Card, 60_000, None)]),
        Err(DomainError::NonCashOverpay { .. })
    ));
    // No rounding to a coin: Rp 52.499 is paid and changed to the rupiah.
    let s = settle(idr(52_499), vec![tender(PaymentMethod::Cash, 60_000, None)]).unwrap();
    assert_eq!(s.change, idr(7_501));
}

#[test]
fn rule8_refund_proportional() {
    let mut sold = vec![SoldLine {
        line_no: 1,
        sku: "TEA".into(),
        quantity: Quantity::from_units(3),
        total: idr(10_000),
        tax: idr(991),
        refunded_quantity: Quantity::ZERO,
    }];
    let req = [RefundRequest {
        sku: "TEA".into(),
        quantity: Quantity::ONE,
    }];
    let mut got = vec![];
    for _ in 0..3 {
        let plan = plan_refund(&sold, &req).unwrap();
        got.push((plan[0].amount, plan[0].tax));
        sold[0].refunded_quantity = sold[0]
            .refunded_quantity
            .checked_add(plan[0].quantity)
            .unwrap();
    }
    assert_eq!(
        got,
        vec![
            (idr(3_333), idr(330)),
            (idr(3_334), idr(331)),
            (idr(3_333), idr(330))
        ]
    );
    assert!(matches!(
        plan_refund(&sold, &req),
        Err(DomainError::OverRefund { .. })
    ));
}

#[test]
fn rule9_ppn_return() {
    use sentra_domain::ppn::{ClassSums, DppFraction, ReturnLine, return_line};
    // The tills' inclusive line taxes (rule 6) of the example's lines.
    let tax = |net: i64, rate| line_tax(idr(net), rate, TaxMode::Inclusive).unwrap().0;
    assert_eq!(tax(55_500, dec!(11)), idr(5_500));
    assert_eq!(tax(10_000, dec!(11)), idr(991));
    assert_eq!(tax(112_000, dec!(12)), idr(12_000));
    assert_eq!(tax(20_000, dec!(0)), idr(0));

    let ordinary = ClassSums {
        sales_incl: 65_500,
        ppn: 5_500 + 991,
    };
    assert_eq!(
        return_line(ordinary, DppFraction::NILAI_LAIN, false).unwrap(),
        ReturnLine {
            sales_incl: 65_500,
            harga_jual: 59_009,
            dpp: 54_092,
            ppn: 6_491
        }
    );
    let luxury = ClassSums {
        sales_incl: 112_000,
        ppn: 12_000,
    };
    assert_eq!(
        return_line(luxury, DppFraction::FULL, false).unwrap(),
        ReturnLine {
            sales_incl: 112_000,
            harga_jual: 100_000,
            dpp: 100_000,
            ppn: 12_000
        }
    );
    let exempt = ClassSums {
        sales_incl: 20_000,
        ppn: 0,
    };
    assert_eq!(
        return_line(exempt, DppFraction::FULL, true).unwrap(),
        ReturnLine {
            sales_incl: 20_000,
            harga_jual: 20_000,
            dpp: 0,
            ppn: 0
        }
    );
    // The Rp 10.000 ordinary line refunded in the same month.
    let refunded = ClassSums {
        sales_incl: 65_500 - 10_000,
        ppn: 6_491 - 991,
    };
    assert_eq!(
        return_line(refunded, DppFraction::NILAI_LAIN, false)
            .unwrap()
            .dpp,
        45_833
    );
}

#[test]
fn rule10_weighed_and_priced_labels() {
    use sentra_domain::scale_label::{Embeds, ScaleRule, quantity_for_price, read_label};
    // Rule `20 5 weight`, label 2012345004504: item 12345, 450 g.
    let rules = vec![ScaleRule::parse_line("20 5 weight").unwrap()];
    assert_eq!(rules, ScaleRule::defaults(), "the default rule");
    let label = read_label("2012345004504", &rules).unwrap().unwrap();
    assert_eq!((label.item_code.as_str(), label.value), ("12345", 450));
    assert_eq!(label.item_barcode, "2012345000001");
    assert_eq!(label.embeds, Embeds::Weight);
    // 0,450 kg of rice at Rp 14.500/kg is Rp 6.525 (rule 2).
    assert_eq!(
        line_gross(idr(14_500), Quantity::from_milli(label.value)).unwrap(),
        idr(6_525)
    );
    // A wrong check digit is refused.
    assert!(read_label("2012345004505", &rules).unwrap().is_err());
    // Rule `22 4 price`, label 2200420144003: item 0042, Rp 14.400.
    let price = vec![ScaleRule::parse_line("22 4 price").unwrap()];
    let label = read_label("2200420144003", &price).unwrap().unwrap();
    assert_eq!((label.item_code.as_str(), label.value), ("0042", 14_400));
    // At Rp 32.000/kg it buys 450 thousandths, priced Rp 14.400.
    let q = quantity_for_price(label.value, 32_000).unwrap();
    assert_eq!(q, 450);
    assert_eq!(
        line_gross(idr(32_000), Quantity::from_milli(q)).unwrap(),
        idr(14_400)
    );
    // At Rp 14.500/kg: 993,1 -> 993 thousandths, priced 14.398,5 -> Rp 14.399.
    let q = quantity_for_price(label.value, 14_500).unwrap();
    assert_eq!(q, 993);
    assert_eq!(
        line_gross(idr(14_500), Quantity::from_milli(q)).unwrap(),
        idr(14_399)
    );
    // A value of 0 is refused.
    assert!(read_label("2012345000001", &rules).unwrap().is_err());
}
