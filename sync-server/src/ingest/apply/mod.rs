//! Applying accepted entries to the projections, and running the conflict
//! rules, inside the batch's transaction.
//!
//! Sales (the bulk of every batch) are buffered and written with one
//! `UNNEST` statement per table; any other kind first flushes the buffer, so
//! entries always apply in chain order. Shift totals and the daily rollup are
//! folded in memory and written once at the end.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use sentra_domain::{Money, SaleFigures, ShiftSummary};
use sentra_ledger::rules::{self, RefundClaim, SoldLine};
use sentra_ledger::shift::summary_of;
use sentra_ledger::{Typed, figures_of, parse_method, totals_of};
use sentra_protocol::payload::{
    CashDirection, CashMoved, DrawerOpened, RefundIssued, SaleCompleted, SaleVoided, ShiftClosed,
    ShiftOpened, ShiftTotals, StockCounted,
};
use sentra_protocol::{Entry, Hlc};
use serde_json::json;
use sqlx::{PgConnection, Postgres, Transaction};
use uuid::Uuid;

use super::summaries::Summaries;

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

#[derive(Clone, Debug, Default)]
struct Rollup {
    sales_count: i64,
    voids_count: i64,
    gross: i64,
    discounts: i64,
    tax: i64,
    sales_total: i64,
    refunds_count: i64,
    refunds_total: i64,
    refunds_tax: i64,
    payments: [i64; 4],
}

fn method_slot(name: &str) -> Option<usize> {
    match name {
        "cash" => Some(0),
        "card" => Some(1),
        "qris" => Some(2),
        "voucher" => Some(3),
        _ => None,
    }
}

impl Rollup {
    /// Adds (`sign` 1) or takes back (`sign` −1) a sale; every sum checked.
    fn sale(&mut self, f: &SaleFigures, sign: i64) -> R<()> {
        let what = "the daily rollup";
        add(&mut self.sales_count, sign, what)?;
        add(&mut self.gross, sign * f.gross.minor(), what)?;
        add(&mut self.discounts, sign * f.discounts.minor(), what)?;
        add(&mut self.tax, sign * f.tax.minor(), what)?;
        add(&mut self.sales_total, sign * f.total.minor(), what)?;
        for (m, a) in &f.payments {
            if let Some(i) = method_slot(m.as_str()) {
                add(&mut self.payments[i], sign * a.minor(), what)?;
            }
        }
        Ok(())
    }

    fn refund(&mut self, total: i64, tax: i64, method: &str) -> R<()> {
        let what = "the daily rollup";
        add(&mut self.refunds_count, 1, what)?;
        add(&mut self.refunds_total, total, what)?;
        add(&mut self.refunds_tax, tax, what)?;
        if let Some(i) = method_slot(method) {
            add(&mut self.payments[i], -total, what)?;
        }
        Ok(())
    }
}

struct ShiftState {
    summary: ShiftSummary,
    exists: bool,
    dirty: bool,
    device_id: Uuid,
    opened_at: DateTime<Utc>,
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
/// shift id, device id, opening float, totals, opened at.
type ShiftRow = (
    Uuid,
    Uuid,
    i64,
    sqlx::types::Json<ShiftTotals>,
    DateTime<Utc>,
);
/// device id, payload, business date, voided by, occurred at.
type SaleJoinRow = (
    Uuid,
    sqlx::types::Json<SaleCompleted>,
    NaiveDate,
    Option<Uuid>,
    DateTime<Utc>,
);
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

