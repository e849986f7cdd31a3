//! Office users' passwords, sign-in (throttled per account and per
//! address), sessions (random token in an `HttpOnly`, `SameSite=Strict`
//! cookie; only its SHA-256 kept; idle and absolute expiry; sign-out ends
//! it server-side) and CSRF tokens on every state-changing request.

use std::net::SocketAddr;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::audit;
use crate::error::{OfficeError, Result};
use crate::form::Form;
use crate::ui::{self, Lang};
use crate::{BranchRef, Office};

/// The session cookie.
pub const SESSION_COOKIE: &str = "sentra_office";
/// The sign-in form's CSRF cookie (double submit: there is no session yet).
pub const SIGNIN_COOKIE: &str = "sentra_office_signin";

/// What an office user may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Everything.
    Admin,
    /// Every branch; decides conflicts.
    Finance,
    /// Only the branches listed for them: reads, and runs them (branch
    /// prices, settings, devices, cashiers).
    Manager,
    /// Every branch and the audit log; reads only.
    Auditor,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "finance" => Some(Role::Finance),
            "manager" => Some(Role::Manager),
            "auditor" => Some(Role::Auditor),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Finance => "finance",
            Role::Manager => "manager",
            Role::Auditor => "auditor",
        }
    }

    pub fn label(self, l: Lang) -> &'static str {
        match self {
            Role::Admin => l.t("admin", "admin"),
            Role::Finance => l.t("keuangan", "finance"),
            Role::Manager => l.t("manajer cabang", "branch manager"),
            Role::Auditor => l.t("auditor", "auditor"),
        }
    }

    pub fn all_branches(self) -> bool {
        self != Role::Manager
    }

    pub fn sees_audit_log(self) -> bool {
        matches!(self, Role::Admin | Role::Auditor)
    }

    pub fn decides_conflicts(self) -> bool {
        matches!(self, Role::Admin | Role::Finance)
    }

    /// Products, chain-wide prices, catalog imports, tax classes: the
    /// chain's master data.
    pub fn manages_catalog(self) -> bool {
        self == Role::Admin
    }

    /// Branch prices, settings, devices and cashiers of the caller's
    /// branches.
    pub fn manages_branches(self) -> bool {
        matches!(self, Role::Admin | Role::Manager)
    }

    /// Office users and their roles.
    pub fn manages_office_users(self) -> bool {
        self == Role::Admin
    }
}

/// The Argon2id PHC string of `password`, with a fresh random salt.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?
        .to_string())
}

