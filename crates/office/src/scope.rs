//! Every query a page makes runs in a transaction scoped to the caller's
//! branches by PostgreSQL row-level security: `SET LOCAL ROLE sentra_office`
//! and `sentra.office_branches` set to the caller's branch ids. The policies
//! (migration `…_office.sql`) then hide every other branch's rows, whatever
//! the page's SQL says — a missing `WHERE branch_id` leaks nothing.

use chrono::NaiveDate;
use sqlx::{Postgres, Transaction};

use crate::Office;
use crate::auth::Session;
use crate::error::{OfficeError, Result};

/// A read-only transaction scoped to `s`'s branches.
pub async fn read(office: &Office, s: &Session) -> Result<Transaction<'static, Postgres>> {
    scoped(office, s, true).await
}

/// A read-write transaction scoped to `s`'s branches (conflict decisions).
pub async fn write(office: &Office, s: &Session) -> Result<Transaction<'static, Postgres>> {
    scoped(office, s, false).await
}

async fn scoped(
    office: &Office,
    s: &Session,
    read_only: bool,
) -> Result<Transaction<'static, Postgres>> {
    let ids: Vec<i32> = s.branches.iter().map(|b| b.id).collect();
    Ok(for_role(
        &office.pool,
        &ids,
        Some(s.role),
        read_only,
        office.config.statement_timeout,
    )
    .await?)
}

/// The transaction a page would open for office user `user`: their role's
/// branches, read from the database as sign-in does.
pub async fn for_user(
    pool: &sqlx::PgPool,
    user: uuid::Uuid,
    read_only: bool,
    statement_timeout: std::time::Duration,
) -> std::result::Result<Transaction<'static, Postgres>, sqlx::Error> {
    let role: String = sqlx::query_scalar("SELECT role FROM office_users WHERE user_id = $1")
        .bind(user)
        .fetch_one(pool)
        .await?;
    let role = crate::auth::Role::parse(&role).ok_or(sqlx::Error::RowNotFound)?;
    let branches = crate::auth::user_branches(pool, user, role).await?;
    let ids: Vec<i32> = branches.iter().map(|b| b.id).collect();
    for_role(pool, &ids, Some(role), read_only, statement_timeout).await
}

/// A transaction that sees only `branches` (by id) of every ledger table,
/// with no office role (so none of the chain-wide writes an admin may make).
pub async fn for_branches(
    pool: &sqlx::PgPool,
    branches: &[i32],
    read_only: bool,
    statement_timeout: std::time::Duration,
) -> std::result::Result<Transaction<'static, Postgres>, sqlx::Error> {
    for_role(pool, branches, None, read_only, statement_timeout).await
}

/// [`for_branches`] as a user of `role`: the policies on chain-wide master
/// data (products, chain prices, office users) read `sentra.office_role`.
pub async fn for_role(
    pool: &sqlx::PgPool,
    branches: &[i32],
    role: Option<crate::auth::Role>,
    read_only: bool,
    statement_timeout: std::time::Duration,
) -> std::result::Result<Transaction<'static, Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    if read_only {
        sqlx::query("SET TRANSACTION READ ONLY")
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("SET LOCAL ROLE sentra_office")
        .execute(&mut *tx)
        .await?;
    let ids = branches
        .iter()
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join(",");
    sqlx::query(
        // No JIT: the pages' queries are short, and JIT compiling them costs
        // more than it saves (150 ms to 1.4 s, docs/benchmarks.md).
        "SELECT set_config('sentra.office_branches', $1, true),
                set_config('statement_timeout', $2, true),
                set_config('jit', 'off', true),
                set_config('sentra.office_role', $3, true)",
    )
    .bind(ids)
    .bind(format!("{}", statement_timeout.as_millis()))
    .bind(role.map_or("", crate::auth::Role::as_str))
    .execute(&mut *tx)
    .await?;
    Ok(tx)
}

/// A date from a filter (`YYYY-MM-DD`).
pub fn parse_date(s: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| OfficeError::BadInput(format!("not a date (YYYY-MM-DD): {s:?}")))
}

/// An amount typed in rupiah: `14000`, `14.000`, `Rp 14.000`.
pub fn parse_rupiah(s: &str) -> Result<i64> {
    let digits: String = s
        .trim()
        .trim_start_matches("Rp")
        .chars()
        .filter(|c| !matches!(c, '.' | ' ' | '\u{a0}'))
        .collect();
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(OfficeError::BadInput(format!(
            "not an amount in rupiah: {s:?}"
        )));
    }
    digits
        .parse()
        .map_err(|_| OfficeError::BadInput(format!("not an amount in rupiah: {s:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rupiah_amounts_as_typed() {
        assert_eq!(parse_rupiah("14000").ok(), Some(14_000));
        assert_eq!(parse_rupiah("Rp 14.000").ok(), Some(14_000));
        assert_eq!(parse_rupiah("1.250.000").ok(), Some(1_250_000));
        for bad in ["", "abc", "1,5", "-3", "' OR 1=1 --", "9999999999999999"] {
            assert!(parse_rupiah(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates_as_iso() {
        assert!(parse_date("2026-12-06").is_ok());
        assert!(parse_date("06/12/2026").is_err());
        assert!(parse_date("2026-12-06'; --").is_err());
    }
}
