//! Typed payloads of the journal entry kinds.
//!
//! Amounts are integers in the currency's minor unit (whole rupiah for IDR);
//! quantities are integer thousandths (`quantity_milli`, so 1.250 kg is 1250);
//! rates are decimal strings ("11" means 11 %). Floats never appear, so the
//! canonical encoding of a payload is exact.
//!
//! Readers ignore fields they do not know (no `deny_unknown_fields`), and new
//! fields are added as `Option` / `#[serde(default)]`, so an older reader keeps
//! working when a newer writer adds a field. The hash is computed over the
//! payload JSON as written, never over these structs, so an older reader can
//! still verify an entry that carries fields it cannot name.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A discount as the cashier entered it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DiscountSpec {
    /// A fixed amount off, in minor units.
    Amount { amount: i64 },
    /// A percentage off, as a decimal string ("10", "12.5").
    Percent { percent: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleLine {
    pub line_no: u32,
    pub sku: String,
    pub name: String,
    pub quantity_milli: i64,
    pub unit_price: i64,
    pub tax_category: String,
    /// Percent, decimal string.
    pub tax_rate: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount: Option<DiscountSpec>,
    /// unit_price × quantity, rounded.
    pub gross: i64,
    pub line_discount: i64,
    pub cart_discount_share: i64,
    /// gross − line_discount − cart_discount_share.
    pub net: i64,
    /// Tax contained in (inclusive) or added to (exclusive) `net`.
    pub tax: i64,
    /// What the customer pays for this line.
    pub total: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenderRecord {
    /// "cash", "card", "qris", "voucher".
    pub method: String,
    pub amount: i64,
    /// Card approval code, QRIS customer reference, voucher code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleCompleted {
    pub receipt_no: String,
    pub shift_id: Uuid,
    /// ISO 4217 code, e.g. "IDR".
    pub currency: String,
    /// "inclusive" or "exclusive".
    pub tax_mode: String,
    pub lines: Vec<SaleLine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cart_discount: Option<DiscountSpec>,
    /// Sum of line gross.
    pub gross: i64,
    /// Line discounts plus cart discount.
    pub discounts: i64,
    pub tax: i64,
    pub total: i64,
    pub tenders: Vec<TenderRecord>,
    pub paid: i64,
    pub change: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cashier: Option<String>,
    /// The supervisor who approved a discount above the branch's threshold
    /// (head office's discount report); absent when none was needed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_approved_by: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleVoided {
    pub receipt_no: String,
    /// The `id` of the `sale_completed` entry being voided.
    pub sale_entry_id: Uuid,
    pub shift_id: Uuid,
    pub total: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundLine {
    /// `line_no` of the sale line refunded.
    pub line_no: u32,
    pub sku: String,
    pub quantity_milli: i64,
    /// Amount given back for this line, tax included.
    pub amount: i64,
    pub tax: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundIssued {
    pub refund_no: String,
    /// Receipt of the original sale (possibly from another device).
    pub receipt_no: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sale_entry_id: Option<Uuid>,
    pub shift_id: Uuid,
    pub lines: Vec<RefundLine>,
    pub total: i64,
    pub tax: i64,
    /// How the money went back: "cash", "card", "qris", "voucher".
    pub method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Refunded without the original sale (no upstream could produce it):
    /// approved by a supervisor with a reason, priced from the catalog, its
    /// `line_no` numbering its own lines. The cloud flags it
    /// (`unverified_return`) and never
    /// counts it against a sale. Absent when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unverified: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShiftOpened {
    pub shift_id: Uuid,
    pub opening_float: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cashier: Option<String>,
}

/// Totals of a shift as the terminal computed them at close; the cloud
/// recomputes them from the shift's entries (`shift_mismatch`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShiftTotals {
    pub sales_count: u64,
    pub gross: i64,
    pub discounts: i64,
    pub tax: i64,
    /// Sum of sale totals (voided sales excluded).
    pub sales_total: i64,
    pub refunds_count: u64,
    pub refunds_total: i64,
    pub voids_count: u64,
    pub voids_total: i64,
    /// Net takings per method: sales minus change minus refunds.
    pub payments: BTreeMap<String, i64>,
    pub cash_in: i64,
    pub cash_out: i64,
    /// `drawer_opened` entries of the shift (absent when none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub no_sales: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShiftClosed {
    pub shift_id: Uuid,
    pub opening_float: i64,
    pub totals: ShiftTotals,
    pub expected_cash: i64,
    pub counted_cash: i64,
    /// counted − expected.
    pub variance: i64,
    /// The count by note and coin, when the cashier counted that way; it
    /// adds up to `counted_cash`. Absent when only the total was typed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub counted_denominations: Vec<CashCount>,
}

/// So many notes or coins of one value in the counted drawer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CashCount {
    /// The note's or coin's value in minor units (`50000`).
    pub value: i64,
    pub count: u64,
}

/// The cash drawer was opened without a sale ("no sale"): to give change
/// for a note, to check a note, … The reason says why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawerOpened {
    pub shift_id: Uuid,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cashier: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CashDirection {
    In,
    Out,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CashMoved {
    pub shift_id: Uuid,
    pub direction: CashDirection,
    pub amount: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockCounted {
    pub sku: String,
    pub counted_milli: i64,
    /// What the terminal believed was on hand before the count.
    pub previous_milli: i64,
}

/// Wrong PINs locked a user's sign-in and unlock — or, with no `user_id`,
/// the till's supervisor approvals — out for `locked_for_ms`. Journaled so
/// head office sees guessing; the lock itself lives on the till.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinLockedOut {
    /// The user whose PIN was tried; absent for supervisor approvals, which
    /// name no user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Wrong PINs in a row so far.
    pub failures: i64,
    pub locked_for_ms: i64,
}

/// The till's wall clock read `behind_ms` less than at its previous entry:
/// it was set back (by hand, a dead CMOS battery, a bad time server). The
/// hybrid clock holds its wall until the clock catches up, so this marks
/// where the entries made with the clock behind begin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockSteppedBack {
    pub behind_ms: i64,
    /// The wall clock's reading when the step was seen, ms since the epoch.
    pub clock_ms: i64,
}

/// A till refused a page of pulled master data because a change in it was
/// not as the cloud signed it (altered by a relay or on the LAN, unsigned,
/// or for another branch): nothing of the page was applied. Journaled once
/// per alert, so head office learns of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MasterDataRefused {
    /// `relay` or `cloud`: who served it.
    pub upstream: String,
    pub entity: String,
    pub key: String,
    /// `unsigned`, `bad_signature` or `other_branch`.
    pub problem: String,
}

macro_rules! entry_payload {
    ($($ty:ty => $kind:ident),* $(,)?) => {
        $(impl crate::EntryPayload for $ty {
            fn kind() -> crate::EntryKind {
                crate::EntryKind::$kind
            }
        })*
    };
}

entry_payload! {
    SaleCompleted => SaleCompleted,
    SaleVoided => SaleVoided,
    RefundIssued => RefundIssued,
    ShiftOpened => ShiftOpened,
    ShiftClosed => ShiftClosed,
    CashMoved => CashMoved,
    DrawerOpened => DrawerOpened,
    StockCounted => StockCounted,
    PinLockedOut => PinLockedOut,
    ClockSteppedBack => ClockSteppedBack,
    MasterDataRefused => MasterDataRefused,
}
