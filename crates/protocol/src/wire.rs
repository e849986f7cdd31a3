//! The request and response bodies of the sync protocol (enroll, push, pull).
//!
//! Specified in `docs/sync-protocol.md`, section "Push and pull". Every
//! request names its protocol version in the `Sentra-Protocol` header; a
//! server answers a version outside `MIN_PROTOCOL_VERSION..=PROTOCOL_VERSION`
//! with `unsupported_protocol_version` and the range it speaks.
//!
//! These types are shared by the cloud server, the branch relay and the
//! terminal's sync client, so all three agree byte for byte; golden tests in
//! `tests/wire_golden.rs` freeze their JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Entry;

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u16 = 1;
/// The oldest protocol version this build still accepts.
pub const MIN_PROTOCOL_VERSION: u16 = 1;
/// The header that carries the protocol version on every request and response.
pub const PROTOCOL_HEADER: &str = "sentra-protocol";

/// At most this many entries in one push.
pub const MAX_PUSH_ENTRIES: usize = 1000;
/// At most this many bytes in one request body.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// At most this many bytes in one entry's canonical payload (1 MiB: a sale of
/// 2,000 lines fits). A genuine entry over it is stored in quarantine
/// (`too_large`), never refused, so it cannot wedge its device's queue.
pub const MAX_PAYLOAD_BYTES: usize = 1024 * 1024;
/// At most this many changes in one pull page.
pub const MAX_PULL_LIMIT: u32 = 1000;

/// What an enrolled device is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// A cashier terminal: pushes its own entries.
    Terminal,
    /// A branch relay: pushes entries of any device of its branch.
    Relay,
}

impl DeviceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Terminal => "terminal",
            DeviceKind::Relay => "relay",
        }
    }

    pub fn from_name(name: &str) -> Option<DeviceKind> {
        match name {
            "terminal" => Some(DeviceKind::Terminal),
            "relay" => Some(DeviceKind::Relay),
            _ => None,
        }
    }
}

/// `POST /v1/enroll`: a device presents a one-time code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollRequest {
    /// The one-time code printed by `sentra-sync enroll-code`.
    pub code: String,
    /// A name people recognise, e.g. "Till 2".
    pub name: String,
    /// The device's Ed25519 public key, 64 lowercase hex chars.
    pub public_key: String,
    /// The id the device already signs its entries with (made at `init`);
    /// the server assigns one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<Uuid>,
}

/// The answer to a successful enrollment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollResponse {
    pub device_id: Uuid,
    /// Branch code, e.g. "JKT01".
    pub branch: String,
    pub kind: DeviceKind,
    /// The bearer credential for every later request to the cloud. Shown
    /// once; the server keeps only its SHA-256. Never sent to a relay.
    pub credential: String,
    /// The cloud's Ed25519 public key for master data (64 lowercase hex
    /// chars): every pulled change must verify with it.
    pub master_key: String,
    /// A terminal's credential for its branch relay: the relay recognises
    /// it, the cloud refuses it, so a relay never holds a secret that works
    /// at the cloud. Absent for relays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay_credential: Option<String>,
}

/// `POST /v1/trust` (to the cloud itself, never through a relay): what a
/// device enrolled before master data was signed needs, as at enrollment.
/// A terminal's relay credential is replaced by a new one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustResponse {
    pub master_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay_credential: Option<String>,
}

/// `POST /v1/push`: entries, in any order; the server sorts them per device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PushRequest {
    /// The sender's wall clock when it sent the batch, ms since the epoch;
    /// used to measure the clock skew of the sender's own entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at_ms: Option<u64>,
    pub entries: Vec<Entry>,
}

/// Why an entry was refused. Refused entries are not stored and not
/// acknowledged; the sender keeps them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    /// The entry's device is not enrolled (or not in the caller's branch).
    UnknownDevice,
    /// The entry's device has been revoked.
    DeviceRevoked,
    /// The entry's `branch` is not the branch of the caller or of its device.
    WrongBranch,
    /// A terminal may push only its own entries.
    NotOwnEntry,
    /// The entry's format is not one the server reads.
    UnsupportedFormat,
    /// The entry cannot be encoded (e.g. a float in its payload) or is too big.
    Malformed,
    /// The content does not hash to the entry's `hash`.
    HashMismatch,
    /// The signature does not verify with the device's registered key.
    BadSignature,
    /// `prev_hash` is not the hash of the entry held at `seq − 1`.
    BrokenLink,
    /// Entries before this one are missing; see the device's `expected_seq`.
    Gap,
    /// The server holds a different, genuinely signed entry at this `seq`.
    Fork,
    /// An earlier entry of the same device in this batch was refused.
    AfterRefused,
}

