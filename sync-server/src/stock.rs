//! `GET /v1/stock?cursor=…&limit=…`: the caller's branch's stock on hand,
//! the levels changed since a cursor, for the tills to show in search and on
//! the line.
//!
//! A level row carries the transaction id of its last writer
//! (`changed_txid`, set by a trigger), and the same late-commit rule as the
//! pull change log applies: only rows whose writer is older than the oldest
//! transaction still running are handed out, in `(changed_txid, sku)`
//! order, so no level committed late sorts below a cursor. Only the latest
//! level per item matters, so there is no log: a row written again simply
//! comes again, later.
//!
//! The page is read in one snapshot together with each device's chain tip
//! (`device_heads`): a till adds to a level only its own movements after its
//! tip, and so counts each of its sales exactly once.

use std::fmt;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use ed25519_dalek::SigningKey;
use sentra_protocol::wire::{
    DEFAULT_STOCK_LIMIT, DeviceTip, MAX_STOCK_LIMIT, StockLevel, StockPage,
};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::ApiError;
use crate::http::{AppState, Caller};
use crate::pull::PullQuery;

/// A position among a branch's stock levels: the last one handed out.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct StockCursor {
    /// The database's timeline when issued (`None`: an `s1` cursor); see
    /// [`crate::pull::Cursor::timeline`].
    pub timeline: Option<u32>,
    pub txid: u64,
    pub sku: String,
}

impl StockCursor {
    /// Parses a cursor as `Display` writes it: `s2.<timeline>.<txid>`
    /// (before every level of that transaction) or
    /// `s2.<timeline>.<txid>.<sku as lowercase hex>`, or the older `s1.…`
    /// without the timeline; the empty string is the start.
    pub fn parse(text: &str) -> Result<StockCursor, ApiError> {
        if text.is_empty() {
            return Ok(StockCursor {
                timeline: None,
                txid: 0,
                sku: String::new(),
            });
        }
        let bad = || {
            let shown: String = text.chars().take(40).collect();
            ApiError::Malformed(format!(
                "stock cursor {shown:?} is not one this server issued; pass back next_cursor \
                 unchanged, or no cursor to start over"
            ))
        };
        let decimal = |t: &str| -> Result<u64, ApiError> {
            let canonical = !t.is_empty()
                && t.len() <= 20
                && t.bytes().all(|b| b.is_ascii_digit())
                && (t == "0" || !t.starts_with('0'));
            if canonical {
                t.parse().map_err(|_| bad())
            } else {
                Err(bad())
            }
        };
        let parts: Vec<&str> = text.split('.').collect();
        let (timeline, txid, sku) = match parts.as_slice() {
            ["s1", txid] => (None, *txid, None),
            ["s1", txid, sku] => (None, *txid, Some(*sku)),
            ["s2", timeline, txid] => (Some(*timeline), *txid, None),
            ["s2", timeline, txid, sku] => (Some(*timeline), *txid, Some(*sku)),
            _ => return Err(bad()),
        };
        let timeline = match timeline {
            Some(t) => Some(u32::try_from(decimal(t)?).map_err(|_| bad())?),
            None => None,
        };
        let txid = decimal(txid)?;
        let sku = match sku {
            None => String::new(),
            Some(h)
                if !h.is_empty() && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) =>
            {
                hex::decode(h)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(bad)?
            }
            Some(_) => return Err(bad()),
        };
        Ok(StockCursor {
            timeline,
            txid,
            sku,
        })
    }
}

impl fmt::Display for StockCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.timeline {
            Some(t) => write!(f, "s2.{t}.{}", self.txid)?,
            None => write!(f, "s1.{}", self.txid)?,
        }
        if !self.sku.is_empty() {
            write!(f, ".{}", hex::encode(self.sku.as_bytes()))?;
        }
        Ok(())
    }
}

/// The page size a request asks for.
pub fn parse_limit(text: Option<&str>) -> Result<u32, ApiError> {
    let bad = || {
        ApiError::Malformed(format!(
            "limit must be a whole number from 1 to {MAX_STOCK_LIMIT}"
        ))
    };
    match text {
        None | Some("") => Ok(DEFAULT_STOCK_LIMIT),
        Some(t) if t.bytes().all(|b| b.is_ascii_digit()) && !t.starts_with('0') => {
            match t.parse::<u32>() {
                Ok(n) if (1..=MAX_STOCK_LIMIT).contains(&n) => Ok(n),
                _ => Err(bad()),
            }
        }
        Some(_) => Err(bad()),
    }
}

pub async fn stock(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<PullQuery>, QueryRejection>,
) -> Result<Json<StockPage>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::Malformed(e.body_text()))?;
    let limit = parse_limit(q.limit.as_deref())?;
    let cursor = StockCursor::parse(q.cursor.as_deref().unwrap_or(""))?;
    let page = levels_since(
        &state.pool,
        &state.master_key,
        caller.branch_id,
        &caller.branch_code,
        &cursor,
        limit,
    )
    .await?;
    tracing::debug!(
        device_id = %caller.device_id,
        branch = %caller.branch_code,
        %cursor,
        levels = page.levels.len(),
        more = page.more,
        "stock"
    );
    Ok(Json(page))
}