    fn rollup(&mut self, ms: i64, device: Uuid) -> &mut Rollup {
        let d = date_of(ms, self.tz);
        self.rollups.entry((d, device)).or_default()
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

    /// Applies the batch's stock movements with one upsert, in SKU order (so
    /// concurrent batches never deadlock on stock rows), and raises
    /// `oversold` where a sale took a tracked item below zero. Stock is
    /// tracked once it has been imported or counted (`count_generation ≥
    /// 1`); an item never counted is not oversold.
    async fn flush_stock(&mut self, tx: &mut Transaction<'_, Postgres>) -> R<()> {
        if self.stock_events.is_empty() {
            return Ok(());
        }
        let events = std::mem::take(&mut self.stock_events);
        let mut deltas: BTreeMap<&str, i64> = BTreeMap::new();
        for e in &events {
            add(
                deltas.entry(e.sku.as_str()).or_default(),
                e.delta,
                "stock movement",
            )?;
        }
        let skus: Vec<&str> = deltas.keys().copied().collect();
        let amounts: Vec<i64> = deltas.values().copied().collect();
        let levels: Vec<(String, i64, i64)> = sqlx::query_as(
            "INSERT INTO stock_levels AS s (branch_id, sku, on_hand_milli)
             SELECT $1, sku, d FROM UNNEST($2::text[], $3::bigint[]) AS u(sku, d)
             ON CONFLICT (branch_id, sku) DO UPDATE SET on_hand_milli = s.on_hand_milli + EXCLUDED.on_hand_milli
             RETURNING sku, on_hand_milli, count_generation",
        )
        .bind(self.branch_id)
        .bind(&skus)
        .bind(&amounts)
        .fetch_all(&mut **tx)
        .await?;
        // The level before the batch, for tracked items; then replay the
        // movements in order to find the sales that went below zero.
        let mut running: HashMap<String, (i64, i64)> = HashMap::new();
        for (sku, after, generation) in levels {
            if generation >= 1 {
                let before = after - deltas.get(sku.as_str()).copied().unwrap_or(0);
                running.insert(sku, (before, generation));
            }
        }
        for e in &events {
            let Some((level, generation)) = running.get_mut(&e.sku) else {
                continue;
            };
            let before = *level;
            add(level, e.delta, "stock on hand")?;
            if let Some(sale) = &e.sale
                && *level < 0
            {
                self.conflicts.push(NewConflict {
                    kind: "oversold",
                    dedup_key: rules::oversold_key(&e.sku, sale.date, *generation),
                    device_id: sale.device_id,
                    seq: sale.seq,
                    entry_id: Some(sale.entry_id),
                    details: json!({
                        "sku": e.sku,
                        "receipt_no": sale.receipt_no,
                        "business_date": sale.date,
                        "on_hand_before_milli": before,
                        "on_hand_after_milli": *level,
                        "sold_milli": -e.delta,
                    }),
                });
            }
        }
        Ok(())
    }

    // ---- shifts -------------------------------------------------------

    async fn load_shifts(&mut self, db: &mut Db, ids: &[Uuid]) -> R<()> {
        let missing: Vec<Uuid> = ids
            .iter()
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .filter(|id| !self.shifts.contains_key(id))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let rows: Vec<ShiftRow> = sqlx::query_as(
            "SELECT shift_id, device_id, opening_float, totals, opened_at FROM shifts
             WHERE branch_id = $1 AND shift_id = ANY($2) ORDER BY shift_id FOR UPDATE",
        )
        .bind(self.branch_id)
        .bind(&missing)
        .fetch_all(&mut *db)
        .await?;
        for (id, device_id, float, totals, opened_at) in rows {
            // Unreadable totals must not silently restart at zero.
            let summary = summary_of(float, &totals.0).map_err(|e| {
                ApplyError::Entry(format!(
                    "the totals held for shift {id} are unreadable: {e}"
                ))
            })?;
            self.shifts.insert(
                id,
                ShiftState {
                    summary,
                    exists: true,
                    dirty: false,
                    device_id,
                    opened_at,
                },
            );
        }
        Ok(())
    }

    /// Whether shift `id` (already loaded) belongs to another device than the
    /// entry's: then the entry is kept but not applied to that shift, and a
    /// `foreign_shift` conflict is raised (a terminal only ever writes to its
    /// own shift; the cloud enforces it too).
    fn foreign_shift(&mut self, id: Uuid, a: &Accepted<'_>, what: &str) -> bool {
        let Some(owner) = self.shifts.get(&id).map(|s| s.device_id) else {
            return false;
        };
        if owner == a.entry.device_id {
            return false;
        }
        self.conflicts.push(NewConflict {
            kind: "foreign_shift",
            dedup_key: format!("foreign_shift:{}", a.entry.id),
            device_id: a.entry.device_id,
            seq: a.entry.seq,
            entry_id: Some(a.entry.id),
            details: json!({
                "entry_kind": what,
                "shift_id": id,
                "shift_device_id": owner,
            }),
        });
        true
    }

    /// The shift's running state; a shift whose `shift_opened` never applied
    /// (quarantined) starts implicitly with a zero float.
    fn shift(&mut self, id: Uuid, device_id: Uuid, at_ms: i64) -> &mut ShiftState {
        self.shifts.entry(id).or_insert_with(|| ShiftState {
            summary: ShiftSummary::open(Money::idr(0)),
            exists: false,
            dirty: true,
            device_id,
            opened_at: ms_to_time(at_ms),
        })
    }

    async fn write_shifts(&mut self, tx: &mut Transaction<'_, Postgres>) -> R<()> {
        let mut ids: Vec<&Uuid> = self.shifts.keys().collect();
        ids.sort();
        for id in ids {
            let s = &self.shifts[id];
            if !s.dirty {
                continue;
            }
            let totals = sqlx::types::Json(totals_of(&s.summary));
            if s.exists {
                sqlx::query("UPDATE shifts SET totals = $3 WHERE branch_id = $1 AND shift_id = $2")
                    .bind(self.branch_id)
                    .bind(id)
                    .bind(totals)
                    .execute(&mut **tx)
                    .await?;
            } else {
                sqlx::query(
                    "INSERT INTO shifts (branch_id, shift_id, device_id, opened_at, opening_float, totals)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(self.branch_id)
                .bind(id)
                .bind(s.device_id)
                .bind(s.opened_at)
                .bind(s.summary.opening_float.minor())
                .bind(totals)
                .execute(&mut **tx)
                .await?;
            }
        }
        Ok(())
    }

    async fn write_rollups(&mut self, tx: &mut Transaction<'_, Postgres>) -> R<()> {
        if self.rollups.is_empty() {
            return Ok(());
        }
        let n = self.rollups.len();
        let mut dates = Vec::with_capacity(n);
        let mut devices = Vec::with_capacity(n);
        let mut cols: [Vec<i64>; 13] = Default::default();
        for ((d, dev), r) in &self.rollups {
            dates.push(*d);
            devices.push(*dev);
            let vals = [
                r.sales_count,
                r.voids_count,
                r.gross,
                r.discounts,
                r.tax,
                r.sales_total,
                r.refunds_count,
                r.refunds_total,
                r.refunds_tax,
                r.payments[0],
                r.payments[1],
                r.payments[2],
                r.payments[3],
            ];
            for (c, v) in cols.iter_mut().zip(vals) {
                c.push(v);
            }
        }
        let mut q = sqlx::query(
            "INSERT INTO daily_rollup AS r (branch_id, business_date, device_id, sales_count,
                 voids_count, gross, discounts, tax, sales_total, refunds_count, refunds_total,
                 refunds_tax, cash, card, qris, voucher)
             SELECT $1, * FROM UNNEST($2::date[], $3::uuid[], $4::bigint[], $5::bigint[],
                 $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[],
                 $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[],
                 $16::bigint[])
             ON CONFLICT (branch_id, business_date, device_id) DO UPDATE SET
                 sales_count = r.sales_count + EXCLUDED.sales_count,
                 voids_count = r.voids_count + EXCLUDED.voids_count,
                 gross = r.gross + EXCLUDED.gross,
                 discounts = r.discounts + EXCLUDED.discounts,
                 tax = r.tax + EXCLUDED.tax,
                 sales_total = r.sales_total + EXCLUDED.sales_total,
                 refunds_count = r.refunds_count + EXCLUDED.refunds_count,
                 refunds_total = r.refunds_total + EXCLUDED.refunds_total,
                 refunds_tax = r.refunds_tax + EXCLUDED.refunds_tax,
                 cash = r.cash + EXCLUDED.cash,
                 card = r.card + EXCLUDED.card,
                 qris = r.qris + EXCLUDED.qris,
                 voucher = r.voucher + EXCLUDED.voucher",
        )
        .bind(self.branch_id)
        .bind(dates)
        .bind(devices);
        for c in cols {
            q = q.bind(c);
        }
        q.execute(&mut **tx).await?;
        Ok(())
    }

    // ---- sales --------------------------------------------------------

    async fn flush_sales(
        &mut self,
        tx: &mut Transaction<'_, Postgres>,
        batch: &[Accepted<'_>],
    ) -> R<()> {
        if self.pending_sales.is_empty() {
            return Ok(());
        }
        let pending: Vec<(usize, &SaleCompleted)> = std::mem::take(&mut self.pending_sales)
            .into_iter()
            .filter_map(|i| match &batch[i].typed {
                Ok(Typed::SaleCompleted(s)) => Some((i, s)),
                _ => None,
            })
            .collect();
        let b = self.branch_id;

        // 1. The sale rows; an entry id already used is not applied twice.
        let n = pending.len();
        let mut ids = Vec::with_capacity(n);
        let mut receipts = Vec::with_capacity(n);
        let mut devices = Vec::with_capacity(n);
        let mut seqs = Vec::with_capacity(n);
        let mut shifts = Vec::with_capacity(n);
        let mut times = Vec::with_capacity(n);
        let mut dates = Vec::with_capacity(n);
        let mut cashiers: Vec<Option<String>> = Vec::with_capacity(n);
        let mut money: [Vec<i64>; 6] = Default::default();
        for (i, s) in &pending {
            let a = &batch[*i];
            ids.push(a.entry.id);
            receipts.push(s.receipt_no.clone());
            devices.push(a.entry.device_id);
            seqs.push(a.entry.seq as i64);
            shifts.push(s.shift_id);
            times.push(ms_to_time(a.occurred_ms));
            dates.push(date_of(a.occurred_ms, self.tz));
            cashiers.push(s.cashier.clone());
            for (c, v) in
                money
                    .iter_mut()
                    .zip([s.gross, s.discounts, s.tax, s.total, s.paid, s.change])
            {
                c.push(v);
            }
        }
        let mut q = sqlx::query_scalar::<_, Uuid>(
            "INSERT INTO sales (branch_id, entry_id, receipt_no, device_id, seq, shift_id,
                 occurred_at, business_date, cashier, gross, discounts, tax, total, paid, change)
             SELECT $1, * FROM UNNEST($2::uuid[], $3::text[], $4::uuid[], $5::bigint[],
                 $6::uuid[], $7::timestamptz[], $8::date[], $9::text[], $10::bigint[],
                 $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[])
             ON CONFLICT DO NOTHING RETURNING entry_id",
        )
        .bind(b)
        .bind(&ids)
        .bind(&receipts)
        .bind(&devices)
        .bind(&seqs)
        .bind(&shifts)
        .bind(&times)
        .bind(&dates)
        .bind(&cashiers);
        for c in &money {
            q = q.bind(c);
        }
        let inserted: BTreeSet<Uuid> = q.fetch_all(&mut **tx).await?.into_iter().collect();
        let mut applied: Vec<(usize, &SaleCompleted)> = Vec::with_capacity(n);
        for (i, s) in &pending {
            if inserted.contains(&batch[*i].entry.id) {
                applied.push((*i, *s));
            } else {
                self.quarantine.insert(
                    *i,
                    format!(
                        "entry id {} is already used by another sale",
                        batch[*i].entry.id
                    ),
                );
            }
        }

        // 2. Lines, payments, stock movements: plain inserts (no ON CONFLICT),
        // since only sales newly inserted above get here and validation makes
        // line numbers unique within a sale.
        let mut l_sale = Vec::new();
        let mut l_no = Vec::new();
        let mut l_sku = Vec::new();
        let mut l_name = Vec::new();
        let mut l_qty = Vec::new();
        let mut l_price = Vec::new();
        let mut l_rate = Vec::new();
        let mut l_money: [Vec<i64>; 6] = Default::default();
        let mut l_time = Vec::new();
        let mut p_sale = Vec::new();
        let mut p_no = Vec::new();
        let mut p_method = Vec::new();
        let mut p_amount = Vec::new();
        let mut p_ref: Vec<Option<String>> = Vec::new();
        for (i, s) in &applied {
            let a = &batch[*i];
            for l in &s.lines {
                l_sale.push(a.entry.id);
                l_no.push(l.line_no as i32);
                l_sku.push(l.sku.clone());
                l_name.push(l.name.clone());
                l_qty.push(l.quantity_milli);
                l_price.push(l.unit_price);
                l_rate.push(l.tax_rate.clone());
                for (c, v) in l_money.iter_mut().zip([
                    l.gross,
                    l.line_discount,
                    l.cart_discount_share,
                    l.net,
                    l.tax,
                    l.total,
                ]) {
                    c.push(v);
                }
                l_time.push(ms_to_time(a.occurred_ms));
            }
            for (t_no, t) in s.tenders.iter().enumerate() {
                p_sale.push(a.entry.id);
                p_no.push(t_no as i32);
                p_method.push(t.method.clone());
                p_amount.push(t.amount);
                p_ref.push(t.reference.clone());
            }
        }
        let mut q = sqlx::query(
            "INSERT INTO sale_lines (branch_id, sale_entry_id, line_no, sku, name, quantity_milli,
                 unit_price, tax_rate, gross, line_discount, cart_discount_share, net, tax, total)
             SELECT $1, * FROM UNNEST($2::uuid[], $3::int[], $4::text[], $5::text[],
                 $6::bigint[], $7::bigint[], $8::text[], $9::bigint[], $10::bigint[],
                 $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[])",
        )
        .bind(b)
        .bind(&l_sale)
        .bind(&l_no)
        .bind(&l_sku)
        .bind(&l_name)
        .bind(&l_qty)
        .bind(&l_price)
        .bind(&l_rate);
        for c in &l_money {
            q = q.bind(c);
        }
        q.execute(&mut **tx).await?;
        sqlx::query(
            "INSERT INTO sale_payments (branch_id, sale_entry_id, tender_no, method, amount, reference)
             SELECT $1, * FROM UNNEST($2::uuid[], $3::int[], $4::text[], $5::bigint[], $6::text[])",
        )
        .bind(b)
        .bind(&p_sale)
        .bind(&p_no)
        .bind(&p_method)
        .bind(&p_amount)
        .bind(&p_ref)
        .execute(&mut **tx)
        .await?;
        let l_index: Vec<i32> = l_no.iter().map(|n| n - 1).collect();
        let l_delta: Vec<i64> = l_qty.iter().map(|q| -q).collect();
        sqlx::query(
            "INSERT INTO stock_movements (branch_id, entry_id, line_index, sku, delta_milli, reason, occurred_at)
             SELECT $1, e, i, s, d, 'sale', t
             FROM UNNEST($2::uuid[], $3::int[], $4::text[], $5::bigint[], $6::timestamptz[]) AS u(e, i, s, d, t)",
        )
        .bind(b)
        .bind(&l_sale)
        .bind(&l_index)
        .bind(&l_sku)
        .bind(&l_delta)
        .bind(&l_time)
        .execute(&mut **tx)
        .await?;

        // 3. stale_price: the price in force at each line's time.
        let in_force: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT l.i, p.price
             FROM UNNEST($2::text[], $3::timestamptz[]) WITH ORDINALITY AS l(sku, at, i)
             CROSS JOIN LATERAL (
                 SELECT price FROM prices
                 WHERE sku = l.sku AND (branch_id = $1 OR branch_id IS NULL) AND effective_from <= l.at
                 ORDER BY (branch_id IS NULL), effective_from DESC, price_id DESC
                 LIMIT 1) p",
        )
        .bind(b)
        .bind(&l_sku)
        .bind(&l_time)
        .fetch_all(&mut **tx)
        .await?;
        let in_force: HashMap<usize, i64> = in_force
            .into_iter()
            .map(|(i, p)| ((i - 1) as usize, p))
            .collect();
        let mut line_at = 0usize;
        for (i, s) in &applied {
            let a = &batch[*i];
            for l in &s.lines {
                if let Some(st) = rules::stale_price(l.unit_price, in_force.get(&line_at).copied())
                {
                    self.conflicts.push(NewConflict {
                        kind: "stale_price",
                        dedup_key: format!("stale_price:{}:{}", a.entry.id, l.line_no),
                        device_id: a.entry.device_id,
                        seq: a.entry.seq,
                        entry_id: Some(a.entry.id),
                        details: json!({
                            "receipt_no": s.receipt_no,
                            "line_no": l.line_no,
                            "sku": l.sku,
                            "charged": st.charged,
                            "in_force": st.in_force,
                            "sold_at": ms_to_time(a.occurred_ms),
                        }),
                    });
                }
                line_at += 1;
            }
        }

