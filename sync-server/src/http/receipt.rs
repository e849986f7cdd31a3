//! `GET /v1/receipt?no=…`: one sale of the caller's branch with its voids
//! and refunds, as their tills signed them, for a return at another till
//! (the relay serves the same from its copy of the branch's journal).

use axum::Json;
use axum::extract::{Query, State};
use sentra_protocol::wire::{MAX_RECEIPT_ENTRIES, ReceiptResponse};
use sentra_protocol::{Entry, EntryKind, Hash, Hlc, Signature};
use uuid::Uuid;

use super::{AppState, Caller};
use crate::error::ApiError;

#[derive(serde::Deserialize)]
pub struct ReceiptQuery {
    pub no: String,
}

/// A receipt number as asked for: trimmed, 1–64 printable ASCII characters.
pub fn receipt_number(no: &str) -> Result<String, ApiError> {
    let no = no.trim();
    if no.is_empty() || no.len() > 64 || !no.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::Malformed(format!(
            "receipt number {no:?} must be 1 to 64 printable characters, e.g. JKT01-T01-000042"
        )));
    }
    Ok(no.to_owned())
}

/// The answer from the entries found: the sale first, then what names it.
/// Entries of another branch are never served.
pub fn receipt_response(
    no: String,
    entries: Vec<Entry>,
    branch: &str,
) -> Result<ReceiptResponse, ApiError> {
    let mut entries: Vec<Entry> = entries.into_iter().filter(|e| e.branch == branch).collect();
    let at = entries
        .iter()
        .position(|e| e.kind == EntryKind::SaleCompleted)
        .ok_or(ApiError::UnknownReceipt(no))?;
    let sale = entries.remove(at);
    let related = entries
        .into_iter()
        .filter(|e| e.kind != EntryKind::SaleCompleted)
        .collect();
    Ok(ReceiptResponse { sale, related })
}

type JournalRow = (
    Uuid,
    i64,
    Uuid,
    i16,
    String,
    i64,
    i32,
    Vec<u8>,
    Vec<u8>,
    Vec<u8>,
    serde_json::Value,
);

fn entry_of(branch: &str, r: JournalRow) -> Result<Entry, ApiError> {
    let bad = |what: &str| ApiError::Internal(format!("stored entry {}/{}: {what}", r.0, r.1));
    let hash32 = |b: &[u8], what: &str| -> Result<Hash, ApiError> {
        Ok(Hash(b.try_into().map_err(|_| bad(what))?))
    };
    Ok(Entry {
        format: u16::try_from(r.3).map_err(|_| bad("format"))?,
        id: r.2,
        branch: branch.to_owned(),
        device_id: r.0,
        seq: u64::try_from(r.1).map_err(|_| bad("seq"))?,
        hlc: Hlc {
            wall_ms: u64::try_from(r.5).map_err(|_| bad("hlc"))?,
            counter: u32::try_from(r.6).map_err(|_| bad("hlc counter"))?,
        },
        kind: EntryKind::from_name(&r.4),
        payload: r.10,
        prev_hash: hash32(&r.7, "prev_hash")?,
        hash: hash32(&r.8, "hash")?,
        signature: Signature(r.9.as_slice().try_into().map_err(|_| bad("signature"))?),
    })
}

pub async fn receipt(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ReceiptQuery>,
) -> Result<Json<ReceiptResponse>, ApiError> {
    let no = receipt_number(&q.no)?;
    // Quarantined entries were never applied: they are not served either.
    let rows: Vec<JournalRow> = sqlx::query_as(
        "SELECT device_id, seq, entry_id, format, kind, hlc_wall_ms, hlc_counter,
                prev_hash, hash, signature, payload
         FROM journal
         WHERE branch_id = $1 AND payload ->> 'receipt_no' = $2
           AND kind IN ('sale_completed', 'sale_voided', 'refund_issued')
           AND quarantine_reason IS NULL
         ORDER BY kind <> 'sale_completed', hlc_wall_ms, hlc_counter, device_id, seq
         LIMIT $3",
    )
    .bind(caller.branch_id)
    .bind(&no)
    .bind(MAX_RECEIPT_ENTRIES as i64)
    .fetch_all(&state.pool)
    .await?;
    let entries = rows
        .into_iter()
        .map(|r| entry_of(&caller.branch_code, r))
        .collect::<Result<Vec<_>, _>>()?;
    receipt_response(no, entries, &caller.branch_code).map(Json)
}
