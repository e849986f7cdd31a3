//! `sentra-sync user add --name NAME --pin PIN [--branch CODE] [--role ROLE]`.
//!
//! Cashiers and supervisors sign in at a terminal with a PIN. Only its
//! Argon2id hash (PHC string, random 16-byte salt, the argon2 crate's default
//! cost: 19 MiB, 2 passes) is stored and pulled by the terminals, which check
//! PINs offline. A user without a branch may sign in at every branch.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, SaltString};
use sqlx::PgPool;
use uuid::Uuid;

use super::{AdminError, Result};

/// What a user may do at the terminal.
pub const ROLES: [&str; 2] = ["cashier", "supervisor"];

/// Adds a user and returns their id (UUIDv7).
pub async fn add(
    pool: &PgPool,
    branch: Option<&str>,
    name: &str,
    pin: &str,
    role: &str,
) -> Result<Uuid> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AdminError::Invalid(
            "user name must be 1 to 100 characters, without control characters".into(),
        ));
    }
    if !ROLES.contains(&role) {
        return Err(AdminError::Invalid(format!(
            "role {role:?} is unknown; use {}",
            ROLES.join(" or ")
        )));
    }
    check_pin(pin, role)?;
    let branch_id = match branch {
        None => None,
        Some(code) => Some(super::branch_id(pool, code).await?),
    };
    let pin = pin.to_owned();
    let pin_hash = tokio::task::spawn_blocking(move || hash_pin(&pin))
        .await
        .map_err(|e| AdminError::Invalid(format!("hashing the PIN failed: {e}")))??;
    let user_id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO cashiers (user_id, branch_id, name, role, pin_hash) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(user_id)
    .bind(branch_id)
    .bind(name)
    .bind(role)
    .bind(&pin_hash)
    .execute(pool)
    .await?;
    Ok(user_id)
}

/// A cashier's PIN is 4 to 8 digits, a supervisor's 6 to 8
/// (`sentra_domain::pin`, the till's rule too).
pub fn check_pin(pin: &str, role: &str) -> Result<()> {
    sentra_domain::pin::check_pin(pin, role).map_err(AdminError::Invalid)
}

/// The Argon2id PHC string of `pin`, with a fresh random salt.
pub fn hash_pin(pin: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| AdminError::Invalid(format!("no randomness: {e}")))?;
    let salt = SaltString::encode_b64(&salt)
        .map_err(|e| AdminError::Invalid(format!("cannot encode the salt: {e}")))?;
    let hash = Argon2::default()
        .hash_password(pin.as_bytes(), &salt)
        .map_err(|e| AdminError::Invalid(format!("cannot hash the PIN: {e}")))?;
    Ok(hash.to_string())
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};

    use super::*;

    #[test]
    fn pins_are_four_to_eight_digits_six_for_supervisors() {
        for ok in ["1234", "00000000", "98765"] {
            check_pin(ok, "cashier").expect(ok);
        }
        for bad in ["123", "123456789", "12a4", " 1234", "١٢٣٤", ""] {
            assert!(check_pin(bad, "cashier").is_err(), "{bad:?}");
        }
        check_pin("123456", "supervisor").expect("six digits");
        assert!(check_pin("1234", "supervisor").is_err());
    }

    #[test]
    fn hashes_are_salted_argon2id_that_verify() {
        let a = hash_pin("4321").expect("hash");
        let b = hash_pin("4321").expect("hash");
        assert!(a.starts_with("$argon2id$v=19$"), "{a}");
        assert_ne!(a, b, "salts differ");
        let parsed = PasswordHash::new(&a).expect("PHC string");
        Argon2::default()
            .verify_password(b"4321", &parsed)
            .expect("the PIN verifies");
        assert!(Argon2::default().verify_password(b"4322", &parsed).is_err());
    }
}
