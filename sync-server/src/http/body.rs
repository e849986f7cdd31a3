//! A JSON body extractor whose refusals are `ApiError`s (so a client gets the
//! documented error body, not axum's plain text).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use sentra_protocol::wire::MAX_BODY_BYTES;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::BodyTooLarge {
                    limit: MAX_BODY_BYTES,
                }
            } else {
                ApiError::Malformed(e.body_text())
            }
        })?;
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
            ApiError::Malformed(format!("body is not valid JSON for this endpoint: {e}"))
        })
    }
}
