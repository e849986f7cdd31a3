//! Appending to and reading the device's journal.
//!
//! `append` must be called inside the transaction that also updates the
//! projections: the entry and its effects commit together or not at all.

use ed25519_dalek::SigningKey;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use sentra_protocol::{
    ChainPoint, Entry, EntryKind, Hash, Hlc, HlcClock, Signature, UnsignedEntry,
};
use uuid::Uuid;

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

/// The last entry of a device's chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tip {
    pub seq: u64,
    pub hash: Hash,
    pub hlc: Hlc,
}

impl Tip {
    const GENESIS: Tip = Tip {
        seq: 0,
        hash: Hash::ZERO,
        hlc: Hlc {
            wall_ms: 0,
            counter: 0,
        },
    };
}

pub fn tip(conn: &Connection, device_id: Uuid) -> Result<Tip> {
    let row = conn
        .prepare_cached(
            "SELECT seq, hash, hlc_wall_ms, hlc_counter FROM journal
             WHERE device_id = ?1 ORDER BY seq DESC LIMIT 1",
        )?
        .query_row([device_id.to_string()], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })
        .optional()?;
    let Some((seq, hash, wall, counter)) = row else {
        return Ok(Tip::GENESIS);
    };
    let seq = seq as u64;
    Ok(Tip {
        seq,
        hash: hash_from_blob(seq, &hash)?,
        hlc: Hlc {
            wall_ms: wall as u64,
            counter: counter as u32,
        },
    })
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
    let payload = serde_json::to_string(&entry.payload)
        .map_err(|e| TerminalError::invalid("journal payload", e.to_string()))?;
    conn.prepare_cached(
        "INSERT INTO journal (device_id, seq, id, format, branch, hlc_wall_ms, hlc_counter,
                              kind, payload, prev_hash, hash, signature)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        entry.device_id.to_string(),
        entry.seq as i64,
        entry.id.to_string(),
        entry.format,
        entry.branch,
        entry.hlc.wall_ms as i64,
        entry.hlc.counter,
        entry.kind.as_str(),
        payload,
        entry.prev_hash.0.as_slice(),
        entry.hash.0.as_slice(),
        entry.signature.0.as_slice(),
    ])?;
    Ok(())
}

const ENTRY_COLUMNS: &str = "seq, format, id, branch, device_id, hlc_wall_ms, hlc_counter,
     kind, payload, prev_hash, hash, signature";

/// A stored row as raw values, so a damaged row is reported with its seq
/// instead of failing the whole read.
fn entry_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Entry>> {
    let seq = r.get::<_, i64>(0)? as u64;
    let format: i64 = r.get(1)?;
    let id: String = r.get(2)?;
    let branch: String = r.get(3)?;
    let device_id: String = r.get(4)?;
    let wall: i64 = r.get(5)?;
    let counter: i64 = r.get(6)?;
    let kind: String = r.get(7)?;
    let payload: String = r.get(8)?;
    let prev_hash: Vec<u8> = r.get(9)?;
    let hash: Vec<u8> = r.get(10)?;
    let signature: Vec<u8> = r.get(11)?;
    let bad = |detail: String| TerminalError::BadJournalRow { seq, detail };
    let build = || -> Result<Entry> {
        Ok(Entry {
            format: u16::try_from(format).map_err(|_| bad(format!("format {format}")))?,
            id: Uuid::parse_str(&id).map_err(|e| bad(format!("id: {e}")))?,
            branch,
            device_id: Uuid::parse_str(&device_id).map_err(|e| bad(format!("device_id: {e}")))?,
            seq,
            hlc: Hlc {
                wall_ms: wall as u64,
                counter: u32::try_from(counter).map_err(|_| bad("hlc counter".into()))?,
            },
            kind: EntryKind::from_name(&kind),
            payload: serde_json::from_str(&payload).map_err(|e| bad(format!("payload: {e}")))?,
            prev_hash: hash_from_blob(seq, &prev_hash)?,
            hash: hash_from_blob(seq, &hash)?,
            signature: Signature(
                signature
                    .as_slice()
                    .try_into()
                    .map_err(|_| bad("signature is not 64 bytes".into()))?,
            ),
        })
    };
    Ok(build())
}

fn hash_from_blob(seq: u64, blob: &[u8]) -> Result<Hash> {
    let bytes: [u8; 32] = blob.try_into().map_err(|_| TerminalError::BadJournalRow {
        seq,
        detail: "hash is not 32 bytes".into(),
    })?;
    Ok(Hash(bytes))
}

/// Visit the device's entries in seq order.
pub fn for_each(
    conn: &Connection,
    device_id: Uuid,
    after_seq: u64,
    mut visit: impl FnMut(Result<Entry>) -> Result<()>,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ENTRY_COLUMNS} FROM journal WHERE device_id = ?1 AND seq > ?2 ORDER BY seq"
    ))?;
    let mut rows = stmt.query(params![device_id.to_string(), after_seq as i64])?;
    while let Some(row) = rows.next()? {
        visit(entry_from_row(row)?)?;
    }
    Ok(())
}

/// Up to `limit` of the device's entries after `after_seq`, in seq order.
pub fn read_after(
    conn: &Connection,
    device_id: Uuid,
    after_seq: u64,
    limit: usize,
) -> Result<Vec<Entry>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ENTRY_COLUMNS} FROM journal WHERE device_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
    ))?;
    let mut rows = stmt.query(params![
        device_id.to_string(),
        after_seq as i64,
        i64::try_from(limit).unwrap_or(i64::MAX)
    ])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(entry_from_row(row)??);
    }
    Ok(out)
}

pub fn read_all(conn: &Connection, device_id: Uuid) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for_each(conn, device_id, 0, |e| {
        entries.push(e?);
        Ok(())
    })?;
    Ok(entries)
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
