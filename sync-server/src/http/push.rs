//! `POST /v1/push`.

use axum::Json;
use axum::extract::State;
use sentra_protocol::wire::{MAX_PUSH_ENTRIES, PushRequest, PushResponse};

use super::{AppState, Caller, JsonBody};
use crate::error::ApiError;
use crate::ingest::CloudStore;
use crate::receive::Sender;

/// Refuses a batch of more than `MAX_PUSH_ENTRIES` entries (cloud and relay).
pub fn check_batch_size(req: &PushRequest) -> Result<(), ApiError> {
    if req.entries.len() > MAX_PUSH_ENTRIES {
        return Err(ApiError::BatchTooLarge {
            count: req.entries.len(),
            limit: MAX_PUSH_ENTRIES,
        });
    }
    Ok(())
}

/// The store for pushes of `caller`'s branch.
fn store_for(state: &AppState, caller: &Caller) -> Result<CloudStore, ApiError> {
    let tz = caller.branch_timezone.parse().map_err(|_| {
        ApiError::Internal(format!("branch {} has a bad time zone", caller.branch_code))
    })?;
    Ok(CloudStore::new(
        state.pool.clone(),
        state.metrics.clone(),
        state.rules.skew_tolerance,
        caller.branch_id,
        tz,
    ))
}

pub async fn push(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    JsonBody(req): JsonBody<PushRequest>,
) -> Result<Json<PushResponse>, ApiError> {
    check_batch_size(&req)?;
    let started = std::time::Instant::now();
    let reported = crate::activity::reported_seqs(&req.entries);
    let span = crate::telemetry::ingest_span(&headers, req.entries.len());
    let sender = Sender {
        device_id: caller.device_id,
        kind: caller.kind,
        branch_code: caller.branch_code.clone(),
    };
    let ingest = async {
        let store = store_for(&state, &caller)?;
        crate::ingest::ingest(&store, &sender, req).await
    };
    let resp = tracing::Instrument::instrument(ingest, span).await?;
    crate::activity::record(&state.pool, &caller, &reported).await;
    state
        .metrics
        .batch_seconds
        .observe(started.elapsed().as_secs_f64());
    Ok(Json(resp))
}