impl RefusalReason {
    /// The snake_case code, as on the wire and in metrics labels.
    pub fn code(self) -> &'static str {
        match self {
            RefusalReason::UnknownDevice => "unknown_device",
            RefusalReason::DeviceRevoked => "device_revoked",
            RefusalReason::WrongBranch => "wrong_branch",
            RefusalReason::NotOwnEntry => "not_own_entry",
            RefusalReason::UnsupportedFormat => "unsupported_format",
            RefusalReason::Malformed => "malformed",
            RefusalReason::HashMismatch => "hash_mismatch",
            RefusalReason::BadSignature => "bad_signature",
            RefusalReason::BrokenLink => "broken_link",
            RefusalReason::Gap => "gap",
            RefusalReason::Fork => "fork",
            RefusalReason::AfterRefused => "after_refused",
        }
    }
}

/// Per device in the batch: what the server now holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceAck {
    pub device_id: Uuid,
    /// The highest contiguous `seq` held durably (0 when none). Everything
    /// up to it may be dropped from the sender's outbox.
    pub acked_seq: u64,
    /// Set when the batch left a gap or a refusal: the `seq` the server
    /// wants next (always `acked_seq + 1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_seq: Option<u64>,
    /// Set by a branch relay only: the highest contiguous `seq` the relay
    /// knows the cloud holds. `acked_seq` is then what the relay holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_acked_seq: Option<u64>,
}

/// One refused entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedEntry {
    pub device_id: Uuid,
    pub seq: u64,
    pub reason: RefusalReason,
    /// Human-readable detail, for logs and support.
    pub detail: String,
}

/// A conflict the batch raised (see the conflict catalogue).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictNotice {
    /// `oversold`, `stale_price`, `over_refund`, `orphan_reference`,
    /// `voucher_double_spend`, `clock_skew`, `shift_mismatch`, `fork`.
    pub kind: String,
    pub device_id: Uuid,
    pub seq: u64,
    pub details: serde_json::Value,
}

/// A genuinely signed entry whose payload the server cannot apply (unknown
/// kind, invalid payload). It is stored in quarantine and acknowledged, so
/// the device's later entries still apply; head office gets an alert.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantinedEntry {
    pub device_id: Uuid,
    pub seq: u64,
    pub reason: String,
}

/// The answer to a processed push (HTTP 200), whatever happened per entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushResponse {
    /// One per device named in the batch, ordered by device id.
    pub acks: Vec<DeviceAck>,
    /// Entries newly stored by this push (replays excluded).
    pub stored: u64,
    /// Entries already held with the same content (replays; a no-op).
    pub duplicates: u64,
    pub refused: Vec<RefusedEntry>,
    pub quarantined: Vec<QuarantinedEntry>,
    pub conflicts: Vec<ConflictNotice>,
}

/// The relay's view of its link to the cloud.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UplinkState {
    /// The last exchange with the cloud succeeded.
    Up,
    /// The cloud could not be reached (or answered 5xx) last time.
    Down,
    /// The cloud answers but refuses the relay itself (401/403: revoked, or
    /// a credential it no longer knows). Terminals go straight to the cloud.
    Refusing,
}

/// `GET /v1/head?wait_for=SEQ&wait_ms=MS`: how far the answering upstream
/// holds the caller's own chain.
///
/// A relay answers with what it holds (`acked_seq`), what it knows the cloud
/// holds (`cloud_acked_seq`) and its uplink state; given `wait_for`, it waits
/// up to `wait_ms` (at most [`MAX_HEAD_WAIT_MS`]) for the cloud to hold that
/// seq before answering. The cloud answers at once, without the optional
/// fields: what it holds is final.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadResponse {
    pub device_id: Uuid,
    pub acked_seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_acked_seq: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uplink: Option<UplinkState>,
    /// A relay's answer when it has parked the caller: the cloud refuses its
    /// next entry for this reason (`device_revoked: …`, `fork: …`). The
    /// terminal then pushes to the cloud itself to hear it first hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parked: Option<String>,
}

/// `GET /v1/receipt?no=RECEIPT`: one sale of the caller's branch as its till
/// signed it, for a return at another till. `sale` is the `sale_completed`
/// entry; `related` the `sale_voided` and `refund_issued` entries of it the
/// answering server holds, in the order they were made. Every entry is as
/// its device signed it: the caller verifies each with the device's key
/// (pulled as `device`) before it uses any.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReceiptResponse {
    pub sale: Entry,
    #[serde(default)]
    pub related: Vec<Entry>,
}

