//! `sentra-sync`: the authoritative end of the sync.
//!
//! * [`http`]: the axum server — enroll, push, pull, health, metrics.
//! * [`ingest`]: one push batch, checked entry by entry and applied in one
//!   PostgreSQL transaction with the conflict rules of `sentra-ledger`.
//! * [`pull`]: master data as changes since a cursor that never skips a
//!   change that commits late.
//! * [`admin`]: the commands head office and support run (branches,
//!   enrollment codes, devices, prices, catalog, ledger).
//! * [`db`]: the pool, migrations (`migrations/cloud`) and partitions.

pub mod activity;
pub mod admin;
pub mod binary_copy;
pub mod config;
pub mod credentials;
pub mod db;
pub mod error;
pub mod http;
pub mod ingest;
pub mod master_key;
pub mod metrics;
pub mod pull;
pub mod receive;
pub mod relay;
pub mod stock;
pub mod telemetry;

pub use config::ServeConfig;
pub use error::ApiError;
