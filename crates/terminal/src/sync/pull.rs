//! Applying pulled master data: products, prices, tax rates, cashiers.
//!
//! Every change must carry the cloud's signature over exactly what it says
//! and be meant for this branch; one change that does not makes the whole
//! page refused (nothing applied, cursor kept, an alert raised), since the
//! upstream that served it cannot be trusted for the rest. A change older
//! than one already applied to the same entity is ignored (a relay behind
//! the cloud, or a replay).
//!
//! A page and the cursor after it are written in one transaction, so a crash
//! never skips a change. Every change is the entity's full current state, so
//! applying one twice (or from the relay and then the cloud) is harmless.
//! Entities this terminal does not use are ignored, as are changes it cannot
//! read (counted, so one bad row never wedges the pull).

use std::collections::BTreeSet;

use ed25519_dalek::VerifyingKey;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use rust_decimal::Decimal;
use sentra_protocol::master::{ChangeProblem, verify_change};
use sentra_protocol::wire::{Change, PullResponse};
use serde::Deserialize;

use super::UpstreamKind;
use super::state;
use crate::error::Result;

#[derive(Deserialize)]
struct ProductData {
    sku: String,
    name: String,
    #[serde(default)]
    barcodes: Vec<String>,
    tax_category: String,
    active: bool,
}

#[derive(Deserialize)]
struct DeviceData {
    device_id: String,
    public_key: String,
    #[serde(default)]
    revoked: bool,
}

#[derive(Deserialize)]
struct PriceData {
    price_id: i64,
    sku: String,
    branch: Option<String>,
    price: i64,
    effective_from: String,
}

#[derive(Deserialize)]
struct TaxData {
    category: String,
    rate: String,
}

#[derive(Deserialize)]
struct UserData {
    user_id: String,
    branch: Option<String>,
    name: String,
    role: String,
    pin_hash: String,
    active: bool,
}

/// What one page changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageEffect {
    pub applied: u64,
    /// Changes of a known entity whose data could not be read.
    pub skipped: u64,
    /// Changes older than what this terminal already applied.
    pub stale: u64,
    pub tax_changed: bool,
    /// The page was refused whole: a change in it is not the cloud's.
    pub refused: Option<ChangeProblem>,
}

