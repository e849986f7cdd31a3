//! `sentra-sync price set SKU PRICE [--branch CODE] [--effective-from TIME]`.
//!
//! Prices are history: each `set` adds a row, in force from its
//! `effective_from` until a later one for the same item and scope takes over.
//! A branch's own price wins over the chain-wide one. Terminals pull every
//! row (entity `price`), so a price set ahead of time reaches them before it
//! takes effect.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use super::{AdminError, Result};

/// Sets the price of `sku` from `effective_from` (now when `None`), for one
/// branch or chain-wide, and returns the new price row's id (the `key` of its
/// pull change).
pub async fn set(
    pool: &PgPool,
    sku: &str,
    price: i64,
    branch: Option<&str>,
    effective_from: Option<DateTime<Utc>>,
) -> Result<i64> {
    let mut tx = pool.begin().await?;
    let id = set_in(&mut tx, sku, price, branch, effective_from).await?;
    tx.commit().await?;
    Ok(id)
}

/// [`set`] inside the caller's transaction (the price and its pull change
/// commit or roll back with it).
pub async fn set_in(
    conn: &mut PgConnection,
    sku: &str,
    price: i64,
    branch: Option<&str>,
    effective_from: Option<DateTime<Utc>>,
) -> Result<i64> {
    if price < 0 {
        return Err(AdminError::Invalid(format!(
            "price {price} is negative; prices are whole rupiah, 0 or more"
        )));
    }
    let known: Option<bool> = sqlx::query_scalar("SELECT true FROM products WHERE sku = $1")
        .bind(sku)
        .fetch_optional(&mut *conn)
        .await?;
    if known.is_none() {
        return Err(AdminError::Invalid(format!(
            "no product has SKU {sku:?}; add it with `sentra-sync catalog import` first"
        )));
    }
    let branch_id = match branch {
        None => None,
        Some(code) => Some(
            sqlx::query_scalar::<_, i32>("SELECT branch_id FROM branches WHERE code = $1")
                .bind(code)
                .fetch_optional(&mut *conn)
                .await?
                .ok_or_else(|| AdminError::NotFound(format!("branch {code}")))?,
        ),
    };
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO prices (sku, branch_id, price, effective_from)
         VALUES ($1, $2, $3, COALESCE($4, now()))
         RETURNING price_id",
    )
    .bind(sku)
    .bind(branch_id)
    .bind(price)
    .bind(effective_from)
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}
