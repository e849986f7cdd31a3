//! Serving HTTP with limits, so slow or idle clients cannot exhaust a server
//! (`serve` or `relay`). HTTP/1.1 only: what terminals, relays and reverse
//! proxies speak to it.
//!
//! * **Connections** are capped ([`Limits::max_connections`]): past the cap
//!   the server stops accepting until one closes (the rest wait in the
//!   kernel's backlog), so a flood cannot exhaust file descriptors.
//! * **Header read timeout** ([`Limits::header_read_timeout`]): a client that
//!   does not send a whole request head in time — connected and silent, or
//!   idle between keep-alive requests — is disconnected.
//! * **Requests in flight** are capped ([`Limits::max_in_flight`]): past it a
//!   request is answered at once with `429 busy` and `Retry-After: 1`
//!   (retryable) rather than queued behind the others.
//! * **Pushes** reach the database at most [`Limits::max_concurrent_pushes`]
//!   at a time; the next [`Limits::max_queued_pushes`] wait their turn in
//!   order (while their expected wait stays under a quarter of the request
//!   timeout), and one more is answered `429 busy` at once, told in
//!   `Retry-After` how long the queue ahead takes to drain (2
//!   to 60 s) — back-pressure a client can act on, instead of a connection
//!   pool timing out under a thousand tills reconnecting together.
//! * **Request timeout** ([`Limits::request_timeout`]): a request still
//!   running after it is answered `503 timeout` (retryable; a push cut off
//!   this way rolls back whole).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::IntoResponse;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// The limits of one listening server.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub max_in_flight: usize,
    pub request_timeout: Duration,
    pub max_concurrent_pushes: usize,
    pub max_queued_pushes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 4096,
            header_read_timeout: Duration::from_secs(10),
            max_in_flight: 512,
            // Above the longest legitimate request: a relay's head waits up
            // to 10 s, a push of 1,000 entries takes well under that.
            request_timeout: Duration::from_secs(60),
            // Below the default pool (16), so pulls and heads still get a
            // connection while pushes queue.
            max_concurrent_pushes: 12,
            max_queued_pushes: 256,
        }
    }
}

/// `Retry-After` of a request refused because too many are in flight.
pub const RETRY_AFTER_IN_FLIGHT_SECS: u64 = 1;
/// The least and the most `Retry-After` a push refused for a full queue is
/// told; in between, how long the queue ahead of it takes to drain.
pub const RETRY_AFTER_PUSH_QUEUE_SECS: (u64, u64) = (2, 60);

/// Admission of pushes to the database: a few at a time, a bounded queue
/// in order behind them, and a clear refusal past it.
struct PushGate {
    running: Semaphore,
    concurrent: usize,
    queued: std::sync::atomic::AtomicUsize,
    max_queued: usize,
    /// The longest a push is let wait for its turn: a quarter of the
    /// request timeout, so a queued push still has time to run.
    max_wait: Duration,
    /// Recent time a push held its turn, in microseconds (moving average).
    turn_micros: std::sync::atomic::AtomicU64,
}

impl PushGate {
    /// A turn to run, after waiting in the queue; `Busy` when the queue is
    /// full, with the time the queue ahead takes to drain.
    async fn enter(&self) -> Result<Turn<'_>, ApiError> {
        use std::sync::atomic::Ordering;
        if let Ok(p) = self.running.try_acquire() {
            return Ok(self.turn(p));
        }
        let ahead = self.queued.fetch_add(1, Ordering::AcqRel);
        if ahead >= self.max_queued || self.wait_for(ahead) > self.max_wait {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            return Err(ApiError::Busy(self.retry_after_secs()));
        }
        let permit = self.running.acquire().await;
        self.queued.fetch_sub(1, Ordering::AcqRel);
        permit
            .map(|p| self.turn(p))
            .map_err(|_| ApiError::Unavailable)
    }

    fn turn<'a>(&'a self, permit: tokio::sync::SemaphorePermit<'a>) -> Turn<'a> {
        Turn {
            gate: self,
            _permit: permit,
            began: std::time::Instant::now(),
        }
    }

    /// How long a push behind `ahead` others waits for its turn: their
    /// number times the recent time of a turn, shared by the turns running
    /// at once.
    fn wait_for(&self, ahead: usize) -> Duration {
        use std::sync::atomic::Ordering;
        let turn = self.turn_micros.load(Ordering::Relaxed) as f64 / 1e6;
        Duration::from_secs_f64(ahead as f64 * turn / self.concurrent.max(1) as f64)
    }

    /// When a push sent again would find room: the queue's wait now, less
    /// what it may wait in the queue.
    fn retry_after_secs(&self) -> u64 {
        use std::sync::atomic::Ordering;
        let wait = self.wait_for(self.queued.load(Ordering::Relaxed));
        let (least, most) = RETRY_AFTER_PUSH_QUEUE_SECS;
        (wait.saturating_sub(self.max_wait).as_secs_f64().ceil() as u64).clamp(least, most)
    }
}