/// Apply a page and store its cursor, in one transaction — or, when any
/// change in it is not as the cloud signed it, nothing at all.
pub fn apply_page(
    conn: &mut Connection,
    kind: UpstreamKind,
    branch: &str,
    cloud_key: &VerifyingKey,
    page: &PullResponse,
    now_ms: u64,
) -> Result<PageEffect> {
    let mut effect = PageEffect::default();
    if let Some(problem) = page
        .changes
        .iter()
        .find_map(|c| verify_change(c, cloud_key, branch).err())
    {
        effect.refused = Some(problem);
        return Ok(effect);
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut touched = BTreeSet::new();
    for change in &page.changes {
        if !is_newer(&tx, change)? {
            effect.stale += 1;
            continue;
        }
        let applied = apply_change(&tx, change, &mut touched)?;
        tx.prepare_cached(
            "INSERT INTO pulled_versions (entity, key, version) VALUES (?1, ?2, ?3)
             ON CONFLICT (entity, key) DO UPDATE SET version = excluded.version",
        )?
        .execute(params![
            change.entity,
            change.key,
            i64::try_from(change.version).unwrap_or(i64::MAX)
        ])?;
        match applied {
            Applied::Yes => effect.applied += 1,
            Applied::Tax => {
                effect.applied += 1;
                effect.tax_changed = true;
            }
            Applied::Ignored => {}
            Applied::Unreadable => effect.skipped += 1,
        }
    }
    for sku in &touched {
        materialise(&tx, sku, branch, now_ms)?;
    }
    state::save_cursor(&tx, kind, &page.next_cursor)?;
    tx.commit()?;
    Ok(effect)
}

/// Whether `change` is at least as new as what was applied for its entity.
fn is_newer(tx: &Transaction<'_>, change: &Change) -> Result<bool> {
    let held: Option<i64> = tx
        .prepare_cached("SELECT version FROM pulled_versions WHERE entity = ?1 AND key = ?2")?
        .query_row(params![change.entity, change.key], |r| r.get(0))
        .optional()?;
    Ok(held.is_none_or(|v| change.version >= v.max(0) as u64))
}

enum Applied {
    Yes,
    Tax,
    Ignored,
    Unreadable,
}

fn data<T: for<'de> Deserialize<'de>>(change: &Change) -> Option<T> {
    serde_json::from_value(change.data.clone()).ok()
}

fn apply_change(
    tx: &Transaction<'_>,
    change: &Change,
    touched: &mut BTreeSet<String>,
) -> Result<Applied> {
    match (change.entity.as_str(), change.deleted) {
        // A withdrawn product stays known to receipts and refunds but is no
        // longer sold.
        ("product", true) => {
            tx.execute(
                "UPDATE products SET active = 0 WHERE sku = ?1",
                [&change.key],
            )?;
            tx.execute("DELETE FROM pulled_products WHERE sku = ?1", [&change.key])?;
        }
        ("product", false) => {
            let Some(p) = data::<ProductData>(change) else {
                return Ok(Applied::Unreadable);
            };
            let barcodes = serde_json::to_string(&p.barcodes).unwrap_or_else(|_| "[]".into());
            tx.execute(
                "INSERT INTO pulled_products (sku, name, barcodes, tax_category, active)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (sku) DO UPDATE SET name = excluded.name,
                     barcodes = excluded.barcodes, tax_category = excluded.tax_category,
                     active = excluded.active",
                params![p.sku, p.name, barcodes, p.tax_category, p.active as i64],
            )?;
            touched.insert(p.sku);
        }
        ("price", true) => {
            let Ok(id) = change.key.parse::<i64>() else {
                return Ok(Applied::Unreadable);
            };
            let sku: Option<String> = tx
                .query_row("SELECT sku FROM prices WHERE price_id = ?1", [id], |r| {
                    r.get(0)
                })
                .optional()?;
            tx.execute("DELETE FROM prices WHERE price_id = ?1", [id])?;
            touched.extend(sku);
        }
        ("price", false) => {
            let Some(p) = data::<PriceData>(change) else {
                return Ok(Applied::Unreadable);
            };
            let Ok(from) = chrono::DateTime::parse_from_rfc3339(&p.effective_from) else {
                return Ok(Applied::Unreadable);
            };
            if p.price < 0 {
                return Ok(Applied::Unreadable);
            }
            // A row that moved to another SKU leaves the old one to recompute.
            let old: Option<String> = tx
                .query_row(
                    "SELECT sku FROM prices WHERE price_id = ?1",
                    [p.price_id],
                    |r| r.get(0),
                )
                .optional()?;
            touched.extend(old);
            tx.execute(
                "INSERT INTO prices (price_id, sku, branch, price, effective_from_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (price_id) DO UPDATE SET sku = excluded.sku,
                     branch = excluded.branch, price = excluded.price,
                     effective_from_ms = excluded.effective_from_ms",
                params![
                    p.price_id,
                    p.sku,
                    p.branch,
                    p.price,
                    from.timestamp_millis()
                ],
            )?;
            touched.insert(p.sku);
        }
        // A tax category is never dropped here: products may still name it,
        // and a sale must not fail for a rate that was withdrawn upstream.
        ("tax", true) => return Ok(Applied::Ignored),
        ("tax", false) => {
            let Some(t) = data::<TaxData>(change) else {
                return Ok(Applied::Unreadable);
            };
            let Ok(rate) = t.rate.trim().parse::<Decimal>() else {
                return Ok(Applied::Unreadable);
            };
            if rate.is_sign_negative() {
                return Ok(Applied::Unreadable);
            }
            tx.execute(
                "INSERT INTO tax_rates (category, percent) VALUES (?1, ?2)
                 ON CONFLICT (category) DO UPDATE SET percent = excluded.percent",
                params![t.category, rate.normalize().to_string()],
            )?;
            return Ok(Applied::Tax);
        }
        ("user", true) => {
            tx.execute("DELETE FROM cashiers WHERE user_id = ?1", [&change.key])?;
        }
        ("user", false) => {
            let Some(u) = data::<UserData>(change) else {
                return Ok(Applied::Unreadable);
            };
            tx.execute(
                "INSERT INTO cashiers (user_id, branch, name, role, pin_hash, active)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (user_id) DO UPDATE SET branch = excluded.branch,
                     name = excluded.name, role = excluded.role,
                     pin_hash = excluded.pin_hash, active = excluded.active",
                params![
                    u.user_id,
                    u.branch,
                    u.name,
                    u.role,
                    u.pin_hash,
                    u.active as i64
                ],
            )?;
        }
        ("branch_settings", true) => {
            tx.execute(
                "DELETE FROM branch_settings WHERE branch = ?1",
                [&change.key],
            )?;
        }
        // Kept whole, as signed: the receipt and the till's rules read the
        // fields they know (docs/sync-protocol.md, "Pull").
        ("branch_settings", false) => {
            if !change.data.is_object() {
                return Ok(Applied::Unreadable);
            }
            tx.execute(
                "INSERT INTO branch_settings (branch, data) VALUES (?1, ?2)
                 ON CONFLICT (branch) DO UPDATE SET data = excluded.data",
                params![change.key, change.data.to_string()],
            )?;
        }
        // The keys that verify the other tills' entries (returns of their
        // sales); revoked devices stay known, flagged.
        ("device", true) => {
            tx.execute(
                "DELETE FROM branch_devices WHERE device_id = ?1",
                [&change.key],
            )?;
        }
        ("device", false) => {
            let Some(d) = data::<DeviceData>(change) else {
                return Ok(Applied::Unreadable);
            };
            if d.public_key.len() != 64 || hex::decode(&d.public_key).is_err() {
                return Ok(Applied::Unreadable);
            }
            tx.execute(
                "INSERT INTO branch_devices (device_id, public_key, revoked) VALUES (?1, ?2, ?3)
                 ON CONFLICT (device_id) DO UPDATE SET public_key = excluded.public_key,
                     revoked = excluded.revoked",
                params![d.device_id, d.public_key, d.revoked as i64],
            )?;
        }
        // Whatever a later server adds.
        _ => return Ok(Applied::Ignored),
    }
    Ok(Applied::Yes)
}

/// The settings head office set for `branch`, as pulled; `None` before the
/// first pull that carried them.
pub fn branch_settings(conn: &Connection, branch: &str) -> Result<Option<serde_json::Value>> {
    let data: Option<String> = conn
        .query_row(
            "SELECT data FROM branch_settings WHERE branch = ?1",
            [branch],
            |r| r.get(0),
        )
        .optional()?;
    Ok(data.and_then(|d| serde_json::from_str(&d).ok()))
}

/// The price of `sku` in force at `now_ms`: the branch's own rows first,
/// else the chain-wide ones; the latest `effective_from` wins, ties to the
/// larger price id (the cloud's `stale_price` rule uses the same order).
pub fn price_in_force(
    conn: &Connection,
    sku: &str,
    branch: &str,
    now_ms: u64,
) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached(
            "SELECT price FROM prices
             WHERE sku = ?1 AND effective_from_ms <= ?2 AND (branch IS NULL OR branch = ?3)
             ORDER BY (branch IS NOT NULL) DESC, effective_from_ms DESC, price_id DESC
             LIMIT 1",
        )?
        .query_row(params![sku, now_ms as i64, branch], |r| r.get(0))
        .optional()?)
}

