//! The payload schema of each entry kind, checked before an entry is applied.
//!
//! An entry that is genuinely signed but fails here (unknown kind, a payload
//! that does not decode, figures that do not add up) was written by a buggy or
//! newer terminal. The cloud keeps it in quarantine and acknowledges it, so one
//! bad entry never wedges a device's queue; see `docs/sync-protocol.md`.

use sentra_protocol::payload::{
    CashMoved, RefundIssued, SaleCompleted, SaleVoided, ShiftClosed, ShiftOpened, StockCounted,
};
use sentra_protocol::{Entry, EntryKind, EntryPayload};

use crate::shift::parse_method;

/// At most this many lines in a sale or refund.
pub const MAX_LINES: usize = 500;
/// At most this many tenders in a sale.
pub const MAX_TENDERS: usize = 20;
/// At most this many bytes in any text field of a payload.
pub const MAX_TEXT: usize = 200;

/// A decoded, validated payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Typed {
    SaleCompleted(SaleCompleted),
    SaleVoided(SaleVoided),
    RefundIssued(RefundIssued),
    ShiftOpened(ShiftOpened),
    ShiftClosed(ShiftClosed),
    CashMoved(CashMoved),
    StockCounted(StockCounted),
}

/// Why a payload cannot be applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("unknown entry kind {0:?}")]
    UnknownKind(String),
    #[error("{kind} payload does not decode: {reason}")]
    Schema { kind: &'static str, reason: String },
    #[error("{kind} payload: {reason}")]
    Rule { kind: &'static str, reason: String },
}

impl Invalid {
    /// A stable snake_case code for alerts and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Invalid::UnknownKind(_) => "unknown_kind",
            Invalid::Schema { .. } => "invalid_payload",
            Invalid::Rule { .. } => "invalid_figures",
        }
    }
}

fn decode<P: EntryPayload + serde::de::DeserializeOwned>(e: &Entry) -> Result<P, Invalid> {
    e.payload_as::<P>().map_err(|err| Invalid::Schema {
        kind: kind_name(&P::kind()),
        reason: err.to_string(),
    })
}

fn kind_name(k: &EntryKind) -> &'static str {
    match k {
        EntryKind::SaleCompleted => "sale_completed",
        EntryKind::SaleVoided => "sale_voided",
        EntryKind::RefundIssued => "refund_issued",
        EntryKind::ShiftOpened => "shift_opened",
        EntryKind::ShiftClosed => "shift_closed",
        EntryKind::CashMoved => "cash_moved",
        EntryKind::StockCounted => "stock_counted",
        EntryKind::Other(_) => "other",
    }
}

/// Decodes and checks an entry's payload.
pub fn validate(e: &Entry) -> Result<Typed, Invalid> {
    let typed = match &e.kind {
        EntryKind::SaleCompleted => Typed::SaleCompleted(decode(e)?),
        EntryKind::SaleVoided => Typed::SaleVoided(decode(e)?),
        EntryKind::RefundIssued => Typed::RefundIssued(decode(e)?),
        EntryKind::ShiftOpened => Typed::ShiftOpened(decode(e)?),
        EntryKind::ShiftClosed => Typed::ShiftClosed(decode(e)?),
        EntryKind::CashMoved => Typed::CashMoved(decode(e)?),
        EntryKind::StockCounted => Typed::StockCounted(decode(e)?),
        EntryKind::Other(name) => return Err(Invalid::UnknownKind(name.clone())),
    };
    check(&typed).map_err(|reason| Invalid::Rule {
        kind: kind_name(&e.kind),
        reason,
    })?;
    Ok(typed)
}

fn text(what: &str, s: &str, required: bool) -> Result<(), String> {
    if required && s.trim().is_empty() {
        return Err(format!("{what} is empty"));
    }
    if s.len() > MAX_TEXT {
        return Err(format!("{what} is longer than {MAX_TEXT} bytes"));
    }
    Ok(())
}

fn non_negative(what: &str, n: i64) -> Result<(), String> {
    if n < 0 {
        return Err(format!("{what} is negative ({n})"));
    }
    Ok(())
}

fn positive(what: &str, n: i64) -> Result<(), String> {
    if n <= 0 {
        return Err(format!("{what} must be positive ({n})"));
    }
    Ok(())
}

fn sum(mut values: impl Iterator<Item = i64>) -> Result<i64, String> {
    values
        .try_fold(0i64, |a, b| a.checked_add(b))
        .ok_or_else(|| "amounts overflow".to_owned())
}

fn method(name: &str) -> Result<(), String> {
    parse_method(name)
        .map(|_| ())
        .map_err(|_| format!("unknown payment method {name:?}"))
}

