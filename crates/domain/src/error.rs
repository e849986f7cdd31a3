//! The one error type of the domain crate.
//!
//! Messages are written for cashiers: the CLI prints them as they are, so they
//! name the amounts in rupiah (`Rp 40.000`) and say what is wrong in plain words.
//! Every domain error is *permanent*: retrying the same input gives the same
//! error.

use thiserror::Error;

use crate::money::{Currency, Money};
use crate::quantity::Quantity;
use crate::tender::PaymentMethod;

/// Everything that a money, pricing, tender, refund or shift rule can refuse.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum DomainError {
    /// Two amounts in different currencies were combined.
    #[error("currency mismatch: expected {expected}, got {found}")]
    CurrencyMismatch { expected: Currency, found: Currency },

    /// An amount or quantity grew beyond what can be represented exactly.
    #[error("amount too large: arithmetic overflow")]
    Overflow,

    /// A currency code this build does not know.
    #[error("unknown currency \"{0}\" (supported: IDR)")]
    UnknownCurrency(String),

    /// A quantity text that is not a non-negative number with at most 3 decimals.
    #[error(
        "invalid quantity \"{0}\": use a number like 2, 1.5 or 0.125 (at most 3 decimals, not negative)"
    )]
    InvalidQuantity(String),

    /// A sale or refund line with a quantity of zero or less.
    #[error("quantity for {sku} must be greater than zero, got {quantity}")]
    NonPositiveQuantity { sku: String, quantity: Quantity },

    /// A unit price below zero.
    #[error("price for {sku} must not be negative, got {price}")]
    NegativePrice { sku: String, price: Money },

    /// A line or cart discount that cannot be applied; the text says why.
    #[error("invalid discount: {0}")]
    InvalidDiscount(String),

    /// A tax category missing from the branch's tax configuration.
    #[error("unknown tax category \"{0}\"")]
    UnknownTaxCategory(String),

    /// A tax rate below zero in the tax configuration.
    #[error("tax rate for category \"{category}\" must not be negative, got {rate}%")]
    InvalidTaxRate { category: String, rate: String },

    /// A tax mode text other than `inclusive` or `exclusive`.
    #[error("unknown tax mode \"{0}\" (use inclusive or exclusive)")]
    UnknownTaxMode(String),

    /// A sale without lines.
    #[error("sale has no items")]
    EmptySale,

    /// A settlement without any payment.
    #[error("no payment given")]
    NoTender,

    /// A payment of zero or less.
    #[error("{} payment must be greater than zero, got {amount}", .method.label())]
    NonPositiveTender {
        method: PaymentMethod,
        amount: Money,
    },

    /// A QRIS payment without the customer's reference, or a voucher without its code.
    #[error("{} payment needs {}", .method.label(), .method.reference_label())]
    MissingReference { method: PaymentMethod },

    /// Payments add up to less than the total.
    #[error("tender short of total: paid {paid}, total {total}")]
    TenderShort { total: Money, paid: Money },

    /// Card, QRIS and voucher payments together exceed the total; only cash gives change.
    #[error("non-cash payments {non_cash} exceed the total {total}: only cash can give change")]
    NonCashOverpay { non_cash: Money, total: Money },

    /// A total to settle that is below zero.
    #[error("total to pay must not be negative, got {0}")]
    NegativeTotal(Money),

    /// A payment method text that is not cash, card, qris or voucher.
    #[error("unknown payment method \"{0}\" (use cash, card, qris or voucher)")]
    UnknownPaymentMethod(String),

    /// A refund asking for more than remains refundable of a sku on the sale.
    #[error("cannot refund {requested} of {sku}: only {refundable} left to refund on this sale")]
    OverRefund {
        sku: String,
        requested: Quantity,
        refundable: Quantity,
    },

    /// A refund naming a sku that is not on the sale.
    #[error("{sku} is not on this sale")]
    NotOnSale { sku: String },

    /// A refund without any item.
    #[error("refund has no items")]
    EmptyRefund,

    /// A cash movement or refund amount of zero or less.
    #[error("{what} must be greater than zero, got {amount}")]
    NonPositiveAmount { what: &'static str, amount: Money },

    /// An amount (e.g. a refund) below zero.
    #[error("{what} must not be negative, got {amount}")]
    NegativeAmount { what: &'static str, amount: Money },
}
