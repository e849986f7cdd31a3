//! The relay's HTTP API for the branch's terminals: the same `/v1/push` and
//! `/v1/pull` bodies as the cloud, plus `/v1/head`, `/health`, `/metrics`.
//!
//! A terminal authenticates with the bearer credential the cloud gave it;
//! the relay recognises it by the credential's SHA-256 from the cloud's
//! device list, so it works while the uplink is down.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sentra_protocol::wire::{
    DeviceKind, HeadResponse, MAX_BODY_BYTES, MAX_HEAD_WAIT_MS, MAX_PULL_LIMIT, PROTOCOL_HEADER,
    PROTOCOL_VERSION, PullResponse, PushRequest, PushResponse, ReceiptResponse, StockPage,
};
use tower_http::catch_panic::CatchPanicLayer;
use uuid::Uuid;

use super::Relay;
use crate::credentials::hash_secret;
use crate::error::ApiError;
use crate::http::JsonBody;
use crate::metrics::ReasonLabel;
use crate::pull::DEFAULT_PULL_LIMIT;
use crate::receive::{Arrival, ReceiveStore, Sender, receive};

type Shared = Arc<Relay>;

/// How long a pull waits for fresh data from the cloud before serving the
/// cache as it is.
const PULL_REFRESH_WAIT: Duration = Duration::from_secs(2);

pub fn router(relay: Shared) -> Router {
    let v1 = Router::new()
        .route("/push", post(push))
        .route("/head", get(head))
        .route("/pull", get(pull))
        .route("/receipt", get(receipt))
        .route("/stock", get(stock))
        .layer(middleware::from_fn(crate::http::require_protocol));
    Router::new()
        .nest("/v1", v1)
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .layer(middleware::from_fn(stamp_protocol))
        .layer(CatchPanicLayer::custom(crate::http::panic_response))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(relay)
}

async fn stamp_protocol(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    resp.headers_mut()
        .insert(PROTOCOL_HEADER, HeaderValue::from(PROTOCOL_VERSION));
    resp
}

/// A terminal (or other device) of the relay's branch.
pub struct Caller {
    pub device_id: Uuid,
    pub kind: DeviceKind,
}

impl FromRequestParts<Shared> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, relay: &Shared) -> Result<Self, ApiError> {
        let hash = hash_secret(crate::http::bearer_token(parts)?);
        let mut found = relay.store.device_by_credential(hash).await?;
        if found.is_none() {
            // A terminal enrolled since the last refresh: ask the cloud.
            let _ = relay.refresh_devices_for(hash).await;
            found = relay.store.device_by_credential(hash).await?;
        }
        let d = found.ok_or_else(|| ApiError::UnknownToRelay {
            branch: relay.branch.clone(),
        })?;
        if d.revoked {
            return Err(ApiError::DeviceRevoked(
                "a date recorded in the cloud (see `sentra-sync device list`)".into(),
            ));
        }
        Ok(Caller {
            device_id: d.device_id,
            kind: d.kind,
        })
    }
}

#[derive(serde::Deserialize)]
pub struct ReceiptQuery {
    pub no: String,
}

/// `GET /v1/receipt?no=…`: a sale of the branch with its voids and refunds,
/// as their tills signed them, for a return at another till. The relay
/// holds every till's journal, so this works with the uplink down.
async fn receipt(
    State(relay): State<Shared>,
    _caller: Caller,
    Query(q): Query<ReceiptQuery>,
) -> Result<Json<ReceiptResponse>, ApiError> {
    let no = crate::http::receipt_number(&q.no)?;
    let entries = relay.store.by_receipt(no.clone()).await?;
    crate::http::receipt_response(no, entries, &relay.branch).map(Json)
}

/// `GET /v1/stock`: the cloud's signed stock page, passed through as it
/// came (levels move with every till's sales, so the relay keeps no copy: a
/// stale one would only mislead). With the uplink down: 503, and the till
/// keeps the levels it has and adds its own sales.
async fn stock(
    State(relay): State<Shared>,
    _caller: Caller,
    query: Result<Query<PullQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<StockPage>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::Malformed(e.body_text()))?;
    let cursor = q.cursor.unwrap_or_default();
    let limit = q.limit.unwrap_or_default();
    match relay.upstream.stock(&cursor, &limit).await {
        Ok(page) => Ok(Json(page)),
        Err(super::upstream::UpstreamError::Refused {
            status: 400,
            message,
            ..
        }) => Err(ApiError::Malformed(message)),
        Err(e) => Err(ApiError::UpstreamUnavailable(e.to_string())),
    }
}

