//! `sentra-sync catalog import FILE [--branch CODE]`.
//!
//! The file is the terminal's catalog CSV (`sku,barcode,name,price,
//! tax_category,stock`, see `sentra_ledger::catalog_csv`), parsed and checked
//! whole before anything is written. The import is one transaction: a bad
//! line, or a barcode that already belongs to another product, changes
//! nothing.
//!
//! Per row:
//! - the product is inserted or updated (name, barcodes, tax category; made
//!   active again). Products not in the file are left as they are;
//! - when the price differs from the chain-wide price in force now (or there
//!   is none), a chain-wide price effective now is added. Branch prices are
//!   set with `sentra-sync price set --branch`;
//! - with `--branch`, a non-empty stock column sets that branch's stock level
//!   and moves its `count_generation` on (as a stock count does). No
//!   `stock_movements` row is written: movements belong to journal entries
//!   (their key is the entry id) and the imported level is the baseline they
//!   apply to. Without `--branch` the stock column is ignored.
//!
//! Products and prices reach terminals through pull (the change-log
//! triggers); a re-import of an unchanged file adds no pull changes.

use std::path::Path;

use sentra_ledger::catalog_csv;
use sqlx::PgPool;

use super::{AdminError, Result};

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportSummary {
    /// Rows in the file (each product inserted or updated).
    pub products: u64,
    /// Chain-wide prices added (the file's price differed from the one in force).
    pub prices: u64,
    /// Stock levels set (with `--branch`, rows with a stock value).
    pub stock_levels: u64,
}

/// Imports the catalog file at `path`; with `branch`, also sets that
/// branch's stock levels.
pub async fn import(pool: &PgPool, path: &Path, branch: Option<&str>) -> Result<ImportSummary> {
    let file_name = path.display().to_string();
    let owned = path.to_owned();
    let bytes = tokio::task::spawn_blocking(move || std::fs::read(owned))
        .await
        .map_err(|e| AdminError::Invalid(format!("cannot read catalog file {file_name}: {e}")))?
        .map_err(|e| AdminError::Invalid(format!("cannot read catalog file {file_name}: {e}")))?;
    let mut tx = pool.begin().await?;
    let branch_id = match branch {
        None => None,
        Some(code) => Some(
            sqlx::query_scalar::<_, i32>("SELECT branch_id FROM branches WHERE code = $1")
                .bind(code)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| AdminError::NotFound(format!("branch {code}")))?,
        ),
    };
    let categories: Vec<String> =
        sqlx::query_scalar("SELECT category FROM tax_rates ORDER BY category")
            .fetch_all(&mut *tx)
            .await?;
    let rows = catalog_csv::parse(&file_name, &bytes[..], &categories)
        .map_err(|e| AdminError::Invalid(e.to_string()))?;

    let mut summary = ImportSummary::default();
    for row in &rows {
        // Unchanged rows are not updated, so they add no pull change.
        sqlx::query(
            "INSERT INTO products (sku, name, barcodes, tax_category) VALUES ($1, $2, $3, $4)
             ON CONFLICT (sku) DO UPDATE
                 SET name = excluded.name, barcodes = excluded.barcodes,
                     tax_category = excluded.tax_category, active = true, updated_at = now()
                 WHERE (products.name, products.barcodes, products.tax_category, products.active)
                       IS DISTINCT FROM
                       (excluded.name, excluded.barcodes, excluded.tax_category, true)",
        )
        .bind(&row.sku)
        .bind(&row.name)
        .bind(&row.barcodes)
        .bind(&row.tax_category)
        .execute(&mut *tx)
        .await?;
        summary.products += 1;

        let in_force: Option<i64> = sqlx::query_scalar(
            "SELECT price FROM prices
             WHERE sku = $1 AND branch_id IS NULL AND effective_from <= now()
             ORDER BY effective_from DESC, price_id DESC LIMIT 1",
        )
        .bind(&row.sku)
        .fetch_optional(&mut *tx)
        .await?;
        if in_force != Some(row.price) {
            sqlx::query(
                "INSERT INTO prices (sku, branch_id, price, effective_from)
                 VALUES ($1, NULL, $2, now())",
            )
            .bind(&row.sku)
            .bind(row.price)
            .execute(&mut *tx)
            .await?;
            summary.prices += 1;
        }

        if let (Some(branch_id), Some(stock)) = (branch_id, row.stock_milli) {
            sqlx::query(
                // An imported figure is a count: generation 1 on the first
                // import (so the item is tracked and can be oversold), one
                // more on each later one.
                "INSERT INTO stock_levels (branch_id, sku, on_hand_milli, count_generation)
                 VALUES ($1, $2, $3, 1)
                 ON CONFLICT (branch_id, sku) DO UPDATE
                     SET on_hand_milli = excluded.on_hand_milli,
                         count_generation = stock_levels.count_generation + 1",
            )
            .bind(branch_id)
            .bind(&row.sku)
            .bind(stock)
            .execute(&mut *tx)
            .await?;
            summary.stock_levels += 1;
        }
    }

    // A barcode scans to one product: refuse one that another product keeps.
    let barcodes: Vec<&str> = rows
        .iter()
        .flat_map(|r| r.barcodes.iter().map(String::as_str))
        .collect();
    let clash: Option<(String, Vec<String>)> = sqlx::query_as(
        "SELECT u.barcode, array_agg(p.sku ORDER BY p.sku)
         FROM products p CROSS JOIN LATERAL unnest(p.barcodes) AS u(barcode)
         WHERE u.barcode = ANY($1)
         GROUP BY u.barcode HAVING count(*) > 1
         ORDER BY u.barcode LIMIT 1",
    )
    .bind(&barcodes)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((barcode, skus)) = clash {
        let row = rows.iter().find(|r| r.barcodes.contains(&barcode));
        let other = skus
            .iter()
            .find(|s| row.is_none_or(|r| &r.sku != *s))
            .map_or("another product", String::as_str);
        return Err(AdminError::Invalid(format!(
            "catalog file {file_name}, line {}: barcode {barcode} already belongs to product {other}",
            row.map_or(0, |r| r.line)
        )));
    }

    tx.commit().await?;
    Ok(summary)
}
