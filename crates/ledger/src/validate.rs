//! The payload schema of each entry kind, checked before an entry is applied.
//!
//! An entry that is genuinely signed but fails here (unknown kind, a payload
//! that does not decode, figures that do not add up) was written by a buggy or
//! newer terminal. The cloud keeps it in quarantine and acknowledges it, so one
//! bad entry never wedges a device's queue; see `docs/sync-protocol.md`.

use sentra_protocol::payload::{
    CashMoved, ClockSteppedBack, DrawerOpened, MasterDataRefused, PinLockedOut, RefundIssued,
    SaleCompleted, SaleVoided, ShiftClosed, ShiftOpened, StockCounted,
};
use sentra_protocol::{Entry, EntryKind, EntryPayload, canonical_json};

use crate::shift::parse_method;

/// At most this many bytes in an entry's canonical payload. A 2,000-line sale
/// with 200-byte names fits; the push body (4 MiB) always holds one entry.
pub const MAX_PAYLOAD_BYTES: usize = sentra_protocol::wire::MAX_PAYLOAD_BYTES;
/// At most this many lines in a sale or refund (a wholesale basket of 1,000
/// lines must go through; twice that leaves room).
pub const MAX_LINES: usize = 2000;
/// No line quantity or stock count may exceed this many thousandths (one
/// million units): the sums of a batch (1,000 entries × 2,000 lines) stay
/// below 2·10^15, far from 64-bit overflow.
pub const MAX_QUANTITY_MILLI: i64 = 1_000_000_000;
/// At most this many denominations in a shift's cash count.
pub const MAX_DENOMINATIONS: usize = 30;
/// At most this many tenders in a sale.
pub const MAX_TENDERS: usize = 20;
/// At most this many bytes in any text field of a payload.
pub const MAX_TEXT: usize = 200;
/// No amount or quantity in a payload may exceed this (Rp 10 trillion, or 10
/// billion units): far beyond any real sale, and low enough that the sums of
/// a batch and of years of a branch's ledger never overflow 64 bits.
pub const MAX_AMOUNT: i64 = 10_000_000_000_000;

/// A decoded, validated payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Typed {
    SaleCompleted(SaleCompleted),
    SaleVoided(SaleVoided),
    RefundIssued(RefundIssued),
    ShiftOpened(ShiftOpened),
    ShiftClosed(ShiftClosed),
    CashMoved(CashMoved),
    DrawerOpened(DrawerOpened),
    StockCounted(StockCounted),
    PinLockedOut(PinLockedOut),
    ClockSteppedBack(ClockSteppedBack),
    MasterDataRefused(MasterDataRefused),
}

/// Why a payload cannot be applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("unknown entry kind {0:?}")]
    UnknownKind(String),
    #[error("{kind} payload does not decode: {reason}")]
    Schema { kind: String, reason: String },
    #[error("{kind} payload: {reason}")]
    Rule { kind: String, reason: String },
    #[error("payload is {bytes} bytes; at most {MAX_PAYLOAD_BYTES} are allowed")]
    TooLarge { bytes: usize },
    #[error("{at}: control character U+{code:04X} in text")]
    ControlCharacter { at: String, code: u32 },
    #[error("{at}: text is {bytes} bytes; at most {MAX_TEXT} are allowed")]
    TextTooLong { at: String, bytes: usize },
}

impl Invalid {
    /// A stable snake_case code for alerts and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Invalid::UnknownKind(_) => "unknown_kind",
            Invalid::Schema { .. } => "invalid_payload",
            Invalid::Rule { .. } => "invalid_figures",
            Invalid::TooLarge { .. } => "too_large",
            Invalid::ControlCharacter { .. } => "control_character",
            Invalid::TextTooLong { .. } => "text_too_long",
        }
    }
}

fn decode<P: EntryPayload + serde::de::DeserializeOwned>(e: &Entry) -> Result<P, Invalid> {
    e.payload_as::<P>().map_err(|err| Invalid::Schema {
        kind: P::kind().as_str().to_owned(),
        reason: err.to_string(),
    })
}

/// Decodes and checks an entry's payload: its size, every string in it (no
/// control characters, at most [`MAX_TEXT`] bytes), its kind's schema and
/// figures. The terminal runs this before it signs an entry, the cloud when it
/// stores one, so a till never writes what its cloud would quarantine.
pub fn validate(e: &Entry) -> Result<Typed, Invalid> {
    let bytes = canonical_json(&e.payload)
        .map_err(|err| Invalid::Schema {
            kind: e.kind.as_str().to_owned(),
            reason: err.to_string(),
        })?
        .len();
    validate_sized(e, bytes)
}

