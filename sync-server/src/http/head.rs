//! `GET /v1/head` (how far the cloud holds the caller's chain) and
//! `GET /v1/relay/devices` (a relay's copy of its branch's devices).

use axum::Json;
use axum::extract::State;
use sentra_protocol::wire::{DeviceKind, HeadResponse, RelayDevice, RelayDevicesResponse};
use uuid::Uuid;

use super::{AppState, Caller};
use crate::error::ApiError;

/// The cloud's answer is final, so `wait_for`/`wait_ms` (which a relay
/// honours) are accepted and ignored.
pub async fn head(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<HeadResponse>, ApiError> {
    let seq: Option<i64> =
        sqlx::query_scalar("SELECT seq FROM device_heads WHERE branch_id = $1 AND device_id = $2")
            .bind(caller.branch_id)
            .bind(caller.device_id)
            .fetch_optional(&state.pool)
            .await?;
    crate::activity::record(&state.pool, &caller, &Default::default()).await;
    Ok(Json(HeadResponse {
        device_id: caller.device_id,
        acked_seq: seq.unwrap_or(0).max(0) as u64,
        cloud_acked_seq: None,
        uplink: None,
        parked: None,
    }))
}

/// device id, kind, name, public key, credential hash, revoked.
type DeviceRow = (Uuid, String, String, Vec<u8>, Option<Vec<u8>>, bool);

pub async fn relay_devices(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<RelayDevicesResponse>, ApiError> {
    if caller.kind != DeviceKind::Relay {
        return Err(ApiError::Forbidden(
            "only a branch relay may list its branch's devices".into(),
        ));
    }
    let rows: Vec<DeviceRow> = sqlx::query_as(
        "SELECT device_id, kind, name, public_key, relay_credential_hash, revoked_at IS NOT NULL
         FROM devices WHERE branch_id = $1 ORDER BY device_id",
    )
    .bind(caller.branch_id)
    .fetch_all(&state.pool)
    .await?;
    let mut devices = Vec::with_capacity(rows.len());
    for (device_id, kind, name, key, credential, revoked) in rows {
        let kind = DeviceKind::from_name(&kind)
            .ok_or_else(|| ApiError::Internal(format!("device {device_id} has kind {kind:?}")))?;
        devices.push(RelayDevice {
            device_id,
            kind,
            name,
            public_key: hex::encode(key),
            credential_sha256: credential.map(hex::encode).unwrap_or_default(),
            revoked,
        });
    }
    Ok(Json(RelayDevicesResponse {
        branch: caller.branch_code,
        devices,
    }))
}
