//! Appending to and reading the device's journal.
//!
//! `append` must be called inside the transaction that also updates the
//! projections: the entry and its effects commit together or not at all.
//! The rows themselves are [`sentra_journal_store::journal`]'s, shared with
//! the relay.

use ed25519_dalek::SigningKey;
use rusqlite::{Connection, Transaction};
use sentra_journal_store::journal as store;
use sentra_protocol::{ChainPoint, Entry, EntryKind, HlcClock, UnsignedEntry};
use uuid::Uuid;

pub use sentra_journal_store::journal::Tip;

use crate::error::{Result, TerminalError};

/// A source of wall-clock time, passed in so tests can skew it.
pub trait Clock: Send {
    fn now_ms(&self) -> u64;
}

/// The operating system's clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }
}

/// Who writes entries: this device's identity and signing key.
pub struct Author {
    pub device_id: Uuid,
    pub branch: String,
    pub signing_key: SigningKey,
}

/// The device's last stored entry, or [`Tip::GENESIS`].
pub fn tip(conn: &Connection, device_id: Uuid) -> Result<Tip> {
    Ok(store::tip(conn, device_id)?)
}

/// Build, sign and insert the next entry of the chain.
pub fn append(
    tx: &Transaction<'_>,
    author: &Author,
    clock: &dyn Clock,
    kind: EntryKind,
    payload: serde_json::Value,
) -> Result<Entry> {
    let last = tip(tx, author.device_id)?;
    let hlc = HlcClock::new(last.hlc).tick(clock.now_ms());
    let entry = UnsignedEntry {
        id: Uuid::now_v7(),
        branch: author.branch.clone(),
        device_id: author.device_id,
        seq: last.seq + 1,
        hlc,
        kind,
        payload,
        prev_hash: last.hash,
    }
    .sign(&author.signing_key)?;
    // The cloud's own checks, before anything is stored: a sale too big, a
    // name with a control character, figures that do not add up are refused
    // here with the reason, never written to be quarantined later.
    if let Err(invalid) = sentra_ledger::validate(&entry) {
        return Err(TerminalError::EntryRefused {
            kind: entry.kind.as_str().to_owned(),
            detail: invalid.to_string(),
        });
    }
    insert(tx, &entry)?;
    Ok(entry)
}

/// Store an entry exactly as signed.
pub fn insert(conn: &Connection, entry: &Entry) -> Result<()> {
    Ok(store::insert(conn, entry)?)
}

/// Visit the device's entries in seq order.
pub fn for_each(
    conn: &Connection,
    device_id: Uuid,
    after_seq: u64,
    mut visit: impl FnMut(Result<Entry>) -> Result<()>,
) -> Result<()> {
    store::for_each(conn, device_id, after_seq, |entry| {
        visit(entry.map_err(TerminalError::from))
    })
}

/// Up to `limit` of the device's entries after `after_seq`, in seq order.
pub fn read_after(
    conn: &Connection,
    device_id: Uuid,
    after_seq: u64,
    limit: usize,
) -> Result<Vec<Entry>> {
    Ok(store::read_after(conn, device_id, after_seq, limit)?)
}

pub fn read_all(conn: &Connection, device_id: Uuid) -> Result<Vec<Entry>> {
    Ok(store::read_all(conn, device_id)?)
}

/// What `journal verify` found.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Verification {
    pub entries: u64,
    pub tip_seq: u64,
    pub tip_hash: String,
}

/// Check the whole chain: gapless seq from 1, every hash, every link, every
/// signature. The error names the first bad seq.
pub fn verify(
    conn: &Connection,
    device_id: Uuid,
    key: &ed25519_dalek::VerifyingKey,
) -> Result<Verification> {
    let entries = read_all(conn, device_id)?;
    let tip = sentra_protocol::verify_chain(&entries, key, device_id, ChainPoint::GENESIS)?;
    Ok(Verification {
        entries: entries.len() as u64,
        tip_seq: tip.seq,
        tip_hash: tip.hash.to_hex(),
    })
}
