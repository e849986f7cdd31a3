//! Admin commands: what head office and support run against the cloud
//! database (`sentra-sync branch create`, `enroll-code`, `device`, `price`,
//! `catalog`, `user`, `ledger`). Each is a function over a pool, so tests call
//! them directly and the CLI stays a thin shell.

pub mod branch;
pub mod catalog;
pub mod devices;
pub mod enroll_code;
pub mod ledger;
pub mod prices;
pub mod users;

/// An admin command's refusal: a sentence for the person at the terminal.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

pub type Result<T> = std::result::Result<T, AdminError>;

/// The branch id of a branch code.
pub async fn branch_id(pool: &sqlx::PgPool, code: &str) -> Result<i32> {
    sqlx::query_scalar("SELECT branch_id FROM branches WHERE code = $1")
        .bind(code)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("branch {code}")))
}
