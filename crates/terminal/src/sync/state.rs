//! The sync client's persistent state (`sync_state`, `sync_refusals`): what
//! each upstream holds, the pull cursors, the last round's outcome. Every
//! write is a short transaction of its own, never held across a network call.

use rusqlite::{Connection, OptionalExtension, params};
use sentra_protocol::wire::RefusedEntry;
use serde::Serialize;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::UpstreamKind;
use crate::error::Result;

/// The `sync_state` row.
pub struct Stored {
    pub server_url: Option<String>,
    pub relay_url: Option<String>,
    pub credential: Option<Zeroizing<String>>,
    pub relay_acked_seq: u64,
    pub cloud_acked_seq: u64,
    pub relay_pull_cursor: String,
    pub cloud_pull_cursor: String,
    pub last_round_ms: Option<u64>,
    pub last_outcome: Option<String>,
    pub last_success_ms: Option<u64>,
    pub last_upstream: Option<String>,
    pub last_error: Option<LastError>,
    /// The last time the cloud's ack moved, or everything was in the cloud.
    pub cloud_progress_at_ms: Option<u64>,
    /// The relay's last word that it parked us (the cloud refuses us).
    pub relay_parked: Option<String>,
    /// The cloud's master-data key, 64 hex chars.
    pub master_key: Option<String>,
    /// What this terminal presents to its relay (never the cloud credential).
    pub relay_credential: Option<Zeroizing<String>>,
    pub master_alert: Option<MasterAlert>,
}

/// Master data refused as not the cloud's: by whom, what, when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MasterAlert {
    pub upstream: String,
    pub message: String,
    pub at_ms: u64,
}

impl Stored {
    pub fn acked(&self, kind: UpstreamKind) -> u64 {
        match kind {
            UpstreamKind::Relay => self.relay_acked_seq,
            UpstreamKind::Cloud => self.cloud_acked_seq,
        }
    }

    pub fn cursor(&self, kind: UpstreamKind) -> &str {
        match kind {
            UpstreamKind::Relay => &self.relay_pull_cursor,
            UpstreamKind::Cloud => &self.cloud_pull_cursor,
        }
    }
}

/// The last failed round, for people and the UI.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LastError {
    pub kind: String,
    pub message: String,
    pub at_ms: u64,
}

fn opt_u64(v: Option<i64>) -> Option<u64> {
    v.map(|v| v.max(0) as u64)
}

pub fn load(conn: &Connection) -> Result<Stored> {
    Ok(conn.query_row(
        "SELECT server_url, relay_url, credential, relay_acked_seq, cloud_acked_seq,
                relay_pull_cursor, cloud_pull_cursor, last_round_ms, last_outcome,
                last_success_ms, last_upstream, last_error_kind, last_error_message,
                last_error_at_ms, cloud_progress_at_ms, relay_parked, master_key,
                relay_credential, master_alert, master_alert_at_ms, master_alert_upstream
         FROM sync_state WHERE singleton = 1",
        [],
        |r| {
            let kind: Option<String> = r.get(11)?;
            let message: Option<String> = r.get(12)?;
            let at: Option<i64> = r.get(13)?;
            Ok(Stored {
                server_url: r.get(0)?,
                relay_url: r.get(1)?,
                credential: r.get::<_, Option<String>>(2)?.map(Zeroizing::new),
                relay_acked_seq: r.get::<_, i64>(3)?.max(0) as u64,
                cloud_acked_seq: r.get::<_, i64>(4)?.max(0) as u64,
                relay_pull_cursor: r.get(5)?,
                cloud_pull_cursor: r.get(6)?,
                last_round_ms: opt_u64(r.get(7)?),
                last_outcome: r.get(8)?,
                last_success_ms: opt_u64(r.get(9)?),
                last_upstream: r.get(10)?,
                last_error: match (kind, message, at) {
                    (Some(kind), Some(message), Some(at)) => Some(LastError {
                        kind,
                        message,
                        at_ms: at.max(0) as u64,
                    }),
                    _ => None,
                },
                cloud_progress_at_ms: opt_u64(r.get(14)?),
                relay_parked: r.get(15)?,
                master_key: r.get(16)?,
                relay_credential: r.get::<_, Option<String>>(17)?.map(Zeroizing::new),
                master_alert: match (
                    r.get::<_, Option<String>>(18)?,
                    r.get::<_, Option<i64>>(19)?,
                    r.get::<_, Option<String>>(20)?,
                ) {
                    (Some(message), Some(at), Some(upstream)) => Some(MasterAlert {
                        upstream,
                        message,
                        at_ms: at.max(0) as u64,
                    }),
                    _ => None,
                },
            })
        },
    )?)
}

