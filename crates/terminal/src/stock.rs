//! Stock on hand as the till shows it in search and on the line.
//!
//! The cloud sends the branch's levels (`GET /v1/stock`), each read together
//! with this till's chain tip as the cloud held it (`own_seq`): the level
//! counts this till's entries up to that seq and none after. The till adds
//! its own movements after `own_seq` (`stock_moves`, a projection of its
//! journal), so each of its sales counts exactly once, before and after the
//! cloud has it; a count of its own after `own_seq` sets the level outright.
//! An item the cloud has no tracked level for falls back to the till's own
//! catalog stock (a local `catalog import` with a stock column, or a count);
//! with neither, the till knows no figure and shows none.

use rusqlite::{Connection, OptionalExtension, params};
use sentra_protocol::wire::StockPage;
use uuid::Uuid;

use crate::error::Result;

/// At most this many stock pages in one sync round (the rest comes in the
/// next), so a server that keeps saying `more` cannot hold the round.
pub const MAX_STOCK_PAGES_PER_ROUND: usize = 100;

/// What this till believes is on hand of `sku`, in thousandths; `None` when
/// it has no figure for the item.
pub fn on_hand(conn: &Connection, sku: &str) -> Result<Option<i64>> {
    Ok(on_hand_sql(conn, sku)?)
}

/// [`on_hand`] for code that reads rows with rusqlite's own error type.
pub fn on_hand_sql(conn: &Connection, sku: &str) -> rusqlite::Result<Option<i64>> {
    let cloud: Option<(i64, i64, bool)> = conn
        .prepare_cached("SELECT on_hand_milli, own_seq, tracked FROM cloud_stock WHERE sku = ?1")?
        .query_row([sku], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? != 0))
        })
        .optional()?;
    // The base: the latest own count after what the cloud counted, else the
    // cloud's tracked level, else the till's own baseline or count.
    let after = cloud.map_or(0, |(_, seq, _)| seq);
    let count: Option<(i64, i64)> = conn
        .prepare_cached(
            "SELECT seq, counted_milli FROM stock_moves
             WHERE sku = ?1 AND counted_milli IS NOT NULL AND seq > ?2
             ORDER BY seq DESC LIMIT 1",
        )?
        .query_row(params![sku, after], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (base, since) = match (count, cloud) {
        (Some((seq, counted)), _) => (counted, seq),
        (None, Some((level, own_seq, true))) => (level, own_seq),
        (None, _) => {
            // No cloud figure: the till's own running level, if it has a
            // baseline (a local import with stock) to run from.
            let local: Option<i64> = conn
                .prepare_cached(
                    "SELECT s.on_hand_milli FROM stock s JOIN products p USING (sku)
                     WHERE s.sku = ?1 AND p.baseline_stock_milli IS NOT NULL",
                )?
                .query_row([sku], |r| r.get(0))
                .optional()?;
            return Ok(local);
        }
    };
    let moved: i64 = conn
        .prepare_cached(
            "SELECT COALESCE(SUM(delta_milli), 0) FROM stock_moves
             WHERE sku = ?1 AND seq > ?2 AND delta_milli IS NOT NULL",
        )?
        .query_row(params![sku, since], |r| r.get(0))?;
    Ok(Some(base.saturating_add(moved)))
}

/// The stored stock cursor ('' before the first page).
pub fn cursor(conn: &Connection) -> Result<String> {
    Ok(conn.query_row("SELECT stock_cursor FROM sync_state", [], |r| r.get(0))?)
}

/// Forget the cursor (the cloud no longer knows it): the next ask starts
/// over and replaces every level.
pub fn reset_cursor(conn: &Connection) -> Result<()> {
    conn.execute("UPDATE sync_state SET stock_cursor = ''", [])?;
    Ok(())
}

/// Stores a verified page and its cursor in one transaction. Returns the
/// number of levels stored.
pub fn apply_page(
    conn: &mut Connection,
    page: &StockPage,
    own_device: Uuid,
    now_ms: u64,
) -> Result<u64> {
    let own_seq = page
        .device_tips
        .iter()
        .find(|t| t.device_id == own_device)
        .map_or(0, |t| t.seq);
    let tx = conn.transaction()?;
    {
        let mut put = tx.prepare_cached(
            "INSERT INTO cloud_stock (sku, on_hand_milli, own_seq, tracked, pulled_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (sku) DO UPDATE SET on_hand_milli = excluded.on_hand_milli,
                 own_seq = excluded.own_seq, tracked = excluded.tracked,
                 pulled_at_ms = excluded.pulled_at_ms",
        )?;
        for l in &page.levels {
            put.execute(params![
                l.sku,
                l.on_hand_milli,
                own_seq as i64,
                i64::from(l.tracked),
                now_ms as i64
            ])?;
        }
    }
    tx.execute(
        "UPDATE sync_state SET stock_cursor = ?1",
        [&page.next_cursor],
    )?;
    tx.commit()?;
    Ok(page.levels.len() as u64)
}
