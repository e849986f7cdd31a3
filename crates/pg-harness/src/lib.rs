//! A real, throwaway PostgreSQL for tests and benchmarks — no Docker.
//!
//! * [`Cluster::start`] runs `initdb` into a temporary directory and starts a
//!   server on a free port of 127.0.0.1 (trust authentication, user `postgres`).
//!   A small supervisor shell owns the server: when the process that started the
//!   cluster exits — normally, by panic, by `std::process::exit` or by SIGKILL —
//!   the supervisor stops PostgreSQL and removes the directory.
//! * [`Cluster::shared`] gives one cluster per test process, in fast mode
//!   (fsync off, directory in `/dev/shm`); [`Cluster::start`] is durable, on
//!   disk, for benchmarks.
//! * [`database_for_test`] gives each test its own fresh database, on the server
//!   named by `DATABASE_URL` when that is set (CI), else on the shared cluster.
//! * [`template_database`] builds a migrated template once per process; copies of
//!   it ([`database_for_test_from_template`]) are cheap.
//!
//! The PostgreSQL binaries are found through `SENTRA_PG_BIN`, then
//! `pg_config --bindir`, then `/usr/lib/postgresql/15/bin`. When running as
//! root, the server runs as the `postgres` user (PostgreSQL refuses root).
//!
//! Environment: `DATABASE_URL` (use that server for test databases),
//! `SENTRA_PG_BIN` (binaries), `SENTRA_PG_FAST=0` (a durable shared cluster),
//! `SENTRA_PG_TMPDIR` (where cluster directories go).

mod bench;
mod cluster;
mod database;
mod tools;

pub use bench::BenchDatabase;
pub use cluster::{Cluster, ClusterOptions};
pub use database::{
    TestDatabase, database_for_test, database_for_test_from_template, template_database,
    unique_database_name,
};
pub use tools::psql;

/// A PostgreSQL server program (`pg_archivecleanup`, `pg_ctl`, …) of the
/// installation the harness uses.
pub fn server_program(name: &str) -> Result<std::path::PathBuf, HarnessError> {
    Ok(tools::bin_dir()?.join(name))
}

/// Everything that can go wrong while providing a test database.
///
/// `Debug` prints the same text as `Display`, so a test that returns
/// `Result<(), HarnessError>` or calls `.expect()` shows the command, its
/// stderr and the server log with real line breaks.
#[derive(thiserror::Error)]
pub enum HarnessError {
    /// No directory holding `initdb`, `pg_ctl` and `postgres` was found.
    #[error("PostgreSQL binaries not found: {0}")]
    BinariesNotFound(String),

    /// A command could not be started at all.
    #[error("could not run `{command}`: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },

    /// A command ran and failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    CommandFailed {
        command: String,
        status: String,
        stderr: String,
    },

    /// The server did not become ready; `log_tail` is the end of its log.
    #[error("PostgreSQL did not start: {reason}\n--- server log (tail) ---\n{log_tail}")]
    StartFailed { reason: String, log_tail: String },

    /// A file-system operation failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    /// A database name that is not 1–63 characters of `[A-Za-z0-9_-]`.
    #[error("invalid database name {0:?}: use 1 to 63 characters of A-Z, a-z, 0-9, '_' or '-'")]
    InvalidName(String),

    /// The caller's setup of a template database failed.
    #[error("setting up template database {template:?} failed: {message}")]
    TemplateSetup { template: String, message: String },

    /// [`Cluster::shared`] failed earlier in this process; the first error is repeated.
    #[error("the shared test cluster is unavailable: {0}")]
    SharedUnavailable(String),
}

impl std::fmt::Debug for HarnessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}
