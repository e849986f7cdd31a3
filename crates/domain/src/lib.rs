//! Sentra POS domain: money, quantities, tax, pricing, tenders, refunds and
//! shift totals. Pure: no I/O, no clock, no randomness. The rounding rules are
//! in `docs/money.md`.

pub mod error;
pub mod money;
pub mod pin;
pub mod ppn;
pub mod pricing;
pub mod product;
pub mod quantity;
pub mod refund;
mod rounding;
pub mod scale_label;
pub mod shift;
pub mod tax;
pub mod tender;

pub use error::DomainError;
pub use money::{Currency, Money};
pub use pricing::{Discount, LineInput, PricedLine, PricedSale, allocate, line_gross, price_sale};
pub use product::Product;
pub use quantity::Quantity;
pub use refund::{RefundLinePlan, RefundRequest, SoldLine, plan_refund, refund_share};
pub use shift::{SaleFigures, ShiftSummary};
pub use tax::{TaxConfig, TaxMode, line_tax};
pub use tender::{PaymentMethod, Settlement, Tender, settle};