fn password_matches(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash no password matches, checked when the email is unknown so that a
/// wrong email costs the same time as a wrong password.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2VudHJhLWR1bW15LXNhbHQ$3m8c0o0a8C0B3t1T9a4t5w3wJ0fJ3R8oK1o7hY8Vz2E";

/// A random token, hex.
pub fn random_token() -> Result<String> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| OfficeError::Internal(format!("no randomness: {e}")))?;
    Ok(hex::encode(b))
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Equal strings, compared in time independent of where they differ.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && !a.is_empty()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn set_cookie(office: &Office, name: &str, value: &str, max_age_secs: u64) -> HeaderValue {
    let secure = if office.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/office; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

/// Where the request came from: the peer address, or the first
/// `X-Forwarded-For` hop when the server is configured to sit behind a proxy.
pub fn client_address(office: &Office, parts: &Parts) -> Option<String> {
    if office.config.trust_forwarded_for
        && let Some(xff) = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
        && let Some(first) = xff.split(',').next()
    {
        let first = first.trim();
        if first.parse::<std::net::IpAddr>().is_ok() {
            return Some(first.to_owned());
        }
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
}

/// The request's URI before `/office` was stripped by nesting.
pub fn original_uri(parts: &Parts) -> axum::http::Uri {
    parts
        .extensions
        .get::<axum::extract::OriginalUri>()
        .map_or_else(|| parts.uri.clone(), |o| o.0.clone())
}

/// A signed-in office user, for one request.
#[derive(Clone, Debug)]
pub struct Session {
    pub user_id: Uuid,
    pub email: String,
    pub role: Role,
    /// The branches this user may see, by code.
    pub branches: Vec<BranchRef>,
    pub csrf: String,
    pub lang: Lang,
    pub address: Option<String>,
    token_hash: Vec<u8>,
}

impl Session {
    /// Refuses a state-changing request whose form lacks the session's token.
    pub fn check_csrf(&self, form: &Form) -> Result<()> {
        if same_token(form.get("csrf").unwrap_or(""), &self.csrf) {
            Ok(())
        } else {
            Err(OfficeError::Forbidden(
                "This form has expired or did not come from this site (CSRF token missing or wrong). Reload the page and try again.",
            ))
        }
    }

    pub fn branch(&self, code: &str) -> Option<&BranchRef> {
        self.branches.iter().find(|b| b.code == code)
    }
}

/// session user, email, role, csrf, lang.
type SessionRow = (Uuid, String, String, String, String);

impl FromRequestParts<Office> for Session {
    type Rejection = OfficeError;

    async fn from_request_parts(parts: &mut Parts, office: &Office) -> Result<Session> {
        let refuse = || {
            if parts.method == Method::GET || parts.method == Method::HEAD {
                OfficeError::SignIn {
                    next: original_uri(parts)
                        .path_and_query()
                        .map_or("/office".to_owned(), |p| p.to_string()),
                }
            } else {
                OfficeError::Unauthorized
            }
        };
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(refuse());
        };
        let hash = token_hash(&token);
        let row: Option<SessionRow> = sqlx::query_as(
            "UPDATE office_sessions s SET last_seen_at = now()
             FROM office_users u
             WHERE s.token_hash = $1 AND u.user_id = s.user_id AND u.active
               AND s.ended_at IS NULL AND s.expires_at > now()
               AND s.last_seen_at > now() - make_interval(secs => $2)
             RETURNING s.user_id, u.email, u.role, s.csrf_token, s.lang",
        )
        .bind(&hash)
        .bind(office.config.idle_timeout.as_secs_f64())
        .fetch_optional(&office.pool)
        .await?;
        let Some((user_id, email, role, csrf, lang)) = row else {
            return Err(refuse());
        };
        let role = Role::parse(&role).ok_or_else(refuse)?;
        let branches = user_branches(&office.pool, user_id, role).await?;
        Ok(Session {
            user_id,
            email,
            role,
            branches,
            csrf,
            lang: Lang::parse(&lang),
            address: client_address(office, parts),
            token_hash: hash,
        })
    }
}

/// The branches `user` may see: all for every role but manager.
pub async fn user_branches(
    pool: &sqlx::PgPool,
    user: Uuid,
    role: Role,
) -> std::result::Result<Vec<BranchRef>, sqlx::Error> {
    let rows: Vec<(i32, String, String, String)> = if role.all_branches() {
        sqlx::query_as("SELECT branch_id, code, name, timezone FROM branches ORDER BY code")
            .fetch_all(pool)
            .await?
    } else {
        sqlx::query_as(
            "SELECT b.branch_id, b.code, b.name, b.timezone
             FROM office_user_branches ub JOIN branches b USING (branch_id)
             WHERE ub.user_id = $1 ORDER BY b.code",
        )
        .bind(user)
        .fetch_all(pool)
        .await?
    };
    Ok(rows
        .into_iter()
        .map(|(id, code, name, timezone)| BranchRef {
            id,
            code,
            name,
            tz: ui::tz(&timezone),
        })
        .collect())
}

/// Where a sign-in may send the browser afterwards: only an office path.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with("/office")
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.contains("://") =>
        {
            n.to_owned()
        }
        _ => "/office".to_owned(),
    }
}

#[derive(serde::Deserialize)]
pub struct SigninQuery {
    next: Option<String>,
}

fn signin_page(csrf: &str, next: &str, email: &str, message: Option<&str>) -> maud::Markup {
    ui::bare(
        "Masuk / Sign in",
        html! {
            h1 { "Sentra — Kantor Pusat" }
            p.muted { "Masuk untuk melihat buku besar cabang. / Sign in to see the branch ledgers." }
            @if let Some(m) = message { p.error role="alert" { (m) } }
            form.signin method="post" action="/office/signin" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="next" value=(next);
                label { "Email" input type="email" name="email" value=(email) autocomplete="username" required autofocus; }
                label { "Kata sandi / Password" input type="password" name="password" autocomplete="current-password" required; }
                button.primary type="submit" { "Masuk / Sign in" }
            }
        },
    )
}