async fn push(
    State(relay): State<Shared>,
    caller: Caller,
    JsonBody(req): JsonBody<PushRequest>,
) -> Result<Json<PushResponse>, ApiError> {
    crate::http::check_batch_size(&req)?;
    let sender = Sender {
        device_id: caller.device_id,
        kind: caller.kind,
        branch_code: relay.branch.clone(),
    };
    let arrival = Arrival {
        received_ms: crate::ingest::now_ms(),
        sent_at_ms: req.sent_at_ms,
    };
    // A device this relay does not know (enrolled since the last refresh):
    // ask the cloud first, then receive the batch once, so the answer, the
    // metrics and the forwarder see everything it stores.
    let mut ids: Vec<Uuid> = req.entries.iter().map(|e| e.device_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let known = relay.store.devices(&ids).await?;
    if let Some(unknown) = ids.iter().find(|id| !known.contains_key(id)) {
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(unknown.as_bytes());
        // Unreachable cloud: the entry is refused `unknown_device`, resent later.
        let _ = relay.refresh_devices_for(key).await;
    }
    let resp = receive(&relay.store, &sender, req, arrival).await?;
    let m = &relay.metrics;
    m.received.inc_by(resp.stored);
    m.duplicates.inc_by(resp.duplicates);
    for r in &resp.refused {
        m.refused
            .get_or_create(&ReasonLabel {
                reason: r.reason.code().to_owned(),
            })
            .inc();
    }
    if resp.stored > 0 {
        m.pending.inc_by(resp.stored as i64);
        relay.new_entries.notify_one();
    }
    tracing::info!(device = %caller.device_id, stored = resp.stored, duplicates = resp.duplicates, refused = resp.refused.len(), "relay: push stored");
    Ok(Json(resp))
}

#[derive(Debug, Default, serde::Deserialize)]
struct HeadQuery {
    wait_for: Option<String>,
    wait_ms: Option<String>,
}

fn number(name: &str, text: Option<&str>) -> Result<Option<u64>, ApiError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => t
            .parse()
            .map(Some)
            .map_err(|_| ApiError::Malformed(format!("{name} must be a whole number, not {t:?}"))),
    }
}

async fn head(
    State(relay): State<Shared>,
    caller: Caller,
    query: Result<Query<HeadQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<HeadResponse>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::Malformed(e.body_text()))?;
    let wait_for = number("wait_for", q.wait_for.as_deref())?;
    let wait_ms = number("wait_ms", q.wait_ms.as_deref())?
        .unwrap_or(0)
        .min(MAX_HEAD_WAIT_MS);
    let mut changes = relay.acks_changed.subscribe();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(wait_ms);
    loop {
        let h = relay
            .store
            .heads()
            .await?
            .into_iter()
            .find(|h| h.device_id == caller.device_id);
        let (seq, cloud, parked) = h.map_or((0, 0, None), |h| {
            (h.seq, h.cloud_acked_seq, h.parked_reason)
        });
        let done = parked.is_some() || wait_for.is_none_or(|w| cloud >= w.min(seq));
        // Waiting only helps while the cloud is reachable and the relay
        // holds what is awaited.
        if done || tokio::time::Instant::now() >= deadline {
            return Ok(Json(HeadResponse {
                device_id: caller.device_id,
                acked_seq: seq,
                cloud_acked_seq: Some(cloud),
                uplink: Some(relay.uplink_state()),
                parked,
            }));
        }
        tokio::select! {
            _ = changes.changed() => {}
            _ = tokio::time::sleep_until(deadline) => {}
        }
    }
}

#[derive(Debug, Default, serde::Deserialize)]
struct PullQuery {
    cursor: Option<String>,
    limit: Option<String>,
}

/// The relay's cursors are `r1.<revision>`, a space of their own.
fn parse_cursor(text: &str) -> Result<u64, ApiError> {
    if text.is_empty() {
        return Ok(0);
    }
    text.strip_prefix("r1.")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| {
            let shown: String = text.chars().take(40).collect();
            ApiError::Malformed(format!(
                "cursor {shown:?} is not one this relay issued; pass back next_cursor \
                 unchanged, or no cursor to pull from the start"
            ))
        })
}

async fn pull(
    State(relay): State<Shared>,
    _caller: Caller,
    query: Result<Query<PullQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<PullResponse>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::Malformed(e.body_text()))?;
    let after = parse_cursor(q.cursor.as_deref().unwrap_or("").trim())?;
    let limit = match number("limit", q.limit.as_deref())? {
        None => DEFAULT_PULL_LIMIT,
        Some(n) if (1..=u64::from(MAX_PULL_LIMIT)).contains(&n) => n as u32,
        Some(n) => {
            return Err(ApiError::Malformed(format!(
                "limit must be 1 to {MAX_PULL_LIMIT}, not {n}"
            )));
        }
    };
    // Fresh data when the cloud answers quickly (so a change made in the
    // cloud reaches a terminal in one sync round); the cache otherwise.
    let _ = tokio::time::timeout(PULL_REFRESH_WAIT, relay.refresh_pull(Duration::ZERO)).await;
    let mut rows = relay.store.cached_changes(after, limit + 1).await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let last = rows.last().map_or(after, |(rev, _)| *rev);
    Ok(Json(PullResponse {
        changes: rows.into_iter().map(|(_, c)| c).collect(),
        next_cursor: format!("r1.{last}"),
        more,
    }))
}

async fn health(State(relay): State<Shared>) -> Response {
    match relay.store.heads().await {
        Ok(heads) => {
            let pending: u64 = heads
                .iter()
                .map(|h| h.seq.saturating_sub(h.cloud_acked_seq))
                .sum();
            let parked: Vec<_> = heads
                .iter()
                .filter_map(|h| {
                    h.parked_reason.as_ref().map(|r| {
                        serde_json::json!({
                            "device_id": h.device_id,
                            "reason": r,
                            "pending_entries": h.seq.saturating_sub(h.cloud_acked_seq),
                            "retry_at_ms": h.parked_until_ms,
                        })
                    })
                })
                .collect();
            Json(serde_json::json!({
                "status": "ok",
                "role": "relay",
                "branch": relay.branch,
                "uplink": relay.uplink_state(),
                "pending_entries": pending,
                "parked_devices": parked,
                "last_uplink_ok_ms": relay.last_uplink_ok_ms.load(Ordering::Relaxed),
            }))
            .into_response()
        }
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "unavailable", "error": e.to_string()})),
        )
            .into_response(),
    }
}

async fn metrics(State(relay): State<Shared>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        relay.metrics.render(),
    )
        .into_response()
}
