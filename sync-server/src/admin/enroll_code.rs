//! `sentra-sync enroll-code --branch CODE [--kind terminal|relay]`.

use std::time::Duration;

use sentra_protocol::wire::DeviceKind;
use sqlx::PgPool;

use super::{AdminError, Result, branch_id};
use crate::credentials::{hash_secret, new_enroll_code};

/// Makes a one-time code for a device of `branch` to enroll with; it expires
/// after `ttl`. Only its hash is stored; the code is shown once.
pub async fn create(
    pool: &PgPool,
    branch: &str,
    kind: DeviceKind,
    ttl: Duration,
) -> Result<String> {
    let branch_id = branch_id(pool, branch).await?;
    let code = new_enroll_code().map_err(|e| AdminError::Invalid(format!("no randomness: {e}")))?;
    let ttl_secs =
        i64::try_from(ttl.as_secs()).map_err(|_| AdminError::Invalid("ttl is too long".into()))?;
    sqlx::query(
        "INSERT INTO enroll_codes (code_hash, branch_id, kind, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
    )
    .bind(&hash_secret(&code)[..])
    .bind(branch_id)
    .bind(kind.as_str())
    .bind(ttl_secs as f64)
    .execute(pool)
    .await?;
    Ok(code)
}
