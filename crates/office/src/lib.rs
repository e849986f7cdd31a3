//! Head office in the browser, served under `/office` by `sentra-sync
//! serve`: sign-in and roles, the overview, branch ledgers, receipts with
//! their signed journal entries, the conflict queue, the audit log, and
//! reports with their CSV and XLSX exports (the PPN return among them).
//!
//! Server-rendered HTML (maud); the one script is Chart.js (bundled) plus a
//! few lines of ours. Every asset is compiled into the binary. Every query a
//! page makes runs under row-level security scoped to the caller's branches
//! (see [`scope`]).

mod audit;
pub mod auth;
pub mod catalog;
mod conflicts;
mod devices;
mod error;
mod form;
mod import;
mod ledger;
mod overview;
mod people;
mod receipts;
pub mod reports;
pub mod scope;
pub mod settings;
pub mod ui;
pub mod users;
mod verify;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Request};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono_tz::Tz;
use sqlx::PgPool;

pub use error::OfficeError;
pub use verify::{EntryCheck, check_entry};

/// Settings of the office pages.
#[derive(Clone, Debug)]
pub struct OfficeConfig {
    /// Mark cookies `Secure` (the server sits behind TLS).
    pub secure_cookies: bool,
    /// A session unused this long ends.
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in, used or not.
    pub absolute_timeout: Duration,
    /// Take the client address from `X-Forwarded-For` (behind a proxy).
    pub trust_forwarded_for: bool,
    /// Failed sign-ins are counted over this window.
    pub throttle_window: Duration,
    /// A shift's cash variance beyond this (minor units, either way) is
    /// highlighted.
    pub variance_threshold: i64,
    /// No page query runs longer than this.
    pub statement_timeout: Duration,
}

/// Defaults of `serve`'s `--office-*` flags (docs/operations.md, section 6).
pub const DEFAULT_IDLE_MINUTES: u64 = 30;
pub const DEFAULT_SESSION_HOURS: u64 = 12;
pub const DEFAULT_VARIANCE_THRESHOLD: i64 = 10_000;
/// Failed sign-ins are counted over this many minutes.
pub const THROTTLE_WINDOW_MINUTES: u64 = 15;

impl Default for OfficeConfig {
    fn default() -> Self {
        OfficeConfig {
            secure_cookies: false,
            idle_timeout: Duration::from_secs(DEFAULT_IDLE_MINUTES * 60),
            absolute_timeout: Duration::from_secs(DEFAULT_SESSION_HOURS * 3600),
            trust_forwarded_for: false,
            throttle_window: Duration::from_secs(THROTTLE_WINDOW_MINUTES * 60),
            variance_threshold: DEFAULT_VARIANCE_THRESHOLD,
            statement_timeout: Duration::from_secs(15),
        }
    }
}

/// What every office handler shares.
#[derive(Clone)]
pub struct Office {
    pub pool: PgPool,
    pub config: Arc<OfficeConfig>,
}

/// A branch the caller may see.
#[derive(Clone, Debug)]
pub struct BranchRef {
    pub id: i32,
    pub code: String,
    pub name: String,
    pub tz: Tz,
}

/// The `/office` routes, to be nested at `/office`.
pub fn router(pool: PgPool, config: OfficeConfig) -> Router {
    let office = Office {
        pool,
        config: Arc::new(config),
    };
    Router::new()
        .route("/", get(overview::page))
        .route("/signin", get(auth::signin_form).post(auth::signin))
        .route("/signout", post(auth::signout))
        .route("/lang", post(auth::set_lang))
        .route("/branches/{code}", get(ledger::page))
        .route("/receipts", get(receipts::search))
        .route("/receipts/{branch}/{entry_id}", get(receipts::receipt))
        .route(
            "/devices/{device_id}/verify",
            get(receipts::verify_chain_page),
        )
        .route("/conflicts", get(conflicts::page))
        .route("/conflicts/decide", post(conflicts::decide))
        .route("/audit", get(audit::page))
        .route("/reports", get(reports::page))
        .route("/reports/csv", get(reports::csv))
        .route("/reports/xlsx", get(reports::xlsx))
        .route("/catalog", get(catalog::list))
        .route(
            "/catalog/item/{sku}",
            get(catalog::item).post(catalog::save_product),
        )
        .route("/catalog/item/{sku}/price", post(catalog::set_price))
        .route(
            "/catalog/import",
            get(import::form)
                .post(import::upload)
                .layer(axum::extract::DefaultBodyLimit::max(import::MAX_FILE_BYTES)),
        )
        .route("/catalog/import/{id}/apply", post(import::apply))
        .route("/settings", get(settings::list))
        .route(
            "/branches/{code}/settings",
            get(settings::page).post(settings::save),
        )
        .route("/devices", get(devices::page))
        .route("/devices/enroll-code", post(devices::enroll_code))
        .route("/devices/{device_id}/revoke", post(devices::revoke))
        .route("/devices/{device_id}/readmit", post(devices::readmit))
        .route("/people", get(people::page).post(people::add))
        .route("/people/{id}/pin", post(people::reset_pin))
        .route("/people/{id}/active", post(people::set_active))
        .route("/users", get(people::users_page).post(people::add_user))
        .route("/users/{id}", post(people::save_user))
        .route("/assets/{name}", get(asset))
        .fallback(not_found)
        .layer(middleware::from_fn(security_headers))
        .with_state(office)
}

async fn not_found() -> Response {
    OfficeError::NotFound.into_response()
}

/// No framing, no sniffing, scripts and styles only from us, and pages not
/// kept in shared caches.
async fn security_headers(req: Request, next: Next) -> Response {
    let is_asset =
        req.uri().path().starts_with("/office/assets/") || req.uri().path().starts_with("/assets/");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    if !is_asset {
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

const CHART_JS: &[u8] = include_bytes!("../assets/vendor/chart.umd.min.js");
const OFFICE_JS: &[u8] = include_bytes!("../assets/office.js");
const OFFICE_CSS: &[u8] = include_bytes!("../assets/office.css");

/// The bundled assets (no CDN, nothing fetched at run time).
async fn asset(Path(name): Path<String>) -> Response {
    let (body, ty) = match name.as_str() {
        "chart.umd.min.js" => (CHART_JS, "text/javascript; charset=utf-8"),
        "office.js" => (OFFICE_JS, "text/javascript; charset=utf-8"),
        "office.css" => (OFFICE_CSS, "text/css; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "no such asset").into_response(),
    };
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static(ty)),
            (
                CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        body,
    )
        .into_response()
}