        // 4. Stock: moved at the end of the batch (see `flush_stock`).
        for (i, sale) in &applied {
            let a = &batch[*i];
            for l in &sale.lines {
                self.stock_events.push(StockEvent {
                    sku: l.sku.clone(),
                    delta: -l.quantity_milli,
                    sale: Some(SaleRef {
                        device_id: a.entry.device_id,
                        seq: a.entry.seq,
                        entry_id: a.entry.id,
                        receipt_no: sale.receipt_no.clone(),
                        date: date_of(a.occurred_ms, self.tz),
                    }),
                });
            }
        }

        // 5. Vouchers.
        for (i, s) in &applied {
            let a = &batch[*i];
            for (t_no, t) in s.tenders.iter().enumerate() {
                if t.method == "voucher"
                    && let Some(code) = &t.reference
                {
                    self.redeem_voucher(tx, a, t_no as i32, code, t.amount)
                        .await?;
                }
            }
        }

        // 6. Shifts and the daily rollup.
        let shift_ids: Vec<Uuid> = applied.iter().map(|(_, s)| s.shift_id).collect();
        self.load_shifts(tx, &shift_ids).await?;
        for (i, s) in &applied {
            let a = &batch[*i];
            let fig = figures_of(s)?;
            self.rollup(a.occurred_ms, a.entry.device_id)
                .sale(&fig, 1)?;
            self.summaries
                .sale(date_of(a.occurred_ms, self.tz), a.occurred_ms, s, 1)?;
            if self.foreign_shift(s.shift_id, a, "sale_completed") {
                continue;
            }
            let st = self.shift(s.shift_id, a.entry.device_id, a.occurred_ms);
            st.summary.add_sale(&fig)?;
            st.dirty = true;
        }