/// `GET /office/signin`.
pub async fn signin_form(
    State(office): State<Office>,
    Query(q): Query<SigninQuery>,
) -> Result<Response> {
    let csrf = random_token()?;
    let next = safe_next(q.next.as_deref());
    let mut resp = signin_page(&csrf, &next, "", None).into_response();
    resp.headers_mut()
        .append(SET_COOKIE, set_cookie(&office, SIGNIN_COOKIE, &csrf, 3600));
    Ok(resp)
}

/// Failed sign-ins that lock an account for the throttle window.
pub const MAX_FAILURES_PER_ACCOUNT: i64 = 10;
/// Failed sign-ins from one address (any accounts) within the window.
pub const MAX_FAILURES_PER_ADDRESS: i64 = 50;

/// `POST /office/signin`.
pub async fn signin(State(office): State<Office>, parts: Parts, form: Form) -> Result<Response> {
    let address = client_address(&office, &parts);
    let next = safe_next(form.get("next"));
    let email = form.get("email").unwrap_or("").trim().to_lowercase();
    let password = form.get("password").unwrap_or("").to_owned();
    let cookie_csrf = cookie(&parts.headers, SIGNIN_COOKIE).unwrap_or_default();
    let again = |status: StatusCode, msg: &str| -> Result<Response> {
        let csrf = random_token()?;
        let mut resp = (status, signin_page(&csrf, &next, &email, Some(msg))).into_response();
        resp.headers_mut()
            .append(SET_COOKIE, set_cookie(&office, SIGNIN_COOKIE, &csrf, 3600));
        Ok(resp)
    };
    if !same_token(form.get("csrf").unwrap_or(""), &cookie_csrf) {
        return again(
            StatusCode::FORBIDDEN,
            "Formulir kedaluwarsa; coba lagi. / The form expired (CSRF check); try again.",
        );
    }
    if email.is_empty() || email.len() > 254 || password.is_empty() || password.len() > 1024 {
        return again(
            StatusCode::BAD_REQUEST,
            "Isi email dan kata sandi. / Enter your email and password.",
        );
    }
    let window = office.config.throttle_window.as_secs_f64();
    let (by_account, by_address): (i64, i64) = sqlx::query_as(
        "SELECT
           (SELECT count(*) FROM office_signin_failures f
             WHERE f.email = $1 AND f.at > now() - make_interval(secs => $3)
               AND f.at > COALESCE((SELECT last_signin_at FROM office_users WHERE email = $1), '-infinity')),
           (SELECT count(*) FROM office_signin_failures f
             WHERE f.address = $2 AND f.at > now() - make_interval(secs => $3))",
    )
    .bind(&email)
    .bind(&address)
    .bind(window)
    .fetch_one(&office.pool)
    .await?;
    if by_account >= MAX_FAILURES_PER_ACCOUNT || by_address >= MAX_FAILURES_PER_ADDRESS {
        audit::append(
            &office.pool,
            &audit::Record::by_email(&email, address.clone(), "signin_throttled").with_new(
                serde_json::json!({"failures_account": by_account, "failures_address": by_address}),
            ),
        )
        .await?;
        return again(
            StatusCode::TOO_MANY_REQUESTS,
            "Terlalu banyak percobaan gagal; coba lagi nanti. / Too many failed sign-ins; try again later.",
        );
    }
    let user: Option<(Uuid, String, bool)> =
        sqlx::query_as("SELECT user_id, password_hash, active FROM office_users WHERE email = $1")
            .bind(&email)
            .fetch_optional(&office.pool)
            .await?;
    let phc = user.as_ref().map_or(DUMMY_HASH.to_owned(), |u| u.1.clone());
    let pw = password.clone();
    let ok = tokio::task::spawn_blocking(move || password_matches(&pw, &phc))
        .await
        .map_err(|e| OfficeError::Internal(e.to_string()))?;
    let user = match user {
        Some((id, _, true)) if ok => id,
        _ => {
            sqlx::query("INSERT INTO office_signin_failures (email, address) VALUES ($1, $2)")
                .bind(&email)
                .bind(&address)
                .execute(&office.pool)
                .await?;
            audit::append(
                &office.pool,
                &audit::Record::by_email(&email, address.clone(), "signin_failed"),
            )
            .await?;
            return again(
                StatusCode::UNAUTHORIZED,
                "Email atau kata sandi salah. / Wrong email or password.",
            );
        }
    };
    let token = random_token()?;
    let csrf = random_token()?;
    let mut tx = office.pool.begin().await?;
    sqlx::query(
        "INSERT INTO office_sessions (token_hash, user_id, csrf_token, address, expires_at)
         VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))",
    )
    .bind(token_hash(&token))
    .bind(user)
    .bind(&csrf)
    .bind(&address)
    .bind(office.config.absolute_timeout.as_secs_f64())
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE office_users SET last_signin_at = now() WHERE user_id = $1")
        .bind(user)
        .execute(&mut *tx)
        .await?;
    audit::append(
        &mut *tx,
        &audit::Record {
            actor_id: Some(user),
            ..audit::Record::by_email(&email, address, "signin")
        },
    )
    .await?;
    tx.commit().await?;
    let mut resp = Redirect::to(&next).into_response();
    let h = resp.headers_mut();
    h.append(
        SET_COOKIE,
        set_cookie(
            &office,
            SESSION_COOKIE,
            &token,
            office.config.absolute_timeout.as_secs(),
        ),
    );
    h.append(SET_COOKIE, set_cookie(&office, SIGNIN_COOKIE, "", 0));
    Ok(resp)
}

