//! The branch relay (`sentra-sync relay`): the mini-PC in the shop that
//! takes the terminals' journals over the LAN, keeps them durable in its own
//! SQLCipher journal, and forwards them to the cloud when the uplink allows.
//!
//! * [`identity`]: data dir, key custody, enrollment as a relay of one branch.
//! * [`store`]: the SQLCipher journal behind [`crate::receive::ReceiveStore`],
//!   the branch's device keys, forwarding state, the pull cache.
//! * [`forward`]: sends what the cloud lacks, in order per device, in
//!   batches; records the cloud's acks; tells the uplink state.
//! * [`http`]: `/v1/push`, `/v1/head`, `/v1/pull` for terminals, `/health`,
//!   `/metrics`.
//! * [`upstream`]: the HTTP client to the cloud.

pub mod forward;
pub mod http;
pub mod identity;
pub mod metrics;
pub mod service;
pub mod store;
pub mod upstream;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use sentra_protocol::wire::{DeviceKind, EnrollRequest, MAX_PULL_LIMIT};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, Notify, watch};

use crate::error::ApiError;
use identity::KeyChoice;
use metrics::RelayMetrics;
use store::RelayStore;
use upstream::Upstream;

/// An unknown credential or device asks the cloud again after this long.
pub const UNKNOWN_RETRY: Duration = Duration::from_secs(5);
/// At most one on-demand device-list refresh this often.
pub const ON_DEMAND_GAP: Duration = Duration::from_millis(20);

/// `sentra-sync relay` options.
#[derive(Clone, Debug)]
pub struct RelayConfig {
    pub data_dir: PathBuf,
    pub upstream: String,
    pub listen: SocketAddr,
    /// Needed the first time only.
    pub enroll_code: Option<String>,
    pub name: String,
    pub keys: KeyChoice,
    /// Entries per forwarded batch.
    pub forward_batch: usize,
    /// How often the pull cache and device list are refreshed.
    pub refresh_interval: Duration,
    /// Timeout of one request to the cloud.
    pub upstream_timeout: Duration,
    /// What slow or idle terminals may hold of the relay.
    pub limits: crate::http::listen::Limits,
}

impl RelayConfig {
    pub fn new(data_dir: PathBuf, upstream: String, listen: SocketAddr) -> Self {
        RelayConfig {
            data_dir,
            upstream,
            listen,
            enroll_code: None,
            name: "Branch relay".into(),
            keys: KeyChoice::default(),
            forward_batch: 1000,
            refresh_interval: Duration::from_secs(10),
            upstream_timeout: Duration::from_secs(15),
            limits: crate::http::listen::Limits::default(),
        }
    }
}

/// What the handlers and background tasks share.
pub struct Relay {
    pub store: RelayStore,
    pub upstream: Upstream,
    pub metrics: RelayMetrics,
    pub branch: String,
    /// Woken when new entries are stored, so forwarding starts at once.
    pub new_entries: Notify,
    /// Bumped whenever the cloud's acks are recorded (head waits on it).
    pub acks_changed: watch::Sender<u64>,
    pub uplink_up: AtomicBool,
    /// The cloud answers but refuses this relay (401/403).
    pub cloud_refusing: AtomicBool,
    /// Unix ms of the last successful exchange with the cloud (0: never).
    pub last_uplink_ok_ms: AtomicU64,
    /// One refresh at a time; the instant of the last one.
    refresh_lock: Mutex<Option<Instant>>,
    devices_lock: Mutex<Option<Instant>>,
    unknown_tried: Mutex<HashMap<[u8; 32], Instant>>,
    pub forward_batch: usize,
}

impl Relay {
    pub(crate) fn cloud_refusing(&self, refusing: bool) {
        self.cloud_refusing.store(refusing, Ordering::Relaxed);
        self.metrics.cloud_refusing.set(i64::from(refusing));
    }

    /// The uplink as terminals and operators see it.
    pub fn uplink_state(&self) -> sentra_protocol::wire::UplinkState {
        use sentra_protocol::wire::UplinkState;
        if self.cloud_refusing.load(Ordering::Relaxed) {
            UplinkState::Refusing
        } else if self.uplink_up.load(Ordering::Relaxed) {
            UplinkState::Up
        } else {
            UplinkState::Down
        }
    }

    /// Sets the parked-devices gauge from the store.
    pub(crate) async fn refresh_parked_metric(&self) {
        if let Ok(heads) = self.store.heads().await {
            let n = heads.iter().filter(|h| h.parked_reason.is_some()).count();
            self.metrics.parked_devices.set(n as i64);
        }
    }

