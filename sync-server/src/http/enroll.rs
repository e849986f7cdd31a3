//! `POST /v1/enroll`: a device trades a one-time code for its credential.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use sentra_protocol::wire::{DeviceKind, EnrollRequest, EnrollResponse, TrustResponse};
use uuid::Uuid;

use super::{AppState, Caller, JsonBody};
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
    let relay_credential = match kind {
        DeviceKind::Terminal => {
            Some(new_credential().map_err(|e| ApiError::Internal(format!("no randomness: {e}")))?)
        }
        DeviceKind::Relay => None,
    };
    sqlx::query(
        "INSERT INTO devices (device_id, branch_id, kind, name, public_key, credential_hash,
                              relay_credential_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(device_id)
    .bind(branch_id)
    .bind(kind.as_str())
    .bind(name)
    .bind(&key_bytes[..])
    .bind(&hash_secret(&credential)[..])
    .bind(relay_credential.as_deref().map(|c| hash_secret(c).to_vec()))
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
        master_key: hex::encode(state.master_key.verifying_key().to_bytes()),
        relay_credential,
    }))
}

/// `POST /v1/trust`: the cloud's master-data key and, for a terminal, a new
/// relay credential (the old one stops working at the relay at its next
/// device refresh). Only the cloud answers it: the caller's cloud
/// credential proves who it is, and a relay never sees that credential.
pub async fn trust(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<TrustResponse>, ApiError> {
    let relay_credential = match caller.kind {
        DeviceKind::Terminal => {
            let c =
                new_credential().map_err(|e| ApiError::Internal(format!("no randomness: {e}")))?;
            sqlx::query("UPDATE devices SET relay_credential_hash = $2 WHERE device_id = $1")
                .bind(caller.device_id)
                .bind(&hash_secret(&c)[..])
                .execute(&state.pool)
                .await?;
            Some(c)
        }
        DeviceKind::Relay => None,
    };
    tracing::info!(device_id = %caller.device_id, "device fetched the cloud's master-data key");
    Ok(Json(TrustResponse {
        master_key: hex::encode(state.master_key.verifying_key().to_bytes()),
        relay_credential,
    }))
}
