//! What a page answers when it cannot: a status and a short page that says
//! why, never a panic or a stack trace.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

#[derive(Debug, thiserror::Error)]
pub enum OfficeError {
    /// No session (or an expired one): GET pages send the browser to sign-in.
    #[error("sign in first")]
    SignIn { next: String },
    /// No session on a state-changing request.
    #[error("sign in first")]
    Unauthorized,
    /// Signed in, but not allowed (role, or a state-changing request without
    /// a valid CSRF token).
    #[error("{0}")]
    Forbidden(&'static str),
    /// A branch asked for by name that the caller may not see (reports).
    #[error("you may not see branch {0}")]
    NotYourBranch(String),
    /// Not there — or not in the caller's branches, which looks the same.
    #[error("not found")]
    NotFound,
    /// A filter or form field that does not parse.
    #[error("{0}")]
    BadInput(String),
    #[error("too many failed sign-ins; try again later")]
    Throttled,
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("{0}")]
    Internal(String),
}

pub type Result<T> = std::result::Result<T, OfficeError>;

impl IntoResponse for OfficeError {
    fn into_response(self) -> Response {
        let (status, msg) = match &self {
            OfficeError::SignIn { next } => {
                return Redirect::to(&format!(
                    "/office/signin?next={}",
                    crate::ui::url_encode(next)
                ))
                .into_response();
            }
            OfficeError::Unauthorized => (StatusCode::UNAUTHORIZED, "Sign in first.".to_owned()),
            OfficeError::Forbidden(m) => (StatusCode::FORBIDDEN, (*m).to_owned()),
            OfficeError::NotYourBranch(code) => (
                StatusCode::FORBIDDEN,
                format!("You may not report on branch {code}: it is not one of your branches."),
            ),
            OfficeError::NotFound => (StatusCode::NOT_FOUND, "Not found".to_owned()),
            OfficeError::BadInput(m) => (StatusCode::BAD_REQUEST, m.clone()),
            OfficeError::Throttled => (StatusCode::TOO_MANY_REQUESTS, self.to_string()),
            OfficeError::Db(e) => {
                tracing::error!(error = %e, "office: database error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The database could not answer; try again.".to_owned(),
                )
            }
            OfficeError::Internal(e) => {
                tracing::error!(error = %e, "office: internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong; try again.".to_owned(),
                )
            }
        };
        (status, crate::ui::error_page(status, &msg)).into_response()
    }
}
