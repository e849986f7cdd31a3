//! Cashiers and supervisors as the till knows them: pulled from the cloud
//! (PIN hashes only, Argon2id) or, in trial mode, one local supervisor. PINs
//! are checked here, offline.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use super::session::SessionError;
use crate::error::{Result, TerminalError};

/// Someone who can sign in at this till.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Operator {
    pub user_id: String,
    pub name: String,
    /// `"cashier"` or `"supervisor"`.
    pub role: String,
}

impl Operator {
    pub fn is_supervisor(&self) -> bool {
        self.role == "supervisor"
    }
}

/// A PIN is 4 to 8 ASCII digits, a supervisor's 6 to 8 (the same rule as
/// the cloud's, `sentra_domain::pin`).
pub fn check_pin_format(pin: &str, role: &str) -> Result<()> {
    sentra_domain::pin::check_pin(pin, role).map_err(|e| TerminalError::invalid("PIN", e))
}

/// Active people of this till's branch, supervisors last, then by name.
pub fn list(conn: &Connection) -> Result<Vec<Operator>> {
    let mut stmt = conn.prepare_cached(
        "SELECT user_id, name, role FROM cashiers WHERE active = 1
         ORDER BY role = 'supervisor', name COLLATE NOCASE, user_id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(Operator {
            user_id: r.get(0)?,
            name: r.get(1)?,
            role: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn pin_matches(hash: &str, pin: &str) -> bool {
    // A hash the till cannot parse never matches (and never panics).
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(pin.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// The operator `user_id` if `pin` is theirs. The error does not say
/// whether the person or the PIN was wrong.
/// Wrong PINs allowed before a lock-out.
pub const FREE_ATTEMPTS: i64 = 5;
/// The first lock-out; it doubles with each further wrong PIN.
pub const FIRST_LOCKOUT_MS: i64 = 30_000;
/// The longest lock-out.
pub const MAX_LOCKOUT_MS: i64 = 15 * 60_000;
/// The lock-out key of supervisor approvals (they name no user).
pub const SUPERVISOR_KEY: &str = "supervisor";

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Refuses at once, without checking any PIN, while `key` is locked out.
fn guard(conn: &Connection, key: &str, now: i64) -> Result<()> {
    let until: Option<i64> = conn
        .query_row(
            "SELECT locked_until_ms FROM pin_attempts WHERE key = ?1",
            [key],
            |r| r.get(0),
        )
        .optional()?;
    match until {
        Some(t) if t > now => Err(SessionError::PinLocked {
            seconds: ((t - now) as u64).div_ceil(1000),
        }
        .into()),
        _ => Ok(()),
    }
}

/// Counts a PIN check of `key`: a right one clears the count; a wrong one
/// adds to it and, past [`FREE_ATTEMPTS`], locks the key out (30 s,
/// doubling, at most 15 min). Stored, so a restart does not reset it.
fn record(conn: &Connection, key: &str, ok: bool, now: i64) -> Result<()> {
    if ok {
        conn.execute("DELETE FROM pin_attempts WHERE key = ?1", [key])?;
        return Ok(());
    }
    let failures: i64 = conn.query_row(
        "INSERT INTO pin_attempts (key, failures) VALUES (?1, 1)
         ON CONFLICT (key) DO UPDATE SET failures = failures + 1
         RETURNING failures",
        [key],
        |r| r.get(0),
    )?;
    if failures >= FREE_ATTEMPTS {
        let wait = FIRST_LOCKOUT_MS
            .saturating_mul(1i64 << (failures - FREE_ATTEMPTS).min(10))
            .min(MAX_LOCKOUT_MS);
        conn.execute(
            "UPDATE pin_attempts SET locked_until_ms = ?2, locked_for_ms = ?3 WHERE key = ?1",
            rusqlite::params![key, now.saturating_add(wait), wait],
        )?;
    }
    Ok(())
}

/// [`verify`], counted against the user's lock-out.
pub fn verify_counted(conn: &Connection, user_id: &str, pin: &str) -> Result<Operator> {
    let now = now_ms();
    guard(conn, user_id, now)?;
    let result = verify(conn, user_id, pin);
    record(conn, user_id, result.is_ok(), now)?;
    result
}

/// [`verify_supervisor`], counted against the till's supervisor lock-out.
pub fn verify_supervisor_counted(conn: &Connection, pin: &str) -> Result<Operator> {
    let now = now_ms();
    guard(conn, SUPERVISOR_KEY, now)?;
    let result = verify_supervisor(conn, pin);
    record(conn, SUPERVISOR_KEY, result.is_ok(), now)?;
    result
}

pub fn verify(conn: &Connection, user_id: &str, pin: &str) -> Result<Operator> {
    let row: Option<(Operator, String)> = conn
        .query_row(
            "SELECT user_id, name, role, pin_hash FROM cashiers
             WHERE user_id = ?1 AND active = 1",
            [user_id],
            |r| {
                Ok((
                    Operator {
                        user_id: r.get(0)?,
                        name: r.get(1)?,
                        role: r.get(2)?,
                    },
                    r.get(3)?,
                ))
            },
        )
        .optional()?;
    match row {
        Some((op, hash)) if pin_matches(&hash, pin) => Ok(op),
        _ => Err(SessionError::PinRejected.into()),
    }
}

/// The supervisor whose PIN this is (supervisors are few; each hash is
/// tried).
pub fn verify_supervisor(conn: &Connection, pin: &str) -> Result<Operator> {
    let mut stmt = conn.prepare_cached(
        "SELECT user_id, name, role, pin_hash FROM cashiers
         WHERE active = 1 AND role = 'supervisor' ORDER BY user_id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            Operator {
                user_id: r.get(0)?,
                name: r.get(1)?,
                role: r.get(2)?,
            },
            r.get::<_, String>(3)?,
        ))
    })?;
    for row in rows {
        let (op, hash) = row?;
        if pin_matches(&hash, pin) {
            return Ok(op);
        }
    }
    Err(SessionError::SupervisorRejected.into())
}

/// The Argon2id PHC string of `pin` with a fresh random salt.
pub fn hash_pin(pin: &str, role: &str) -> Result<String> {
    check_pin_format(pin, role)?;
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)
        .map_err(|e| TerminalError::invalid("PIN", format!("no randomness: {e}")))?;
    let salt = SaltString::encode_b64(&salt)
        .map_err(|e| TerminalError::invalid("PIN", format!("cannot encode the salt: {e}")))?;
    let hash = Argon2::default()
        .hash_password(pin.as_bytes(), &salt)
        .map_err(|e| TerminalError::invalid("PIN", format!("cannot hash it: {e}")))?;
    Ok(hash.to_string())
}

/// Add a person known only to this till (trial mode). Enrolled tills get
/// their people from the cloud instead.
pub fn add_local(conn: &Connection, name: &str, role: &str, pin: &str) -> Result<Operator> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 40 {
        return Err(TerminalError::invalid("name", "1 to 40 characters"));
    }
    if !matches!(role, "cashier" | "supervisor") {
        return Err(TerminalError::invalid(
            "role",
            format!("{role:?} is not cashier or supervisor"),
        ));
    }
    let op = Operator {
        user_id: format!("local-{}", Uuid::now_v7()),
        name: name.to_owned(),
        role: role.to_owned(),
    };
    conn.execute(
        "INSERT INTO cashiers (user_id, branch, name, role, pin_hash, active)
         VALUES (?1, NULL, ?2, ?3, ?4, 1)",
        params![op.user_id, op.name, op.role, hash_pin(pin, role)?],
    )?;
    Ok(op)
}
