//! The local projections (sales, shifts, stock, cash) as a function of the
//! journal. `apply` runs in the same transaction as the entry's `append`; the
//! same function replayed over the whole journal rebuilds them, which is how
//! `check` proves they never drifted.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use sentra_domain::{Currency, Money, PaymentMethod, SaleFigures, ShiftSummary};
use sentra_protocol::payload::{
    CashDirection, CashMoved, DrawerOpened, RefundIssued, SaleCompleted, SaleVoided, ShiftClosed,
    ShiftOpened, StockCounted,
};
use sentra_protocol::{Entry, EntryKind};
use uuid::Uuid;

use crate::error::{Result, SaleError, TerminalError};

/// Update the projections for one entry.
pub fn apply(conn: &Connection, entry: &Entry) -> Result<()> {
    match &entry.kind {
        EntryKind::ShiftOpened => shift_opened(conn, entry, entry.decode_payload()?),
        EntryKind::SaleCompleted => sale_completed(conn, entry, entry.decode_payload()?),
        EntryKind::SaleVoided => sale_voided(conn, entry, entry.decode_payload()?),
        EntryKind::RefundIssued => refund_issued(conn, entry, entry.decode_payload()?),
        EntryKind::CashMoved => cash_moved(conn, entry, entry.decode_payload()?),
        EntryKind::DrawerOpened => drawer_opened(conn, entry.decode_payload()?),
        EntryKind::ShiftClosed => shift_closed(conn, entry, entry.decode_payload()?),
        EntryKind::StockCounted => stock_counted(conn, entry, entry.decode_payload()?),
        // The lock-out itself is kept in `pin_attempts`; the entry is for
        // head office.
        EntryKind::PinLockedOut | EntryKind::ClockSteppedBack | EntryKind::MasterDataRefused => {
            Ok(())
        }
        // A kind this version does not know changes nothing it projects.
        EntryKind::Other(_) => Ok(()),
    }
}

fn shift_opened(conn: &Connection, entry: &Entry, p: ShiftOpened) -> Result<()> {
    // Numbering carries on from every earlier shift of this terminal.
    conn.prepare_cached(
        "INSERT INTO shifts (shift_id, status, opened_seq, opened_at_ms, cashier, opening_float,
                             receipts_before, refunds_before)
         VALUES (?1, 'open', ?2, ?3, ?4, ?5,
                 (SELECT COALESCE(max(receipts_before + sales_count), 0) FROM shifts),
                 (SELECT COALESCE(max(refunds_before + refunds_count), 0) FROM shifts))",
    )?
    .execute(params![
        p.shift_id.to_string(),
        entry.seq as i64,
        entry.hlc.wall_ms as i64,
        p.cashier,
        p.opening_float
    ])?;
    Ok(())
}

fn method(name: &str) -> Result<PaymentMethod> {
    Ok(sentra_ledger::parse_method(name)?)
}

/// A sale's contribution to its shift, from the figures in its payload.
pub fn figures_of(p: &SaleCompleted) -> Result<SaleFigures> {
    Ok(sentra_ledger::figures_of(p)?)
}

fn sale_completed(conn: &Connection, entry: &Entry, p: SaleCompleted) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO sales (receipt_no, entry_id, seq, shift_id, sold_at_ms, gross, discounts,
                            tax, total, paid, change, status)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'completed')",
    )?
    .execute(params![
        p.receipt_no,
        entry.id.to_string(),
        entry.seq as i64,
        p.shift_id.to_string(),
        entry.hlc.wall_ms as i64,
        p.gross,
        p.discounts,
        p.tax,
        p.total,
        p.paid,
        p.change
    ])?;
    // Lines and tenders stay in the entry itself; only stock moves.
    for (i, l) in p.lines.iter().enumerate() {
        move_stock(conn, entry.seq, i as i64, &l.sku, -l.quantity_milli)?;
    }
    let mut summary = load_summary(conn, p.shift_id)?;
    summary.add_sale(&figures_of(&p)?)?;
    save_summary(conn, p.shift_id, &summary)
}

