//! `sentra-sync catalog import FILE`. (Being built.)

use std::path::Path;

use sqlx::PgPool;

use super::{AdminError, Result};

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ImportSummary {
    pub products: u64,
    pub prices: u64,
    pub stock_levels: u64,
}

pub async fn import(_pool: &PgPool, _path: &Path, _branch: Option<&str>) -> Result<ImportSummary> {
    Err(AdminError::Invalid("catalog import is not built yet".into()))
}
