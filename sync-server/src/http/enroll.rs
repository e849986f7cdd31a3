//! `POST /v1/enroll`: a device trades a one-time code for its credential.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use sentra_protocol::wire::{DeviceKind, EnrollRequest, EnrollResponse};
use uuid::Uuid;

use super::{AppState, JsonBody};
use crate::credentials::{hash_secret, new_credential, normalise_code};
use crate::error::ApiError;

const MAX_NAME: usize = 100;

/// branch id, kind, expires at, used at, branch code.
type CodeRow = (i32, String, DateTime<Utc>, Option<DateTime<Utc>>, String);

pub async fn enroll(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<EnrollRequest>,
) -> Result<Json<EnrollResponse>, ApiError> {
    let name = req.name.trim();
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(ApiError::Malformed(format!(
            "name must be 1 to {MAX_NAME} bytes"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::Malformed(
            "name must not contain control characters".into(),
        ));
    }
    let key_bytes: [u8; 32] = hex::decode(req.public_key.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| ApiError::Malformed("public_key must be 64 hex chars (32 bytes)".into()))?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&key_bytes)
        .map_err(|_| ApiError::Malformed("public_key is not a valid Ed25519 key".into()))?;
    if key.is_weak() {
        return Err(ApiError::Malformed(
            "public_key is a weak (small-order) key".into(),
        ));
    }
    let code_hash = hash_secret(&normalise_code(&req.code));

    let mut tx = state.pool.begin().await?;
    let code: Option<CodeRow> = sqlx::query_as(
        "SELECT c.branch_id, c.kind, c.expires_at, c.used_at, b.code
         FROM enroll_codes c JOIN branches b USING (branch_id)
         WHERE c.code_hash = $1 FOR UPDATE OF c",
    )
    .bind(&code_hash[..])
    .fetch_optional(&mut *tx)
    .await?;
    let (branch_id, kind, expires_at, used_at, branch) = code.ok_or(ApiError::EnrollCodeInvalid)?;
    if let Some(at) = used_at {
        return Err(ApiError::EnrollCodeUsed(at.to_rfc3339()));
    }
    if expires_at <= Utc::now() {
        return Err(ApiError::EnrollCodeExpired(expires_at.to_rfc3339()));
    }
    let kind = DeviceKind::from_name(&kind)
        .ok_or_else(|| ApiError::Internal(format!("enroll code has kind {kind:?}")))?;
    let device_id = req.device_id.unwrap_or_else(Uuid::now_v7);
    let taken: Option<bool> =
        sqlx::query_scalar("SELECT true FROM devices WHERE device_id = $1 OR public_key = $2")
            .bind(device_id)
            .bind(&key_bytes[..])
            .fetch_optional(&mut *tx)
            .await?;
    if taken.is_some() {
        return Err(ApiError::Conflict(
            "this device id or public key is already enrolled".into(),
        ));
    }
    let credential =
        new_credential().map_err(|e| ApiError::Internal(format!("no randomness: {e}")))?;
    sqlx::query(
        "INSERT INTO devices (device_id, branch_id, kind, name, public_key, credential_hash)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(device_id)
    .bind(branch_id)
    .bind(kind.as_str())
    .bind(name)
    .bind(&key_bytes[..])
    .bind(&hash_secret(&credential)[..])
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE enroll_codes SET used_at = now(), used_by = $2 WHERE code_hash = $1")
        .bind(&code_hash[..])
        .bind(device_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(%device_id, %branch, kind = kind.as_str(), "device enrolled");
    Ok(Json(EnrollResponse {
        device_id,
        branch,
        kind,
        credential,
    }))
}
