//! The one error policy of the HTTP API.
//!
//! Each refusal knows its status, its stable code and whether a retry can
//! succeed; the client sees `ErrorBody` (code, message, retryable, request
//! id). Internal detail (a database error) goes to the log with the request
//! id, never to the client.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sentra_protocol::wire::{ErrorBody, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request has no {header} header naming the protocol version")]
    MissingProtocolVersion { header: &'static str },
    #[error(
        "protocol version {got} is not supported; this server speaks {MIN_PROTOCOL_VERSION} to {PROTOCOL_VERSION}"
    )]
    UnsupportedProtocolVersion { got: String },
    #[error("malformed request: {0}")]
    Malformed(String),
    #[error("the body is larger than {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("the batch has {count} entries; at most {limit} are allowed")]
    BatchTooLarge { count: usize, limit: usize },
    #[error("no valid credential; enroll the device first")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error(
        "this relay serves branch {branch} and does not know this credential: the device is enrolled in another branch, or is not yet known here"
    )]
    UnknownToRelay { branch: String },
    #[error("this device was revoked on {0}")]
    DeviceRevoked(String),
    #[error("this enrollment code is not known")]
    EnrollCodeInvalid,
    #[error("this enrollment code expired on {0}")]
    EnrollCodeExpired(String),
    #[error("this enrollment code was already used on {0}")]
    EnrollCodeUsed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("no sale with receipt number {0:?} is held here for this branch")]
    UnknownReceipt(String),
    #[error("the database is unavailable; retry later")]
    Unavailable,
    /// Too much work queued: answered `429 busy` with `Retry-After`.
    #[error("the server is busy; retry after {0} s")]
    Busy(u64),
    /// A relay asked for something only the cloud has, and the cloud did
    /// not answer.
    #[error("the relay cannot get this from the cloud now ({0}); retry later")]
    UpstreamUnavailable(String),
    #[error("the request took longer than {0:?} and was stopped; retry later")]
    Timeout(std::time::Duration),
    #[error("internal error")]
    Internal(String),
    /// A bug that the same request would hit again (the database refused the
    /// data itself): answered 500 `internal` but not retryable, so a client
    /// stops and raises it instead of resending forever.
    #[error("internal error that would recur; a person must look at it")]
    InternalPermanent(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MissingProtocolVersion { .. }
            | ApiError::UnsupportedProtocolVersion { .. }
            | ApiError::Malformed(_) => StatusCode::BAD_REQUEST,
            ApiError::BodyTooLarge { .. } | ApiError::BatchTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ApiError::Unauthorized | ApiError::UnknownToRelay { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::DeviceRevoked(_) => StatusCode::FORBIDDEN,
            ApiError::EnrollCodeInvalid | ApiError::UnknownReceipt(_) => StatusCode::NOT_FOUND,
            ApiError::EnrollCodeExpired(_) => StatusCode::GONE,
            ApiError::EnrollCodeUsed(_) | ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Busy(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable | ApiError::Timeout(_) | ApiError::UpstreamUnavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) | ApiError::InternalPermanent(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// The stable snake_case code in `ErrorBody::error`.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::MissingProtocolVersion { .. } => "missing_protocol_version",
            ApiError::UnsupportedProtocolVersion { .. } => "unsupported_protocol_version",
            ApiError::Malformed(_) => "malformed_request",
            ApiError::BodyTooLarge { .. } => "body_too_large",
            ApiError::BatchTooLarge { .. } => "batch_too_large",
            ApiError::Unauthorized => "unauthorized",
            ApiError::UnknownToRelay { .. } => "unknown_to_relay",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::DeviceRevoked(_) => "device_revoked",
            ApiError::EnrollCodeInvalid => "enroll_code_invalid",
            ApiError::EnrollCodeExpired(_) => "enroll_code_expired",
            ApiError::EnrollCodeUsed(_) => "enroll_code_used",
            ApiError::Conflict(_) => "conflict",
            ApiError::UnknownReceipt(_) => "unknown_receipt",
            ApiError::Unavailable | ApiError::UpstreamUnavailable(_) => "unavailable",
            ApiError::Busy(_) => "busy",
            ApiError::Timeout(_) => "timeout",
            ApiError::Internal(_) | ApiError::InternalPermanent(_) => "internal",
        }
    }

    /// Whether the same request may succeed later.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            ApiError::Unavailable
                | ApiError::Busy(_)
                | ApiError::Timeout(_)
                | ApiError::Internal(_)
                | ApiError::UpstreamUnavailable(_)
        )
    }

    fn details(&self) -> BTreeMap<String, serde_json::Value> {
        let mut d = BTreeMap::new();
        match self {
            ApiError::UnsupportedProtocolVersion { .. }
            | ApiError::MissingProtocolVersion { .. } => {
                d.insert("min".into(), MIN_PROTOCOL_VERSION.into());
                d.insert("max".into(), PROTOCOL_VERSION.into());
            }
            ApiError::BatchTooLarge { limit, .. } | ApiError::BodyTooLarge { limit } => {
                d.insert("limit".into(), (*limit as u64).into());
            }
            ApiError::UnknownToRelay { branch } => {
                d.insert("branch".into(), branch.clone().into());
            }
            _ => {}
        }
        d
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.code().to_owned(),
            message: self.to_string(),
            retryable: self.retryable(),
            details: self.details(),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                tracing::warn!(error = %e, "database unavailable");
                ApiError::Unavailable
            }
            sqlx::Error::Database(db) if is_unavailable(db.code().as_deref()) => {
                tracing::warn!(error = %e, "database unavailable (failing over or restarting)");
                ApiError::Unavailable
            }
            sqlx::Error::Database(db) if is_data_refusal(db.code().as_deref()) => {
                tracing::error!(error = %e, "database refused the data");
                ApiError::InternalPermanent(e.to_string())
            }
            _ => {
                tracing::error!(error = %e, "database error");
                ApiError::Internal(e.to_string())
            }
        }
    }
}

