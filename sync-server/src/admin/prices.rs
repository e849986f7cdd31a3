//! `sentra-sync price set`. (Being built: see the pull helper's task.)

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::{AdminError, Result};

/// Sets the price of `sku` from `effective_from` (now when `None`), for one
/// branch or chain-wide.
pub async fn set(
    _pool: &PgPool,
    _sku: &str,
    _price: i64,
    _branch: Option<&str>,
    _effective_from: Option<DateTime<Utc>>,
) -> Result<()> {
    Err(AdminError::Invalid("price set is not built yet".into()))
}
