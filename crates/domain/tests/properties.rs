//! Property tests of the money invariants (issue 3): pricing totals, tender
//! and change, refunds, quantity text, shift void.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use sentra_domain::{
    Discount, DomainError, LineInput, Money, PaymentMethod, PricedSale, Quantity, RefundRequest,
    SaleFigures, ShiftSummary, SoldLine, TaxConfig, TaxMode, Tender, line_gross, plan_refund,
    price_sale, settle,
};

const CASES: u32 = 2_000;

fn idr(m: i64) -> Money {
    Money::idr(m)
}

/// How a discount is drawn: kind plus a per-mille of what it applies to.
#[derive(Clone, Debug)]
enum DiscountSpec {
    None,
    Percent(Decimal),
    AmountPerMille(i64),
}

fn discount_spec() -> impl Strategy<Value = DiscountSpec> {
    prop_oneof![
        3 => Just(DiscountSpec::None),
        1 => (0i64..=10_000).prop_map(|bp| DiscountSpec::Percent(Decimal::new(bp, 2))),
        1 => (0i64..=1_000).prop_map(DiscountSpec::AmountPerMille),
    ]
}

fn to_discount(spec: &DiscountSpec, base: Money) -> Option<Discount> {
    match spec {
        DiscountSpec::None => None,
        DiscountSpec::Percent(p) => Some(Discount::Percent(*p)),
        DiscountSpec::AmountPerMille(pm) => Some(Discount::Amount(idr(base.minor() * pm / 1000))),
    }
}

fn tax_config(exclusive: bool) -> TaxConfig {
    let mut t = TaxConfig::indonesia_default();
    t.rates.insert("reduced".into(), dec!(7.25));
    t.mode = if exclusive {
        TaxMode::Exclusive
    } else {
        TaxMode::Inclusive
    };
    t
}

fn line_parts() -> impl Strategy<Value = (i64, i64, usize, DiscountSpec)> {
    (
        prop_oneof![0i64..=1_000, 0i64..=5_000_000],
        prop_oneof![1i64..=5_000, (1i64..=20).prop_map(|u| u * 1000)],
        0usize..3,
        discount_spec(),
    )
}

fn sale_inputs() -> impl Strategy<Value = (Vec<LineInput>, DiscountSpec, bool)> {
    (
        prop::collection::vec(line_parts(), 1..8),
        discount_spec(),
        any::<bool>(),
    )
        .prop_map(|(parts, cart, exclusive)| {
            let lines = parts
                .into_iter()
                .enumerate()
                .map(|(i, (price, milli, cat, d))| {
                    let quantity = Quantity::from_milli(milli);
                    let gross = line_gross(idr(price), quantity).unwrap();
                    LineInput {
                        sku: format!("SKU{i}"),
                        name: format!("Item {i}"),
                        unit_price: idr(price),
                        quantity,
                        tax_category: ["standard", "exempt", "reduced"][cat].into(),
                        discount: to_discount(&d, gross),
                    }
                })
                .collect();
            (lines, cart, exclusive)
        })
}

fn priced(lines: &[LineInput], cart: &DiscountSpec, exclusive: bool) -> PricedSale {
    let tax = tax_config(exclusive);
    let pre = price_sale(lines, None, &tax).unwrap();
    let subtotal = pre.gross.checked_sub(pre.line_discounts).unwrap();
    price_sale(lines, to_discount(cart, subtotal), &tax).unwrap()
}

