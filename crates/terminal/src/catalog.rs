//! The product catalog: CSV import, look-up by barcode or SKU (exact), and
//! search by name (FTS5, prefix match on every word).

use std::io::Read;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use sentra_ledger::catalog_csv::{self, CatalogRow};
use serde::Serialize;

use crate::error::Result;

/// A catalog file that cannot be imported; nothing of it was stored.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog file {file}, line {line}: {detail}")]
    BadLine {
        file: String,
        line: u64,
        detail: String,
    },
}

impl CatalogError {
    /// The stable code (see [`crate::error`]).
    pub fn code(&self) -> &'static str {
        match self {
            CatalogError::BadLine { .. } => "bad_catalog",
        }
    }
}

/// A product as the till sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Product {
    pub sku: String,
    pub name: String,
    /// Minor units (whole rupiah).
    pub unit_price: i64,
    pub tax_category: String,
    pub barcodes: Vec<String>,
    /// Stock on hand as this till knows it (`crate::stock`); `None`: no
    /// figure (never imported with stock, never counted).
    pub on_hand_milli: Option<i64>,
    /// False once the cloud withdrew it: known, but no longer sold.
    pub active: bool,
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    pub products: u64,
    pub added: u64,
    pub updated: u64,
    pub barcodes: u64,
}

/// Parse and validate a whole CSV before touching the database, so a bad
/// file changes nothing (the format and its checks live in
/// `sentra_ledger::catalog_csv`, shared with the cloud's import).
fn parse_csv(
    file_name: &str,
    reader: impl Read,
    known_tax_categories: &[String],
) -> Result<Vec<CatalogRow>> {
    let rows = catalog_csv::parse(file_name, reader, known_tax_categories).map_err(|e| {
        CatalogError::BadLine {
            file: e.file,
            line: e.line,
            detail: e.detail,
        }
    })?;
    Ok(rows)
}

/// Import (insert or update) every product of a CSV in one transaction.
/// `journal_tip` is the current last journal seq: imported stock is the
/// baseline for movements of later entries.
pub fn import_csv(
    tx: &Transaction<'_>,
    file_name: &str,
    reader: impl Read,
    journal_tip: u64,
) -> Result<ImportSummary> {
    let categories = tax_categories(tx)?;
    let rows = parse_csv(file_name, reader, &categories)?;
    let mut summary = ImportSummary::default();
    let mut exists = tx.prepare_cached("SELECT 1 FROM products WHERE sku = ?1")?;
    let mut upsert = tx.prepare_cached(
        "INSERT INTO products (sku, name, unit_price, tax_category) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (sku) DO UPDATE SET name = excluded.name,
             unit_price = excluded.unit_price, tax_category = excluded.tax_category",
    )?;
    let mut set_baseline = tx.prepare_cached(
        "UPDATE products SET baseline_stock_milli = ?2, baseline_after_seq = ?3 WHERE sku = ?1",
    )?;
    let mut set_stock = tx.prepare_cached(
        "INSERT INTO stock (sku, on_hand_milli) VALUES (?1, ?2)
         ON CONFLICT (sku) DO UPDATE SET on_hand_milli = excluded.on_hand_milli",
    )?;
    let mut barcode_owner = tx.prepare_cached("SELECT sku FROM barcodes WHERE barcode = ?1")?;
    let mut drop_barcodes = tx.prepare_cached("DELETE FROM barcodes WHERE sku = ?1")?;
    let mut add_barcode =
        tx.prepare_cached("INSERT INTO barcodes (barcode, sku) VALUES (?1, ?2)")?;
    for row in &rows {
        let existed = exists.exists([&row.sku])?;
        upsert.execute(params![row.sku, row.name, row.price, row.tax_category])?;
        if existed {
            summary.updated += 1;
        } else {
            summary.added += 1;
        }
        if let Some(stock) = row.stock_milli {
            set_baseline.execute(params![row.sku, stock, journal_tip as i64])?;
            set_stock.execute(params![row.sku, stock])?;
        }
        drop_barcodes.execute([&row.sku])?;
        for code in &row.barcodes {
            let owner: Option<String> = barcode_owner.query_row([code], |r| r.get(0)).optional()?;
            if let Some(owner) = owner {
                return Err(CatalogError::BadLine {
                    file: file_name.to_owned(),
                    line: row.line,
                    detail: format!("barcode {code} already belongs to product {owner}"),
                }
                .into());
            }
            add_barcode.execute(params![code, row.sku])?;
            summary.barcodes += 1;
        }
    }
    summary.products = rows.len() as u64;
    Ok(summary)
}

