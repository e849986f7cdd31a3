//! The relay's Prometheus metrics, at `GET /metrics` (OpenMetrics text).
//! What to watch is in `docs/operations.md`.

use std::sync::Mutex;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::metrics::ReasonLabel;

pub struct RelayMetrics {
    registry: Mutex<Registry>,
    /// Entries newly stored from terminals.
    pub received: Counter,
    /// Entries received again and already held.
    pub duplicates: Counter,
    /// Entries refused to terminals, by reason.
    pub refused: Family<ReasonLabel, Counter>,
    /// Entries held here that the cloud does not hold yet.
    pub pending: Gauge,
    /// Entries the cloud acknowledged (new or already held).
    pub forwarded: Counter,
    /// Entries the cloud refused.
    pub forward_refused: Counter,
    /// Forward attempts that got no answer.
    pub forward_failures: Counter,
    /// Seconds per forwarded batch.
    pub forward_seconds: Histogram,
    /// 1 when the last exchange with the cloud succeeded.
    pub uplink_up: Gauge,
    /// Unix time of the last successful exchange with the cloud.
    pub last_uplink_ok: Gauge,
    /// Master-data changes pulled into the cache.
    pub changes_pulled: Counter,
    /// Devices left out of forwarding because the cloud refuses them.
    pub parked_devices: Gauge,
    /// 1 when the cloud answers but refuses this relay (401/403).
    pub cloud_refusing: Gauge,
}

impl Default for RelayMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl RelayMetrics {
    pub fn new() -> Self {
        let mut r = Registry::with_prefix("sentra_relay");
        let m = RelayMetrics {
            registry: Mutex::new(Registry::default()),
            received: Counter::default(),
            duplicates: Counter::default(),
            refused: Family::default(),
            pending: Gauge::default(),
            forwarded: Counter::default(),
            forward_refused: Counter::default(),
            forward_failures: Counter::default(),
            forward_seconds: Histogram::new([0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]),
            uplink_up: Gauge::default(),
            last_uplink_ok: Gauge::default(),
            changes_pulled: Counter::default(),
            parked_devices: Gauge::default(),
            cloud_refusing: Gauge::default(),
        };
        r.register(
            "parked_devices",
            "Devices left out of forwarding because the cloud refuses their next entry",
            m.parked_devices.clone(),
        );
        r.register(
            "cloud_refusing",
            "1 when the cloud answers but refuses this relay (401/403)",
            m.cloud_refusing.clone(),
        );
        r.register(
            "entries_received",
            "Entries newly stored from terminals",
            m.received.clone(),
        );
        r.register(
            "entries_duplicate",
            "Entries received again and already held",
            m.duplicates.clone(),
        );
        r.register(
            "entries_refused",
            "Entries refused to terminals, by reason",
            m.refused.clone(),
        );
        r.register(
            "pending_entries",
            "Entries held here and not yet by the cloud",
            m.pending.clone(),
        );
        r.register(
            "entries_forwarded",
            "Entries the cloud acknowledged",
            m.forwarded.clone(),
        );
        r.register(
            "forward_refused",
            "Entries the cloud refused",
            m.forward_refused.clone(),
        );
        r.register(
            "forward_failures",
            "Forward attempts that got no answer",
            m.forward_failures.clone(),
        );
        r.register(
            "forward_seconds",
            "Seconds per forwarded batch",
            m.forward_seconds.clone(),
        );
        r.register(
            "uplink_up",
            "1 when the last exchange with the cloud succeeded",
            m.uplink_up.clone(),
        );
        r.register(
            "last_uplink_ok_seconds",
            "Unix time of the last successful exchange with the cloud",
            m.last_uplink_ok.clone(),
        );
        r.register(
            "changes_pulled",
            "Master-data changes pulled into the cache",
            m.changes_pulled.clone(),
        );
        if let Ok(mut reg) = m.registry.lock() {
            *reg = r;
        }
        m
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Ok(reg) = self.registry.lock() {
            let _ = prometheus_client::encoding::text::encode(&mut out, &reg);
        }
        out
    }
}
