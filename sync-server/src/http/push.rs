//! `POST /v1/push`.

use axum::Json;
use axum::extract::State;
use sentra_protocol::wire::{MAX_PUSH_ENTRIES, PushRequest, PushResponse};

use super::{AppState, Caller, JsonBody};
use crate::error::ApiError;

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
    let resp =
        tracing::Instrument::instrument(crate::ingest::ingest(&state, &caller, req), span).await?;
    crate::activity::record(&state.pool, &caller, &reported).await;
    state
        .metrics
        .batch_seconds
        .observe(started.elapsed().as_secs_f64());
    Ok(Json(resp))
}