pub fn tax_categories(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT category FROM tax_rates ORDER BY category")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

const PRODUCT_COLUMNS: &str = "p.sku, p.name, p.unit_price, p.tax_category, p.active";

fn product_from_row(conn: &Connection, r: &rusqlite::Row<'_>) -> rusqlite::Result<Product> {
    let sku: String = r.get(0)?;
    let mut codes =
        conn.prepare_cached("SELECT barcode FROM barcodes WHERE sku = ?1 ORDER BY barcode")?;
    let barcodes = codes
        .query_map([&sku], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    let sku_for_stock = sku.clone();
    Ok(Product {
        sku,
        name: r.get(1)?,
        unit_price: r.get(2)?,
        tax_category: r.get(3)?,
        barcodes,
        on_hand_milli: crate::stock::on_hand_sql(conn, &sku_for_stock)?,
        active: r.get::<_, i64>(4)? != 0,
    })
}

/// Exact look-up as a scanner needs it: barcode first, then SKU.
pub fn find_by_code(conn: &Connection, code: &str) -> Result<Option<Product>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {PRODUCT_COLUMNS} FROM products p
         WHERE p.sku = (SELECT sku FROM barcodes WHERE barcode = ?1)
         UNION ALL
         SELECT {PRODUCT_COLUMNS} FROM products p WHERE p.sku = ?1
         LIMIT 1"
    ))?;
    Ok(stmt
        .query_row([code], |r| product_from_row(conn, r))
        .optional()?)
}

/// How many full-text matches are ranked. A short prefix ("sa") can match
/// tens of thousands of names; ranking them all costs tens of milliseconds,
/// so the first matches are taken and the shortest names (closest to what
/// was typed) are listed first.
const SEARCH_CANDIDATES: usize = 200;

/// Search by name: every word of `text` must start a word of the name
/// (diacritics and case ignored). An exact SKU or barcode match comes first.
pub fn search(conn: &Connection, text: &str, limit: usize) -> Result<Vec<Product>> {
    let mut found = Vec::new();
    if let Some(exact) = find_by_code(conn, text.trim())? {
        found.push(exact);
    }
    let Some(query) = fts_prefix_query(text) else {
        return Ok(found);
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {PRODUCT_COLUMNS}
         FROM (SELECT rowid FROM products_fts WHERE products_fts MATCH ?1 LIMIT {SEARCH_CANDIDATES}) f
         JOIN products p ON p.rowid = f.rowid
         ORDER BY length(p.name), p.name LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![query, limit as i64], |r| product_from_row(conn, r))?;
    for product in rows {
        let product = product?;
        if found.iter().all(|p| p.sku != product.sku) {
            found.push(product);
        }
    }
    found.truncate(limit);
    Ok(found)
}

/// Turn free text into an FTS5 query of quoted prefix terms, so no user
/// input is ever parsed as FTS5 syntax.
fn fts_prefix_query(text: &str) -> Option<String> {
    let terms: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(8)
        .map(|w| format!("\"{w}\"*"))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" AND "))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn fts_query_quotes_every_word() {
        assert_eq!(
            fts_prefix_query("indo mie\"; DROP").as_deref(),
            Some("\"indo\"* AND \"mie\"* AND \"DROP\"*")
        );
        assert_eq!(fts_prefix_query("  -- "), None);
    }

    #[test]
    fn csv_errors_name_the_line() {
        let cats = vec!["standard".to_owned()];
        let csv = "sku,barcode,name,price,tax_category,stock\nA1,111,Teh,5000,standard,10\nA2,222,Kopi,abc,standard,1\n";
        let err = parse_csv("c.csv", csv.as_bytes(), &cats).err().unwrap();
        assert_eq!(
            err.to_string(),
            "catalog file c.csv, line 3: price \"abc\" must be a whole number of rupiah"
        );
        let csv = "sku,barcode,name,price,tax_category\nA1,111,Teh,5000,standard\n";
        let err = parse_csv("c.csv", csv.as_bytes(), &cats).err().unwrap();
        assert!(
            err.to_string().contains("missing column \"stock\""),
            "{err}"
        );
        let csv = "sku,barcode,name,price,tax_category,stock\nA1,111,Teh,5000,luxury,1\n";
        let err = parse_csv("c.csv", csv.as_bytes(), &cats).err().unwrap();
        assert!(
            err.to_string()
                .contains("tax category \"luxury\" is unknown"),
            "{err}"
        );
        let csv = "sku,barcode,name,price,tax_category,stock\nA1,111,Teh,5000,standard,1\nA2,111,Kopi,5000,standard,1\n";
        let err = parse_csv("c.csv", csv.as_bytes(), &cats).err().unwrap();
        assert!(
            err.to_string()
                .contains("barcode 111 already appears on line 2"),
            "{err}"
        );
    }

    #[test]
    fn csv_parses_weighed_stock_and_several_barcodes() {
        let cats = vec!["standard".to_owned(), "exempt".to_owned()];
        let csv = "sku,barcode,name,price,tax_category,stock\nBER5,899|898,Beras 5kg,72000,exempt,12.5\nX,,Kantong,500,standard,\n";
        let rows = parse_csv("c.csv", csv.as_bytes(), &cats).unwrap();
        assert_eq!(rows[0].barcodes, vec!["899", "898"]);
        assert_eq!(rows[0].stock_milli, Some(12_500));
        assert_eq!(rows[1].stock_milli, None);
        assert!(rows[1].barcodes.is_empty());
    }
}