/// [`validate`] for a receiver that already holds the entry's canonical
/// payload (`canonical_payload_len` bytes): no second encoding.
pub fn validate_sized(e: &Entry, canonical_payload_len: usize) -> Result<Typed, Invalid> {
    let bytes = canonical_payload_len;
    if bytes > MAX_PAYLOAD_BYTES {
        return Err(Invalid::TooLarge { bytes });
    }
    // The clean case walks without naming fields; only a refusal pays for
    // the path that says where.
    if !strings_clean(&e.payload) {
        check_strings(&e.payload, &mut String::from("payload"))?;
    }
    let typed = match &e.kind {
        EntryKind::SaleCompleted => Typed::SaleCompleted(decode(e)?),
        EntryKind::SaleVoided => Typed::SaleVoided(decode(e)?),
        EntryKind::RefundIssued => Typed::RefundIssued(decode(e)?),
        EntryKind::ShiftOpened => Typed::ShiftOpened(decode(e)?),
        EntryKind::ShiftClosed => Typed::ShiftClosed(decode(e)?),
        EntryKind::CashMoved => Typed::CashMoved(decode(e)?),
        EntryKind::DrawerOpened => Typed::DrawerOpened(decode(e)?),
        EntryKind::StockCounted => Typed::StockCounted(decode(e)?),
        EntryKind::PinLockedOut => Typed::PinLockedOut(decode(e)?),
        EntryKind::ClockSteppedBack => Typed::ClockSteppedBack(decode(e)?),
        EntryKind::MasterDataRefused => Typed::MasterDataRefused(decode(e)?),
        EntryKind::Other(name) => return Err(Invalid::UnknownKind(name.clone())),
    };
    check(&typed).map_err(|reason| Invalid::Rule {
        kind: e.kind.as_str().to_owned(),
        reason,
    })?;
    Ok(typed)
}

/// Refuses text that no field of an entry may hold: control characters (C0,
/// DEL, C1 — never part of a name, a code or a reason, and U+0000 cannot
/// even be stored by PostgreSQL's `jsonb`), or
/// more than [`MAX_TEXT`] bytes. `at` names the field in the error.
pub fn check_text(at: &str, s: &str) -> Result<(), Invalid> {
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        return Err(Invalid::ControlCharacter {
            at: at.to_owned(),
            code: u32::from(c),
        });
    }
    if s.len() > MAX_TEXT {
        return Err(Invalid::TextTooLong {
            at: at.to_owned(),
            bytes: s.len(),
        });
    }
    Ok(())
}

/// Whether every string of a payload, keys included, would pass
/// [`check_text`].
fn strings_clean(v: &serde_json::Value) -> bool {
    use serde_json::Value;
    let fine = |s: &str| s.len() <= MAX_TEXT && !s.chars().any(char::is_control);
    match v {
        Value::String(s) => fine(s),
        Value::Array(items) => items.iter().all(strings_clean),
        Value::Object(members) => members.iter().all(|(k, v)| fine(k) && strings_clean(v)),
        _ => true,
    }
}

/// Every string of a payload, keys included, through [`check_text`].
fn check_strings(v: &serde_json::Value, at: &mut String) -> Result<(), Invalid> {
    use serde_json::Value;
    match v {
        Value::String(s) => check_text(at, s),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = at.len();
                at.push_str(&format!("[{i}]"));
                check_strings(item, at)?;
                at.truncate(len);
            }
            Ok(())
        }
        Value::Object(members) => {
            for (k, item) in members {
                check_text(at, k)?;
                let len = at.len();
                at.push('.');
                at.push_str(k);
                check_strings(item, at)?;
                at.truncate(len);
            }
            Ok(())
        }
        _ => Ok(()),
    }
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
    at_most(what, n)
}

fn quantity(what: &str, n: i64) -> Result<(), String> {
    if n <= 0 {
        return Err(format!("{what} must be positive ({n})"));
    }
    if n > MAX_QUANTITY_MILLI {
        return Err(format!("{what} is over {MAX_QUANTITY_MILLI} ({n})"));
    }
    Ok(())
}

fn positive(what: &str, n: i64) -> Result<(), String> {
    if n <= 0 {
        return Err(format!("{what} must be positive ({n})"));
    }
    at_most(what, n)
}

