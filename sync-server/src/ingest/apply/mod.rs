//! Applying accepted entries to the projections, and running the conflict
//! rules, inside the batch's transaction.
//!
//! Sales (the bulk of every batch) are buffered and written with one
//! `UNNEST` statement per table; any other kind first flushes the buffer, so
//! entries always apply in chain order. Shift totals and the daily rollup are
//! folded in memory and written once at the end.
//!
//! One type, [`Applier`], with one `impl` block per entry kind. This file:
//! the batch's dispatch by kind, the final write of the folded state, and
//! what the others share. `sales.rs` (sales, vouchers; their column buffers
//! in `sale_columns.rs`), `voids.rs`, `refunds.rs` (and the voids and refunds
//! parked on a sale), `shifts.rs` (shifts, cash, the drawer), `stock.rs`
//! (movements, counts) and `rollup.rs` (the daily rollup) apply the rest.

mod refunds;
mod rollup;
mod sale_columns;
mod sales;
mod shifts;
mod stock;
mod voids;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use sentra_ledger::Typed;
use sentra_ledger::rules;
use sentra_protocol::Entry;
use serde_json::json;
use sqlx::{PgConnection, Postgres, Transaction};
use uuid::Uuid;

use super::summaries::Summaries;
use rollup::Rollup;
use shifts::ShiftState;
use stock::StockEvent;

/// An accepted entry, ready to apply. It borrows the entry from the request
/// (a retried transaction applies the same entries again), so a batch's
/// payloads are never deep-copied.
pub struct Accepted<'a> {
    pub entry: &'a Entry,
    /// The payload's canonical JSON, exactly as signed (stored as is).
    pub payload_json: &'a str,
    /// Corrected time (ms since the epoch) the reports use.
    pub occurred_ms: i64,
    /// The decoded payload, or why it goes to quarantine.
    pub typed: Result<Typed, String>,
}

/// A conflict found by a rule; inserted at the end (raising the same
/// `dedup_key` twice is a no-op).
#[derive(Clone, Debug)]
pub struct NewConflict {
    pub kind: &'static str,
    pub dedup_key: String,
    pub device_id: Uuid,
    pub seq: u64,
    pub entry_id: Option<Uuid>,
    pub details: serde_json::Value,
}

pub fn ms_to_time(ms: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default()
}

/// The applier of one batch.
pub struct Applier {
    branch_id: i32,
    tz: Tz,
    /// Indexes (into the batch) of the sales not yet written.
    pending_sales: Vec<usize>,
    rollups: BTreeMap<(NaiveDate, Uuid), Rollup>,
    /// The reports' summaries (`item_daily_rollup` and the others).
    summaries: Summaries,
    shifts: HashMap<Uuid, ShiftState>,
    /// Stock movements of the batch, in order, applied by `flush_stock`.
    stock_events: Vec<StockEvent>,
    pub conflicts: Vec<NewConflict>,
    /// Entries that could not be applied after all (e.g. a reused entry id):
    /// index into the batch → reason.
    pub quarantine: BTreeMap<usize, String>,
}

type Db = PgConnection;
type R<T> = Result<T, ApplyError>;

/// Why applying a batch failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// This entry cannot be applied as the ledger stands (a running sum would
    /// overflow, a row it builds on is unreadable): it will fail again on
    /// every retry, so the batch is re-run entry by entry and this one is
    /// quarantined with the reason.
    #[error("{0}")]
    Entry(String),
}

impl From<sentra_domain::DomainError> for ApplyError {
    fn from(e: sentra_domain::DomainError) -> Self {
        ApplyError::Entry(e.to_string())
    }
}

/// `a += b`, or the entry cannot be applied (`what` would overflow).
pub(super) fn add(a: &mut i64, b: i64, what: &str) -> R<()> {
    *a = a
        .checked_add(b)
        .ok_or_else(|| ApplyError::Entry(format!("{what} would overflow")))?;
    Ok(())
}

fn date_of(ms: i64, tz: Tz) -> NaiveDate {
    rules::business_date(ms, tz)
}