/// What enrollment returned.
pub struct Enrollment<'a> {
    pub server_url: &'a str,
    pub relay_url: Option<&'a str>,
    pub credential: &'a str,
    pub relay_credential: Option<&'a str>,
    pub master_key: &'a str,
    pub device_id: Uuid,
    pub branch: &'a str,
}

/// Store what enrollment returned, in one statement.
pub fn store_enrollment(conn: &Connection, e: &Enrollment<'_>, now_ms: u64) -> Result<()> {
    conn.execute(
        "UPDATE sync_state SET server_url = ?1, relay_url = ?2, credential = ?3,
             enrolled_device_id = ?4, enrolled_branch = ?5, enrolled_at_ms = ?6,
             relay_credential = ?7, master_key = ?8,
             relay_acked_seq = 0, cloud_acked_seq = 0,
             relay_pull_cursor = '', cloud_pull_cursor = ''
         WHERE singleton = 1",
        params![
            e.server_url,
            e.relay_url,
            e.credential,
            e.device_id.to_string(),
            e.branch,
            now_ms as i64,
            e.relay_credential,
            e.master_key
        ],
    )?;
    Ok(())
}

/// Store what `POST /v1/trust` returned.
pub fn store_trust(
    conn: &Connection,
    master_key: &str,
    relay_credential: Option<&str>,
) -> Result<()> {
    conn.execute(
        "UPDATE sync_state SET master_key = ?1,
             relay_credential = coalesce(?2, relay_credential)
         WHERE singleton = 1",
        params![master_key, relay_credential],
    )?;
    Ok(())
}

/// Record master data refused from `upstream`; true when this starts an
/// alert (none was standing for that upstream).
pub fn record_master_alert(
    conn: &Connection,
    upstream: UpstreamKind,
    message: &str,
    now_ms: u64,
) -> Result<bool> {
    let standing: Option<String> = conn.query_row(
        "SELECT master_alert_upstream FROM sync_state WHERE singleton = 1",
        [],
        |r| r.get(0),
    )?;
    conn.execute(
        "UPDATE sync_state SET master_alert = ?1, master_alert_at_ms = ?2,
             master_alert_upstream = ?3
         WHERE singleton = 1",
        params![message, now_ms as i64, upstream.as_str()],
    )?;
    Ok(standing.as_deref() != Some(upstream.as_str()))
}

/// A clean pull from `upstream` ends an alert it caused.
pub fn clear_master_alert(conn: &Connection, upstream: UpstreamKind) -> Result<()> {
    conn.execute(
        "UPDATE sync_state SET master_alert = NULL, master_alert_at_ms = NULL,
             master_alert_upstream = NULL
         WHERE singleton = 1 AND master_alert_upstream = ?1",
        [upstream.as_str()],
    )?;
    Ok(())
}