fn at_most(what: &str, n: i64) -> Result<(), String> {
    if n > MAX_AMOUNT {
        return Err(format!("{what} is over {MAX_AMOUNT} ({n})"));
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
            check_cash_count(c)
        }
        Typed::CashMoved(m) => positive("amount", m.amount),
        Typed::DrawerOpened(d) => {
            text("reason", &d.reason, true)?;
            if let Some(cashier) = &d.cashier {
                text("cashier", cashier, false)?;
            }
            Ok(())
        }
        Typed::StockCounted(s) => {
            text("sku", &s.sku, true)?;
            non_negative("counted_milli", s.counted_milli)?;
            if s.counted_milli > MAX_QUANTITY_MILLI {
                return Err(format!("counted_milli is over {MAX_QUANTITY_MILLI}"));
            }
            Ok(())
        }
        Typed::PinLockedOut(p) => {
            if let Some(user) = &p.user_id {
                text("user_id", user, true)?;
            }
            positive("failures", p.failures)?;
            positive("locked_for_ms", p.locked_for_ms)?;
            // A day: far above the till's longest lock-out (15 min).
            if p.locked_for_ms > 86_400_000 {
                return Err("locked_for_ms is over a day".into());
            }
            Ok(())
        }
        Typed::ClockSteppedBack(c) => {
            positive("behind_ms", c.behind_ms)?;
            non_negative("clock_ms", c.clock_ms)
        }
        Typed::MasterDataRefused(m) => {
            if !matches!(m.upstream.as_str(), "relay" | "cloud") {
                return Err(format!("upstream {:?} is not relay or cloud", m.upstream));
            }
            text("entity", &m.entity, true)?;
            text("key", &m.key, false)?;
            text("problem", &m.problem, true)
        }
    }
}

