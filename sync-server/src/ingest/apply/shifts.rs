//! Shifts: `shift_opened`, `cash_moved`, `drawer_opened`, `shift_closed`,
//! and the running totals every sale, void and refund adds to. Totals are
//! folded in memory ([`ShiftState`]) and written once at the end of the
//! batch ([`Applier::write_shifts`]). Rules: `foreign_shift` (a till writes
//! only to its own shift) and, at close, `shift_mismatch` (the till's totals
//! against the totals recomputed from the shift's entries).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sentra_domain::{Money, ShiftSummary};
use sentra_ledger::rules;
use sentra_ledger::shift::summary_of;
use sentra_ledger::totals_of;
use sentra_protocol::payload::{
    CashDirection, CashMoved, DrawerOpened, ShiftClosed, ShiftOpened, ShiftTotals,
};
use serde_json::json;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{Accepted, Applier, ApplyError, Db, NewConflict, R, ms_to_time};

/// A shift's running state in the batch.
pub(super) struct ShiftState {
    pub(super) summary: ShiftSummary,
    exists: bool,
    pub(super) dirty: bool,
    device_id: Uuid,
    opened_at: DateTime<Utc>,
}

/// shift id, device id, opening float, totals, opened at.
type ShiftRow = (
    Uuid,
    Uuid,
    i64,
    sqlx::types::Json<ShiftTotals>,
    DateTime<Utc>,
);

impl Applier {
    /// Loads the stored shifts of `ids` not yet in memory, locking their
    /// rows (in id order).
    pub(super) async fn load_shifts(&mut self, db: &mut Db, ids: &[Uuid]) -> R<()> {
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
    pub(super) fn foreign_shift(&mut self, id: Uuid, a: &Accepted<'_>, what: &str) -> bool {
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
    pub(super) fn shift(&mut self, id: Uuid, device_id: Uuid, at_ms: i64) -> &mut ShiftState {
        self.shifts.entry(id).or_insert_with(|| ShiftState {
            summary: ShiftSummary::open(Money::idr(0)),
            exists: false,
            dirty: true,
            device_id,
            opened_at: ms_to_time(at_ms),
        })
    }

    /// Writes the totals of the shifts the batch changed (inserting those
    /// not stored yet), in id order.
    pub(super) async fn write_shifts(&mut self, tx: &mut Transaction<'_, Postgres>) -> R<()> {
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

    pub(super) async fn shift_opened(
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

    pub(super) async fn cash_moved(
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
    pub(super) async fn drawer_opened(
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
    pub(super) async fn shift_closed(
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
}
