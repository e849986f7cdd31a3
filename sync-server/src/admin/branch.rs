//! `sentra-sync branch create CODE --name NAME --timezone TZ`.

use sqlx::PgPool;

use super::{AdminError, Result};

#[derive(Clone, Debug, serde::Serialize)]
pub struct Branch {
    pub branch_id: i32,
    pub code: String,
    pub name: String,
    pub timezone: String,
}

/// Creates a branch and its partition of every ledger table, in one
/// transaction.
pub async fn create(pool: &PgPool, code: &str, name: &str, timezone: &str) -> Result<Branch> {
    let valid_code = (2..=16).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if !valid_code {
        return Err(AdminError::Invalid(format!(
            "branch code {code:?} must be 2 to 16 upper-case letters or digits"
        )));
    }
    let name = name.trim();
    if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err(AdminError::Invalid(
            "branch name must be 1 to 200 bytes, without control characters".into(),
        ));
    }
    if timezone.parse::<chrono_tz::Tz>().is_err() {
        return Err(AdminError::Invalid(format!(
            "unknown time zone {timezone:?}; use an IANA name such as Asia/Jakarta"
        )));
    }
    // Making the partitions takes each ledger table's lock in turn, so a
    // reader of several of them (a report, the sweeper) can deadlock with
    // it; PostgreSQL then ends one side, and this side tries again.
    let mut attempt = 0;
    let branch_id = loop {
        attempt += 1;
        match insert(pool, code, name, timezone).await {
            Err(AdminError::Database(e)) if attempt < 5 && crate::db::is_transient(&e) => {
                tracing::info!(attempt, error = %e, "branch create retried");
            }
            other => break other?,
        }
    };
    Ok(Branch {
        branch_id,
        code: code.to_owned(),
        name: name.to_owned(),
        timezone: timezone.to_owned(),
    })
}

/// The branch row and its partitions, in one transaction: its id.
async fn insert(pool: &PgPool, code: &str, name: &str, timezone: &str) -> Result<i32> {
    let mut tx = pool.begin().await?;
    let exists: Option<i32> = sqlx::query_scalar("SELECT branch_id FROM branches WHERE code = $1")
        .bind(code)
        .fetch_optional(&mut *tx)
        .await?;
    if exists.is_some() {
        return Err(AdminError::Invalid(format!("branch {code} already exists")));
    }
    let branch_id: i32 = sqlx::query_scalar(
        "INSERT INTO branches (code, name, timezone) VALUES ($1, $2, $3) RETURNING branch_id",
    )
    .bind(code)
    .bind(name)
    .bind(timezone)
    .fetch_one(&mut *tx)
    .await?;
    crate::db::ensure_branch_partitions(&mut tx, branch_id).await?;
    tx.commit().await?;
    Ok(branch_id)
}

/// Every branch, by code.
pub async fn list(pool: &PgPool) -> Result<Vec<Branch>> {
    let rows: Vec<(i32, String, String, String)> =
        sqlx::query_as("SELECT branch_id, code, name, timezone FROM branches ORDER BY code")
            .fetch_all(pool)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(branch_id, code, name, timezone)| Branch {
            branch_id,
            code,
            name,
            timezone,
        })
        .collect())
}
