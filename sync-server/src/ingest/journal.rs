//! The raw journal: every accepted entry of a batch is stored with one
//! `INSERT … SELECT … FROM UNNEST(…)`, before it is applied (so voids and
//! refunds in the batch can read the sales they name). An entry whose kind or
//! payload the typed columns cannot hold is kept as received (`raw_entry`)
//! and quarantined, never applied.

use chrono::{DateTime, Utc};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::apply::{Accepted, ApplyError, ms_to_time};
use super::printable;

/// Whether the entry's kind and payload fit the journal's typed columns:
/// `jsonb` cannot hold U+0000 (canonical JSON writes it `\u0000`), and a kind
/// is a short snake_case name.
fn storable(a: &Accepted<'_>) -> bool {
    let kind = a.entry.kind.as_str();
    !a.payload_json.contains("\\u0000")
        && !kind.is_empty()
        && kind.len() <= 64
        && kind
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Rows of `journal`, one vector per column; the payloads are borrowed from
/// the batch.
struct JournalColumns<'a> {
    device_id: Vec<Uuid>,
    seq: Vec<i64>,
    entry_id: Vec<Uuid>,
    format: Vec<i16>,
    kind: Vec<String>,
    hlc_wall_ms: Vec<i64>,
    hlc_counter: Vec<i32>,
    prev_hash: Vec<Vec<u8>>,
    hash: Vec<Vec<u8>>,
    signature: Vec<Vec<u8>>,
    payload: Vec<Option<&'a str>>,
    occurred_at: Vec<DateTime<Utc>>,
    quarantine_reason: Vec<Option<String>>,
    raw_entry: Vec<Option<String>>,
}

impl<'a> JournalColumns<'a> {
    fn with_capacity(n: usize) -> Self {
        JournalColumns {
            device_id: Vec::with_capacity(n),
            seq: Vec::with_capacity(n),
            entry_id: Vec::with_capacity(n),
            format: Vec::with_capacity(n),
            kind: Vec::with_capacity(n),
            hlc_wall_ms: Vec::with_capacity(n),
            hlc_counter: Vec::with_capacity(n),
            prev_hash: Vec::with_capacity(n),
            hash: Vec::with_capacity(n),
            signature: Vec::with_capacity(n),
            payload: Vec::with_capacity(n),
            occurred_at: Vec::with_capacity(n),
            quarantine_reason: Vec::with_capacity(n),
            raw_entry: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, a: &Accepted<'a>) -> Result<(), ApplyError> {
        let e = &a.entry;
        self.device_id.push(e.device_id);
        self.seq.push(e.seq as i64);
        self.entry_id.push(e.id);
        self.format.push(e.format as i16);
        self.hlc_wall_ms.push(e.hlc.wall_ms as i64);
        self.hlc_counter.push(e.hlc.counter as i32);
        self.prev_hash.push(e.prev_hash.0.to_vec());
        self.hash.push(e.hash.0.to_vec());
        self.signature.push(e.signature.0.to_vec());
        self.occurred_at.push(ms_to_time(a.occurred_ms));
        if storable(a) {
            self.kind.push(e.kind.as_str().to_owned());
            self.payload.push(Some(a.payload_json));
            self.raw_entry.push(None);
            self.quarantine_reason
                .push(a.typed.as_ref().err().map(|r| printable(r)));
        } else {
            // Kept as received (serde escapes every control character), so
            // the signature can still be checked; never applied.
            self.kind.push("unstorable".to_owned());
            self.payload.push(None);
            self.raw_entry
                .push(Some(serde_json::to_string(e).map_err(|err| {
                    ApplyError::Entry(format!("entry cannot be kept as JSON: {err}"))
                })?));
            self.quarantine_reason.push(Some(printable(
                a.typed
                    .as_ref()
                    .err()
                    .map_or("unstorable: kind or payload cannot be stored", |r| r),
            )));
        }
        Ok(())
    }

    async fn insert(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        branch_id: i32,
        received_at: DateTime<Utc>,
    ) -> Result<(), ApplyError> {
        sqlx::query(
            "INSERT INTO journal (branch_id, device_id, seq, entry_id, format, kind, hlc_wall_ms,
             hlc_counter, prev_hash, hash, signature, payload, received_at, occurred_at,
             quarantine_reason, raw_entry)
         SELECT $1, d, s, i, f, k, w, c, p, h, g, y::jsonb, $2, o, q, r
         FROM UNNEST($3::uuid[], $4::bigint[], $5::uuid[], $6::smallint[], $7::text[],
                     $8::bigint[], $9::int[], $10::bytea[], $11::bytea[], $12::bytea[],
                     $13::text[], $14::timestamptz[], $15::text[], $16::text[])
              AS u(d, s, i, f, k, w, c, p, h, g, y, o, q, r)",
        )
        .bind(branch_id)
        .bind(received_at)
        .bind(&self.device_id)
        .bind(&self.seq)
        .bind(&self.entry_id)
        .bind(&self.format)
        .bind(&self.kind)
        .bind(&self.hlc_wall_ms)
        .bind(&self.hlc_counter)
        .bind(&self.prev_hash)
        .bind(&self.hash)
        .bind(&self.signature)
        .bind(&self.payload)
        .bind(&self.occurred_at)
        .bind(&self.quarantine_reason)
        .bind(&self.raw_entry)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

/// Stores a run of accepted entries in the journal.
pub(super) async fn insert_journal(
    tx: &mut Transaction<'_, Postgres>,
    branch_id: i32,
    accepted: &[Accepted<'_>],
    received_ms: u64,
) -> Result<(), ApplyError> {
    if accepted.is_empty() {
        return Ok(());
    }
    let mut cols = JournalColumns::with_capacity(accepted.len());
    for a in accepted {
        cols.push(a)?;
    }
    cols.insert(tx, branch_id, ms_to_time(received_ms as i64))
        .await
}