fn sum(it: impl Iterator<Item = Money>) -> Money {
    Money::checked_sum(sentra_domain::Currency::IDR, it).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// (a) total = gross − discounts + added tax; lines add up; cart shares add up.
    #[test]
    fn a_pricing_totals_add_up((lines, cart, exclusive) in sale_inputs()) {
        let s = priced(&lines, &cart, exclusive);
        let expected = s.gross.checked_sub(s.discounts()).unwrap().checked_add(s.added_tax()).unwrap();
        prop_assert_eq!(s.total, expected);
        prop_assert_eq!(sum(s.lines.iter().map(|l| l.total)), s.total);
        prop_assert_eq!(sum(s.lines.iter().map(|l| l.tax)), s.tax);
        prop_assert_eq!(sum(s.lines.iter().map(|l| l.gross)), s.gross);
        prop_assert_eq!(sum(s.lines.iter().map(|l| l.line_discount)), s.line_discounts);
        prop_assert_eq!(sum(s.lines.iter().map(|l| l.cart_discount_share)), s.cart_discount_amount);
        for l in &s.lines {
            let after_line = l.gross.checked_sub(l.line_discount).unwrap();
            prop_assert!(!l.line_discount.is_negative() && l.line_discount <= l.gross);
            prop_assert!(!l.cart_discount_share.is_negative() && l.cart_discount_share <= after_line);
            prop_assert_eq!(l.net, after_line.checked_sub(l.cart_discount_share).unwrap());
            prop_assert!(!l.net.is_negative());
            prop_assert!(!l.tax.is_negative());
            match s.tax_mode {
                TaxMode::Inclusive => {
                    prop_assert_eq!(l.total, l.net);
                    prop_assert!(l.tax <= l.net);
                }
                TaxMode::Exclusive => prop_assert_eq!(l.total, l.net.checked_add(l.tax).unwrap()),
            }
        }
    }

    /// (a) cart shares follow the weights: each share is within one rupiah of its exact proportion.
    #[test]
    fn a_cart_shares_are_proportional(
        weights in prop::collection::vec(0i64..1_000_000, 1..10),
        per_mille in 0i64..=1000,
    ) {
        let total: i64 = weights.iter().sum();
        let amount = total * per_mille / 1000;
        let shares = sentra_domain::allocate(amount, &weights).unwrap();
        prop_assert_eq!(shares.iter().sum::<i64>(), amount);
        for (s, w) in shares.iter().zip(&weights) {
            prop_assert!(*s >= 0 && s <= w);
            if total > 0 {
                let exact = i128::from(amount) * i128::from(*w);
                let lo = exact / i128::from(total);
                prop_assert!(i128::from(*s) == lo || i128::from(*s) == lo + 1);
            }
        }
    }

    /// (b) accepted settlements keep paid − change = total and change ≤ cash; short ones fail.
    #[test]
    fn b_settlement_balances(
        total in 0i64..500_000,
        tenders in prop::collection::vec((0usize..4, 1i64..300_000, any::<bool>()), 1..5),
    ) {
        let tenders: Vec<Tender> = tenders
            .into_iter()
            .map(|(m, amount, has_ref)| {
                let method = PaymentMethod::ALL[m];
                let reference = (has_ref || method.requires_reference()).then(|| "REF-1".to_string());
                Tender { method, amount: idr(amount), reference }
            })
            .collect();
        let paid: i64 = tenders.iter().map(|t| t.amount.minor()).sum();
        let cash: i64 = tenders.iter().filter(|t| t.method == PaymentMethod::Cash).map(|t| t.amount.minor()).sum();
        match settle(idr(total), tenders) {
            Ok(s) => {
                prop_assert!(paid >= total);
                prop_assert_eq!(s.paid.checked_sub(s.change).unwrap(), idr(total));
                prop_assert!(!s.change.is_negative());
                prop_assert!(s.change.minor() <= cash);
                prop_assert_eq!(sum(s.net_by_method().into_values()), idr(total));
            }
            Err(DomainError::TenderShort { total: t, paid: p }) => {
                prop_assert!(paid < total);
                prop_assert_eq!((t, p), (idr(total), idr(paid)));
            }
            Err(DomainError::NonCashOverpay { .. }) => prop_assert!(paid - cash > total),
            Err(e) => prop_assert!(false, "unexpected {e}"),
        }
    }

    /// (c) refunds in random pieces never exceed what was sold, and refunding
    /// everything returns exactly the sale total and tax.
    #[test]
    fn c_refunds_never_exceed_the_sale(
        sold in prop::collection::vec((0usize..3, 1i64..10_000, 0i64..2_000_000, 0i64..=1000), 1..6),
        pieces in prop::collection::vec((0usize..4, 1i64..6_000), 0..12),
    ) {
        let skus = ["A", "B", "C", "Z"];
        let mut lines: Vec<SoldLine> = sold
            .iter()
            .enumerate()
            .map(|(i, (sku, q, total, tax_pm))| SoldLine {
                line_no: u32::try_from(i).unwrap() + 1,
                sku: skus[*sku].into(),
                quantity: Quantity::from_milli(*q),
                total: idr(*total),
                tax: idr(total * tax_pm / 1000),
                refunded_quantity: Quantity::ZERO,
            })
            .collect();
        let mut paid_back = vec![(0i64, 0i64); lines.len()];
        let mut apply = |lines: &mut Vec<SoldLine>, sku: &str, milli: i64| -> Result<(), DomainError> {
            let before: i64 = lines.iter().filter(|l| l.sku == sku).map(|l| l.remaining().milli()).sum();
            let on_sale = lines.iter().any(|l| l.sku == sku);
            let res = plan_refund(lines, &[RefundRequest { sku: sku.into(), quantity: Quantity::from_milli(milli) }]);
            match &res {
                Ok(plan) => {
                    assert!(milli <= before);
                    assert_eq!(plan.iter().map(|p| p.quantity.milli()).sum::<i64>(), milli);
                    for p in plan {
                        let i = usize::try_from(p.line_no).unwrap() - 1;
                        let l = &mut lines[i];
                        assert!(!p.amount.is_negative() && !p.tax.is_negative());
                        l.refunded_quantity = l.refunded_quantity.checked_add(p.quantity).unwrap();
                        paid_back[i].0 += p.amount.minor();
                        paid_back[i].1 += p.tax.minor();
                        assert!(l.refunded_quantity <= l.quantity);
                        assert!(paid_back[i].0 <= l.total.minor());
                        assert!(paid_back[i].1 <= l.tax.minor());
                    }
                }
                Err(DomainError::OverRefund { requested, refundable, .. }) => {
                    assert!(milli > before);
                    assert_eq!((requested.milli(), refundable.milli()), (milli, before));
                }
                Err(DomainError::NotOnSale { .. }) => assert!(!on_sale),
                Err(e) => panic!("unexpected {e}"),
            }
            res.map(|_| ())
        };
        for (sku, milli) in pieces {
            let _ = apply(&mut lines, skus[sku], milli);
        }
        for sku in ["A", "B", "C"] {
            let rest: i64 = lines.iter().filter(|l| l.sku == sku).map(|l| l.remaining().milli()).sum();
            if rest > 0 {
                apply(&mut lines, sku, rest).unwrap();
            }
        }
        for (l, (amount, tax)) in lines.iter().zip(&paid_back) {
            prop_assert_eq!(l.refunded_quantity, l.quantity);
            prop_assert_eq!(*amount, l.total.minor());
            prop_assert_eq!(*tax, l.tax.minor());
        }
        for sku in skus {
            let over = plan_refund(&lines, &[RefundRequest { sku: sku.into(), quantity: Quantity::from_milli(1) }]);
            let is_refused = matches!(over, Err(DomainError::OverRefund { .. }) | Err(DomainError::NotOnSale { .. }));
            prop_assert!(is_refused);
        }
    }

    /// (d) Quantity text round-trips.
    #[test]
    fn d_quantity_display_parse_round_trip(milli in 0i64..=i64::MAX) {
        let q = Quantity::from_milli(milli);
        prop_assert_eq!(q.to_string().parse::<Quantity>().unwrap(), q);
    }

    /// (d) Any well-formed text parses, and its display parses to the same quantity.
    #[test]
    fn d_quantity_parse_display_round_trip(text in "[0-9]{1,9}(\\.[0-9]{1,3})?") {
        let q: Quantity = text.parse().unwrap();
        let shown = q.to_string();
        prop_assert_eq!(shown.parse::<Quantity>().unwrap(), q);
        prop_assert_eq!(shown.parse::<Quantity>().unwrap().to_string(), shown);
    }

    /// (d) More than 3 decimals is refused.
    #[test]
    fn d_quantity_refuses_four_decimals(text in "[0-9]{1,6}\\.[0-9]{4,6}") {
        prop_assert!(matches!(text.parse::<Quantity>(), Err(DomainError::InvalidQuantity(_))));
    }

    /// (e) add_sale then add_void returns the summary to where it was, except the counts.
    #[test]
    fn e_shift_void_undoes_sale(
        earlier in prop::collection::vec((sale_inputs(), 0usize..4, 0i64..100_000), 0..4),
        (lines, cart, exclusive) in sale_inputs(),
        split in 0i64..=1000,
        method in 0usize..4,
    ) {
        let figures = |lines: &[LineInput], cart: &DiscountSpec, exclusive: bool, m: usize, extra: i64| {
            let sale = priced(lines, cart, exclusive);
            let total = sale.total.minor();
            let non_cash = total * split / 1000;
            let method = PaymentMethod::ALL[1 + m % 3];
            let mut tenders = vec![];
            if non_cash > 0 {
                tenders.push(Tender { method, amount: idr(non_cash), reference: Some("R".into()) });
            }
            let cash = total - non_cash + extra;
            if cash > 0 || tenders.is_empty() {
                tenders.push(Tender { method: PaymentMethod::Cash, amount: idr(cash.max(1)), reference: None });
            }
            let st = settle(sale.total, tenders).unwrap();
            SaleFigures::of(&sale, &st)
        };
        let mut shift = ShiftSummary::open(idr(200_000));
        for ((l, c, x), m, extra) in &earlier {
            shift.add_sale(&figures(l, c, *x, *m, *extra)).unwrap();
        }
        shift.add_cash_in(idr(1_000)).unwrap();
        let before = shift.clone();
        let f = figures(&lines, &cart, exclusive, method, 5_000);
        shift.add_sale(&f).unwrap();
        prop_assert_eq!(shift.sales_total, before.sales_total.checked_add(f.total).unwrap());
        shift.add_void(&f).unwrap();
        let mut expected = before.clone();
        expected.sales_count += 1;
        expected.voids_count += 1;
        expected.voids_total = expected.voids_total.checked_add(f.total).unwrap();
        prop_assert_eq!(&shift, &expected);
        prop_assert_eq!(shift.expected_cash().unwrap(), before.expected_cash().unwrap());
    }
}
