//! The HTTP server: routes, shared state, middleware (protocol version,
//! request id, JSON access log) and graceful shutdown.

mod auth;
mod body;
mod enroll;
mod head;
pub mod listen;
mod ops;
mod push;
mod receipt;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sentra_protocol::wire::{
    MAX_BODY_BYTES, MIN_PROTOCOL_VERSION, PROTOCOL_HEADER, PROTOCOL_VERSION,
};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

pub use auth::{Caller, bearer_token};
pub use body::JsonBody;
pub use push::check_batch_size;
pub use receipt::{receipt_number, receipt_response};

use crate::config::{RulesConfig, ServeConfig};
use crate::error::ApiError;
use crate::metrics::Metrics;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub metrics: Arc<Metrics>,
    pub rules: RulesConfig,
    /// Signs every pulled change (see `sentra_protocol::master`).
    pub master_key: Arc<ed25519_dalek::SigningKey>,
}

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Request ids are UUIDv7, so they sort by time in the logs.
#[derive(Clone, Copy, Default)]
struct MakeUuidV7;

impl MakeRequestId for MakeUuidV7 {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&uuid::Uuid::now_v7().to_string())
            .ok()
            .map(RequestId::new)
    }
}

/// Refuses a `/v1` request whose `sentra-protocol` header is missing or names
/// a version this server does not speak.
pub(crate) async fn require_protocol(req: Request, next: Next) -> Response {
    let version = req
        .headers()
        .get(PROTOCOL_HEADER)
        .map(|v| v.to_str().unwrap_or("?").to_owned());
    let refusal = match version {
        None => Some(ApiError::MissingProtocolVersion {
            header: PROTOCOL_HEADER,
        }),
        Some(v) => match v.trim().parse::<u16>() {
            Ok(n) if (MIN_PROTOCOL_VERSION..=PROTOCOL_VERSION).contains(&n) => None,
            _ => Some(ApiError::UnsupportedProtocolVersion { got: v }),
        },
    };
    match refusal {
        Some(e) => e.into_response(),
        None => next.run(req).await,
    }
}

/// Stamps every response with the protocol version and counts refusals.
async fn stamp_response(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let mut resp = next.run(req).await;
    if let Some(code) = resp.extensions().get::<crate::error::ErrorCode>() {
        state.metrics.refused(code.0);
    }
    resp.headers_mut()
        .insert(PROTOCOL_HEADER, HeaderValue::from(PROTOCOL_VERSION));
    resp
}

/// A panic in a handler is a bug: answer 500 with the error body (and log
/// it) rather than dropping the connection.
pub(crate) fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "unknown panic".to_owned());
    ApiError::Internal(format!("handler panicked: {detail}")).into_response()
}

/// The full router.
pub fn router(state: AppState, office: sentra_office::OfficeConfig) -> Router {
    let office = sentra_office::router(state.pool.clone(), office);
    let v1 = Router::new()
        .route("/enroll", post(enroll::enroll))
        .route("/trust", post(enroll::trust))
        .route("/push", post(push::push))
        .route("/pull", get(crate::pull::pull))
        .route("/head", get(head::head))
        .route("/receipt", get(receipt::receipt))
        .route("/stock", get(crate::stock::stock))
        .route("/relay/devices", get(head::relay_devices))
        .layer(middleware::from_fn(require_protocol));
    Router::new()
        .nest("/v1", v1)
        .route("/health", get(ops::health))
        .route("/metrics", get(ops::metrics))
        .nest_service("/office", office)
        .layer(middleware::from_fn_with_state(state.clone(), stamp_response))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                let id = req
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
                // A relay's forward carries its trace: continue it.
                crate::telemetry::continue_from(&span, req.headers());
                span
            }),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeUuidV7))
        .with_state(state)
}

/// A running server: its address, and a handle to stop it.
pub struct Running {
    pub addr: std::net::SocketAddr,
    shutdown: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops accepting, lets in-flight requests finish, and waits.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(true);
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(e)),
        }
    }
}

/// Migrates, binds and starts serving in the background; the sweep of parked
/// orphans runs alongside. Used by `sentra-sync serve` and by tests.
pub async fn start(config: &ServeConfig) -> anyhow::Result<Running> {
    let pool = crate::db::connect(&config.database_url, config.max_connections).await?;
    crate::db::migrate(&pool).await?;
    let master_key = Arc::new(crate::master_key::load_or_create(&pool).await?);
    let state = AppState {
        pool,
        metrics: Arc::new(Metrics::new()),
        rules: config.rules.clone(),
        master_key,
    };
    listen::raise_fd_limit();
    let listener = TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let (tx, mut rx) = tokio::sync::watch::channel(false);
    let sweeper = crate::ingest::orphans::spawn_sweeper(
        state.pool.clone(),
        state.metrics.clone(),
        state.rules.orphan_grace,
        config.sweep_interval,
        tx.subscribe(),
    );
    let folder = crate::ingest::summaries::spawn_folder(
        state.pool.clone(),
        config.fold_interval,
        tx.subscribe(),
    );
    let limits = config.limits;
    let app = listen::limit_requests(router(state, config.office.clone()), limits);
    let grace = config.shutdown_grace;
    let task = tokio::spawn(async move {
        let shutdown = async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        let r = listen::serve(listener, app, limits, shutdown, grace).await;
        let _ = tokio::time::timeout(grace.max(Duration::from_millis(1)), sweeper).await;
        let _ = tokio::time::timeout(grace.max(Duration::from_millis(1)), folder).await;
        r
    });
    Ok(Running {
        addr,
        shutdown: tx,
        task,
    })
}