/// A count by denomination: distinct positive values, sane counts, adding
/// up to the counted cash.
fn check_cash_count(c: &ShiftClosed) -> Result<(), String> {
    let d = &c.counted_denominations;
    if d.is_empty() {
        return Ok(());
    }
    if d.len() > MAX_DENOMINATIONS {
        return Err(format!("more than {MAX_DENOMINATIONS} denominations"));
    }
    for (i, n) in d.iter().enumerate() {
        positive("denomination value", n.value)?;
        if d[..i].iter().any(|o| o.value == n.value) {
            return Err(format!("denomination {} is counted twice", n.value));
        }
    }
    let counts: Vec<(i64, u64)> = d.iter().map(|n| (n.value, n.count)).collect();
    match sentra_domain::tender::cash_count_total(&counts) {
        Some(total) if total == c.counted_cash => Ok(()),
        Some(total) => Err(format!(
            "the denominations add up to {total}, not counted_cash {}",
            c.counted_cash
        )),
        None => Err("the denominations overflow".into()),
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
        quantity(&at("quantity_milli"), l.quantity_milli)?;
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
        quantity("quantity_milli", l.quantity_milli)?;
        non_negative("amount", l.amount)?;
        non_negative("tax", l.tax)?;
    }
    if sum(r.lines.iter().map(|l| l.amount))? != r.total {
        return Err("total is not the sum of the lines".into());
    }
    if sum(r.lines.iter().map(|l| l.tax))? != r.tax {
        return Err("tax is not the sum of the lines' tax".into());
    }
    // Without the original sale: a supervisor's reason, and no claim to a
    // sale entry (its line numbers only number its own lines).
    if r.unverified {
        if r.reason.as_deref().is_none_or(|t| t.trim().is_empty()) {
            return Err("an unverified refund needs a reason".into());
        }
        if r.sale_entry_id.is_some() {
            return Err("an unverified refund names no sale entry".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentra_protocol::payload::{SaleLine, TenderRecord};
    use sentra_protocol::{Hash, Hlc, Signature};
    use uuid::Uuid;

    fn entry(kind: EntryKind, payload: serde_json::Value) -> Entry {
        Entry {
            format: 1,
            id: Uuid::from_u128(1),
            branch: "JKT01".into(),
            device_id: Uuid::from_u128(2),
            seq: 1,
            hlc: Hlc::new(1, 0),
            kind,
            payload,
            prev_hash: Hash::ZERO,
            hash: Hash::ZERO,
            signature: Signature([0; 64]),
        }
    }

    fn sale() -> SaleCompleted {
        let line = |n: u32, sku: &str, total: i64| SaleLine {
            line_no: n,
            sku: sku.into(),
            name: sku.into(),
            quantity_milli: 1000,
            unit_price: total,
            tax_category: "standard".into(),
            tax_rate: "11".into(),
            discount: None,
            gross: total,
            line_discount: 0,
            cart_discount_share: 0,
            net: total,
            tax: total * 11 / 111,
            total,
        };
        let lines = vec![line(1, "A", 11_100), line(2, "B", 2_220)];
        SaleCompleted {
            receipt_no: "JKT01-T1-000001".into(),
            shift_id: Uuid::from_u128(3),
            currency: "IDR".into(),
            tax_mode: "inclusive".into(),
            gross: 13_320,
            discounts: 0,
            tax: 1_100 + 220,
            total: 13_320,
            lines,
            cart_discount: None,
            tenders: vec![TenderRecord {
                method: "cash".into(),
                amount: 20_000,
                reference: None,
            }],
            paid: 20_000,
            change: 6_680,
            cashier: None,
            discount_approved_by: None,
        }
    }

    fn check_sale(s: &SaleCompleted) -> Result<Typed, Invalid> {
        validate(&entry(
            EntryKind::SaleCompleted,
            serde_json::to_value(s).expect("json"),
        ))
    }

    #[test]
    fn a_consistent_sale_passes() {
        assert!(matches!(check_sale(&sale()), Ok(Typed::SaleCompleted(_))));
    }

    #[test]
    fn figures_that_do_not_add_up_are_invalid_figures() {
        let mut s = sale();
        s.total += 1;
        let err = check_sale(&s).expect_err("total off");
        assert_eq!(err.code(), "invalid_figures");
        let mut s = sale();
        s.change = 0;
        assert!(check_sale(&s).is_err(), "paid − change ≠ total");
        let mut s = sale();
        s.lines[1].line_no = 1;
        let err = check_sale(&s).expect_err("duplicate line_no");
        assert!(err.to_string().contains("line_no"), "{err}");
        let mut s = sale();
        s.tenders[0].method = "bitcoin".into();
        assert!(check_sale(&s).is_err());
        let mut s = sale();
        s.lines[0].quantity_milli = MAX_QUANTITY_MILLI + 1;
        let err = check_sale(&s).expect_err("absurd quantity");
        assert!(err.to_string().contains("over"), "{err}");
    }

    #[test]
    fn a_payload_that_does_not_decode_is_invalid_payload() {
        let mut v = serde_json::to_value(sale()).expect("json");
        v.as_object_mut().expect("object").remove("lines");
        let err = validate(&entry(EntryKind::SaleCompleted, v)).expect_err("no lines");
        assert_eq!(err.code(), "invalid_payload");
    }

    #[test]
    fn a_thousand_line_sale_passes_and_too_many_lines_do_not() {
        let mut s = sale();
        let line = s.lines[1].clone();
        s.lines.clear();
        for n in 1..=1000u32 {
            let mut l = line.clone();
            l.line_no = n;
            l.name = "Beras Premium Cap Bunga 5 kg karung".into();
            s.lines.push(l);
        }
        s.gross = 1000 * line.gross;
        s.tax = 1000 * line.tax;
        s.total = 1000 * line.total;
        s.tenders[0].amount = s.total;
        s.paid = s.total;
        s.change = 0;
        assert!(check_sale(&s).is_ok(), "{:?}", check_sale(&s));
        let too_many = MAX_LINES + 1;
        while s.lines.len() < too_many {
            let mut l = line.clone();
            l.line_no = s.lines.len() as u32 + 1;
            s.lines.push(l);
        }
        let err = check_sale(&s).expect_err("too many lines");
        assert!(err.to_string().contains("lines"), "{err}");
    }

    #[test]
    fn control_characters_anywhere_are_refused_with_the_field_named() {
        let mut s = sale();
        s.lines[1].name = "Kopi\0Susu".into();
        let err = check_sale(&s).expect_err("NUL in a name");
        assert_eq!(err.code(), "control_character");
        assert!(err.to_string().contains("lines[1].name"), "{err}");
        for bad in ["a\u{7}b", "tab\there", "del\u{7f}", "c1\u{85}"] {
            let mut s = sale();
            s.cashier = Some(bad.to_owned());
            assert_eq!(check_sale(&s).expect_err(bad).code(), "control_character");
        }
        let mut s = sale();
        s.cashier = Some("Siti Nurhaliza — kasir 2 ✓".into());
        assert!(check_sale(&s).is_ok());
        // A field the schema does not know is checked too.
        let mut v = serde_json::to_value(sale()).expect("json");
        v["note"] = serde_json::json!(["ok", "bad\u{0}"]);
        let err = validate(&entry(EntryKind::SaleCompleted, v)).expect_err("note");
        assert!(err.to_string().contains("note[1]"), "{err}");
    }

    #[test]
    fn text_over_the_limit_and_payloads_over_the_limit_are_refused() {
        let mut s = sale();
        s.cashier = Some("x".repeat(MAX_TEXT + 1));
        assert_eq!(check_sale(&s).expect_err("long").code(), "text_too_long");
        let mut v = serde_json::to_value(sale()).expect("json");
        v["note"] = serde_json::json!(vec!["y".repeat(MAX_TEXT); MAX_PAYLOAD_BYTES / MAX_TEXT + 1]);
        let err = validate(&entry(EntryKind::SaleCompleted, v)).expect_err("big");
        assert_eq!(err.code(), "too_large");
    }

    #[test]
    fn an_unknown_kind_is_unknown_kind() {
        let err = validate(&entry(
            EntryKind::Other("loyalty_points".into()),
            serde_json::json!({}),
        ))
        .expect_err("unknown");
        assert_eq!(err.code(), "unknown_kind");
    }
}
