//! The terminal's sync client: enrollment, pushing the journal (the outbox
//! is simply the entries an upstream does not hold yet), pulling master
//! data, through the branch relay when one is set and answering, else
//! straight to the cloud.
//!
//! A sale never waits for any of this: sales write only the local database;
//! sync reads the journal afterwards, on its own schedule (a round from the
//! CLI, or [`SyncLoop`] in a long-running host), and never holds a database
//! transaction across a network call.
//!
//! Delivery states of an entry (`EntryStates`): held by the cloud
//! (`seq ≤ cloud_acked_seq`), held by the relay only, or local.

mod backoff;
mod client;
mod pull;
mod receipt;
mod round;
mod state;
mod worker;

use serde::Serialize;
use uuid::Uuid;

pub use backoff::{Backoff, full_jitter};
pub use client::Upstream;
pub use client::{CONNECT_TIMEOUT, REQUEST_TIMEOUT};
pub use pull::{branch_settings, price_in_force};
pub use receipt::{ForeignSale, ForeignSaleError, fetch_receipt};
pub use round::{DEFAULT_RELAY_STALL_MS, Outcome, RoundOptions, RoundRefusal, RoundReport};
pub use state::{EntryStates, LastError, Refusal};
pub use worker::{LoopEvent, LoopOptions, SyncLoop};

use crate::Terminal;
use crate::error::{Result, TerminalError};
use crate::journal;
use sentra_protocol::wire::{DeviceKind, EnrollRequest};

/// Which upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamKind {
    Relay,
    Cloud,
}

impl UpstreamKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UpstreamKind::Relay => "relay",
            UpstreamKind::Cloud => "cloud",
        }
    }
}

/// What can stop enrollment or a round before any exchange.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(
        "this terminal is not enrolled: run `sentra-term enroll --server URL --code CODE` with a code from `sentra-sync enroll-code --branch BRANCH`"
    )]
    NotEnrolled,

    #[error(
        "this terminal is already enrolled with {server}; to move it, revoke this device in the cloud and set up a new terminal"
    )]
    AlreadyEnrolled { server: String },

    #[error(
        "enrollment failed: {url} could not be reached ({detail}); check the URL and the network, then retry with the same code"
    )]
    Unreachable { url: String, detail: String },

    #[error("enrollment refused by {url}: {message} ({code}, HTTP {status})")]
    Refused {
        url: String,
        status: u16,
        code: String,
        message: String,
    },

    #[error("enrollment: {url} answered something unexpected: {detail}")]
    BadResponse { url: String, detail: String },

    #[error(
        "the enrollment code belongs to branch {enrolled} but this terminal was set up for branch {terminal}; nothing was stored. In the cloud, revoke the device just enrolled (`sentra-sync device revoke {device_id}`), then enroll with a code made for branch {terminal}"
    )]
    WrongBranch {
        enrolled: String,
        terminal: String,
        device_id: Uuid,
    },

    #[error(
        "the enrollment code was made for a {kind}, not a terminal; nothing was stored. In the cloud, revoke the device just enrolled (`sentra-sync device revoke {device_id}`), then use a terminal code (`sentra-sync enroll-code --kind terminal`)"
    )]
    WrongKind { kind: String, device_id: Uuid },

    #[error("the HTTP client could not be set up: {0}")]
    Client(String),
}

/// What `enroll` stored.
#[derive(Clone, Debug, Serialize)]
pub struct EnrollReport {
    pub device_id: Uuid,
    pub branch: String,
    pub server_url: String,
    pub relay_url: Option<String>,
}

/// Everything `sentra-term status` shows (never the credential).
#[derive(Clone, Debug, Serialize)]
pub struct SyncStatus {
    pub enrolled: bool,
    pub device_id: Uuid,
    pub branch: String,
    pub server_url: Option<String>,
    pub relay_url: Option<String>,
    pub tip_seq: u64,
    pub relay_acked_seq: u64,
    pub cloud_acked_seq: u64,
    pub entries: EntryStates,
    pub last_round_ms: Option<u64>,
    pub last_outcome: Option<String>,
    pub last_success_ms: Option<u64>,
    pub last_upstream: Option<String>,
    pub last_error: Option<LastError>,
    pub refusals: Vec<Refusal>,
    /// The relay left this terminal's entries out of forwarding because the
    /// cloud refuses them (revoked, fork, …): the reason, as the relay said.
    pub relay_parked: Option<String>,
    /// Master data refused because the cloud did not sign it as served
    /// (altered by a relay or on the LAN); cleared by a clean pull from the
    /// same upstream.
    pub master_data_alert: Option<state::MasterAlert>,
}

/// Check an upstream URL (`http` or `https`, a host) and normalise it.
pub fn validate_url(what: &'static str, text: &str) -> Result<String> {
    client::normalise_url(text)
        .map_err(|detail| crate::TerminalError::InvalidInput { what, detail })
}

