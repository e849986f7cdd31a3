//! The `journal` table: entries stored exactly as signed, keyed by
//! `(device_id, seq)`. A terminal holds its own chain there, a relay the
//! chains of its branch's devices. Building and signing an entry is the
//! author's business; this module only stores and reads rows, and names a
//! damaged row by its seq instead of failing the whole read.

use rusqlite::{Connection, OptionalExtension, params};
use sentra_protocol::{Entry, EntryKind, Hash, Hlc, Signature};
use uuid::Uuid;

use crate::error::{Result, StoreError};

/// The last entry of a device's chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tip {
    pub seq: u64,
    pub hash: Hash,
    pub hlc: Hlc,
}

impl Tip {
    /// Before the first entry: seq 0, the zero hash.
    pub const GENESIS: Tip = Tip {
        seq: 0,
        hash: Hash::ZERO,
        hlc: Hlc {
            wall_ms: 0,
            counter: 0,
        },
    };
}

/// The device's last stored entry, or [`Tip::GENESIS`].
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

/// Store an entry exactly as signed. Call it inside the transaction that
/// also records the entry's effects.
pub fn insert(conn: &Connection, entry: &Entry) -> Result<()> {
    let payload = serde_json::to_string(&entry.payload).map_err(StoreError::Payload)?;
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
    let bad = |detail: String| StoreError::BadJournalRow { seq, detail };
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
    let bytes: [u8; 32] = blob.try_into().map_err(|_| StoreError::BadJournalRow {
        seq,
        detail: "hash is not 32 bytes".into(),
    })?;
    Ok(Hash(bytes))
}

/// Visit the device's entries after `after_seq` in seq order. A damaged row
/// reaches `visit` as [`StoreError::BadJournalRow`]; `visit` decides whether
/// that ends the walk.
pub fn for_each<E: From<StoreError>>(
    conn: &Connection,
    device_id: Uuid,
    after_seq: u64,
    mut visit: impl FnMut(Result<Entry>) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {ENTRY_COLUMNS} FROM journal WHERE device_id = ?1 AND seq > ?2 ORDER BY seq"
        ))
        .map_err(StoreError::from)?;
    let mut rows = stmt
        .query(params![device_id.to_string(), after_seq as i64])
        .map_err(StoreError::from)?;
    while let Some(row) = rows.next().map_err(StoreError::from)? {
        visit(entry_from_row(row).map_err(StoreError::from)?)?;
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

/// All of the device's entries, in seq order.
pub fn read_all(conn: &Connection, device_id: Uuid) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for_each(conn, device_id, 0, |e| {
        entries.push(e?);
        Ok::<_, StoreError>(())
    })?;
    Ok(entries)
}

/// The entries of any device that name `receipt_no`: its `sale_completed`,
/// then the `sale_voided` and `refund_issued` entries of it, in the order
/// they were made (a relay serves these for returns at another till; the
/// index `journal_by_receipt` keeps it a look-up).
pub fn by_receipt(conn: &Connection, receipt_no: &str, limit: usize) -> Result<Vec<Entry>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ENTRY_COLUMNS} FROM journal
         WHERE kind IN ('sale_completed', 'sale_voided', 'refund_issued')
           AND json_extract(payload, '$.receipt_no') = ?1
         ORDER BY kind <> 'sale_completed', hlc_wall_ms, hlc_counter, device_id, seq
         LIMIT ?2"
    ))?;
    let mut rows = stmt.query(params![
        receipt_no,
        i64::try_from(limit).unwrap_or(i64::MAX)
    ])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(entry_from_row(row)??);
    }
    Ok(out)
}