impl Applier {
    pub fn new(branch_id: i32, tz: Tz) -> Applier {
        Applier {
            branch_id,
            tz,
            pending_sales: Vec::new(),
            rollups: BTreeMap::new(),
            summaries: Summaries::new(tz),
            shifts: HashMap::new(),
            stock_events: Vec::new(),
            conflicts: Vec::new(),
            quarantine: BTreeMap::new(),
        }
    }

    /// Applies the voids and refunds parked on sales that are now in the
    /// ledger (the sweeper's second pass), then writes the folded state.
    pub async fn apply_arrived(
        &mut self,
        tx: &mut Transaction<'_, Postgres>,
        sale_ids: &[Uuid],
        receipts: &[String],
    ) -> R<()> {
        self.lock_receipts(tx, receipts).await?;
        self.resolve_parked(tx, sale_ids, receipts).await?;
        self.write_folded(tx).await
    }

    /// Applies every accepted entry, then writes the folded state.
    pub async fn apply_all(
        &mut self,
        tx: &mut Transaction<'_, Postgres>,
        batch: &[Accepted<'_>],
    ) -> R<()> {
        for (i, a) in batch.iter().enumerate() {
            let Ok(typed) = &a.typed else { continue };
            if matches!(typed, Typed::SaleCompleted(_)) {
                self.pending_sales.push(i);
                continue;
            }
            self.flush_sales(tx, batch).await?;
            match typed {
                Typed::SaleCompleted(_) => {}
                Typed::SaleVoided(v) => self.sale_voided(tx, a, v).await?,
                Typed::RefundIssued(r) => self.refund_issued(tx, a, r).await?,
                Typed::ShiftOpened(o) => self.shift_opened(tx, a, o).await?,
                Typed::ShiftClosed(c) => self.shift_closed(tx, a, c).await?,
                Typed::CashMoved(m) => self.cash_moved(tx, a, m).await?,
                Typed::DrawerOpened(d) => self.drawer_opened(tx, a, d).await?,
                Typed::StockCounted(c) => self.stock_counted(tx, a, c).await?,
                // The lock-out lives on the till: head office gets an alert.
                Typed::PinLockedOut(p) => {
                    let details = json!({"user_id": p.user_id, "failures": p.failures,
                                         "locked_for_ms": p.locked_for_ms});
                    self.alert(tx, a, "pin_locked_out", details).await?
                }
                // Used when the batch is placed (`rules::offset_applies`).
                Typed::ClockSteppedBack(c) => {
                    let details = json!({"behind_ms": c.behind_ms, "clock_ms": c.clock_ms});
                    self.alert(tx, a, "clock_stepped_back", details).await?
                }
                Typed::MasterDataRefused(m) => {
                    let details = json!({"upstream": m.upstream, "entity": m.entity,
                                         "key": m.key, "problem": m.problem});
                    self.alert(tx, a, "master_data_refused", details).await?
                }
            }
        }
        self.flush_sales(tx, batch).await?;
        self.write_folded(tx).await
    }

    /// Writes the state folded in memory: shift totals, the daily rollup,
    /// stock — stock last, so its rows (shared by every device of the
    /// branch) are locked as briefly as possible, always in SKU order.
    async fn write_folded(&mut self, tx: &mut Transaction<'_, Postgres>) -> R<()> {
        self.write_shifts(tx).await?;
        self.write_rollups(tx).await?;
        self.summaries.write(tx, self.branch_id).await?;
        self.flush_stock(tx).await
    }

    /// An alert of `kind` for head office, keyed by the entry (so a replay
    /// raises nothing more).
    async fn alert(
        &mut self,
        tx: &mut Transaction<'_, Postgres>,
        a: &Accepted<'_>,
        kind: &str,
        details: serde_json::Value,
    ) -> R<()> {
        sqlx::query(
            "INSERT INTO alerts (branch_id, alert_id, kind, device_id, seq, details, raised_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT DO NOTHING",
        )
        .bind(self.branch_id)
        .bind(a.entry.id)
        .bind(kind)
        .bind(a.entry.device_id)
        .bind(a.entry.seq as i64)
        .bind(details)
        .bind(ms_to_time(a.occurred_ms))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}
