//! What the cashier app's screens show, as sent to the web view. The
//! TypeScript types of these are generated from here (`ts-rs`, exported to
//! `ui/src/bindings` by `cargo test`), so the two sides cannot drift.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::cart::DiscountInput;
use super::cashiers::Operator;
use super::settings::{PosSettings, SetupMode};

/// An error as the web view gets it: a stable code for the UI to act on and
/// a sentence for the cashier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AppError {
    /// A stable code (`TerminalError::code`): `not_signed_in`, `locked`,
    /// `pin_rejected`, `supervisor_required`, `unknown_item`, `invalid`, …
    /// The app words the error from it in the cashier's language.
    pub code: String,
    /// English, for logs and support (shown when the app has no words for
    /// the code).
    pub message: String,
    /// Values the worded message needs (`receipt`, `item`, `seconds`, …).
    #[serde(default)]
    pub params: std::collections::BTreeMap<String, String>,
}

#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct AppStatus {
    /// `None` on the first run, before enrollment or trial.
    pub setup: Option<SetupMode>,
    pub branch: String,
    pub device_name: String,
    pub operator: Option<Operator>,
    pub locked: bool,
    pub shift: Option<ShiftView>,
    pub settings: PosSettings,
    pub parked: u32,
    /// The app's version, for support.
    pub version: String,
}

#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct ShiftView {
    pub shift_id: String,
    #[ts(type = "number")]
    pub opened_at_ms: i64,
    pub cashier: Option<String>,
    #[ts(type = "number")]
    pub opening_float: i64,
    #[ts(type = "number")]
    pub expected_cash: i64,
    #[ts(type = "number")]
    pub sales_count: u64,
}

#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct CartLineView {
    pub index: u32,
    pub sku: String,
    pub name: String,
    #[ts(type = "number")]
    pub quantity_milli: i64,
    #[ts(type = "number")]
    pub unit_price: i64,
    pub discount: Option<DiscountInput>,
    #[ts(type = "number")]
    pub gross: i64,
    #[ts(type = "number")]
    pub discount_amount: i64,
    #[ts(type = "number")]
    pub total: i64,
    /// Stock on hand before this sale, as the till knows it (the cloud's
    /// level plus this till's own movements since); `null`: no figure.
    #[ts(type = "number | null")]
    pub on_hand_milli: Option<i64>,
}

#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct CartView {
    pub lines: Vec<CartLineView>,
    pub discount: Option<DiscountInput>,
    #[ts(type = "number")]
    pub gross: i64,
    #[ts(type = "number")]
    pub discounts: i64,
    #[ts(type = "number")]
    pub tax: i64,
    #[ts(type = "number")]
    pub total: i64,
    /// `inclusive` or `exclusive`.
    pub tax_mode: String,
    /// The line the last action touched (to highlight and scroll to).
    pub changed: Option<u32>,
    /// Cash amounts to offer as one-key buttons.
    #[ts(type = "Array<number>")]
    pub quick_cash: Vec<i64>,
}

#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct ProductHit {
    pub sku: String,
    pub name: String,
    #[ts(type = "number")]
    pub unit_price: i64,
    pub barcode: Option<String>,
    /// Stock on hand as the till knows it; `null`: no figure.
    #[ts(type = "number | null")]
    pub on_hand_milli: Option<i64>,
}

/// One payment as entered at the tender screen.
#[derive(Clone, Debug, Deserialize, Serialize, TS)]
#[ts(export)]
pub struct TenderInput {
    /// `cash`, `card`, `qris`, `voucher`.
    pub method: String,
    #[ts(type = "number")]
    pub amount: i64,
    /// Card approval code, QRIS reference, voucher code.
    pub reference: Option<String>,
}

#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct SaleDone {
    pub receipt_no: String,
    #[ts(type = "number")]
    pub total: i64,
    #[ts(type = "number")]
    pub paid: i64,
    #[ts(type = "number")]
    pub change: i64,
    /// The receipt exactly as printed, line by line.
    pub preview: Vec<String>,
    /// The print job, when a printer is set up.
    #[ts(type = "number | null")]
    pub print_job: Option<i64>,
}

/// A receipt looked up for reprint, void or refund.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct ReceiptView {
    pub receipt_no: String,
    /// `completed` or `voided`.
    pub status: String,
    /// The till that sold it when it is another till of the branch (its
    /// sale was fetched from the relay or the cloud and verified).
    pub other_till: Option<String>,
    #[ts(type = "number")]
    pub total: i64,
    #[ts(type = "number")]
    pub sold_at_ms: i64,
    pub lines: Vec<ReceiptLineView>,
    pub preview: Vec<String>,
}

