//! Settings of `sentra-sync serve`.

use std::net::SocketAddr;
use std::time::Duration;

/// How the conflict rules judge time.
#[derive(Clone, Debug)]
pub struct RulesConfig {
    /// A device clock off by more than this is `clock_skew`.
    pub skew_tolerance: Duration,
    /// A void or refund whose sale has not arrived after this long is raised
    /// as `orphan_reference` (it stays parked until the sale comes).
    pub orphan_grace: Duration,
}

impl Default for RulesConfig {
    fn default() -> Self {
        RulesConfig {
            skew_tolerance: Duration::from_secs(120),
            orphan_grace: Duration::from_secs(24 * 3600),
        }
    }
}

#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub database_url: String,
    pub listen: SocketAddr,
    /// Connections in the PostgreSQL pool.
    pub max_connections: u32,
    pub rules: RulesConfig,
    /// How often parked voids/refunds are checked against `orphan_grace`.
    pub sweep_interval: Duration,
    /// How often the report summaries' deltas are folded in.
    pub fold_interval: Duration,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace: Duration,
    /// Connections, header and request timeouts, requests in flight.
    pub limits: crate::http::listen::Limits,
    /// The head-office pages under `/office`.
    pub office: sentra_office::OfficeConfig,
}
