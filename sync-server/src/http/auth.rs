//! The caller of a `/v1` request: the enrolled device behind the bearer
//! credential.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use sentra_protocol::wire::DeviceKind;
use uuid::Uuid;

use super::AppState;
use crate::credentials::hash_secret;
use crate::error::ApiError;

#[derive(Clone, Debug)]
pub struct Caller {
    pub device_id: Uuid,
    pub kind: DeviceKind,
    pub branch_id: i32,
    pub branch_code: String,
    pub branch_timezone: String,
}

/// device id, kind, branch id, branch code, time zone, revoked at.
type CallerRow = (
    Uuid,
    String,
    i32,
    String,
    String,
    Option<chrono::DateTime<chrono::Utc>>,
);

/// The credential of an `Authorization: Bearer …` header.
pub fn bearer_token(parts: &Parts) -> Result<&str, ApiError> {
    parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::Unauthorized)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(parts)?;
        let row: Option<CallerRow> = sqlx::query_as(
            "SELECT d.device_id, d.kind, d.branch_id, b.code, b.timezone, d.revoked_at
                 FROM devices d JOIN branches b USING (branch_id)
                 WHERE d.credential_hash = $1",
        )
        .bind(&hash_secret(token)[..])
        .fetch_optional(&state.pool)
        .await?;
        let (device_id, kind, branch_id, branch_code, branch_timezone, revoked) =
            row.ok_or(ApiError::Unauthorized)?;
        if let Some(at) = revoked {
            return Err(ApiError::DeviceRevoked(at.to_rfc3339()));
        }
        let kind = DeviceKind::from_name(&kind)
            .ok_or_else(|| ApiError::Internal(format!("device {device_id} has kind {kind:?}")))?;
        Ok(Caller {
            device_id,
            kind,
            branch_id,
            branch_code,
            branch_timezone,
        })
    }
}