fn sale_voided(conn: &Connection, entry: &Entry, p: SaleVoided) -> Result<()> {
    // A terminal voids only its own sales.
    let sale = load_sale_payload(conn, entry.device_id, &p.receipt_no)?;
    let changed = conn
        .prepare_cached(
            "UPDATE sales SET status = 'voided', voided_seq = ?2
         WHERE receipt_no = ?1 AND status = 'completed'",
        )?
        .execute(params![p.receipt_no, entry.seq as i64])?;
    if changed != 1 {
        return Err(SaleError::CannotVoid {
            receipt: p.receipt_no,
            reason: "it is not a completed sale".into(),
        }
        .into());
    }
    for (i, l) in sale.lines.iter().enumerate() {
        move_stock(conn, entry.seq, i as i64, &l.sku, l.quantity_milli)?;
    }
    let mut summary = load_summary(conn, p.shift_id)?;
    summary.add_void(&figures_of(&sale)?)?;
    save_summary(conn, p.shift_id, &summary)
}

fn refund_issued(conn: &Connection, entry: &Entry, p: RefundIssued) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO refunds (refund_no, entry_id, seq, receipt_no, shift_id, total, tax, method)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        p.refund_no,
        entry.id.to_string(),
        entry.seq as i64,
        p.receipt_no,
        p.shift_id.to_string(),
        p.total,
        p.tax,
        p.method
    ])?;
    for l in &p.lines {
        conn.prepare_cached(
            "INSERT INTO refund_lines (refund_no, line_no, sku, quantity_milli, amount, tax)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            p.refund_no,
            l.line_no,
            l.sku,
            l.quantity_milli,
            l.amount,
            l.tax
        ])?;
        move_stock(
            conn,
            entry.seq,
            i64::from(l.line_no),
            &l.sku,
            l.quantity_milli,
        )?;
    }
    let mut summary = load_summary(conn, p.shift_id)?;
    summary.add_refund(Money::idr(p.total), Money::idr(p.tax), method(&p.method)?)?;
    save_summary(conn, p.shift_id, &summary)
}

fn cash_moved(conn: &Connection, entry: &Entry, p: CashMoved) -> Result<()> {
    let direction = match p.direction {
        CashDirection::In => "in",
        CashDirection::Out => "out",
    };
    conn.prepare_cached(
        "INSERT INTO cash_movements (seq, shift_id, direction, amount, reason)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        entry.seq as i64,
        p.shift_id.to_string(),
        direction,
        p.amount,
        p.reason
    ])?;
    let mut summary = load_summary(conn, p.shift_id)?;
    match p.direction {
        CashDirection::In => summary.add_cash_in(Money::idr(p.amount))?,
        CashDirection::Out => summary.add_cash_out(Money::idr(p.amount))?,
    }
    save_summary(conn, p.shift_id, &summary)
}

/// A no-sale opening of the drawer counts on the shift's X/Z report.
fn drawer_opened(conn: &Connection, p: DrawerOpened) -> Result<()> {
    let mut summary = load_summary(conn, p.shift_id)?;
    summary.add_no_sale()?;
    save_summary(conn, p.shift_id, &summary)
}

fn shift_closed(conn: &Connection, entry: &Entry, p: ShiftClosed) -> Result<()> {
    // Plain integers: encoding cannot fail.
    let denominations = (!p.counted_denominations.is_empty())
        .then(|| serde_json::to_string(&p.counted_denominations).ok())
        .flatten();
    conn.prepare_cached(
        "UPDATE shifts SET status = 'closed', closed_seq = ?2, closed_at_ms = ?3,
                expected_cash = ?4, counted_cash = ?5, variance = ?6, counted_denominations = ?7
         WHERE shift_id = ?1",
    )?
    .execute(params![
        p.shift_id.to_string(),
        entry.seq as i64,
        entry.hlc.wall_ms as i64,
        p.expected_cash,
        p.counted_cash,
        p.variance,
        denominations
    ])?;
    Ok(())
}

fn stock_counted(conn: &Connection, entry: &Entry, p: StockCounted) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO stock (sku, on_hand_milli) VALUES (?1, ?2)
         ON CONFLICT (sku) DO UPDATE SET on_hand_milli = excluded.on_hand_milli",
    )?
    .execute(params![p.sku, p.counted_milli])?;
    conn.prepare_cached(
        "INSERT INTO stock_moves (seq, line, sku, counted_milli) VALUES (?1, 0, ?2, ?3)",
    )?
    .execute(params![entry.seq as i64, p.sku, p.counted_milli])?;
    Ok(())
}