/// A push's turn at the database; ending it records how long it took.
struct Turn<'a> {
    gate: &'a PushGate,
    _permit: tokio::sync::SemaphorePermit<'a>,
    began: std::time::Instant,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        use std::sync::atomic::Ordering;
        let took = u64::try_from(self.began.elapsed().as_micros()).unwrap_or(u64::MAX);
        // A moving average over about the last eight turns.
        let _ = self
            .gate
            .turn_micros
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |avg| {
                Some(if avg == 0 { took } else { (avg * 7 + took) / 8 })
            });
    }
}

/// Adds the in-flight cap, the push gate and the request timeout to a
/// router.
pub fn limit_requests(router: Router, limits: Limits) -> Router {
    let permits = Arc::new(Semaphore::new(limits.max_in_flight.max(1)));
    let pushes = Arc::new(PushGate {
        running: Semaphore::new(limits.max_concurrent_pushes.max(1)),
        concurrent: limits.max_concurrent_pushes.max(1),
        queued: std::sync::atomic::AtomicUsize::new(0),
        max_queued: limits.max_queued_pushes,
        max_wait: limits.request_timeout / 4,
        turn_micros: std::sync::atomic::AtomicU64::new(0),
    });
    let timeout = limits.request_timeout;
    router.layer(axum::middleware::from_fn(
        move |req: Request, next: Next| {
            let permits = permits.clone();
            let pushes = pushes.clone();
            async move {
                let Ok(_permit) = permits.try_acquire() else {
                    return refuse_after_reading(req, ApiError::Busy(RETRY_AFTER_IN_FLIGHT_SECS))
                        .await;
                };
                let is_push = req.uri().path() == "/v1/push";
                let work = async {
                    let _turn = if is_push {
                        match pushes.enter().await {
                            Ok(p) => Some(p),
                            Err(e) => return refuse_after_reading(req, e).await,
                        }
                    } else {
                        None
                    };
                    next.run(req).await
                };
                match tokio::time::timeout(timeout, work).await {
                    Ok(r) => r,
                    Err(_) => {
                        tracing::warn!(?timeout, "request timed out");
                        ApiError::Timeout(timeout).into_response()
                    }
                }
            }
        },
    ))
}

/// Answers `refusal` once the request's body has been read (at most
/// `MAX_BODY_BYTES`, within 30 s). Answering before the body is
/// in would make the server close the connection on a client still
/// sending, which then sees a reset instead of the `429` and its
/// `Retry-After`.
async fn refuse_after_reading(req: Request, refusal: ApiError) -> axum::response::Response {
    let read = axum::body::to_bytes(req.into_body(), sentra_protocol::wire::MAX_BODY_BYTES);
    match tokio::time::timeout(Duration::from_secs(30), read).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "refusing a request whose body could not be read"),
        Err(_) => tracing::warn!("refusing a request whose body did not come within 30 s"),
    }
    refusal.into_response()
}

/// Raises this process's open-file limit to its hard limit, so the
/// connection cap, not the OS default (often 1,024), is what binds.
pub fn raise_fd_limit() {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, getrlimit, setrlimit};
        let mut l = getrlimit(Resource::Nofile);
        let raise = match (l.current, l.maximum) {
            (Some(c), Some(m)) => c < m,
            (Some(_), None) => true,
            _ => false,
        };
        if raise {
            l.current = l.maximum;
            let _ = setrlimit(Resource::Nofile, l);
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets the
/// connections finish their requests (at most `grace`).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send,
    grace: Duration,
) -> std::io::Result<()> {
    let connections = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    // HTTP/1.1 only (every client and reverse proxy of ours speaks it):
    // no protocol sniffing, whose state ignored graceful shutdown and held
    // a stop for a whole header timeout.
    let mut builder = auto::Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = connections.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors and the like: pause, never spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        // The peer address, for handlers that log or throttle by it.
        let service = TowerToHyperService::new(tower::ServiceExt::map_request(
            router.clone(),
            move |mut req: axum::http::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                req
            },
        ));
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let first_byte = limits.header_read_timeout;
        tokio::spawn(async move {
            // hyper's header timer starts only once it has read enough to
            // tell HTTP/1 from HTTP/2: a client that connects and sends
            // nothing is timed out here.
            let mut probe = [0u8; 1];
            if !matches!(
                tokio::time::timeout(first_byte, stream.peek(&mut probe)).await,
                Ok(Ok(n)) if n > 0
            ) {
                drop(permit);
                return;
            }
            let conn = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .into_owned();
            let _ = watcher.watch(conn).await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(grace, graceful.shutdown()).await;
    Ok(())
}