/// Up to `limit` levels of the branch changed after `cursor`, with the
/// devices' tips of the same snapshot, signed with `key`.
pub async fn levels_since(
    pool: &PgPool,
    key: &SigningKey,
    branch_id: i32,
    branch_code: &str,
    cursor: &StockCursor,
    limit: u32,
) -> Result<StockPage, ApiError> {
    let mut tx = pool.begin().await?;
    // One snapshot for the horizon, the levels and the tips: in REPEATABLE
    // READ every statement sees the snapshot of the first, and every
    // transaction below that snapshot's xmin has ended and is visible in it.
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let horizon = crate::pull::horizon(&mut *tx).await?;
    horizon.check(
        &format!("stock cursor {cursor}"),
        cursor.timeline,
        cursor.txid,
    )?;
    let xmin = horizon.xmin;
    let rows: Vec<(String, String, i64, bool)> = sqlx::query_as(
        "SELECT changed_txid::text, sku, on_hand_milli, count_generation > 0 FROM stock_levels
         WHERE branch_id = $1
           AND (changed_txid, sku) > ($2::text::xid8, $3)
           AND changed_txid < $4::text::xid8
         ORDER BY changed_txid, sku
         LIMIT $5",
    )
    .bind(branch_id)
    .bind(cursor.txid.to_string())
    .bind(&cursor.sku)
    .bind(xmin.to_string())
    .bind(i64::from(limit) + 1)
    .fetch_all(&mut *tx)
    .await?;
    let tips: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT device_id, seq FROM device_heads WHERE branch_id = $1 ORDER BY device_id",
    )
    .bind(branch_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;

    let more = rows.len() > limit as usize;
    let mut next = StockCursor {
        timeline: Some(horizon.timeline),
        ..cursor.clone()
    };
    let mut levels = Vec::with_capacity(rows.len().min(limit as usize));
    for (txid, sku, on_hand_milli, tracked) in rows.into_iter().take(limit as usize) {
        next = StockCursor {
            timeline: Some(horizon.timeline),
            txid: txid
                .parse()
                .map_err(|_| ApiError::Internal(format!("txid {txid:?} is not a number")))?,
            sku: sku.clone(),
        };
        // A level beyond ±(2^53 − 1) has no canonical form and could not be
        // signed: leave it out rather than fail every page after it.
        if !(-sentra_protocol::MAX_SAFE_INTEGER..=sentra_protocol::MAX_SAFE_INTEGER)
            .contains(&on_hand_milli)
        {
            tracing::error!(%sku, on_hand_milli, "stock level left out: beyond ±(2^53 − 1)");
            continue;
        }
        levels.push(StockLevel {
            sku,
            on_hand_milli,
            tracked,
        });
    }
    let mut page = StockPage {
        branch: branch_code.to_owned(),
        levels,
        device_tips: tips
            .into_iter()
            .map(|(device_id, seq)| DeviceTip {
                device_id,
                // A chain tip is never negative (seq starts at 1).
                seq: u64::try_from(seq).unwrap_or(0),
            })
            .collect(),
        next_cursor: next.to_string(),
        more,
        signature: String::new(),
    };
    sentra_protocol::master::sign_stock_page(&mut page, key)
        .map_err(|e| ApiError::Internal(format!("cannot sign the stock page: {e}")))?;
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        for c in [
            StockCursor {
                timeline: None,
                txid: 0,
                sku: String::new(),
            },
            StockCursor {
                timeline: None,
                txid: 812,
                sku: "TEH.1 botol".into(),
            },
            StockCursor {
                timeline: Some(3),
                txid: 812,
                sku: String::new(),
            },
            StockCursor {
                timeline: Some(u32::MAX),
                txid: u64::MAX,
                sku: "Ä".into(),
            },
        ] {
            assert_eq!(StockCursor::parse(&c.to_string()).expect("own cursor"), c);
        }
    }

    #[test]
    fn foreign_cursors_are_malformed() {
        for bad in [
            "x",
            "s1",
            "s1.",
            "s2.1",
            "s2.01.1",
            "s2.1.1.61.62",
            "s3.1.1",
            "s1.01",
            "s1.1.",
            "s1.1.ZZ",
            "s1.1.4A",
            "s1.1.61.62",
            "v1.1.1",
            "s1.-1",
            "s1.1.ff",
        ] {
            let err = StockCursor::parse(bad).expect_err(bad);
            assert_eq!(err.code(), "malformed_request", "{bad}");
        }
    }

    /// docs/sync-protocol.md, "Stock levels", states these.
    #[test]
    fn the_protocol_document_states_the_limits_and_the_tag() {
        let doc = include_str!("../../docs/sync-protocol.md");
        for rule in [
            format!("`1` to `{MAX_STOCK_LIMIT}` (`MAX_STOCK_LIMIT`)"),
            format!("absent or empty: `{DEFAULT_STOCK_LIMIT}`"),
            "ASCII tag `sentra.stock`".to_owned(),
            "`s2.<timeline>.<txid>` or\n  `s2.<timeline>.<txid>.<sku as lowercase hex>`".to_owned(),
        ] {
            assert!(doc.contains(&rule), "the document says {rule:?}");
        }
        assert_eq!(sentra_protocol::master::STOCK_DOMAIN_TAG, b"sentra.stock");
        let c = StockCursor {
            timeline: Some(2),
            txid: 7,
            sku: "AB".into(),
        };
        assert_eq!(c.to_string(), "s2.2.7.4142");
    }

    #[test]
    fn limits() {
        assert_eq!(parse_limit(None).expect("default"), DEFAULT_STOCK_LIMIT);
        assert_eq!(parse_limit(Some("5000")).expect("max"), MAX_STOCK_LIMIT);
        for bad in ["0", "5001", "-1", "x", "010"] {
            assert!(parse_limit(Some(bad)).is_err(), "{bad}");
        }
    }
}