/// Set, change or clear the relay. A different relay holds nothing we know
/// of and has its own cursor space, so both start over.
pub fn set_relay(conn: &mut Connection, relay_url: Option<&str>) -> Result<()> {
    let tx = conn.transaction()?;
    let current: Option<String> = tx.query_row(
        "SELECT relay_url FROM sync_state WHERE singleton = 1",
        [],
        |r| r.get(0),
    )?;
    if current.as_deref() != relay_url {
        tx.execute(
            "UPDATE sync_state SET relay_url = ?1, relay_acked_seq = 0, relay_pull_cursor = ''
             WHERE singleton = 1",
            params![relay_url],
        )?;
        tx.execute("DELETE FROM sync_refusals WHERE upstream = 'relay'", [])?;
    }
    tx.commit()?;
    Ok(())
}

/// What an upstream now holds of our chain.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Acks {
    /// What the answering upstream holds; replaces what we thought (a lower
    /// value means the upstream was replaced or restored: rewind).
    pub held: u64,
    /// From a relay: what it knows the cloud holds. Only raises our figure:
    /// a relay may not know of entries we pushed to the cloud directly.
    pub cloud_at_least: Option<u64>,
}

/// Record acks and refusals from one answer, in one short transaction.
pub fn record_answer(
    conn: &mut Connection,
    kind: UpstreamKind,
    acks: Acks,
    refused: &[RefusedEntry],
    now_ms: u64,
) -> Result<()> {
    let tx = conn.transaction()?;
    let cloud_before: i64 = tx.query_row(
        "SELECT cloud_acked_seq FROM sync_state WHERE singleton = 1",
        [],
        |r| r.get(0),
    )?;
    let column = match kind {
        UpstreamKind::Relay => "relay_acked_seq",
        UpstreamKind::Cloud => "cloud_acked_seq",
    };
    tx.execute(
        &format!("UPDATE sync_state SET {column} = ?1 WHERE singleton = 1"),
        [acks.held as i64],
    )?;
    if let Some(cloud) = acks.cloud_at_least {
        tx.execute(
            "UPDATE sync_state SET cloud_acked_seq = max(cloud_acked_seq, ?1) WHERE singleton = 1",
            [cloud as i64],
        )?;
    }
    // Progress: the cloud's ack moved, or nothing waits for it.
    tx.execute(
        "UPDATE sync_state SET cloud_progress_at_ms = ?1
         WHERE singleton = 1 AND (cloud_acked_seq <> ?2 OR cloud_progress_at_ms IS NULL
               OR cloud_acked_seq >= (SELECT coalesce(max(seq), 0) FROM journal))",
        params![now_ms as i64, cloud_before],
    )?;
    tx.execute(
        "DELETE FROM sync_refusals WHERE upstream = ?1 AND seq <= ?2",
        params![kind.as_str(), acks.held as i64],
    )?;
    for r in refused {
        tx.execute(
            "INSERT INTO sync_refusals (upstream, seq, reason, detail, at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (upstream, seq) DO UPDATE SET reason = excluded.reason,
                 detail = excluded.detail, at_ms = excluded.at_ms",
            params![
                kind.as_str(),
                r.seq as i64,
                r.reason.code(),
                r.detail,
                now_ms as i64
            ],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// Records what the relay said about parking this device (`None`: not parked).
pub fn set_relay_parked(conn: &Connection, parked: Option<&str>) -> Result<()> {
    conn.execute(
        "UPDATE sync_state SET relay_parked = ?1 WHERE singleton = 1",
        [parked],
    )?;
    Ok(())
}

/// Pull from the start next time (the upstream no longer knows our cursor).
pub fn reset_cursor(conn: &Connection, kind: UpstreamKind) -> Result<()> {
    save_cursor(conn, kind, "")
}

/// Called inside the transaction that applied the page the cursor covers.
pub fn save_cursor(conn: &Connection, kind: UpstreamKind, cursor: &str) -> Result<()> {
    let column = match kind {
        UpstreamKind::Relay => "relay_pull_cursor",
        UpstreamKind::Cloud => "cloud_pull_cursor",
    };
    conn.execute(
        &format!("UPDATE sync_state SET {column} = ?1 WHERE singleton = 1"),
        [cursor],
    )?;
    Ok(())
}

/// The outcome of a round, for `status`.
pub fn record_round(
    conn: &Connection,
    outcome: &str,
    success_via: Option<UpstreamKind>,
    error: Option<(&str, &str)>,
    now_ms: u64,
) -> Result<()> {
    conn.execute(
        "UPDATE sync_state SET last_round_ms = ?1, last_outcome = ?2 WHERE singleton = 1",
        params![now_ms as i64, outcome],
    )?;
    if let Some(kind) = success_via {
        conn.execute(
            "UPDATE sync_state SET last_success_ms = ?1, last_upstream = ?2 WHERE singleton = 1",
            params![now_ms as i64, kind.as_str()],
        )?;
    }
    if let Some((kind, message)) = error {
        conn.execute(
            "UPDATE sync_state SET last_error_kind = ?1, last_error_message = ?2,
                 last_error_at_ms = ?3 WHERE singleton = 1",
            params![kind, message, now_ms as i64],
        )?;
    }
    Ok(())
}

/// One refused entry as kept for the UI.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub upstream: String,
    pub seq: u64,
    pub reason: String,
    pub detail: String,
    pub at_ms: u64,
}

pub fn refusals(conn: &Connection) -> Result<Vec<Refusal>> {
    let mut stmt = conn.prepare(
        "SELECT upstream, seq, reason, detail, at_ms FROM sync_refusals ORDER BY upstream, seq",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(Refusal {
            upstream: r.get(0)?,
            seq: r.get::<_, i64>(1)?.max(0) as u64,
            reason: r.get(2)?,
            detail: r.get(3)?,
            at_ms: r.get::<_, i64>(4)?.max(0) as u64,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn enrolled_branch(conn: &Connection) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT enrolled_branch FROM sync_state WHERE singleton = 1",
            [],
            |r| r.get(0),
        )
        .optional()?
        .flatten())
}

/// How many of this device's entries are in each delivery state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EntryStates {
    /// `seq ≤ cloud_acked`: safe in the cloud.
    pub cloud: u64,
    /// `cloud_acked < seq ≤ relay_acked`: safe on the branch relay, not yet
    /// known to be in the cloud.
    pub relay_only: u64,
    /// Only on this terminal.
    pub local: u64,
}

impl EntryStates {
    /// Entries are `1..=tip`; acks beyond the tip (a journal restored from an
    /// older backup) are clamped.
    pub fn count(tip: u64, relay_acked: u64, cloud_acked: u64) -> EntryStates {
        let cloud = cloud_acked.min(tip);
        let relay_only = relay_acked.min(tip).saturating_sub(cloud);
        EntryStates {
            cloud,
            relay_only,
            local: tip - cloud - relay_only,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_partition_the_journal() {
        assert_eq!(
            EntryStates::count(0, 0, 0),
            EntryStates {
                cloud: 0,
                relay_only: 0,
                local: 0
            }
        );
        assert_eq!(
            EntryStates::count(10, 7, 4),
            EntryStates {
                cloud: 4,
                relay_only: 3,
                local: 3
            }
        );
        // Pushed straight to the cloud past what the relay holds.
        assert_eq!(
            EntryStates::count(10, 2, 8),
            EntryStates {
                cloud: 8,
                relay_only: 0,
                local: 2
            }
        );
        // Acks beyond the tip are clamped.
        assert_eq!(
            EntryStates::count(5, 9, 6),
            EntryStates {
                cloud: 5,
                relay_only: 0,
                local: 0
            }
        );
        for tip in 0..12 {
            for relay in 0..14 {
                for cloud in 0..14 {
                    let s = EntryStates::count(tip, relay, cloud);
                    assert_eq!(s.cloud + s.relay_only + s.local, tip);
                }
            }
        }
    }
}
