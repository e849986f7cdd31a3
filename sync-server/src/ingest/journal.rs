//! The raw journal: every accepted entry of a batch is stored with one
//! binary `COPY` (`crate::binary_copy`), before it is applied (so voids and
//! refunds in the batch can read the sales they name). An entry whose kind or
//! payload the typed columns cannot hold is kept as received (`raw_entry`)
//! and quarantined, never applied.

use sqlx::{Postgres, Transaction};

use super::apply::{Accepted, ApplyError, ms_to_time};
use super::printable;
use crate::binary_copy::BinaryCopy;

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

const COPY_JOURNAL: &str = "COPY journal (branch_id, device_id, seq, entry_id, format, kind,
    hlc_wall_ms, hlc_counter, prev_hash, hash, signature, payload, received_at, occurred_at,
    quarantine_reason, raw_entry) FROM STDIN (FORMAT binary)";

/// Stores a run of accepted entries in the journal: one row each, fields in
/// the order of [`COPY_JOURNAL`].
pub(super) async fn insert_journal(
    tx: &mut Transaction<'_, Postgres>,
    branch_id: i32,
    accepted: &[Accepted<'_>],
    received_ms: u64,
) -> Result<(), ApplyError> {
    let received_at = ms_to_time(received_ms as i64);
    let mut rows = BinaryCopy::new(16);
    for a in accepted {
        let e = &a.entry;
        let row = rows
            .row()
            .int4(branch_id)
            .uuid(e.device_id)
            .int8(e.seq as i64)
            .uuid(e.id)
            .int2(e.format as i16);
        if storable(a) {
            let quarantine_reason = a.typed.as_ref().err().map(|r| printable(r));
            row.text(e.kind.as_str())
                .int8(e.hlc.wall_ms as i64)
                .int4(e.hlc.counter as i32)
                .bytea(&e.prev_hash.0)
                .bytea(&e.hash.0)
                .bytea(&e.signature.0)
                .jsonb(a.payload_json)
                .timestamptz(received_at)
                .timestamptz(ms_to_time(a.occurred_ms))
                .opt_text(quarantine_reason.as_deref())
                .null();
        } else {
            // Kept as received (serde escapes every control character), so
            // the signature can still be checked; never applied.
            let raw_entry = serde_json::to_string(e)
                .map_err(|err| ApplyError::Entry(format!("entry cannot be kept as JSON: {err}")))?;
            let quarantine_reason = printable(
                a.typed
                    .as_ref()
                    .err()
                    .map_or("unstorable: kind or payload cannot be stored", |r| r),
            );
            row.text("unstorable")
                .int8(e.hlc.wall_ms as i64)
                .int4(e.hlc.counter as i32)
                .bytea(&e.prev_hash.0)
                .bytea(&e.hash.0)
                .bytea(&e.signature.0)
                .null()
                .timestamptz(received_at)
                .timestamptz(ms_to_time(a.occurred_ms))
                .text(&quarantine_reason)
                .text(&raw_entry);
        }
    }
    rows.send(tx, COPY_JOURNAL).await?;
    Ok(())
}
