//! One push batch: checked entry by entry, applied in one transaction.

pub mod orphans;

use sentra_protocol::wire::{PushRequest, PushResponse};

use crate::error::ApiError;
use crate::http::{AppState, Caller};

pub async fn ingest(_state: &AppState, _caller: &Caller, _req: PushRequest) -> Result<PushResponse, ApiError> {
    Err(ApiError::Internal("ingest is being built".into()))
}