        // 7. Voids and refunds parked for these sales can apply now.
        let sale_ids: Vec<Uuid> = applied.iter().map(|(i, _)| batch[*i].entry.id).collect();
        let receipts: Vec<String> = applied.iter().map(|(_, s)| s.receipt_no.clone()).collect();
        self.lock_receipts(tx, &receipts).await?;
        self.resolve_parked(tx, &sale_ids, &receipts).await?;
        Ok(())
    }

    async fn redeem_voucher(
        &mut self,
        tx: &mut Transaction<'_, Postgres>,
        a: &Accepted<'_>,
        tender_no: i32,
        code: &str,
        amount: i64,
    ) -> R<()> {
        // Vouchers are chain-wide: serialise redemptions of one code.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('voucher:' || $1, 0))")
            .bind(code)
            .execute(&mut **tx)
            .await?;
        sqlx::query(
            "INSERT INTO voucher_redemptions (branch_id, entry_id, tender_no, code, device_id, seq,
                 hlc_wall_ms, hlc_counter, amount)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
        )
        .bind(self.branch_id)
        .bind(a.entry.id)
        .bind(tender_no)
        .bind(code)
        .bind(a.entry.device_id)
        .bind(a.entry.seq as i64)
        .bind(a.entry.hlc.wall_ms as i64)
        .bind(a.entry.hlc.counter as i32)
        .bind(amount)
        .execute(&mut **tx)
        .await?;
        let rows: Vec<(i32, Uuid, Uuid, i64, i64, i32)> = sqlx::query_as(
            "SELECT branch_id, entry_id, device_id, seq, hlc_wall_ms, hlc_counter
             FROM voucher_redemptions WHERE code = $1",
        )
        .bind(code)
        .fetch_all(&mut **tx)
        .await?;
        let redemptions: Vec<rules::Redemption> = rows
            .iter()
            .map(|r| rules::Redemption {
                entry_id: r.1,
                device_id: r.2,
                seq: r.3 as u64,
                hlc: Hlc {
                    wall_ms: r.4 as u64,
                    counter: r.5 as u32,
                },
            })
            .collect();
        let first = {
            let mut s = redemptions.clone();
            s.sort_by_key(|r| (r.hlc, r.device_id, r.seq));
            s.first().copied()
        };
        for flagged in rules::double_spends(&redemptions) {
            let branch_of = rows
                .iter()
                .find(|r| r.1 == flagged.entry_id)
                .map(|r| r.0)
                .unwrap_or(self.branch_id);
            if branch_of != self.branch_id {
                // Raised in its own branch when that branch pushed it.
                continue;
            }
            self.conflicts.push(NewConflict {
                kind: "voucher_double_spend",
                dedup_key: format!("voucher:{code}:{}", flagged.entry_id),
                device_id: flagged.device_id,
                seq: flagged.seq,
                entry_id: Some(flagged.entry_id),
                details: json!({
                    "code": code,
                    "first_entry_id": first.map(|f| f.entry_id),
                    "first_device_id": first.map(|f| f.device_id),
                    "redemptions": redemptions.len(),
                }),
            });
        }
        Ok(())
    }

    async fn sale_figures(&mut self, db: &mut Db, sale_entry_id: Uuid) -> R<Option<SaleRow>> {
        let row: Option<SaleJoinRow> = sqlx::query_as(
            "SELECT s.device_id, j.payload, s.business_date, s.voided_by, s.occurred_at
                 FROM sales s JOIN journal j
                   ON j.branch_id = s.branch_id AND j.device_id = s.device_id AND j.seq = s.seq
                 WHERE s.branch_id = $1 AND s.entry_id = $2 FOR UPDATE OF s",
        )
        .bind(self.branch_id)
        .bind(sale_entry_id)
        .fetch_optional(&mut *db)
        .await?;
        Ok(row.map(
            |(device_id, payload, business_date, voided_by, occurred_at)| SaleRow {
                entry_id: sale_entry_id,
                device_id,
                payload: payload.0,
                business_date,
                voided_by,
                occurred_at,
            },
        ))
    }

    // ---- voids --------------------------------------------------------

    async fn sale_voided(
        &mut self,
        tx: &mut Transaction<'_, Postgres>,
        a: &Accepted<'_>,
        v: &SaleVoided,
    ) -> R<()> {
        sqlx::query(
            "INSERT INTO voids (branch_id, entry_id, device_id, seq, receipt_no, sale_entry_id,
                 shift_id, total, occurred_at, received_at, status)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now(), 'parked') ON CONFLICT DO NOTHING",
        )
        .bind(self.branch_id)
        .bind(a.entry.id)
        .bind(a.entry.device_id)
        .bind(a.entry.seq as i64)
        .bind(&v.receipt_no)
        .bind(v.sale_entry_id)
        .bind(v.shift_id)
        .bind(v.total)
        .bind(ms_to_time(a.occurred_ms))
        .execute(&mut **tx)
        .await?;
        self.lock_receipts(tx, std::slice::from_ref(&v.receipt_no))
            .await?;
        self.try_apply_void(tx, a.entry.id, v.sale_entry_id).await
    }

    /// Applies a parked void if its sale is here: the sale's figures come out
    /// of its shift and of its business day, its stock goes back.
    async fn try_apply_void(
        &mut self,
        tx: &mut Transaction<'_, Postgres>,
        void_id: Uuid,
        sale_id: Uuid,
    ) -> R<()> {
        let Some(sale) = self.sale_figures(tx, sale_id).await? else {
            return Ok(());
        };
        let void: Option<(Uuid, Uuid, i64, DateTime<Utc>)> = sqlx::query_as(
            "UPDATE voids SET status = 'applied'
             WHERE branch_id = $1 AND entry_id = $2 AND status = 'parked'
             RETURNING device_id, shift_id, seq, occurred_at",
        )
        .bind(self.branch_id)
        .bind(void_id)
        .fetch_optional(&mut **tx)
        .await?;
        let Some((void_device, void_shift, void_seq, void_at)) = void else {
            return Ok(());
        };
        if sale.voided_by.is_some() {
            // A second void of the same sale changes nothing.
            return Ok(());
        }
        // The terminal's rule, enforced here too: a till voids only its own
        // sale of its open shift. Anything else is kept, not applied (the
        // sale stays counted), and raised.
        let sale_shift = sale.payload.shift_id;
        let closed_at: Option<DateTime<Utc>> = sqlx::query_scalar(
            "SELECT closed_at FROM shifts WHERE branch_id = $1 AND shift_id = $2",
        )
        .bind(self.branch_id)
        .bind(sale_shift)
        .fetch_optional(&mut **tx)
        .await?
        .flatten();
        let why = if sale.device_id != void_device {
            Some("the sale was rung on another till")
        } else if sale_shift != void_shift {
            Some("the sale belongs to another shift")
        } else if closed_at.is_some() {
            // Same device: its entries apply in chain order, so a close
            // already applied came before this void.
            Some("the sale's shift was already closed")
        } else {
            None
        };
        if let Some(why) = why {
            sqlx::query(
                "UPDATE voids SET status = 'refused' WHERE branch_id = $1 AND entry_id = $2",
            )
            .bind(self.branch_id)
            .bind(void_id)
            .execute(&mut **tx)
            .await?;
            self.conflicts.push(NewConflict {
                kind: "void_not_allowed",
                dedup_key: format!("void_not_allowed:{void_id}"),
                device_id: void_device,
                seq: void_seq as u64,
                entry_id: Some(void_id),
                details: json!({
                    "reason": why,
                    "receipt_no": sale.payload.receipt_no,
                    "sale_entry_id": sale.entry_id,
                    "sale_device_id": sale.device_id,
                    "sale_shift_id": sale_shift,
                    "void_shift_id": void_shift,
                }),
            });
            return self.resolve_orphan_conflict(tx, void_id).await;
        }
        sqlx::query("UPDATE sales SET voided_by = $3 WHERE branch_id = $1 AND entry_id = $2")
            .bind(self.branch_id)
            .bind(sale_id)
            .bind(void_id)
            .execute(&mut **tx)
            .await?;
        let fig = figures_of(&sale.payload)?;
        self.load_shifts(tx, &[void_shift]).await?;
        let st = self.shift(void_shift, void_device, void_at.timestamp_millis());
        st.summary.add_void(&fig)?;
        st.dirty = true;
        let r = self
            .rollups
            .entry((sale.business_date, sale.device_id))
            .or_default();
        r.sale(&fig, -1)?;
        add(&mut r.voids_count, 1, "the daily rollup")?;
        self.summaries.sale(
            sale.business_date,
            sale.occurred_at.timestamp_millis(),
            &sale.payload,
            -1,
        )?;
        for (idx, l) in sale.payload.lines.iter().enumerate() {
            self.move_stock(
                tx,
                void_id,
                1000 + idx as i32,
                &l.sku,
                l.quantity_milli,
                "void",
                void_at,
            )
            .await?;
        }
        self.resolve_orphan_conflict(tx, void_id).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn move_stock(
        &mut self,
        tx: &mut Transaction<'_, Postgres>,
        entry_id: Uuid,
        line_index: i32,
        sku: &str,
        delta: i64,
        reason: &str,
        at: DateTime<Utc>,
    ) -> R<()> {
        self.stock_events.push(StockEvent {
            sku: sku.to_owned(),
            delta,
            sale: None,
        });
        sqlx::query(
            "INSERT INTO stock_movements (branch_id, entry_id, line_index, sku, delta_milli, reason, occurred_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(self.branch_id)
        .bind(entry_id)
        .bind(line_index)
        .bind(sku)
        .bind(delta)
        .bind(reason)
        .bind(at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    // ---- refunds ------------------------------------------------------

    /// A refund counts at once in its shift and its day (the money left the
    /// till) and its items go back to stock; it is linked to its sale, and
    /// judged against it (`over_refund`), when the sale is here — parked
    /// until then.
    async fn refund_issued(
        &mut self,
        tx: &mut Transaction<'_, Postgres>,
        a: &Accepted<'_>,
        r: &RefundIssued,
    ) -> R<()> {
        let at = ms_to_time(a.occurred_ms);
        let inserted = sqlx::query(
            "INSERT INTO refunds (branch_id, entry_id, device_id, seq, hlc_wall_ms, hlc_counter,
                 refund_no, receipt_no, sale_entry_id, shift_id, occurred_at, business_date,
                 received_at, total, tax, method, status)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, now(), $13, $14, $15, $16)
             ON CONFLICT DO NOTHING",
        )
        .bind(self.branch_id)
        .bind(a.entry.id)
        .bind(a.entry.device_id)
        .bind(a.entry.seq as i64)
        .bind(a.entry.hlc.wall_ms as i64)
        .bind(a.entry.hlc.counter as i32)
        .bind(&r.refund_no)
        .bind(&r.receipt_no)
        .bind(r.sale_entry_id)
        .bind(r.shift_id)
        .bind(at)
        .bind(date_of(a.occurred_ms, self.tz))
        .bind(r.total)
        .bind(r.tax)
        .bind(&r.method)
        .bind(if r.unverified { "unverified" } else { "parked" })
        .execute(&mut **tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Ok(());
        }
        // The PPN return files a refunded line at the rate of its product's
        // class until its sale is linked (`link_refund` moves it then).
        let skus: Vec<&str> = r.lines.iter().map(|l| l.sku.as_str()).collect();
        let class_rates: HashMap<String, String> = sqlx::query_as(
            "SELECT p.sku, t.rate FROM products p JOIN tax_rates t ON t.category = p.tax_category
             WHERE p.sku = ANY($1)",
        )
        .bind(&skus)
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .collect();
        let refund_date = date_of(a.occurred_ms, self.tz);
        for (idx, l) in r.lines.iter().enumerate() {
            let rate = class_rates.get(&l.sku).map_or("0", String::as_str);
            sqlx::query(
                "INSERT INTO refund_lines (branch_id, refund_entry_id, line_index, line_no, sku,
                     quantity_milli, amount, tax, tax_rate)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(self.branch_id)
            .bind(a.entry.id)
            .bind(idx as i32)
            .bind(l.line_no as i32)
            .bind(&l.sku)
            .bind(l.quantity_milli)
            .bind(l.amount)
            .bind(l.tax)
            .bind(rate)
            .execute(&mut **tx)
            .await?;
            self.summaries.refund_line(
                refund_date,
                &l.sku,
                rate,
                l.quantity_milli,
                l.amount,
                l.tax,
                1,
            )?;
            self.move_stock(
                tx,
                a.entry.id,
                idx as i32,
                &l.sku,
                l.quantity_milli,
                "refund",
                at,
            )
            .await?;
        }
        self.load_shifts(tx, &[r.shift_id]).await?;
        let foreign = self.foreign_shift(r.shift_id, a, "refund_issued");
        if let Ok(method) = parse_method(&r.method)
            && !foreign
        {
            let st = self.shift(r.shift_id, a.entry.device_id, a.occurred_ms);
            st.summary
                .add_refund(Money::idr(r.total), Money::idr(r.tax), method)?;
            st.dirty = true;
        }
        self.rollup(a.occurred_ms, a.entry.device_id)
            .refund(r.total, r.tax, &r.method)?;
        let cashier: Option<String> =
            sqlx::query_scalar("SELECT cashier FROM shifts WHERE branch_id = $1 AND shift_id = $2")
                .bind(self.branch_id)
                .bind(r.shift_id)
                .fetch_optional(&mut **tx)
                .await?
                .flatten();
        self.summaries
            .refund(refund_date, a.occurred_ms, cashier.as_deref(), r.total)?;
        // Made without the original sale: the money left the till, so it
        // counts; a person at head office checks it against the sale.
        if r.unverified {
            self.conflicts.push(NewConflict {
                kind: "unverified_return",
                dedup_key: format!("unverified_return:{}", a.entry.id),
                device_id: a.entry.device_id,
                seq: a.entry.seq,
                entry_id: Some(a.entry.id),
                details: json!({
                    "refund_no": r.refund_no,
                    "receipt_no": r.receipt_no,
                    "total": r.total,
                    "reason": r.reason,
                    "lines": r.lines.iter().map(|l| json!({
                        "sku": l.sku, "quantity_milli": l.quantity_milli, "amount": l.amount
                    })).collect::<Vec<_>>(),
                }),
            });
            return Ok(());
        }
        // Serialised with the sale's own batch (see `lock_receipts`): if the
        // sale is not visible now, its batch will see this refund parked.
        self.lock_receipts(tx, std::slice::from_ref(&r.receipt_no))
            .await?;
        let sale_id = self.find_sale(tx, r.sale_entry_id, &r.receipt_no).await?;
        if let Some(sale_id) = sale_id {
            self.link_refund(tx, a.entry.id, sale_id).await?;
        }
        Ok(())
    }

    async fn find_sale(
        &mut self,
        db: &mut Db,
        sale_entry_id: Option<Uuid>,
        receipt_no: &str,
    ) -> R<Option<Uuid>> {
        if let Some(id) = sale_entry_id {
            let found: Option<Uuid> = sqlx::query_scalar(
                "SELECT entry_id FROM sales WHERE branch_id = $1 AND entry_id = $2",
            )
            .bind(self.branch_id)
            .bind(id)
            .fetch_optional(&mut *db)
            .await?;
            return Ok(found);
        }
        sqlx::query_scalar(
            "SELECT entry_id FROM sales WHERE branch_id = $1 AND receipt_no = $2
             ORDER BY occurred_at LIMIT 1",
        )
        .bind(self.branch_id)
        .bind(receipt_no)
        .fetch_optional(&mut *db)
        .await
        .map_err(ApplyError::from)
    }

    /// Links a refund to its sale and re-judges every refund of that sale in
    /// HLC order (`over_refund`).
    async fn link_refund(
        &mut self,
        tx: &mut Transaction<'_, Postgres>,
        refund_id: Uuid,
        sale_id: Uuid,
    ) -> R<()> {
        let Some(sale) = self.sale_figures(tx, sale_id).await? else {
            return Ok(());
        };
        sqlx::query(
            "UPDATE refunds SET status = 'applied', sale_entry_id = $3
             WHERE branch_id = $1 AND entry_id = $2",
        )
        .bind(self.branch_id)
        .bind(refund_id)
        .bind(sale_id)
        .execute(&mut **tx)
        .await?;
        self.refile_refund_lines(tx, refund_id, sale_id).await?;
        self.resolve_orphan_conflict(tx, refund_id).await?;
        let claims_rows: Vec<(Uuid, Uuid, i64, i64, i32, bool)> = sqlx::query_as(
            "SELECT entry_id, device_id, seq, hlc_wall_ms, hlc_counter, over_refund FROM refunds
             WHERE branch_id = $1 AND sale_entry_id = $2 AND status = 'applied'",
        )
        .bind(self.branch_id)
        .bind(sale_id)
        .fetch_all(&mut **tx)
        .await?;
        let ids: Vec<Uuid> = claims_rows.iter().map(|c| c.0).collect();
        let lines: Vec<(Uuid, i32, i64, i64)> = sqlx::query_as(
            "SELECT refund_entry_id, line_no, quantity_milli, amount FROM refund_lines
             WHERE branch_id = $1 AND refund_entry_id = ANY($2)",
        )
        .bind(self.branch_id)
        .bind(&ids)
        .fetch_all(&mut **tx)
        .await?;
        let claims: Vec<RefundClaim> = claims_rows
            .iter()
            .map(|c| RefundClaim {
                entry_id: c.0,
                device_id: c.1,
                seq: c.2 as u64,
                hlc: Hlc {
                    wall_ms: c.3 as u64,
                    counter: c.4 as u32,
                },
                lines: lines
                    .iter()
                    .filter(|l| l.0 == c.0)
                    .map(|l| (l.1 as u32, l.2, l.3))
                    .collect(),
            })
            .collect();
        let sold: Vec<SoldLine> = sale
            .payload
            .lines
            .iter()
            .map(|l| SoldLine {
                line_no: l.line_no,
                quantity_milli: l.quantity_milli,
                total: l.total,
            })
            .collect();
        let over = rules::over_refunds(&sold, &claims);
        let over_ids: BTreeSet<Uuid> = over.iter().map(|o| o.entry_id).collect();
        for c in &claims_rows {
            let now_over = over_ids.contains(&c.0);
            if now_over != c.5 {
                sqlx::query(
                    "UPDATE refunds SET over_refund = $3 WHERE branch_id = $1 AND entry_id = $2",
                )
                .bind(self.branch_id)
                .bind(c.0)
                .bind(now_over)
                .execute(&mut **tx)
                .await?;
            }
        }
        for o in over {
            let Some(c) = claims.iter().find(|c| c.entry_id == o.entry_id) else {
                continue;
            };
            self.conflicts.push(NewConflict {
                kind: "over_refund",
                dedup_key: format!("over_refund:{}", o.entry_id),
                device_id: c.device_id,
                seq: c.seq,
                entry_id: Some(o.entry_id),
                details: json!({
                    "sale_entry_id": sale.entry_id,
                    "receipt_no": sale.payload.receipt_no,
                    "sale_device_id": sale.device_id,
                    "over": o,
                }),
            });
        }
        Ok(())
    }

    /// A refund's lines filed at their product's rate move to the rate of
    /// the sale lines they refund, now that the sale is known.
    async fn refile_refund_lines(
        &mut self,
        tx: &mut Transaction<'_, Postgres>,
        refund_id: Uuid,
        sale_id: Uuid,
    ) -> R<()> {
        // `o` is the line as it was before this update.
        let moved: Vec<(NaiveDate, String, String, String, i64, i64, i64)> = sqlx::query_as(
            "UPDATE refund_lines rl SET tax_rate = sl.tax_rate
             FROM refund_lines o, refunds r, sale_lines sl
             WHERE rl.branch_id = $1 AND rl.refund_entry_id = $2
               AND o.branch_id = $1 AND o.refund_entry_id = $2 AND o.line_index = rl.line_index
               AND r.branch_id = $1 AND r.entry_id = $2
               AND sl.branch_id = $1 AND sl.sale_entry_id = $3 AND sl.line_no = rl.line_no
               AND rl.tax_rate <> sl.tax_rate
             RETURNING r.business_date, rl.sku, o.tax_rate, rl.tax_rate, rl.quantity_milli,
                       rl.amount, rl.tax",
        )
        .bind(self.branch_id)
        .bind(refund_id)
        .bind(sale_id)
        .fetch_all(&mut **tx)
        .await?;
        for (date, sku, old, new, qty, amount, tax) in moved {
            self.summaries
                .refund_line(date, &sku, &old, qty, amount, tax, -1)?;
            self.summaries
                .refund_line(date, &sku, &new, qty, amount, tax, 1)?;
        }
        Ok(())
    }

    /// Voids and refunds waiting for these sales.
    /// Takes a transaction-scoped lock per receipt number (in a fixed
    /// order). A sale's batch takes it after inserting the sale and before
    /// looking for voids and refunds parked on it; a void's or refund's
    /// batch takes it before looking for its sale. So whichever commits
    /// second sees the other: a void or refund racing its sale from another
    /// device (READ COMMITTED, each invisible to the other) can no longer
    /// stay parked.
    async fn lock_receipts(&mut self, db: &mut Db, receipts: &[String]) -> R<()> {
        if receipts.is_empty() {
            return Ok(());
        }
        let mut keys: Vec<String> = receipts
            .iter()
            .map(|r| format!("{}:{r}", self.branch_id))
            .collect();
        keys.sort();
        keys.dedup();
        sqlx::query(
            "SELECT pg_advisory_xact_lock(7, hashtext(k))
             FROM (SELECT k FROM unnest($1::text[]) WITH ORDINALITY AS u(k, n) ORDER BY n) s",
        )
        .bind(&keys)
        .execute(&mut *db)
        .await?;
        Ok(())
    }

    async fn resolve_parked(
        &mut self,
        tx: &mut Transaction<'_, Postgres>,
        sale_ids: &[Uuid],
        receipts: &[String],
    ) -> R<()> {
        let voids: Vec<(Uuid, Uuid)> = sqlx::query_as(
            "SELECT entry_id, sale_entry_id FROM voids
             WHERE branch_id = $1 AND status = 'parked' AND sale_entry_id = ANY($2)",
        )
        .bind(self.branch_id)
        .bind(sale_ids)
        .fetch_all(&mut **tx)
        .await?;
        for (void_id, sale_id) in voids {
            self.try_apply_void(tx, void_id, sale_id).await?;
        }
        let refunds: Vec<(Uuid, Option<Uuid>, String)> = sqlx::query_as(
            "SELECT entry_id, sale_entry_id, receipt_no FROM refunds
             WHERE branch_id = $1 AND status = 'parked'
               AND (sale_entry_id = ANY($2) OR receipt_no = ANY($3))",
        )
        .bind(self.branch_id)
        .bind(sale_ids)
        .bind(receipts)
        .fetch_all(&mut **tx)
        .await?;
        for (refund_id, sale_entry_id, receipt_no) in refunds {
            if let Some(sale_id) = self.find_sale(tx, sale_entry_id, &receipt_no).await? {
                self.link_refund(tx, refund_id, sale_id).await?;
            }
        }
        Ok(())
    }

    /// An `orphan_reference` raised for this void/refund is resolved: its
    /// sale has arrived.
    async fn resolve_orphan_conflict(&mut self, db: &mut Db, entry_id: Uuid) -> R<()> {
        sqlx::query(
            "UPDATE conflicts SET resolved_at = now(), resolution = 'sale arrived'
             WHERE branch_id = $1 AND kind = 'orphan_reference' AND entry_id = $2 AND resolved_at IS NULL",
        )
        .bind(self.branch_id)
        .bind(entry_id)
        .execute(&mut *db)
        .await?;
        Ok(())
    }

    // ---- shifts, cash, stock counts -------------------------------------

    async fn shift_opened(
        &mut self,
        tx: &mut Transaction<'_, Postgres>,
        a: &Accepted<'_>,
        o: &ShiftOpened,
    ) -> R<()> {
        self.load_shifts(tx, &[o.shift_id]).await?;
        if self.foreign_shift(o.shift_id, a, "shift_opened") {
            return Ok(());
        }
        let summary = ShiftSummary::open(Money::idr(o.opening_float));
        sqlx::query(
            "INSERT INTO shifts (branch_id, shift_id, device_id, opened_at, opening_float, cashier, totals)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(self.branch_id)
        .bind(o.shift_id)
        .bind(a.entry.device_id)
        .bind(ms_to_time(a.occurred_ms))
        .bind(o.opening_float)
        .bind(&o.cashier)
        .bind(sqlx::types::Json(totals_of(&summary)))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn cash_moved(
        &mut self,
        tx: &mut Transaction<'_, Postgres>,
        a: &Accepted<'_>,
        m: &CashMoved,
    ) -> R<()> {
        self.load_shifts(tx, &[m.shift_id]).await?;
        if self.foreign_shift(m.shift_id, a, "cash_moved") {
            return Ok(());
        }
        let dir = match m.direction {
            CashDirection::In => "in",
            CashDirection::Out => "out",
        };
        sqlx::query(
            "INSERT INTO cash_movements (branch_id, entry_id, device_id, shift_id, direction, amount, reason, occurred_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        )
        .bind(self.branch_id)
        .bind(a.entry.id)
        .bind(a.entry.device_id)
        .bind(m.shift_id)
        .bind(dir)
        .bind(m.amount)
        .bind(&m.reason)
        .bind(ms_to_time(a.occurred_ms))
        .execute(&mut **tx)
        .await?;
        let st = self.shift(m.shift_id, a.entry.device_id, a.occurred_ms);
        match m.direction {
            CashDirection::In => st.summary.add_cash_in(Money::idr(m.amount))?,
            CashDirection::Out => st.summary.add_cash_out(Money::idr(m.amount))?,
        }
        st.dirty = true;
        Ok(())
    }

    /// A no-sale opening of the drawer counts in its shift (`no_sales`,
    /// compared at close like every other figure).
    async fn drawer_opened(
        &mut self,
        tx: &mut Transaction<'_, Postgres>,
        a: &Accepted<'_>,
        d: &DrawerOpened,
    ) -> R<()> {
        self.load_shifts(tx, &[d.shift_id]).await?;
        if self.foreign_shift(d.shift_id, a, "drawer_opened") {
            return Ok(());
        }
        let st = self.shift(d.shift_id, a.entry.device_id, a.occurred_ms);
        st.summary.add_no_sale()?;
        st.dirty = true;
        Ok(())
    }

    /// Compares the terminal's closing totals with the totals recomputed from
    /// the shift's entries (`shift_mismatch`).
    async fn shift_closed(
        &mut self,
        tx: &mut Transaction<'_, Postgres>,
        a: &Accepted<'_>,
        c: &ShiftClosed,
    ) -> R<()> {
        self.load_shifts(tx, &[c.shift_id]).await?;
        if self.foreign_shift(c.shift_id, a, "shift_closed") {
            return Ok(());
        }
        // Write any folded state first, so the stored totals are current.
        let st = self.shift(c.shift_id, a.entry.device_id, a.occurred_ms);
        let recomputed = totals_of(&st.summary);
        let recomputed_expected = st.summary.expected_cash()?.minor();
        self.write_shifts(tx).await?;
        for s in self.shifts.values_mut() {
            if s.dirty {
                s.dirty = false;
                s.exists = true;
            }
        }
        sqlx::query(
            "UPDATE shifts SET closed_at = $3, reported_totals = $4, expected_cash = $5,
                 counted_cash = $6, variance = $7
             WHERE branch_id = $1 AND shift_id = $2",
        )
        .bind(self.branch_id)
        .bind(c.shift_id)
        .bind(ms_to_time(a.occurred_ms))
        .bind(sqlx::types::Json(&c.totals))
        .bind(c.expected_cash)
        .bind(c.counted_cash)
        .bind(c.variance)
        .execute(&mut **tx)
        .await?;
        let diffs =
            rules::shift_differences(&c.totals, c.expected_cash, &recomputed, recomputed_expected);
        if !diffs.is_empty() {
            self.conflicts.push(NewConflict {
                kind: "shift_mismatch",
                dedup_key: format!("shift_mismatch:{}", c.shift_id),
                device_id: a.entry.device_id,
                seq: a.entry.seq,
                entry_id: Some(a.entry.id),
                details: json!({
                    "shift_id": c.shift_id,
                    "differences": diffs,
                    "reported": c.totals,
                    "recomputed": recomputed,
                    "reported_expected_cash": c.expected_cash,
                    "recomputed_expected_cash": recomputed_expected,
                }),
            });
        }
        Ok(())
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

    async fn stock_counted(
        &mut self,
        tx: &mut Transaction<'_, Postgres>,
        a: &Accepted<'_>,
        c: &StockCounted,
    ) -> R<()> {
        // A count sets the level: the movements before it apply first.
        self.flush_stock(tx).await?;
        let before: Option<i64> = sqlx::query_scalar(
            "SELECT on_hand_milli FROM stock_levels WHERE branch_id = $1 AND sku = $2 FOR UPDATE",
        )
        .bind(self.branch_id)
        .bind(&c.sku)
        .fetch_optional(&mut **tx)
        .await?;
        let delta = c
            .counted_milli
            .checked_sub(before.unwrap_or(0))
            .ok_or_else(|| ApplyError::Entry("stock count delta would overflow".into()))?;
        sqlx::query(
            "INSERT INTO stock_levels AS s (branch_id, sku, on_hand_milli, count_generation)
             VALUES ($1, $2, $3, 1)
             ON CONFLICT (branch_id, sku) DO UPDATE
             SET on_hand_milli = EXCLUDED.on_hand_milli, count_generation = s.count_generation + 1",
        )
        .bind(self.branch_id)
        .bind(&c.sku)
        .bind(c.counted_milli)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "INSERT INTO stock_movements (branch_id, entry_id, line_index, sku, delta_milli, reason, occurred_at)
             VALUES ($1, $2, 0, $3, $4, 'count', $5) ON CONFLICT DO NOTHING",
        )
        .bind(self.branch_id)
        .bind(a.entry.id)
        .bind(&c.sku)
        .bind(delta)
        .bind(ms_to_time(a.occurred_ms))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

/// One stock movement of the batch; `sale` when a sale made it (for
/// `oversold`).
struct StockEvent {
    sku: String,
    delta: i64,
    sale: Option<SaleRef>,
}

struct SaleRef {
    device_id: Uuid,
    seq: u64,
    entry_id: Uuid,
    receipt_no: String,
    date: NaiveDate,
}

struct SaleRow {
    entry_id: Uuid,
    device_id: Uuid,
    payload: SaleCompleted,
    business_date: NaiveDate,
    voided_by: Option<Uuid>,
    occurred_at: DateTime<Utc>,
}