    pub(crate) fn uplink(&self, ok: bool) {
        self.uplink_up.store(ok, Ordering::Relaxed);
        self.metrics.uplink_up.set(i64::from(ok));
        if ok {
            let now = crate::ingest::now_ms();
            self.last_uplink_ok_ms.store(now, Ordering::Relaxed);
            self.metrics.last_uplink_ok.set((now / 1000) as i64);
        }
    }

    /// Pulls the cloud's changes into the cache (one refresh at a time; a
    /// caller that finds one just finished within `fresh` skips it).
    pub async fn refresh_pull(&self, fresh: Duration) -> Result<(), ApiError> {
        let mut last = self.refresh_lock.lock().await;
        if last.is_some_and(|t| t.elapsed() < fresh) {
            return Ok(());
        }
        let mut cursor = self.store.pull_cursor().await?;
        let mut devices_changed = false;
        let mut restarted = false;
        loop {
            let page = match self.upstream.pull(&cursor, MAX_PULL_LIMIT).await {
                Ok(p) => p,
                // The cloud no longer knows our cursor (it failed over or was
                // restored): start over from the beginning, once; the cache
                // takes every change again (an upsert per key).
                Err(e) if e.refuses_cursor() && !cursor.is_empty() && !restarted => {
                    tracing::warn!(error = %e, "relay: the cloud refused our pull cursor; pulling from the start");
                    restarted = true;
                    cursor.clear();
                    continue;
                }
                Err(e) => {
                    if e.is_link_down() {
                        self.uplink(false);
                    }
                    tracing::info!(error = %e, "relay: pull from the cloud failed");
                    return Err(ApiError::Unavailable);
                }
            };
            self.uplink(true);
            devices_changed |= page.changes.iter().any(|c| c.entity == "device");
            let n = page.changes.len() as u64;
            self.store
                .save_pulled(
                    page.changes,
                    page.next_cursor.clone(),
                    crate::ingest::now_ms(),
                )
                .await?;
            self.metrics.changes_pulled.inc_by(n);
            cursor = page.next_cursor;
            if !page.more {
                break;
            }
        }
        *last = Some(Instant::now());
        drop(last);
        if devices_changed {
            self.refresh_devices_now().await?;
        }
        Ok(())
    }

    /// Replaces the device list with the cloud's because `unknown` (a
    /// credential hash, or a device id) was not in it. Each unknown value
    /// triggers at most one refresh per [`UNKNOWN_RETRY`], and all of them
    /// together at most one per [`ON_DEMAND_GAP`], so garbage credentials
    /// cannot make the relay hammer the cloud.
    pub async fn refresh_devices_for(&self, unknown: [u8; 32]) -> Result<(), ApiError> {
        {
            let mut tried = self.unknown_tried.lock().await;
            let now = Instant::now();
            tried.retain(|_, t| now.duration_since(*t) < UNKNOWN_RETRY);
            if tried.contains_key(&unknown) {
                return Ok(());
            }
            tried.insert(unknown, now);
        }
        let asked = Instant::now();
        // One refresh at a time. A refresh that *began* after we asked has
        // seen every device enrolled before that: nothing more to do. One
        // that began earlier may not have, so refresh again, at most one
        // every ON_DEMAND_GAP (a flood of unknown credentials cannot turn
        // into a flood of requests to the cloud).
        let mut last = self.devices_lock.lock().await;
        if let Some(t) = *last {
            if t > asked {
                return Ok(());
            }
            tokio::time::sleep(ON_DEMAND_GAP.saturating_sub(t.elapsed())).await;
        }
        *last = Some(Instant::now());
        self.fetch_devices().await
    }

    /// Replaces the device list with the cloud's now.
    pub async fn refresh_devices_now(&self) -> Result<(), ApiError> {
        let mut last = self.devices_lock.lock().await;
        *last = Some(Instant::now());
        self.fetch_devices().await
    }

    /// Replaces the device list with the cloud's (callers hold `devices_lock`).
    async fn fetch_devices(&self) -> Result<(), ApiError> {
        match self.upstream.devices().await {
            Ok(list) => {
                self.uplink(true);
                if list.branch != self.branch {
                    tracing::error!(cloud = %list.branch, relay = %self.branch, "relay: the cloud names another branch");
                    return Err(ApiError::Internal("the cloud names another branch".into()));
                }
                let n = self.store.replace_devices(list.devices).await?;
                tracing::debug!(devices = n, "relay: device list refreshed");
                Ok(())
            }
            Err(e) => {
                if e.is_link_down() {
                    self.uplink(false);
                }
                tracing::info!(error = %e, "relay: device list refresh failed");
                Err(ApiError::Unavailable)
            }
        }
    }
}

