//! The customer display: what the second, customer-facing screen shows.
//! The session keeps a [`CustomerDisplay`] beside its cart (the tender the
//! cashier is on, the sale just paid) and builds a [`CustomerView`] from it
//! and the priced cart; the desktop shell sends that view to the customer
//! window whenever it changes. Nothing here reads the cashier's web view,
//! so the customer never sees a figure the till has not computed.

use sentra_domain::PaymentMethod;
use sentra_protocol::payload::SaleCompleted;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::views::CartView;
use crate::error::{Result, TerminalError};

/// Which of its four faces the customer display shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum CustomerStage {
    /// No sale in progress: a welcome with the store's name.
    Idle,
    /// Items being rung up: the lines and the running total.
    Cart,
    /// The cashier is taking payment: the total and what is left to pay
    /// (with QRIS, the prompt to scan the code and show the reference).
    Tender,
    /// Paid: the amount paid and the change, until the next sale.
    Paid,
}

/// One line as the customer reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct CustomerLine {
    pub name: String,
    #[ts(type = "number")]
    pub quantity_milli: i64,
    #[ts(type = "number")]
    pub unit_price: i64,
    /// What the customer pays for the line (after its own discount).
    #[ts(type = "number")]
    pub total: i64,
}

/// Everything the customer display shows, built by the session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct CustomerView {
    pub stage: CustomerStage,
    /// The branch's store name (head office's, else the till's own).
    pub store_name: String,
    /// `id` or `en`: the till's language setting.
    pub language: String,
    /// The cart's lines, or after payment the lines of the sale paid.
    pub lines: Vec<CustomerLine>,
    /// Line and cart discounts together.
    #[ts(type = "number")]
    pub discounts: i64,
    #[ts(type = "number")]
    pub total: i64,
    /// While paying: the method the cashier has selected (`cash`, `card`,
    /// `qris`, `voucher`).
    pub method: Option<String>,
    /// While paying: the tenders entered so far; once paid: all of them.
    #[ts(type = "number")]
    pub paid: i64,
    /// While paying: what is still to pay.
    #[ts(type = "number")]
    pub remaining: i64,
    /// Once paid: the cash handed back.
    #[ts(type = "number")]
    pub change: i64,
    /// Once paid: the receipt's number.
    pub receipt_no: Option<String>,
}

/// What the cashier's tender screen reports as it changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TenderProgress {
    /// The method selected: `cash`, `card`, `qris`, `voucher`.
    pub method: String,
    /// The sum of the tenders entered so far (a split tender).
    #[ts(type = "number")]
    pub tendered: i64,
}

/// The sale just paid, as the customer saw it confirmed.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PaidSale {
    lines: Vec<CustomerLine>,
    discounts: i64,
    total: i64,
    paid: i64,
    change: i64,
    receipt_no: String,
}

/// The customer-facing state the session keeps beside its cart.
#[derive(Clone, Debug, Default)]
pub struct CustomerDisplay {
    tender: Option<TenderProgress>,
    paid: Option<PaidSale>,
}

impl CustomerDisplay {
    /// The tender screen changed (`Some`), or the cashier is back on the
    /// scan screen (`None`: tender cancelled, or the next sale after the
    /// change). Either way the last sale's change is no longer shown. A
    /// report with no cart to pay for came after the payment (the tender
    /// screen's last change and `pay` cross): it is ignored, so the
    /// change stays on show.
    pub fn set_tender(&mut self, progress: Option<TenderProgress>, cart_empty: bool) -> Result<()> {
        if let Some(p) = &progress {
            p.method.parse::<PaymentMethod>()?;
            if p.tendered < 0 {
                return Err(TerminalError::invalid(
                    "tender progress",
                    "the amount tendered cannot be negative",
                ));
            }
        }
        if progress.is_some() && cart_empty {
            return Ok(());
        }
        self.tender = progress;
        self.paid = None;
        Ok(())
    }

    /// The sale was recorded: its payment and change stay on show until
    /// the next sale begins.
    pub fn sale_paid(&mut self, sale: &SaleCompleted) {
        self.tender = None;
        self.paid = Some(PaidSale {
            lines: sale
                .lines
                .iter()
                .map(|l| CustomerLine {
                    name: l.name.clone(),
                    quantity_milli: l.quantity_milli,
                    unit_price: l.unit_price,
                    total: l.total,
                })
                .collect(),
            discounts: sale.discounts,
            total: sale.total,
            paid: sale.paid,
            change: sale.change,
            receipt_no: sale.receipt_no.clone(),
        });
    }

    /// A new sale has items: the last one's change is history. (The cashier
    /// may scan straight from the change screen.)
    pub fn cart_changed(&mut self, cart: &CartView) {
        if !cart.lines.is_empty() {
            self.paid = None;
        }
    }

    /// The view for the priced `cart` as it is now.
    pub fn view(&self, cart: &CartView, store_name: &str, language: &str) -> CustomerView {
        let mut view = CustomerView {
            stage: CustomerStage::Idle,
            store_name: store_name.to_owned(),
            language: language.to_owned(),
            lines: Vec::new(),
            discounts: 0,
            total: 0,
            method: None,
            paid: 0,
            remaining: 0,
            change: 0,
            receipt_no: None,
        };
        if !cart.lines.is_empty() {
            view.lines = cart
                .lines
                .iter()
                .map(|l| CustomerLine {
                    name: l.name.clone(),
                    quantity_milli: l.quantity_milli,
                    unit_price: l.unit_price,
                    total: l.total,
                })
                .collect();
            view.discounts = cart.discounts;
            view.total = cart.total;
            view.remaining = cart.total;
            view.stage = CustomerStage::Cart;
            if let Some(t) = &self.tender {
                view.stage = CustomerStage::Tender;
                view.method = Some(t.method.clone());
                view.paid = t.tendered;
                view.remaining = (cart.total - t.tendered).max(0);
            }
        } else if let Some(p) = &self.paid {
            view.stage = CustomerStage::Paid;
            view.lines = p.lines.clone();
            view.discounts = p.discounts;
            view.total = p.total;
            view.paid = p.paid;
            view.change = p.change;
            view.receipt_no = Some(p.receipt_no.clone());
        }
        view
    }
}
