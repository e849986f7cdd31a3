//! `GET /v1/pull?cursor=…&limit=…`: master data (catalog, prices, cashiers,
//! tax rates, branch settings, the branch's device keys) as changes since a
//! cursor.
//!
//! Triggers on the master tables append every write to `pull_changes` in the
//! writer's own transaction, stamped with its transaction id (`txid`, 64-bit)
//! and a `change_id` from a sequence. Sequence values and transaction ids are
//! taken when a writer *writes*, not when it commits, so neither alone is a
//! safe cursor: a transaction that took id 10 may commit after the one that
//! took id 11 has been pulled.
//!
//! The rule that never skips a late commit: a pull hands out only changes of
//! transactions older than the oldest transaction still running anywhere on
//! the server (`txid < pg_snapshot_xmin(pg_current_snapshot())`). Every such
//! transaction has finished, so every change it made is visible, and every
//! change not yet visible belongs to a transaction with a txid at or above
//! that horizon. Changes are handed out in `(txid, change_id)` order and the
//! cursor is the position of the last one handed out, so nothing that can
//! still appear sorts below a cursor. The horizon is read in a statement
//! *before* the one that reads the changes, so the reading snapshot is no
//! older than the horizon's.

use std::fmt;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use ed25519_dalek::SigningKey;
use sentra_protocol::wire::{Change, MAX_PULL_LIMIT, PullResponse};
use sqlx::PgPool;

use crate::error::ApiError;
use crate::http::{AppState, Caller};

/// Changes in one page when the request names no `limit`.
pub const DEFAULT_PULL_LIMIT: u32 = 500;

/// The query string of `GET /v1/pull`. Both fields are text so that a bad
/// value is answered with the documented error body.
#[derive(Debug, Default, serde::Deserialize)]
pub struct PullQuery {
    /// `next_cursor` of the previous page; absent or empty: from the start.
    pub cursor: Option<String>,
    /// 1 to `MAX_PULL_LIMIT`; absent or empty: `DEFAULT_PULL_LIMIT`.
    pub limit: Option<String>,
}

/// A position in the change log: the last change handed out, and the
/// timeline of the database that handed it out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cursor {
    /// PostgreSQL's timeline when the cursor was issued (`None`: a `v1`
    /// cursor, issued before cursors carried it). A failover or a restore
    /// starts a new timeline, and transaction ids of the old one may be
    /// handed out again on the new one.
    pub timeline: Option<u32>,
    pub txid: u64,
    pub change_id: i64,
}

impl Cursor {
    /// Before every change.
    pub const START: Cursor = Cursor {
        timeline: None,
        txid: 0,
        change_id: 0,
    };

    /// Parses a cursor exactly as [`Cursor`]'s `Display` writes it
    /// (`v2.<timeline>.<txid>.<change_id>`, or the older
    /// `v1.<txid>.<change_id>`; decimal, no sign, no leading zeros); the
    /// empty string is [`Cursor::START`].
    pub fn parse(text: &str) -> Result<Cursor, ApiError> {
        if text.is_empty() {
            return Ok(Cursor::START);
        }
        let bad = || {
            let shown: String = text.chars().take(40).collect();
            ApiError::Malformed(format!(
                "cursor {shown:?} is not one this server issued; pass back next_cursor \
                 unchanged, or no cursor to pull from the start"
            ))
        };
        let parts: Vec<&str> = text.split('.').collect();
        let (timeline, txid, change_id) = match parts.as_slice() {
            ["v1", txid, change_id] => (None, txid, change_id),
            ["v2", timeline, txid, change_id] => {
                let timeline = decimal(timeline)
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(bad)?;
                (Some(timeline), txid, change_id)
            }
            _ => return Err(bad()),
        };
        let txid = decimal(txid).ok_or_else(bad)?;
        let change_id = decimal(change_id)
            .and_then(|n| i64::try_from(n).ok())
            .ok_or_else(bad)?;
        Ok(Cursor {
            timeline,
            txid,
            change_id,
        })
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.timeline {
            Some(t) => write!(f, "v2.{t}.{}.{}", self.txid, self.change_id),
            None => write!(f, "v1.{}.{}", self.txid, self.change_id),
        }
    }
}

/// A canonical unsigned decimal: digits only, no leading zero (but "0").
fn decimal(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.len() <= 20
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if canonical { text.parse().ok() } else { None }
}