fn check(t: &Typed) -> Result<(), String> {
    match t {
        Typed::SaleCompleted(s) => check_sale(s),
        Typed::SaleVoided(v) => {
            text("receipt_no", &v.receipt_no, true)?;
            non_negative("total", v.total)
        }
        Typed::RefundIssued(r) => check_refund(r),
        Typed::ShiftOpened(o) => non_negative("opening_float", o.opening_float),
        Typed::ShiftClosed(c) => {
            non_negative("opening_float", c.opening_float)?;
            non_negative("counted_cash", c.counted_cash)?;
            if c.counted_cash.checked_sub(c.expected_cash) != Some(c.variance) {
                return Err("variance is not counted_cash − expected_cash".into());
            }
            for name in c.totals.payments.keys() {
                method(name)?;
            }
            Ok(())
        }
        Typed::CashMoved(m) => positive("amount", m.amount),
        Typed::StockCounted(s) => {
            text("sku", &s.sku, true)?;
            non_negative("counted_milli", s.counted_milli)
        }
    }
}

fn check_sale(s: &SaleCompleted) -> Result<(), String> {
    text("receipt_no", &s.receipt_no, true)?;
    if s.currency != "IDR" {
        return Err(format!("unsupported currency {:?}", s.currency));
    }
    if s.tax_mode != "inclusive" && s.tax_mode != "exclusive" {
        return Err(format!("unknown tax_mode {:?}", s.tax_mode));
    }
    if s.lines.is_empty() {
        return Err("a sale has no lines".into());
    }
    if s.lines.len() > MAX_LINES {
        return Err(format!("more than {MAX_LINES} lines"));
    }
    if s.tenders.is_empty() || s.tenders.len() > MAX_TENDERS {
        return Err(format!("a sale needs 1 to {MAX_TENDERS} tenders"));
    }
    let mut line_nos = std::collections::BTreeSet::new();
    for (i, l) in s.lines.iter().enumerate() {
        let at = |what: &str| format!("line {}: {what}", i + 1);
        if l.line_no == 0 || !line_nos.insert(l.line_no) {
            return Err(at("line_no must be unique and at least 1"));
        }
        text(&at("sku"), &l.sku, true)?;
        text(&at("name"), &l.name, false)?;
        positive(&at("quantity_milli"), l.quantity_milli)?;
        for (what, n) in [
            ("unit_price", l.unit_price),
            ("gross", l.gross),
            ("line_discount", l.line_discount),
            ("cart_discount_share", l.cart_discount_share),
            ("net", l.net),
            ("tax", l.tax),
            ("total", l.total),
        ] {
            non_negative(&at(what), n)?;
        }
        if l.gross.checked_sub(l.line_discount + l.cart_discount_share) != Some(l.net) {
            return Err(at("net is not gross − discounts"));
        }
    }
    for (what, n) in [
        ("gross", s.gross),
        ("discounts", s.discounts),
        ("tax", s.tax),
        ("total", s.total),
        ("paid", s.paid),
        ("change", s.change),
    ] {
        non_negative(what, n)?;
    }
    if sum(s.lines.iter().map(|l| l.gross))? != s.gross {
        return Err("gross is not the sum of the lines' gross".into());
    }
    if sum(s
        .lines
        .iter()
        .map(|l| l.line_discount + l.cart_discount_share))?
        != s.discounts
    {
        return Err("discounts are not the sum of the lines' discounts".into());
    }
    if sum(s.lines.iter().map(|l| l.tax))? != s.tax {
        return Err("tax is not the sum of the lines' tax".into());
    }
    if sum(s.lines.iter().map(|l| l.total))? != s.total {
        return Err("total is not the sum of the lines' totals".into());
    }
    for t in &s.tenders {
        method(&t.method)?;
        positive("tender amount", t.amount)?;
        if let Some(r) = &t.reference {
            text("tender reference", r, false)?;
        }
    }
    if sum(s.tenders.iter().map(|t| t.amount))? != s.paid {
        return Err("paid is not the sum of the tenders".into());
    }
    if s.paid.checked_sub(s.change) != Some(s.total) {
        return Err("paid − change is not the total".into());
    }
    Ok(())
}

fn check_refund(r: &RefundIssued) -> Result<(), String> {
    text("refund_no", &r.refund_no, true)?;
    text("receipt_no", &r.receipt_no, true)?;
    method(&r.method)?;
    if r.lines.is_empty() || r.lines.len() > MAX_LINES {
        return Err(format!("a refund needs 1 to {MAX_LINES} lines"));
    }
    for l in &r.lines {
        text("sku", &l.sku, true)?;
        positive("quantity_milli", l.quantity_milli)?;
        non_negative("amount", l.amount)?;
        non_negative("tax", l.tax)?;
    }
    if sum(r.lines.iter().map(|l| l.amount))? != r.total {
        return Err("total is not the sum of the lines".into());
    }
    if sum(r.lines.iter().map(|l| l.tax))? != r.tax {
        return Err("tax is not the sum of the lines' tax".into());
    }
    Ok(())
}
