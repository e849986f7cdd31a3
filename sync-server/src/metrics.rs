//! Prometheus metrics: entries ingested, batch latency, conflicts by kind,
//! refusals by reason, devices last seen. Served at `GET /metrics` in the
//! OpenMetrics text format.

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabel {
    pub job: String,
    /// `ran`, or `skipped` (another server held the job's lock).
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeviceLabel {
    pub device_id: String,
    pub branch: String,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    /// Entries newly stored, by kind.
    pub entries_ingested: Family<KindLabel, Counter>,
    /// Entries already held (replays).
    pub entries_duplicate: Counter,
    /// Entries held in quarantine.
    pub entries_quarantined: Counter,
    /// Seconds to ingest one push batch (checks, apply, commit).
    pub batch_seconds: Histogram,
    /// Conflicts raised, by kind.
    pub conflicts: Family<KindLabel, Counter>,
    /// Refused entries and refused requests, by reason code.
    pub refusals: Family<ReasonLabel, Counter>,
    /// Unix time a device last pushed to this server.
    pub device_last_seen: Family<DeviceLabel, Gauge>,
    /// Runs of a background job on this server, by job and outcome.
    pub job_runs: Family<JobLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("sentra");
        let entries_ingested = Family::<KindLabel, Counter>::default();
        let entries_duplicate = Counter::default();
        let entries_quarantined = Counter::default();
        let batch_seconds = Histogram::new([
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ]);
        let conflicts = Family::<KindLabel, Counter>::default();
        let refusals = Family::<ReasonLabel, Counter>::default();
        let device_last_seen = Family::<DeviceLabel, Gauge>::default();
        let job_runs = Family::<JobLabel, Counter>::default();
        registry.register(
            "entries_ingested",
            "Journal entries newly stored, by kind",
            entries_ingested.clone(),
        );
        registry.register(
            "entries_duplicate",
            "Journal entries received again and already held",
            entries_duplicate.clone(),
        );
        registry.register(
            "entries_quarantined",
            "Genuinely signed entries held in quarantine",
            entries_quarantined.clone(),
        );
        registry.register(
            "push_batch_seconds",
            "Time to ingest one push batch",
            batch_seconds.clone(),
        );
        registry.register(
            "conflicts_raised",
            "Conflicts raised, by kind",
            conflicts.clone(),
        );
        registry.register(
            "refusals",
            "Refused entries and requests, by reason",
            refusals.clone(),
        );
        registry.register(
            "device_last_seen_seconds",
            "Unix time a device last pushed to this server",
            device_last_seen.clone(),
        );
        registry.register(
            "background_job_runs",
            "Ticks of a background job: ran here, or skipped while another server ran it",
            job_runs.clone(),
        );
        Metrics {
            registry: Mutex::new(registry),
            entries_ingested,
            entries_duplicate,
            entries_quarantined,
            batch_seconds,
            conflicts,
            refusals,
            device_last_seen,
            job_runs,
        }
    }

    pub fn refused(&self, reason: &str) {
        self.refusals
            .get_or_create(&ReasonLabel {
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// The OpenMetrics text of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = match self.registry.lock() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
            out.clear();
        }
        out
    }
}