/// `POST /office/signout`: ends the session in the database, so the cookie
/// is worthless even if kept.
pub async fn signout(State(office): State<Office>, s: Session, form: Form) -> Result<Response> {
    s.check_csrf(&form)?;
    let mut tx = office.pool.begin().await?;
    sqlx::query("UPDATE office_sessions SET ended_at = now() WHERE token_hash = $1")
        .bind(&s.token_hash)
        .execute(&mut *tx)
        .await?;
    audit::append(&mut *tx, &audit::Record::by(&s, "signout")).await?;
    tx.commit().await?;
    let mut resp = Redirect::to("/office/signin").into_response();
    resp.headers_mut()
        .append(SET_COOKIE, set_cookie(&office, SESSION_COOKIE, "", 0));
    Ok(resp)
}

/// `POST /office/lang`: the session's page language.
pub async fn set_lang(State(office): State<Office>, s: Session, form: Form) -> Result<Response> {
    s.check_csrf(&form)?;
    let lang = Lang::parse(form.get("lang").unwrap_or("id"));
    sqlx::query("UPDATE office_sessions SET lang = $1 WHERE token_hash = $2")
        .bind(lang.code())
        .bind(&s.token_hash)
        .execute(&office.pool)
        .await?;
    Ok(Redirect::to(&safe_next(form.get("back"))).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_inside_the_office() {
        assert_eq!(
            safe_next(Some("/office/conflicts?kind=fork")),
            "/office/conflicts?kind=fork"
        );
        for bad in [
            "https://evil.example/",
            "//evil.example",
            "/other",
            "/office\\..",
            "/office@x://y",
        ] {
            assert_eq!(safe_next(Some(bad)), "/office", "{bad}");
        }
        assert_eq!(safe_next(None), "/office");
    }

    #[test]
    fn tokens_compare_only_when_equal_and_present() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("", ""));
        assert!(!same_token("abc", "abcd"));
    }

    #[test]
    fn the_dummy_hash_matches_nothing_and_real_hashes_verify() {
        assert!(!password_matches("", DUMMY_HASH));
        assert!(!password_matches("password", DUMMY_HASH));
        let h = hash_password("correct horse").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(password_matches("correct horse", &h));
        assert!(!password_matches("correct horsf", &h));
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            HeaderValue::from_static("a=1; sentra_office=tok; b=2"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("tok"));
        assert_eq!(cookie(&h, "c"), None);
    }
}
