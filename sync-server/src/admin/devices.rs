//! `sentra-sync device list|revoke`.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::{AdminError, Result};

#[derive(Clone, Debug, serde::Serialize)]
pub struct Device {
    pub device_id: Uuid,
    pub branch: String,
    pub kind: String,
    pub name: String,
    pub public_key: String,
    pub enrolled_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub flagged: Option<String>,
    /// Highest contiguous seq held, and when the last new entry arrived.
    pub acked_seq: i64,
    pub last_entry_at: Option<DateTime<Utc>>,
}

type DeviceRow = (
    Uuid,
    String,
    String,
    String,
    Vec<u8>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<i64>,
    Option<DateTime<Utc>>,
);

/// Devices, optionally of one branch.
pub async fn list(pool: &PgPool, branch: Option<&str>) -> Result<Vec<Device>> {
    let rows: Vec<DeviceRow> = sqlx::query_as(
        "SELECT d.device_id, b.code, d.kind, d.name, d.public_key, d.enrolled_at, d.revoked_at,
                d.flag_reason, h.seq, h.updated_at
         FROM devices d JOIN branches b USING (branch_id)
         LEFT JOIN device_heads h ON h.branch_id = d.branch_id AND h.device_id = d.device_id
         WHERE $1::text IS NULL OR b.code = $1
         ORDER BY b.code, d.enrolled_at",
    )
    .bind(branch)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Device {
            device_id: r.0,
            branch: r.1,
            kind: r.2,
            name: r.3,
            public_key: hex::encode(r.4),
            enrolled_at: r.5,
            revoked_at: r.6,
            flagged: r.7,
            acked_seq: r.8.unwrap_or(0),
            last_entry_at: r.9,
        })
        .collect())
}

/// Revokes a device: from now on its credential is refused and entries it
/// signs are refused, also when a relay forwards them. Entries already held
/// stay.
pub async fn revoke(pool: &PgPool, device_id: Uuid) -> Result<()> {
    let done = sqlx::query(
        "UPDATE devices SET revoked_at = COALESCE(revoked_at, now()) WHERE device_id = $1",
    )
    .bind(device_id)
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(AdminError::NotFound(format!("device {device_id}")));
    }
    Ok(())
}
