//! `GET /v1/pull`. (Being built.)

use axum::Json;
use axum::extract::{Query, State};
use sentra_protocol::wire::PullResponse;

use crate::error::ApiError;
use crate::http::{AppState, Caller};

#[derive(Debug, serde::Deserialize)]
pub struct PullQuery {
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

pub async fn pull(
    State(_state): State<AppState>,
    _caller: Caller,
    Query(_q): Query<PullQuery>,
) -> Result<Json<PullResponse>, ApiError> {
    Err(ApiError::Internal("pull is not built yet".into()))
}