/// The page size a request asks for.
pub fn parse_limit(text: Option<&str>) -> Result<u32, ApiError> {
    let bad = || {
        ApiError::Malformed(format!(
            "limit must be a whole number from 1 to {MAX_PULL_LIMIT}"
        ))
    };
    match text {
        None | Some("") => Ok(DEFAULT_PULL_LIMIT),
        Some(text) => match decimal(text) {
            Some(n) if (1..=u64::from(MAX_PULL_LIMIT)).contains(&n) => {
                u32::try_from(n).map_err(|_| bad())
            }
            _ => Err(bad()),
        },
    }
}

pub async fn pull(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    query: Result<Query<PullQuery>, QueryRejection>,
) -> Result<Json<PullResponse>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::Malformed(e.body_text()))?;
    let limit = parse_limit(q.limit.as_deref())?;
    let cursor = Cursor::parse(q.cursor.as_deref().unwrap_or(""))?;
    crate::activity::record(&state.pool, &caller, &Default::default()).await;
    let span = crate::telemetry::pull_span(&headers, limit);
    let page = tracing::Instrument::instrument(
        changes_since(
            &state.pool,
            &state.master_key,
            caller.branch_id,
            cursor,
            limit,
        ),
        span,
    )
    .await?;
    tracing::debug!(
        device_id = %caller.device_id,
        branch = %caller.branch_code,
        %cursor,
        changes = page.changes.len(),
        more = page.more,
        "pull"
    );
    Ok(Json(page))
}

/// Where the database stands for a reader: the current snapshot's `xmin`
/// (the oldest transaction still running anywhere on the server: every one
/// below it has ended), its `xmax` (the next transaction id to be handed
/// out), and the timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Horizon {
    pub xmin: u64,
    pub xmax: u64,
    pub timeline: u32,
}

impl Horizon {
    /// Refuses a cursor this database cannot continue from: one of another
    /// timeline (issued before a failover or a restore: its transaction ids
    /// may have been handed out again), or one ahead of every transaction
    /// run here (another database, or a restore to an earlier point).
    /// `what` names the cursor in the message.
    pub fn check(&self, what: &str, timeline: Option<u32>, txid: u64) -> Result<(), ApiError> {
        if let Some(t) = timeline
            && t != self.timeline
        {
            return Err(ApiError::Malformed(format!(
                "{what} is from timeline {t} of the cloud's database, which is now on timeline \
                 {} (it failed over or was restored); start from the beginning (no cursor)",
                self.timeline
            )));
        }
        if txid >= self.xmax {
            return Err(ApiError::Malformed(format!(
                "{what} is ahead of this server's change log; start from the beginning (no cursor)"
            )));
        }
        Ok(())
    }
}

/// The [`Horizon`] now. A standby not yet promoted has no timeline of its
/// own to hand out: `503 unavailable` (a failover is under way).
pub async fn horizon<'e, E: sqlx::PgExecutor<'e>>(ex: E) -> Result<Horizon, ApiError> {
    let (xmin, xmax, wal_file): (String, String, Option<String>) = sqlx::query_as(
        "SELECT pg_snapshot_xmin(s)::text, pg_snapshot_xmax(s)::text,
                CASE WHEN pg_is_in_recovery() THEN NULL
                     ELSE pg_walfile_name(pg_current_wal_lsn()) END
         FROM pg_current_snapshot() AS s",
    )
    .fetch_one(ex)
    .await?;
    let number = |what: &str, text: &str| -> Result<u64, ApiError> {
        text.parse()
            .map_err(|_| ApiError::Internal(format!("snapshot {what} {text:?} is not a number")))
    };
    let wal_file = wal_file.ok_or(ApiError::Unavailable)?;
    // A WAL file name starts with the timeline, 8 hex digits.
    let timeline = wal_file
        .get(..8)
        .and_then(|t| u32::from_str_radix(t, 16).ok())
        .ok_or_else(|| ApiError::Internal(format!("WAL file name {wal_file:?}")))?;
    Ok(Horizon {
        xmin: number("xmin", &xmin)?,
        xmax: number("xmax", &xmax)?,
        timeline,
    })
}

/// txid, change id, entity, key, data, deleted, branch code (NULL: every
/// branch).
type ChangeRow = (
    String,
    i64,
    String,
    String,
    Option<serde_json::Value>,
    bool,
    Option<String>,
);