/// Bring one product of the till (`products`, `barcodes`) in line with what
/// was pulled. A product never priced is not put on sale; a product that
/// had a price keeps it when its price rows are withdrawn.
fn materialise(tx: &Transaction<'_>, sku: &str, branch: &str, now_ms: u64) -> Result<()> {
    let price = price_in_force(tx, sku, branch, now_ms)?;
    let pulled: Option<(String, String, String, i64)> = tx
        .query_row(
            "SELECT name, barcodes, tax_category, active FROM pulled_products WHERE sku = ?1",
            [sku],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let exists = tx
        .prepare_cached("SELECT 1 FROM products WHERE sku = ?1")?
        .exists([sku])?;
    let Some((name, barcodes, tax_category, active)) = pulled else {
        // Known only from a local CSV import: the cloud's price still rules.
        if let Some(price) = price {
            tx.execute(
                "UPDATE products SET unit_price = ?2 WHERE sku = ?1",
                params![sku, price],
            )?;
        }
        return Ok(());
    };
    match (exists, price) {
        (false, None) => return Ok(()),
        (false, Some(price)) => {
            tx.execute(
                "INSERT INTO products (sku, name, unit_price, tax_category, active)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![sku, name, price, tax_category, active],
            )?;
        }
        (true, Some(price)) => {
            tx.execute(
                "UPDATE products SET name = ?2, unit_price = ?3, tax_category = ?4, active = ?5
                 WHERE sku = ?1",
                params![sku, name, price, tax_category, active],
            )?;
        }
        (true, None) => {
            tx.execute(
                "UPDATE products SET name = ?2, tax_category = ?3, active = ?4 WHERE sku = ?1",
                params![sku, name, tax_category, active],
            )?;
        }
    }
    let codes: Vec<String> = serde_json::from_str(&barcodes).unwrap_or_default();
    tx.execute("DELETE FROM barcodes WHERE sku = ?1", [sku])?;
    for code in codes {
        // The cloud's catalog is the authority: a barcode that moved to this
        // product follows it.
        tx.execute(
            "INSERT INTO barcodes (barcode, sku) VALUES (?1, ?2)
             ON CONFLICT (barcode) DO UPDATE SET sku = excluded.sku",
            params![code, sku],
        )?;
    }
    Ok(())
}

/// Put prices that have come into force since the last round on the till,
/// and products whose first price has: run at every round, so a price set
/// ahead of time takes effect on time even while offline. Returns how many
/// products changed.
///
/// What is due is found by one read outside any write transaction (WAL: it
/// blocks no sale); the write lock is taken only when something changes,
/// and only for those rows.
pub fn refresh_due_prices(conn: &mut Connection, branch: &str, now_ms: u64) -> Result<u64> {
    let due: Vec<(String, i64)> = {
        let mut stmt = conn.prepare_cached(
            "SELECT sku, due FROM (
                 SELECT p.sku, p.unit_price,
                        (SELECT r.price FROM prices r
                         WHERE r.sku = p.sku AND r.effective_from_ms <= ?1
                           AND (r.branch IS NULL OR r.branch = ?2)
                         ORDER BY (r.branch IS NOT NULL) DESC, r.effective_from_ms DESC,
                                  r.price_id DESC
                         LIMIT 1) AS due
                 FROM products p)
             WHERE due IS NOT NULL AND due <> unit_price",
        )?;
        let rows = stmt.query_map(params![now_ms as i64, branch], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let waiting: Vec<String> = {
        let mut stmt = conn.prepare_cached(
            "SELECT pp.sku FROM pulled_products pp
             WHERE NOT EXISTS (SELECT 1 FROM products p WHERE p.sku = pp.sku)
               AND EXISTS (SELECT 1 FROM prices r WHERE r.sku = pp.sku
                           AND r.effective_from_ms <= ?1
                           AND (r.branch IS NULL OR r.branch = ?2))",
        )?;
        let rows = stmt.query_map(params![now_ms as i64, branch], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    if due.is_empty() && waiting.is_empty() {
        return Ok(0);
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for (sku, price) in &due {
        tx.execute(
            "UPDATE products SET unit_price = ?2 WHERE sku = ?1",
            params![sku, price],
        )?;
    }
    for sku in &waiting {
        materialise(&tx, sku, branch, now_ms)?;
    }
    tx.commit()?;
    Ok((due.len() + waiting.len()) as u64)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn db() -> Connection {
        let conn = crate::store::scratch_database().unwrap();
        conn.execute_batch("INSERT INTO tax_rates (category, percent) VALUES ('standard', '11');")
            .unwrap();
        conn
    }

    fn change(entity: &str, key: &str, data: serde_json::Value) -> Change {
        Change {
            entity: entity.into(),
            key: key.into(),
            data,
            deleted: false,
            scope: None,
            version: 0,
            signature: String::new(),
        }
    }

    fn cloud() -> ed25519_dalek::SigningKey {
        ed25519_dalek::SigningKey::from_bytes(&[7; 32])
    }

    fn cloud_key() -> VerifyingKey {
        cloud().verifying_key()
    }

    /// Versions grow across every page of a test, as the cloud's do.
    static VERSION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

    fn signed(mut c: Change) -> Change {
        c.version = VERSION.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        sentra_protocol::master::sign_change(&mut c, &cloud()).unwrap();
        c
    }

    fn product(sku: &str, barcode: &str) -> Change {
        change(
            "product",
            sku,
            json!({"sku": sku, "name": format!("Item {sku}"), "barcodes": [barcode],
                   "tax_category": "standard", "active": true}),
        )
    }

    fn price(id: i64, sku: &str, branch: Option<&str>, price: i64, from: &str) -> Change {
        change(
            "price",
            &id.to_string(),
            json!({"price_id": id, "sku": sku, "branch": branch, "price": price,
                   "effective_from": from}),
        )
    }

    fn page(changes: Vec<Change>, cursor: &str) -> PullResponse {
        PullResponse {
            changes: changes.into_iter().map(signed).collect(),
            next_cursor: cursor.into(),
            more: false,
        }
    }

    fn cursor(conn: &Connection) -> String {
        conn.query_row("SELECT cloud_pull_cursor FROM sync_state", [], |r| r.get(0))
            .unwrap()
    }

    fn unit_price(conn: &Connection, sku: &str) -> Option<i64> {
        conn.query_row(
            "SELECT unit_price FROM products WHERE sku = ?1",
            [sku],
            |r| r.get(0),
        )
        .optional()
        .unwrap()
    }

    const NOW: u64 = 1_800_000_000_000; // 2027-01-15

    #[test]
    fn a_page_and_its_cursor_commit_together_or_not_at_all() {
        let mut conn = db();
        // A failure in the middle of the page (a crash, a full disk) is
        // simulated by a trigger that aborts on the second product.
        conn.execute_batch(
            "CREATE TEMP TRIGGER fail_b BEFORE INSERT ON pulled_products
             WHEN new.sku = 'B' BEGIN SELECT RAISE(ABORT, 'simulated crash'); END;",
        )
        .unwrap();
        let p = page(
            vec![
                product("A", "111"),
                price(1, "A", None, 5000, "2026-01-01T00:00:00.000Z"),
                product("B", "222"),
                price(2, "B", None, 7000, "2026-01-01T00:00:00.000Z"),
            ],
            "v1.10.4",
        );
        assert!(
            apply_page(
                &mut conn,
                UpstreamKind::Cloud,
                "JKT01",
                &cloud_key(),
                &p,
                NOW
            )
            .is_err()
        );
        // Nothing of the page, and not the cursor: the next pull repeats it.
        assert_eq!(cursor(&conn), "");
        assert_eq!(unit_price(&conn, "A"), None);
        let count: i64 = conn
            .query_row("SELECT count(*) FROM prices", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 0);

        conn.execute_batch("DROP TRIGGER fail_b;").unwrap();
        let effect = apply_page(
            &mut conn,
            UpstreamKind::Cloud,
            "JKT01",
            &cloud_key(),
            &p,
            NOW,
        )
        .unwrap();
        assert_eq!(effect.applied, 4);
        assert_eq!(cursor(&conn), "v1.10.4");
        assert_eq!(unit_price(&conn, "A"), Some(5000));
        assert_eq!(unit_price(&conn, "B"), Some(7000));
        // Applying it again changes nothing (full-state changes).
        apply_page(
            &mut conn,
            UpstreamKind::Cloud,
            "JKT01",
            &cloud_key(),
            &p,
            NOW,
        )
        .unwrap();
        assert_eq!(unit_price(&conn, "B"), Some(7000));
        let sku: String = conn
            .query_row("SELECT sku FROM barcodes WHERE barcode = '222'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(sku, "B");
    }

    #[test]
    fn an_unpriced_product_is_not_sold_until_its_price_is_in_force() {
        let mut conn = db();
        let p = page(
            vec![
                product("C", "333"),
                price(5, "C", None, 9000, "2027-02-01T00:00:00.000Z"),
            ],
            "v1.3.2",
        );
        apply_page(
            &mut conn,
            UpstreamKind::Cloud,
            "JKT01",
            &cloud_key(),
            &p,
            NOW,
        )
        .unwrap();
        assert_eq!(unit_price(&conn, "C"), None, "not on sale at 0");
        assert_eq!(refresh_due_prices(&mut conn, "JKT01", NOW).unwrap(), 0);
        let later = 1_900_000_000_000;
        assert_eq!(refresh_due_prices(&mut conn, "JKT01", later).unwrap(), 1);
        assert_eq!(unit_price(&conn, "C"), Some(9000));
    }

    #[test]
    fn the_branch_price_wins_and_future_prices_wait() {
        let mut conn = db();
        let p = page(
            vec![
                product("D", "444"),
                price(1, "D", None, 1000, "2026-01-01T00:00:00.000Z"),
                price(2, "D", Some("JKT01"), 1200, "2026-02-01T00:00:00.000Z"),
                price(3, "D", None, 1500, "2026-06-01T00:00:00.000Z"),
                price(4, "D", Some("JKT01"), 1300, "2027-06-01T00:00:00.000Z"),
            ],
            "v1.9.9",
        );
        apply_page(
            &mut conn,
            UpstreamKind::Cloud,
            "JKT01",
            &cloud_key(),
            &p,
            NOW,
        )
        .unwrap();
        assert_eq!(unit_price(&conn, "D"), Some(1200));
        refresh_due_prices(&mut conn, "JKT01", 1_900_000_000_000).unwrap();
        assert_eq!(unit_price(&conn, "D"), Some(1300));
    }

    #[test]
    fn a_round_with_no_price_due_never_waits_for_the_till() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut conn = Connection::open(&path).unwrap();
        crate::store::prepare(&mut conn).unwrap();
        conn.execute_batch("INSERT INTO tax_rates (category, percent) VALUES ('standard', '11');")
            .unwrap();
        let p = page(
            vec![
                product("F", "555"),
                price(1, "F", None, 2000, "2026-01-01T00:00:00.000Z"),
            ],
            "v1.1.2",
        );
        apply_page(
            &mut conn,
            UpstreamKind::Cloud,
            "JKT01",
            &cloud_key(),
            &p,
            NOW,
        )
        .unwrap();
        // A sale in progress on the till's connection holds the write lock.
        let till = Connection::open(&path).unwrap();
        till.execute_batch("BEGIN IMMEDIATE").unwrap();
        let started = std::time::Instant::now();
        assert_eq!(refresh_due_prices(&mut conn, "JKT01", NOW).unwrap(), 0);
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        till.execute_batch("ROLLBACK").unwrap();
    }

    #[test]
    fn unknown_and_unreadable_changes_do_not_wedge_the_pull() {
        let mut conn = db();
        let p = page(
            vec![
                change("loyalty_tier", "gold", json!({"x": 1})),
                change("product", "E", json!({"sku": "E"})),
                change("tax", "luxury", json!({"category": "luxury", "rate": "20"})),
                change(
                    "user",
                    "u1",
                    json!({"user_id": "u1", "branch": "JKT01", "name": "Siti",
                           "role": "cashier", "pin_hash": "$argon2id$x", "active": true}),
                ),
            ],
            "v1.4.4",
        );
        let effect = apply_page(
            &mut conn,
            UpstreamKind::Relay,
            "JKT01",
            &cloud_key(),
            &p,
            NOW,
        )
        .unwrap();
        assert_eq!(effect.skipped, 1);
        assert_eq!(effect.applied, 2);
        assert!(effect.tax_changed);
        let relay_cursor: String = conn
            .query_row("SELECT relay_pull_cursor FROM sync_state", [], |r| r.get(0))
            .unwrap();
        assert_eq!(relay_cursor, "v1.4.4");
        assert_eq!(cursor(&conn), "", "the cloud cursor is a separate space");
    }

    fn cashier_pin(conn: &Connection, user: &str) -> Option<(String, String)> {
        conn.query_row(
            "SELECT role, pin_hash FROM cashiers WHERE user_id = ?1",
            [user],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .unwrap()
    }

    fn user(id: &str, role: &str, pin_hash: &str) -> Change {
        change(
            "user",
            id,
            json!({"user_id": id, "branch": null, "name": "Siti", "role": role,
                   "pin_hash": pin_hash, "active": true}),
        )
    }

    #[test]
    fn a_page_with_an_altered_change_is_refused_whole_and_old_values_are_kept() {
        let mut conn = db();
        let p = page(
            vec![
                product("A", "111"),
                price(1, "A", None, 5000, "2026-01-01T00:00:00.000Z"),
                user("u1", "cashier", "$argon2id$genuine"),
            ],
            "v1.1.3",
        );
        apply_page(
            &mut conn,
            UpstreamKind::Relay,
            "JKT01",
            &cloud_key(),
            &p,
            NOW,
        )
        .unwrap();

        // A relay alters a price, a cashier's role and PIN hash, a tax rate.
        let mut next = page(
            vec![
                price(1, "A", None, 6000, "2026-01-01T00:00:00.000Z"),
                user("u1", "cashier", "$argon2id$genuine"),
                change(
                    "tax",
                    "standard",
                    json!({"category": "standard", "rate": "12"}),
                ),
            ],
            "v1.2.3",
        );
        for (entity, field, value) in [
            ("price", "price", json!(100)),
            ("user", "role", json!("supervisor")),
            ("user", "pin_hash", json!("$argon2id$known-to-the-relay")),
            ("tax", "rate", json!("0")),
        ] {
            let mut forged = next.clone();
            for c in forged.changes.iter_mut().filter(|c| c.entity == entity) {
                c.data[field] = value.clone();
            }
            assert_ne!(forged, next, "the alteration applied");
            let effect = apply_page(
                &mut conn,
                UpstreamKind::Relay,
                "JKT01",
                &cloud_key(),
                &forged,
                NOW,
            )
            .unwrap();
            assert!(
                matches!(effect.refused, Some(ChangeProblem::BadSignature { .. })),
                "{effect:?}"
            );
            assert_eq!(effect.applied, 0);
            assert_eq!(unit_price(&conn, "A"), Some(5000), "old price kept");
            assert_eq!(
                cashier_pin(&conn, "u1"),
                Some(("cashier".into(), "$argon2id$genuine".into()))
            );
            let rate: String = conn
                .query_row(
                    "SELECT percent FROM tax_rates WHERE category = 'standard'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(rate, "11", "old tax rate kept");
            let relay_cursor: String = conn
                .query_row("SELECT relay_pull_cursor FROM sync_state", [], |r| r.get(0))
                .unwrap();
            assert_eq!(relay_cursor, "v1.1.3", "the cursor stays before the page");
        }
        // Unsigned, or signed by someone else: refused too.
        next.changes[0].signature.clear();
        let effect = apply_page(
            &mut conn,
            UpstreamKind::Relay,
            "JKT01",
            &cloud_key(),
            &next,
            NOW,
        )
        .unwrap();
        assert!(matches!(
            effect.refused,
            Some(ChangeProblem::Unsigned { .. })
        ));
        let mut own = next.changes[0].clone();
        sentra_protocol::master::sign_change(
            &mut own,
            &ed25519_dalek::SigningKey::from_bytes(&[9; 32]),
        )
        .unwrap();
        next.changes[0] = own;
        let effect = apply_page(
            &mut conn,
            UpstreamKind::Relay,
            "JKT01",
            &cloud_key(),
            &next,
            NOW,
        )
        .unwrap();
        assert!(effect.refused.is_some());
        assert_eq!(unit_price(&conn, "A"), Some(5000));
    }

    #[test]
    fn a_change_signed_for_another_branch_is_refused() {
        let mut conn = db();
        let mut c = price(1, "A", Some("SBY01"), 100, "2026-01-01T00:00:00.000Z");
        c.scope = Some("SBY01".into());
        let p = page(vec![product("A", "111"), c], "v1.1.2");
        let effect = apply_page(
            &mut conn,
            UpstreamKind::Relay,
            "JKT01",
            &cloud_key(),
            &p,
            NOW,
        )
        .unwrap();
        assert!(matches!(
            effect.refused,
            Some(ChangeProblem::OtherBranch { .. })
        ));
        assert_eq!(unit_price(&conn, "A"), None);
    }

    #[test]
    fn a_replayed_older_change_is_ignored() {
        let mut conn = db();
        let old = page(
            vec![
                product("A", "111"),
                user("u1", "supervisor", "$argon2id$old"),
            ],
            "v1.1.2",
        );
        let new = page(vec![user("u1", "cashier", "$argon2id$new")], "v1.2.1");
        apply_page(
            &mut conn,
            UpstreamKind::Cloud,
            "JKT01",
            &cloud_key(),
            &old,
            NOW,
        )
        .unwrap();
        apply_page(
            &mut conn,
            UpstreamKind::Cloud,
            "JKT01",
            &cloud_key(),
            &new,
            NOW,
        )
        .unwrap();
        // A relay (behind, or malicious) serves the genuine older row again.
        let effect = apply_page(
            &mut conn,
            UpstreamKind::Relay,
            "JKT01",
            &cloud_key(),
            &old,
            NOW,
        )
        .unwrap();
        assert_eq!(effect.refused, None);
        // The product is as applied (same version, harmless); the user row
        // is older than the one applied.
        assert_eq!(effect.stale, 1);
        assert_eq!(
            cashier_pin(&conn, "u1"),
            Some(("cashier".into(), "$argon2id$new".into()))
        );
    }
}
