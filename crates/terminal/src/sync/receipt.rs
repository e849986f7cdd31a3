//! Returns at another till: a sale of this branch fetched from the relay
//! (which holds every till's journal, so this works with the internet down)
//! or the cloud, and **verified here** before anything uses it — each entry
//! with its device's key as the cloud signed it (pulled `device`), so an
//! upstream that alters a sale, a void or a refund is refused, not trusted.
//! A verified sale is kept in `foreign_sales`; `Terminal::refund` then
//! refunds it like one of its own, net of what was already refunded here and
//! upstream.

use ed25519_dalek::VerifyingKey;
use rusqlite::{OptionalExtension, params};
use sentra_protocol::payload::{RefundIssued, SaleCompleted, SaleVoided};
use sentra_protocol::wire::ReceiptResponse;
use sentra_protocol::{Entry, EntryKind};

use super::UpstreamKind;
use super::client::{CallError, Upstream};
use super::{SyncError, state};
use crate::Terminal;
use crate::error::{Params, Result, SaleError, TerminalError, param};

/// Why another till's sale could not be had for a return.
#[derive(Debug, thiserror::Error)]
pub enum ForeignSaleError {
    /// No upstream could produce the sale of another till.
    #[error("receipt {receipt} could not be looked up: {detail}")]
    LookupFailed { receipt: String, detail: String },

    /// An upstream served an entry that does not verify: never used.
    #[error(
        "the sale served for this return was refused: entry {seq} of device {device} is not usable because {why}; report it to head office"
    )]
    EntryRefused {
        device: String,
        seq: u64,
        why: String,
    },
}

impl ForeignSaleError {
    /// The stable code (see [`crate::error`]).
    pub fn code(&self) -> &'static str {
        match self {
            ForeignSaleError::LookupFailed { .. } => "receipt_lookup",
            ForeignSaleError::EntryRefused { .. } => "foreign_entry_refused",
        }
    }

    /// The values its worded message needs.
    pub fn params(&self) -> Params {
        match self {
            ForeignSaleError::LookupFailed { receipt, .. } => param("receipt", receipt),
            ForeignSaleError::EntryRefused { .. } => Params::new(),
        }
    }

    /// `entry` cannot be used, because `why`.
    fn refused(entry: &Entry, why: impl Into<String>) -> Self {
        ForeignSaleError::EntryRefused {
            device: entry.device_id.to_string(),
            seq: entry.seq,
            why: why.into(),
        }
    }
}

/// Asks each source in turn (the relay first) for `receipt_no`. An
/// upstream that does not hold it or cannot be reached passes to the next.
pub async fn fetch_receipt(
    sources: &[Upstream],
    receipt_no: &str,
) -> Result<(UpstreamKind, ReceiptResponse)> {
    // A till with nothing to ask (trial): the number is simply unknown.
    if sources.is_empty() {
        return Err(SaleError::UnknownReceipt(receipt_no.to_owned()).into());
    }
    let mut unknown = false;
    let mut problems = Vec::new();
    for source in sources {
        match source.receipt(receipt_no).await {
            Ok(r) => return Ok((source.kind, r)),
            Err(CallError::Refused { status: 404, body }) if body.error == "unknown_receipt" => {
                unknown = true;
            }
            Err(e) => problems.push(format!("{}: {}", source.kind.as_str(), e.message())),
        }
    }
    if unknown && problems.is_empty() {
        return Err(SaleError::UnknownReceipt(receipt_no.to_owned()).into());
    }
    let mut detail = problems.join("; ");
    if unknown {
        detail.push_str(" (the others do not hold it)");
    }
    Err(ForeignSaleError::LookupFailed {
        receipt: receipt_no.to_owned(),
        detail,
    }
    .into())
}

/// A verified sale of another till, as kept for its return.
#[derive(Clone, Debug)]
pub struct ForeignSale {
    pub entry: Entry,
    pub sale: SaleCompleted,
    pub voided: bool,
    /// Refunds of it made elsewhere (other tills), as signed.
    pub refunds: Vec<RefundIssued>,
}

impl Terminal {
    /// Where a receipt can be looked up: the relay first, then the cloud.
    pub fn receipt_sources(&self) -> Result<Vec<Upstream>> {
        let stored = state::load(&self.conn)?;
        let http = super::client::http_client().map_err(SyncError::Client)?;
        let mut out = Vec::new();
        if let (Some(url), Some(credential)) = (stored.relay_url.clone(), stored.relay_credential) {
            out.push(Upstream::new(
                UpstreamKind::Relay,
                url,
                credential,
                http.clone(),
            ));
        }
        if let (Some(url), Some(credential)) = (stored.server_url, stored.credential) {
            out.push(Upstream::new(UpstreamKind::Cloud, url, credential, http));
        }
        Ok(out)
    }