/// One line of this till's own entry moves an item's stock: the running
/// level, and the movement itself (added to the cloud's level until the
/// cloud has counted this entry; see `crate::stock`).
fn move_stock(conn: &Connection, seq: u64, line: i64, sku: &str, delta_milli: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO stock (sku, on_hand_milli) VALUES (?1, ?2)
         ON CONFLICT (sku) DO UPDATE SET on_hand_milli = on_hand_milli + excluded.on_hand_milli",
    )?
    .execute(params![sku, delta_milli])?;
    conn.prepare_cached(
        "INSERT INTO stock_moves (seq, line, sku, delta_milli) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![seq as i64, line, sku, delta_milli])?;
    Ok(())
}

/// The payload of the entry that recorded a sale.
pub fn load_sale_payload(
    conn: &Connection,
    device_id: Uuid,
    receipt_no: &str,
) -> Result<SaleCompleted> {
    let payload: Option<String> = conn
        .prepare_cached(
            "SELECT j.payload FROM sales s
             JOIN journal j ON j.device_id = ?2 AND j.seq = s.seq
             WHERE s.receipt_no = ?1",
        )?
        .query_row(params![receipt_no, device_id.to_string()], |r| r.get(0))
        .optional()?;
    let payload = payload.ok_or_else(|| SaleError::UnknownReceipt(receipt_no.to_owned()))?;
    serde_json::from_str(&payload)
        .map_err(|e| TerminalError::invalid("stored sale payload", e.to_string()))
}

pub use sentra_ledger::totals_of;

pub fn load_summary(conn: &Connection, shift_id: Uuid) -> Result<ShiftSummary> {
    let (mut summary, payments) = conn
        .prepare_cached(
            "SELECT opening_float, sales_count, gross, discounts, tax, sales_total, refunds_count,
                    refunds_total, voids_count, voids_total, cash_in, cash_out, payments,
                    no_sales
             FROM shifts WHERE shift_id = ?1",
        )?
        .query_row([shift_id.to_string()], |r| {
            let m = |i: usize| r.get::<_, i64>(i).map(Money::idr);
            let mut s = ShiftSummary::open(m(0)?);
            s.sales_count = r.get::<_, i64>(1)? as u64;
            s.gross = m(2)?;
            s.discounts = m(3)?;
            s.tax = m(4)?;
            s.sales_total = m(5)?;
            s.refunds_count = r.get::<_, i64>(6)? as u64;
            s.refunds_total = m(7)?;
            s.voids_count = r.get::<_, i64>(8)? as u64;
            s.voids_total = m(9)?;
            s.cash_in = m(10)?;
            s.cash_out = m(11)?;
            s.no_sales = r.get::<_, i64>(13)? as u64;
            Ok((s, r.get::<_, String>(12)?))
        })
        .optional()?
        .ok_or_else(|| TerminalError::invalid("shift", format!("shift {shift_id} is unknown")))?;
    let payments: BTreeMap<String, i64> = serde_json::from_str(&payments)
        .map_err(|e| TerminalError::invalid("stored shift payments", e.to_string()))?;
    for (name, amount) in payments {
        summary.payments.insert(method(&name)?, Money::idr(amount));
    }
    Ok(summary)
}

fn save_summary(conn: &Connection, shift_id: Uuid, s: &ShiftSummary) -> Result<()> {
    // A method whose takings net to zero has dropped out of the summary, and
    // drops out of the stored object with it.
    let payments: BTreeMap<&str, i64> = s
        .payments
        .iter()
        .map(|(m, a)| (m.as_str(), a.minor()))
        .collect();
    let payments = serde_json::to_string(&payments)
        .map_err(|e| TerminalError::invalid("shift payments", e.to_string()))?;
    conn.prepare_cached(
        "UPDATE shifts SET sales_count = ?2, gross = ?3, discounts = ?4, tax = ?5,
                sales_total = ?6, refunds_count = ?7, refunds_total = ?8, voids_count = ?9,
                voids_total = ?10, cash_in = ?11, cash_out = ?12, payments = ?13, no_sales = ?14
         WHERE shift_id = ?1",
    )?
    .execute(params![
        shift_id.to_string(),
        s.sales_count as i64,
        s.gross.minor(),
        s.discounts.minor(),
        s.tax.minor(),
        s.sales_total.minor(),
        s.refunds_count as i64,
        s.refunds_total.minor(),
        s.voids_count as i64,
        s.voids_total.minor(),
        s.cash_in.minor(),
        s.cash_out.minor(),
        payments,
        i64::try_from(s.no_sales).unwrap_or(i64::MAX)
    ])?;
    Ok(())
}

