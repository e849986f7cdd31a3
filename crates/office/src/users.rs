//! `sentra-sync office-user add EMAIL --role R [--branch CODE]...`: office
//! users are made from the admin CLI (the password read from stdin, never
//! argv) until part 2 of the office pages manages them.

use anyhow::{Context, bail};
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::{Role, hash_password};

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Adds (or, for an existing email, replaces the role, branches and
/// password of) an office user. Managers need at least one branch; the
/// other roles see every branch and take none.
pub async fn add(
    pool: &PgPool,
    email: &str,
    role: &str,
    branches: &[String],
    password: &str,
) -> anyhow::Result<Uuid> {
    let email = email.trim().to_lowercase();
    if !(3..=254).contains(&email.len())
        || !email.contains('@')
        || email.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        bail!("{email:?} is not an email address");
    }
    let Some(role) = Role::parse(role) else {
        bail!("role must be admin, finance, manager or auditor, not {role:?}");
    };
    if role == Role::Manager && branches.is_empty() {
        bail!("a manager sees only the branches listed for them: give --branch CODE");
    }
    if role != Role::Manager && !branches.is_empty() {
        bail!(
            "{} sees every branch; --branch is for managers only",
            role.as_str()
        );
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        bail!("the password must be at least {MIN_PASSWORD_CHARS} characters");
    }
    let hash = hash_password(password)?;
    let mut tx = pool.begin().await?;
    let mut ids = Vec::new();
    for code in branches {
        let id: Option<i32> = sqlx::query_scalar("SELECT branch_id FROM branches WHERE code = $1")
            .bind(code)
            .fetch_optional(&mut *tx)
            .await?;
        ids.push(id.with_context(|| format!("no branch {code}"))?);
    }
    let user: Uuid = sqlx::query_scalar(
        "INSERT INTO office_users (user_id, email, role, password_hash)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (email) DO UPDATE SET role = EXCLUDED.role,
             password_hash = EXCLUDED.password_hash, active = true
         RETURNING user_id",
    )
    .bind(Uuid::now_v7())
    .bind(&email)
    .bind(role.as_str())
    .bind(&hash)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM office_user_branches WHERE user_id = $1")
        .bind(user)
        .execute(&mut *tx)
        .await?;
    for id in ids {
        sqlx::query("INSERT INTO office_user_branches (user_id, branch_id) VALUES ($1, $2)")
            .bind(user)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    // Sessions of the old role end with it.
    sqlx::query(
        "UPDATE office_sessions SET ended_at = now() WHERE user_id = $1 AND ended_at IS NULL",
    )
    .bind(user)
    .execute(&mut *tx)
    .await?;
    crate::audit::append(
        &mut *tx,
        &crate::audit::Record {
            action: "office_user_set".into(),
            target: Some(email.clone()),
            new_value: Some(serde_json::json!({"role": role.as_str(), "branches": branches})),
            actor_email: Some("cli".into()),
            ..Default::default()
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    tx.commit().await?;
    Ok(user)
}