#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct ReceiptLineView {
    pub sku: String,
    pub name: String,
    #[ts(type = "number")]
    pub quantity_milli: i64,
    #[ts(type = "number")]
    pub total: i64,
}

/// Items to refund: SKU or barcode, and how many.
#[derive(Clone, Debug, Deserialize, Serialize, TS)]
#[ts(export)]
pub struct RefundItem {
    pub code: String,
    pub quantity: String,
}

#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct RefundDone {
    pub refund_no: String,
    #[ts(type = "number")]
    pub total: i64,
    pub preview: Vec<String>,
    #[ts(type = "number | null")]
    pub print_job: Option<i64>,
}

#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct ParkedSale {
    pub park_id: String,
    pub label: String,
    #[ts(type = "number")]
    pub parked_at_ms: i64,
    pub cashier: Option<String>,
    pub items: u32,
}

#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct PaymentTotal {
    pub method: String,
    #[ts(type = "number")]
    pub amount: i64,
}

/// An X or Z report: its figures and the text as printed.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct ReportView {
    /// `X` or `Z`.
    pub kind: String,
    pub lines: Vec<String>,
    #[ts(type = "number")]
    pub sales_count: u64,
    #[ts(type = "number")]
    pub sales_total: i64,
    #[ts(type = "number")]
    pub voids_count: u64,
    /// No-sale openings of the drawer.
    #[ts(type = "number")]
    pub no_sales: u64,
    #[ts(type = "number")]
    pub refunds_total: i64,
    pub payments: Vec<PaymentTotal>,
    #[ts(type = "number")]
    pub expected_cash: i64,
    #[ts(type = "number | null")]
    pub counted_cash: Option<i64>,
    #[ts(type = "number | null")]
    pub variance: Option<i64>,
    #[ts(type = "number | null")]
    pub print_job: Option<i64>,
}

/// So many notes or coins of one value, as counted at shift close.
#[derive(Clone, Debug, Deserialize, Serialize, TS)]
#[ts(export)]
pub struct CashCountInput {
    /// The note's or coin's value in rupiah (`50000`).
    #[ts(type = "number")]
    pub value: i64,
    #[ts(type = "number")]
    pub count: u64,
}

/// A no-sale opening of the drawer, done.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct NoSaleDone {
    /// No-sale openings in the shift so far, this one included.
    #[ts(type = "number")]
    pub no_sales: u64,
    #[ts(type = "number | null")]
    pub print_job: Option<i64>,
}

/// The sync state the status bar shows. `state` tells the failures apart:
/// `local_only` (trial), `checking` (no round has ended since the app
/// started), `waiting` (no round ever), `online`, `syncing`
/// (entries still on their way), `relay_unreachable` (the branch relay or
/// LAN is down; the cloud is taking entries directly), `uplink_down` (the
/// relay holds them but the branch's internet is down), `offline` (nothing
/// answers), `cloud_refusing` (needs attention), `master_data_refused`
/// (master data not as the cloud signed it was refused; old values kept).
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct SyncView {
    pub state: String,
    pub message: Option<String>,
    #[ts(type = "number")]
    pub local: u64,
    #[ts(type = "number")]
    pub relay_only: u64,
    #[ts(type = "number")]
    pub in_cloud: u64,
    #[ts(type = "number")]
    pub refused: u64,
    #[ts(type = "number | null")]
    pub last_success_ms: Option<u64>,
    pub last_upstream: Option<String>,
    pub relay_configured: bool,
}

/// One entry not yet held by the cloud.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct PendingEntry {
    #[ts(type = "number")]
    pub seq: u64,
    pub kind: String,
    #[ts(type = "number")]
    pub at_ms: i64,
    /// `local` or `relay`.
    pub held_by: String,
}

#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct RefusedEntry {
    #[ts(type = "number")]
    pub seq: u64,
    pub upstream: String,
    pub reason: String,
    pub detail: String,
    #[ts(type = "number")]
    pub at_ms: u64,
}

#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct UndeliveredView {
    pub entries: Vec<PendingEntry>,
    /// How many more there are beyond `entries`.
    #[ts(type = "number")]
    pub more: u64,
    pub refused: Vec<RefusedEntry>,
}