impl Terminal {
    /// Enroll with the cloud: present this device's id (made at `init`) and
    /// public key with a one-time code, and keep the credential — only after
    /// checking the code was for this terminal's branch.
    pub async fn enroll(
        &mut self,
        server_url: &str,
        code: &str,
        relay_url: Option<&str>,
        name: Option<&str>,
    ) -> Result<EnrollReport> {
        let server = validate_url("server URL", server_url)?;
        if let Some(n) = name {
            sentra_ledger::validate::check_text("name", n.trim())
                .map_err(|e| TerminalError::invalid("till name", e.to_string()))?;
        }
        let relay = relay_url
            .map(|u| validate_url("relay URL", u))
            .transpose()?;
        let stored = state::load(&self.conn)?;
        if stored.credential.is_some() {
            return Err(SyncError::AlreadyEnrolled {
                server: stored.server_url.unwrap_or_default(),
            }
            .into());
        }
        let device_id = self.device_id();
        let request = EnrollRequest {
            code: code.trim().to_owned(),
            name: name
                .map(str::to_owned)
                .unwrap_or_else(|| self.ctx.manifest.device_name.clone()),
            public_key: hex::encode(self.verifying_key().to_bytes()),
            device_id: Some(device_id),
        };
        let http = client::http_client().map_err(SyncError::Client)?;
        let resp = client::enroll(&http, &server, &request)
            .await
            .map_err(|e| match e {
                client::CallError::Unreachable(detail) => SyncError::Unreachable {
                    url: server.clone(),
                    detail,
                },
                client::CallError::Refused { status, body } => SyncError::Refused {
                    url: server.clone(),
                    status,
                    code: body.error,
                    message: body.message,
                },
                client::CallError::BadResponse(detail) => SyncError::BadResponse {
                    url: server.clone(),
                    detail,
                },
            })?;
        if resp.branch != self.ctx.author.branch {
            return Err(SyncError::WrongBranch {
                enrolled: resp.branch,
                terminal: self.ctx.author.branch.clone(),
                device_id: resp.device_id,
            }
            .into());
        }
        if resp.kind != DeviceKind::Terminal {
            return Err(SyncError::WrongKind {
                kind: resp.kind.as_str().to_owned(),
                device_id: resp.device_id,
            }
            .into());
        }
        if resp.device_id != device_id {
            return Err(SyncError::BadResponse {
                url: server,
                detail: format!(
                    "it enrolled device {} although this terminal presented {device_id}",
                    resp.device_id
                ),
            }
            .into());
        }
        let master_key = sentra_protocol::master::parse_key(&resp.master_key).map_err(|e| {
            SyncError::BadResponse {
                url: server.clone(),
                detail: format!("its master-data key: {e}"),
            }
        })?;
        state::store_enrollment(
            &self.conn,
            &state::Enrollment {
                server_url: &server,
                relay_url: relay.as_deref(),
                credential: &resp.credential,
                relay_credential: resp.relay_credential.as_deref(),
                master_key: &hex::encode(master_key.to_bytes()),
                device_id,
                branch: &resp.branch,
            },
            self.ctx.clock.now_ms(),
        )?;
        Ok(EnrollReport {
            device_id,
            branch: resp.branch,
            server_url: server,
            relay_url: relay,
        })
    }

    /// Set, change (`Some`) or clear (`None`) the branch relay. Works before
    /// enrollment too.
    pub fn set_relay(&mut self, relay_url: Option<&str>) -> Result<Option<String>> {
        let relay = relay_url
            .map(|u| validate_url("relay URL", u))
            .transpose()?;
        state::set_relay(&mut self.conn, relay.as_deref())?;
        Ok(relay)
    }

    /// Delivery state of the journal and what the last rounds found.
    pub fn sync_status(&self) -> Result<SyncStatus> {
        let s = state::load(&self.conn)?;
        let tip = journal::tip(&self.conn, self.ctx.author.device_id)?.seq;
        Ok(SyncStatus {
            enrolled: s.credential.is_some() && state::enrolled_branch(&self.conn)?.is_some(),
            device_id: self.ctx.author.device_id,
            branch: self.ctx.author.branch.clone(),
            server_url: s.server_url,
            relay_url: s.relay_url,
            tip_seq: tip,
            relay_acked_seq: s.relay_acked_seq,
            cloud_acked_seq: s.cloud_acked_seq,
            entries: EntryStates::count(tip, s.relay_acked_seq, s.cloud_acked_seq),
            last_round_ms: s.last_round_ms,
            last_outcome: s.last_outcome,
            last_success_ms: s.last_success_ms,
            last_upstream: s.last_upstream,
            last_error: s.last_error,
            refusals: state::refusals(&self.conn)?,
            relay_parked: s.relay_parked,
            master_data_alert: s.master_alert,
        })
    }
}