/// SQLSTATEs of a database that cannot take the work now but will: a lost
/// connection (class 08), a server shutting down or starting up (57P01–03),
/// or a standby not yet promoted during a failover (25006, read-only
/// transaction). The request is answered `503 unavailable`, retryable.
pub fn is_unavailable(sqlstate: Option<&str>) -> bool {
    sqlstate
        .is_some_and(|c| c.starts_with("08") || matches!(c, "25006" | "57P01" | "57P02" | "57P03"))
}

/// SQLSTATE classes in which the database refuses the data itself (data
/// exception, integrity constraint, program limit): resending the same data
/// meets the same answer.
pub fn is_data_refusal(sqlstate: Option<&str>) -> bool {
    sqlstate.is_some_and(|c| c.starts_with("22") || c.starts_with("23") || c.starts_with("54"))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) | ApiError::InternalPermanent(detail) = &self {
            tracing::error!(%detail, "internal error answered with 500");
        }
        // The request id travels in the `x-request-id` response header.
        let status = self.status();
        let retry_after = match &self {
            ApiError::Busy(secs) => Some(*secs),
            _ => None,
        };
        let mut resp = (status, axum::Json(self.body())).into_response();
        if let Some(secs) = retry_after {
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(secs),
            );
        }
        resp.extensions_mut().insert(ErrorCode(self.code()));
        resp
    }
}

/// Marks an error response with its code, for the refusal metrics.
#[derive(Clone, Copy, Debug)]
pub struct ErrorCode(pub &'static str);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_failing_over_is_unavailable_not_a_refusal() {
        for code in ["08006", "08001", "25006", "57P01", "57P02", "57P03"] {
            assert!(is_unavailable(Some(code)), "{code}");
            assert!(!is_data_refusal(Some(code)), "{code}");
        }
        for code in ["23505", "22003", "42P01", "40001"] {
            assert!(!is_unavailable(Some(code)), "{code}");
        }
        assert!(!is_unavailable(None));
    }
}