/// A running relay: its address and a handle to stop it.
pub struct RelayRunning {
    pub addr: SocketAddr,
    pub relay: Arc<Relay>,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RelayRunning {
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(true);
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(e)),
        }
    }
}

/// Opens (or sets up and enrolls) the relay, binds, and starts serving and
/// forwarding in the background.
pub async fn start(config: &RelayConfig) -> Result<RelayRunning> {
    let data_dir = config.data_dir.clone();
    let keys = config.keys.clone();
    let name = config.name.clone();
    let upstream_url = config.upstream.clone();
    let conn = tokio::task::spawn_blocking(move || {
        identity::open_or_create(&data_dir, &keys, &name, &upstream_url)
    })
    .await??;
    let id = identity::identity(&conn)?.context("the relay database holds no identity")?;
    if id.upstream != config.upstream {
        tracing::info!(old = %id.upstream, new = %config.upstream, "relay: upstream changed");
        identity::set_upstream(&conn, &config.upstream)?;
    }
    let (branch, credential) = match id.enrolled.clone() {
        Some(e) => e,
        None => {
            let Some(code) = &config.enroll_code else {
                bail!(
                    "this relay is not enrolled yet: run it once with --enroll-code CODE \
                     (from `sentra-sync enroll-code --branch B --kind relay`)"
                );
            };
            let client = Upstream::new(&config.upstream, None, config.upstream_timeout)?;
            let resp = client
                .enroll(&EnrollRequest {
                    code: code.clone(),
                    name: id.name.clone(),
                    public_key: hex::encode(id.signing_key.verifying_key().to_bytes()),
                    device_id: Some(id.device_id),
                })
                .await
                .context("enrolling the relay")?;
            if resp.kind != DeviceKind::Relay {
                bail!(
                    "the code enrolled this box as a {}; a relay needs a relay code \
                     (revoke device {} in the cloud, then ask for `--kind relay`)",
                    resp.kind.as_str(),
                    resp.device_id
                );
            }
            identity::set_enrolled(&conn, &resp.branch, &resp.credential)?;
            tracing::info!(branch = %resp.branch, device = %resp.device_id, "relay enrolled");
            (resp.branch, resp.credential)
        }
    };
    let store = RelayStore::new(conn, &branch);
    let upstream = Upstream::new(&config.upstream, Some(credential), config.upstream_timeout)?;
    let (acks_changed, _) = watch::channel(0u64);
    let relay = Arc::new(Relay {
        store,
        upstream,
        metrics: RelayMetrics::new(),
        branch,
        new_entries: Notify::new(),
        acks_changed,
        uplink_up: AtomicBool::new(false),
        cloud_refusing: AtomicBool::new(false),
        last_uplink_ok_ms: AtomicU64::new(0),
        refresh_lock: Mutex::new(None),
        devices_lock: Mutex::new(None),
        unknown_tried: Mutex::new(HashMap::new()),
        forward_batch: config
            .forward_batch
            .clamp(1, sentra_protocol::wire::MAX_PUSH_ENTRIES),
    });
    relay
        .metrics
        .pending
        .set(relay.store.pending().await.unwrap_or(0) as i64);

    crate::http::listen::raise_fd_limit();
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    // Fresh devices and master data before the first terminal arrives (as
    // far as the cloud answers within a few seconds; the cache otherwise).
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let _ = relay.refresh_devices_now().await;
        let _ = relay.refresh_pull(Duration::ZERO).await;
    })
    .await;
    let (tx, rx) = watch::channel(false);
    let forwarder = tokio::spawn(forward::run(relay.clone(), rx.clone()));
    let refresher = tokio::spawn(forward::refresh_loop(
        relay.clone(),
        config.refresh_interval,
        rx.clone(),
    ));
    let limits = config.limits;
    let app = crate::http::listen::limit_requests(http::router(relay.clone()), limits);
    let mut stop = rx;
    let task = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        let r =
            crate::http::listen::serve(listener, app, limits, shutdown, Duration::from_secs(30))
                .await;
        forwarder.abort();
        refresher.abort();
        r
    });
    Ok(RelayRunning {
        addr,
        relay,
        shutdown: tx,
        task,
    })
}
