//! The PostgreSQL pool, the migrations in `migrations/cloud`, and branch
//! partitions.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};

/// The cloud migrations, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/cloud");

/// Opens a pool of `max` connections to `url`.
pub async fn connect(url: &str, max: u32) -> Result<PgPool, sqlx::Error> {
    let opts: PgConnectOptions = url.parse()?;
    PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(opts)
        .await
}

/// Applies every pending migration (idempotent).
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

/// Creates the branch's partition of every ledger table (idempotent).
pub async fn ensure_branch_partitions(
    tx: &mut Transaction<'_, Postgres>,
    branch_id: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT sentra_ensure_branch_partitions($1)")
        .bind(branch_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A deadlock or a serialisation failure: the transaction was ended by
/// PostgreSQL and may succeed if run again.
pub fn is_transient(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("40001") | Some("40P01")))
}

/// The ledger (partitioned) tables, by name.
pub async fn ledger_tables(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_partitioned_table p
         JOIN pg_class c ON c.oid = p.partrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = current_schema() ORDER BY 1",
    )
    .fetch_all(pool)
    .await
}