    /// The key the cloud published for `device` of this branch.
    fn device_key(&self, entry: &Entry) -> Result<VerifyingKey> {
        let refuse = |why: String| ForeignSaleError::refused(entry, why);
        if entry.branch != self.ctx.author.branch {
            return Err(refuse(format!("it is of branch {}", entry.branch)).into());
        }
        let key: Option<(String, i64)> = self
            .conn
            .query_row(
                "SELECT public_key, revoked FROM branch_devices WHERE device_id = ?1",
                [entry.device_id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (hex_key, _revoked) = key.ok_or_else(|| {
            refuse("its device is not among this branch's devices (not pulled yet?)".into())
        })?;
        let bytes: [u8; 32] = hex::decode(&hex_key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| refuse("the stored key of its device is unreadable".into()))?;
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|e| refuse(format!("its device's key: {e}")))?;
        Ok(key)
    }

    /// Checks one served entry: this branch, a device the cloud published,
    /// its hash and signature (which cover its device, seq and link to the
    /// entry before it: its place in the chain).
    fn verify_foreign(&self, entry: &Entry) -> Result<()> {
        let key = self.device_key(entry)?;
        entry.verify(&key).map_err(|e| {
            ForeignSaleError::refused(entry, format!("it is not as its till signed it ({e})"))
                .into()
        })
    }

    /// Verifies what an upstream served for `receipt_no` and keeps it. Any
    /// entry that does not verify refuses the whole answer.
    pub fn adopt_foreign_sale(
        &mut self,
        receipt_no: &str,
        from: UpstreamKind,
        served: &ReceiptResponse,
    ) -> Result<ForeignSale> {
        let receipt_no = receipt_no.trim();
        self.verify_foreign(&served.sale)?;
        let wrong =
            |why: &str| -> TerminalError { ForeignSaleError::refused(&served.sale, why).into() };
        if served.sale.kind != EntryKind::SaleCompleted {
            return Err(wrong("it is not a sale"));
        }
        let sale: SaleCompleted = served
            .sale
            .decode_payload()
            .map_err(|_| wrong("its sale does not decode"))?;
        if sale.receipt_no != receipt_no {
            return Err(wrong("it is another receipt"));
        }
        let mut voided = false;
        let mut refunds = Vec::new();
        for e in &served.related {
            self.verify_foreign(e)?;
            match e.kind {
                EntryKind::SaleVoided => {
                    let v: SaleVoided = e.decode_payload().map_err(|_| wrong("a void"))?;
                    voided |= v.receipt_no == receipt_no && v.sale_entry_id == served.sale.id;
                }
                EntryKind::RefundIssued => {
                    let r: RefundIssued = e.decode_payload().map_err(|_| wrong("a refund"))?;
                    if r.receipt_no == receipt_no && e.device_id != self.ctx.author.device_id {
                        refunds.push(r);
                    }
                }
                _ => {}
            }
        }
        let entry_json = serde_json::to_string(&served.sale)
            .map_err(|e| TerminalError::invalid("served sale", e.to_string()))?;
        let related_json = serde_json::to_string(&served.related)
            .map_err(|e| TerminalError::invalid("served entries", e.to_string()))?;
        self.conn.execute(
            "INSERT INTO foreign_sales (receipt_no, entry, related, fetched_from, fetched_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (receipt_no) DO UPDATE SET entry = excluded.entry,
                 related = excluded.related, fetched_from = excluded.fetched_from,
                 fetched_at_ms = excluded.fetched_at_ms",
            params![
                receipt_no,
                entry_json,
                related_json,
                from.as_str(),
                i64::try_from(self.ctx.clock.now_ms()).unwrap_or(i64::MAX)
            ],
        )?;
        Ok(ForeignSale {
            entry: served.sale.clone(),
            sale,
            voided,
            refunds,
        })
    }

    /// A sale of another till fetched earlier, verified again from what was
    /// kept (the store is encrypted, but a check costs little).
    pub fn foreign_sale(&self, receipt_no: &str) -> Result<Option<ForeignSale>> {
        let row: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT entry, related FROM foreign_sales WHERE receipt_no = ?1",
                [receipt_no],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((entry, related)) = row else {
            return Ok(None);
        };
        let bad = |e: serde_json::Error| TerminalError::invalid("kept sale", e.to_string());
        let sale: Entry = serde_json::from_str(&entry).map_err(bad)?;
        let related: Vec<Entry> = serde_json::from_str(&related).map_err(bad)?;
        self.verify_foreign(&sale)?;
        let payload: SaleCompleted = sale
            .decode_payload()
            .map_err(|e| TerminalError::invalid("kept sale", e.to_string()))?;
        let mut voided = false;
        let mut refunds = Vec::new();
        for e in &related {
            self.verify_foreign(e)?;
            match e.kind {
                EntryKind::SaleVoided => {
                    voided |= e
                        .decode_payload::<SaleVoided>()
                        .is_ok_and(|v| v.sale_entry_id == sale.id)
                }
                EntryKind::RefundIssued => {
                    if let Ok(r) = e.decode_payload::<RefundIssued>()
                        && r.receipt_no == receipt_no
                        && e.device_id != self.ctx.author.device_id
                    {
                        refunds.push(r);
                    }
                }
                _ => {}
            }
        }
        Ok(Some(ForeignSale {
            entry: sale,
            sale: payload,
            voided,
            refunds,
        }))
    }
}