/// Up to `limit` changes after `cursor` that branch `branch_id` sees (its
/// own and every-branch changes), in `(txid, change_id)` order, each signed
/// with `key`.
pub async fn changes_since(
    pool: &PgPool,
    key: &SigningKey,
    branch_id: i32,
    cursor: Cursor,
    limit: u32,
) -> Result<PullResponse, ApiError> {
    // The horizon, in its own statement: the snapshot of the next statement
    // is taken later, so it sees every transaction below the horizon.
    let horizon = horizon(pool).await?;
    horizon.check(&format!("cursor {cursor}"), cursor.timeline, cursor.txid)?;
    let xmin = horizon.xmin;
    let rows: Vec<ChangeRow> = sqlx::query_as(
        "SELECT c.txid::text, c.change_id, c.entity, c.key, c.data, c.deleted, b.code
         FROM pull_changes c LEFT JOIN branches b USING (branch_id)
         WHERE (c.txid, c.change_id) > ($1::text::xid8, $2)
           AND c.txid < $3::text::xid8
           AND (c.branch_id IS NULL OR c.branch_id = $4)
         ORDER BY c.txid, c.change_id
         LIMIT $5",
    )
    .bind(cursor.txid.to_string())
    .bind(cursor.change_id)
    .bind(xmin.to_string())
    .bind(branch_id)
    .bind(i64::from(limit) + 1)
    .fetch_all(pool)
    .await?;
    let more = rows.len() > limit as usize;
    let mut next = Cursor {
        timeline: Some(horizon.timeline),
        ..cursor
    };
    let mut changes = Vec::with_capacity(rows.len().min(limit as usize));
    for (txid, change_id, entity, change_key, data, deleted, scope) in
        rows.into_iter().take(limit as usize)
    {
        next = Cursor {
            timeline: Some(horizon.timeline),
            txid: txid
                .parse()
                .map_err(|_| ApiError::Internal(format!("txid {txid:?} is not a number")))?,
            change_id,
        };
        let mut change = Change {
            entity,
            key: change_key,
            data: data.unwrap_or(serde_json::Value::Null),
            deleted,
            scope,
            // A row's later writer waits for the earlier one's row lock
            // before its trigger takes the next id, so per key the ids grow
            // in commit order.
            version: u64::try_from(change_id)
                .map_err(|_| ApiError::Internal(format!("change id {change_id} is negative")))?,
            signature: String::new(),
        };
        // A change with no canonical form (an integer beyond ±2^53) could
        // not be verified by any terminal: leave it out rather than fail
        // every pull after it, and say so loudly.
        match sentra_protocol::master::sign_change(&mut change, key) {
            Ok(()) => changes.push(change),
            Err(e) => tracing::error!(
                change_id,
                entity = %change.entity,
                key = %change.key,
                "master-data change left out of pulls: it cannot be signed: {e}"
            ),
        }
    }
    Ok(PullResponse {
        changes,
        next_cursor: next.to_string(),
        more,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        for c in [
            Cursor::START,
            Cursor {
                timeline: None,
                txid: 738,
                change_id: 12,
            },
            Cursor {
                timeline: Some(1),
                txid: 738,
                change_id: 12,
            },
            Cursor {
                timeline: Some(u32::MAX),
                txid: u64::MAX,
                change_id: i64::MAX,
            },
        ] {
            assert_eq!(Cursor::parse(&c.to_string()).expect("own cursor"), c);
        }
        assert_eq!(Cursor::parse("").expect("empty"), Cursor::START);
    }

    #[test]
    fn foreign_cursors_are_malformed() {
        for bad in [
            "x",
            "v1",
            "v1.1",
            "v1.1.",
            "v1..1",
            "v2.1.1",
            "v2.1.1.1.1",
            "v2.01.1.1",
            "v2.4294967296.1.1",
            "v3.1.1.1",
            "V1.1.1",
            "v1.1.1.1",
            "v1.01.1",
            "v1.1.01",
            "v1.-1.1",
            "v1.+1.1",
            "v1.1.-1",
            "v1. 1.1",
            "v1.1.1 ",
            "v1.18446744073709551616.1",
            "v1.1.9223372036854775808",
            "v1.1e3.1",
        ] {
            let err = Cursor::parse(bad).expect_err(bad);
            assert_eq!(err.code(), "malformed_request", "{bad}");
        }
    }

    #[test]
    fn limits() {
        assert_eq!(parse_limit(None).expect("default"), DEFAULT_PULL_LIMIT);
        assert_eq!(parse_limit(Some("")).expect("default"), DEFAULT_PULL_LIMIT);
        assert_eq!(parse_limit(Some("1")).expect("1"), 1);
        assert_eq!(parse_limit(Some("1000")).expect("max"), MAX_PULL_LIMIT);
        for bad in [
            "0",
            "1001",
            "-1",
            "abc",
            "1.5",
            "010",
            "99999999999999999999999",
        ] {
            assert!(parse_limit(Some(bad)).is_err(), "{bad}");
        }
    }
}