/// At most this many entries in a [`ReceiptResponse`] (the sale and its
/// voids and refunds; a return in a hundred visits is not a real case).
pub const MAX_RECEIPT_ENTRIES: usize = 101;

/// The longest a relay holds a `GET /v1/head` waiting for the cloud.
pub const MAX_HEAD_WAIT_MS: u64 = 10_000;

/// One device of a branch as a relay needs it: the key its entries verify
/// with, and the SHA-256 of its relay credential so the relay can recognise
/// it offline (the credential itself is never stored anywhere; the cloud
/// credential never reaches the relay at all).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayDevice {
    pub device_id: Uuid,
    pub kind: DeviceKind,
    pub name: String,
    /// Ed25519 public key, 64 lowercase hex chars.
    pub public_key: String,
    /// SHA-256 of the device's relay credential, 64 lowercase hex chars;
    /// empty for a device that has none (a relay, or a terminal enrolled
    /// before relay credentials, until it asks `POST /v1/trust`).
    pub credential_sha256: String,
    pub revoked: bool,
}

/// `GET /v1/relay/devices` (relays only): every device of the relay's branch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayDevicesResponse {
    pub branch: String,
    pub devices: Vec<RelayDevice>,
}

/// One change in a pull page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// `product`, `price`, `user`, `tax`, `branch_settings`, `device`.
    pub entity: String,
    /// The entity's key (SKU, user id, device id, …).
    pub key: String,
    /// The entity as it now is; `null` when `deleted`.
    pub data: serde_json::Value,
    #[serde(default)]
    pub deleted: bool,
    /// The branch the change is for; `null` for every branch. A terminal
    /// refuses a change signed for another branch.
    #[serde(default)]
    pub scope: Option<String>,
    /// Grows with every change to the same `(entity, key)`: a terminal
    /// ignores a change older than one it has applied (a replay).
    #[serde(default)]
    pub version: u64,
    /// The cloud's Ed25519 signature (128 lowercase hex chars) over
    /// [`crate::master::change_signing_bytes`].
    #[serde(default)]
    pub signature: String,
}

/// Stock levels per page of `GET /v1/stock` when the request names no limit.
pub const DEFAULT_STOCK_LIMIT: u32 = 1000;
/// At most this many stock levels in one page of `GET /v1/stock`.
pub const MAX_STOCK_LIMIT: u32 = 5000;

/// `GET /v1/stock?cursor=…&limit=…`: the caller's branch's stock levels
/// that changed since a cursor, read in one snapshot together with the chain
/// tip the cloud held for each device of the branch, and signed by the
/// cloud's master-data key ([`crate::master::stock_signing_bytes`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockPage {
    /// The branch code the levels are for.
    pub branch: String,
    /// On hand per SKU, in `(changed, sku)` order.
    pub levels: Vec<StockLevel>,
    /// For every device of the branch, the highest contiguous seq the cloud
    /// held when the levels were read: the levels include that device's
    /// entries up to it and none after.
    pub device_tips: Vec<DeviceTip>,
    /// Pass this back as `cursor` next time; opaque to clients.
    pub next_cursor: String,
    /// More levels are ready now; ask again straight away.
    pub more: bool,
    /// The cloud's Ed25519 signature (128 lowercase hex chars).
    #[serde(default)]
    pub signature: String,
}

/// One item's stock on hand at a branch, in thousandths of a unit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLevel {
    pub sku: String,
    pub on_hand_milli: i64,
    /// Imported with a stock figure or counted: the level means something.
    /// An item never imported with stock nor counted has a level too (its
    /// sales moved it below zero) but a till shows none.
    pub tracked: bool,
}

/// How far the cloud held one device's chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceTip {
    pub device_id: Uuid,
    pub seq: u64,
}

/// `GET /v1/pull?cursor=…&limit=…`: changes since a cursor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullResponse {
    pub changes: Vec<Change>,
    /// Pass this back as `cursor` next time; opaque to clients.
    pub next_cursor: String,
    /// More changes are ready now; pull again straight away.
    pub more: bool,
}

/// The body of every refused request (4xx and 5xx).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A stable snake_case code, e.g. `unsupported_protocol_version`.
    pub error: String,
    /// A sentence for people.
    pub message: String,
    /// True when the same request may succeed later (network, overload,
    /// database unavailable); false when it never will as it stands.
    pub retryable: bool,
    /// Extra fields for some codes (e.g. `{"min": 1, "max": 1}`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, serde_json::Value>,
}
