//! `sentra-sync user add`. (Being built.)

use sqlx::PgPool;
use uuid::Uuid;

use super::{AdminError, Result};

pub async fn add(_pool: &PgPool, _branch: Option<&str>, _name: &str, _pin: &str, _role: &str) -> Result<Uuid> {
    Err(AdminError::Invalid("user add is not built yet".into()))
}