/// The result of comparing the stored projections with a rebuild from the
/// journal.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ProjectionCheck {
    pub entries_replayed: u64,
    pub tables_compared: Vec<String>,
    pub differences: Vec<String>,
}

const PROJECTION_TABLES: [(&str, &str); 7] = [
    ("shifts", "shift_id"),
    ("sales", "receipt_no"),
    ("refunds", "refund_no"),
    ("refund_lines", "refund_no, line_no"),
    ("cash_movements", "seq"),
    ("stock", "sku"),
    ("stock_moves", "seq, line"),
];

/// Rebuild every projection in a scratch database by replaying the journal
/// and compare it, row by row, with the stored one.
pub fn check(conn: &Connection, device_id: Uuid) -> Result<ProjectionCheck> {
    let mut scratch = crate::store::scratch_database()?;
    let tx = scratch.transaction()?;
    // Catalog stock baselines, applied at the point of the journal they were
    // imported after.
    let mut baselines: Vec<(u64, String, i64)> = conn
        .prepare(
            "SELECT baseline_after_seq, sku, baseline_stock_milli FROM products
             WHERE baseline_stock_milli IS NOT NULL
             ORDER BY baseline_after_seq, sku",
        )?
        .query_map([], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    baselines.reverse();
    let apply_baselines_upto =
        |tx: &Transaction<'_>, seq: u64, pending: &mut Vec<(u64, String, i64)>| -> Result<()> {
            while pending.last().is_some_and(|b| b.0 <= seq) {
                if let Some((_, sku, milli)) = pending.pop() {
                    tx.execute(
                        "INSERT INTO stock (sku, on_hand_milli) VALUES (?1, ?2)
                     ON CONFLICT (sku) DO UPDATE SET on_hand_milli = excluded.on_hand_milli",
                        params![sku, milli],
                    )?;
                }
            }
            Ok(())
        };
    let mut replayed = 0u64;
    crate::journal::for_each(conn, device_id, 0, |entry| {
        let entry = entry?;
        apply_baselines_upto(&tx, entry.seq.saturating_sub(1), &mut baselines)?;
        crate::journal::insert(&tx, &entry)?;
        apply(&tx, &entry)?;
        replayed += 1;
        Ok(())
    })?;
    apply_baselines_upto(&tx, u64::MAX, &mut baselines)?;
    let mut differences = Vec::new();
    for (table, order) in PROJECTION_TABLES {
        let stored = table_rows(conn, table, order)?;
        let rebuilt = table_rows(&tx, table, order)?;
        if stored != rebuilt {
            let first = stored
                .iter()
                .zip(&rebuilt)
                .position(|(a, b)| a != b)
                .unwrap_or(stored.len().min(rebuilt.len()));
            differences.push(format!(
                "{table}: {} stored rows, {} rebuilt; first difference at row {first}: stored {:?}, rebuilt {:?}",
                stored.len(),
                rebuilt.len(),
                stored.get(first),
                rebuilt.get(first)
            ));
        }
    }
    Ok(ProjectionCheck {
        entries_replayed: replayed,
        tables_compared: PROJECTION_TABLES.iter().map(|t| t.0.to_owned()).collect(),
        differences,
    })
}

fn table_rows(conn: &Connection, table: &str, order: &str) -> Result<Vec<Vec<String>>> {
    let mut stmt = conn.prepare(&format!("SELECT * FROM {table} ORDER BY {order}"))?;
    let columns = stmt.column_count();
    let rows = stmt.query_map([], |r| {
        (0..columns)
            .map(|i| Ok(format!("{:?}", r.get_ref(i)?)))
            .collect::<rusqlite::Result<Vec<String>>>()
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Currency of all projections on a terminal (IDR for now).
pub const CURRENCY: Currency = Currency::IDR;
