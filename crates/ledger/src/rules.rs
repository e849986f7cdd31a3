//! The cloud's conflict rules as pure functions (see the conflict catalogue in
//! `docs/architecture.md`). The sync server gathers the state each rule needs
//! inside its ingest transaction, calls these, and records what they find.
//! None of them rejects a sale: a sale that physically happened is kept, and
//! what is wrong about it becomes a conflict row.

use std::collections::BTreeMap;

use chrono::{NaiveDate, TimeZone};
use chrono_tz::Tz;
use sentra_protocol::Hlc;
use sentra_protocol::payload::ShiftTotals;
use serde::Serialize;
use uuid::Uuid;

/// When an entry happened, as the reports use it, and how far the device's
/// clock was off when that can be told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeAssessment {
    /// The corrected time: the entry's wall clock minus the measured skew.
    pub occurred_ms: i64,
    /// The device clock's error (device − server) when it is beyond the
    /// tolerance; `None` when the clock is trusted.
    pub skew_ms: Option<i64>,
}

/// Judges an entry's wall clock (`clock_skew`).
///
/// * `sender_offset_ms` is `sent_at − received` of the push, known only when
///   the entry's own device sent it: that offset is the device clock's error,
///   and every entry of the batch is corrected by it.
/// * Otherwise (a relay forwarded the entry, or no `sent_at`) only a wall
///   clock in the future can be told apart from an entry that simply waited
///   offline: such an entry is corrected to the receive time.
pub fn assess_time(
    wall_ms: u64,
    received_ms: u64,
    sender_offset_ms: Option<i64>,
    tolerance_ms: u64,
) -> TimeAssessment {
    let wall = i64::try_from(wall_ms).unwrap_or(i64::MAX);
    let received = i64::try_from(received_ms).unwrap_or(i64::MAX);
    let tol = i64::try_from(tolerance_ms).unwrap_or(i64::MAX);
    if let Some(offset) = sender_offset_ms
        && offset.unsigned_abs() > tol.unsigned_abs()
    {
        return TimeAssessment {
            occurred_ms: wall.saturating_sub(offset),
            skew_ms: Some(offset),
        };
    }
    let ahead = wall.saturating_sub(received);
    if ahead > tol {
        return TimeAssessment {
            occurred_ms: received,
            skew_ms: Some(ahead),
        };
    }
    TimeAssessment {
        occurred_ms: wall,
        skew_ms: None,
    }
}

/// Which of a device's entries the clock offset measured at push time can
/// explain: the index (into `stamps`, the batch's accepted entries of the
/// device in seq order, as `(wall_ms, counter)`) from which it applies. The
/// offset describes the clock *now*; entries made before the clock went
/// wrong must keep their own time, or a backlog made days before the push
/// would move by today's error.
///
/// * Clock ahead now (`offset > tolerance`): a forward jump leaves a gap of
///   at least the offset between two consecutive walls; the offset applies
///   from the entry after the last such gap (from the first entry when there
///   is none: the clock was already wrong when the backlog began).
/// * Clock behind now (`offset < −tolerance`): the whole batch. A backward
///   jump only makes the hybrid clock hold its wall and count up, which
///   entries made within one millisecond do too, so where the jump fell
///   cannot be told from the chain.
pub fn offset_applies_from(stamps: &[(u64, u32)], offset_ms: i64, tolerance_ms: u64) -> usize {
    if offset_ms.unsigned_abs() <= tolerance_ms {
        return 0;
    }
    let pairs = stamps
        .windows(2)
        .enumerate()
        .map(|(i, w)| (i + 1, w[0], w[1]));
    if offset_ms > 0 {
        let jump = offset_ms.unsigned_abs().saturating_sub(tolerance_ms);
        pairs
            .filter(|(_, a, b)| b.0.saturating_sub(a.0) >= jump)
            .map(|(i, _, _)| i)
            .next_back()
            .unwrap_or(0)
    } else {
        0
    }
}

/// One accepted entry of a device as the clock rules see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub wall_ms: u64,
    pub counter: u32,
    /// The entry is a `clock_stepped_back` marker.
    pub stepped_back: bool,
}

/// Per entry of `stamps` (a device's accepted entries in seq order), whether
/// the clock offset measured at push time applies to it:
///
/// * clock ahead now: from the entry after the last forward jump
///   ([`offset_applies_from`]);
/// * clock behind now, with a `clock_stepped_back` marker in the batch: only
///   the entries after the last marker made once the hybrid clock moved on
///   again (wall above the marker's). Entries before the step keep their
///   time; entries made while the hybrid clock held its wall keep the wall it
///   held (the moment of the step: the clock they were made with was wrong,
///   so nothing better is known);
/// * clock behind now, no marker: every entry (the clock was behind all
///   along, or it stepped back before this batch).
pub fn offset_applies(stamps: &[Stamp], offset_ms: i64, tolerance_ms: u64) -> Vec<bool> {
    let n = stamps.len();
    if offset_ms.unsigned_abs() <= tolerance_ms {
        return vec![true; n];
    }
    if offset_ms > 0 {
        let walls: Vec<(u64, u32)> = stamps.iter().map(|s| (s.wall_ms, s.counter)).collect();
        let from = offset_applies_from(&walls, offset_ms, tolerance_ms);
        return (0..n).map(|i| i >= from).collect();
    }
    match stamps.iter().rposition(|s| s.stepped_back) {
        None => vec![true; n],
        Some(m) => {
            let held = stamps[m].wall_ms;
            stamps
                .iter()
                .enumerate()
                .map(|(i, s)| i > m && s.wall_ms > held)
                .collect()
        }
    }
}

/// The branch's business date of an instant (ms since the epoch).
pub fn business_date(ms: i64, tz: Tz) -> NaiveDate {
    match tz.timestamp_millis_opt(ms).single() {
        Some(t) => t.date_naive(),
        // Out of chrono's range: fall back to the UTC epoch day arithmetic.
        None => NaiveDate::default(),
    }
}

/// `stale_price`: the line's unit price differs from the price in force at
/// the sale's time. `None` when there is no price on record (nothing to
/// compare) or they agree.
pub fn stale_price(charged: i64, in_force: Option<i64>) -> Option<StalePrice> {
    match in_force {
        Some(p) if p != charged => Some(StalePrice {
            charged,
            in_force: p,
        }),
        _ => None,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct StalePrice {
    pub charged: i64,
    pub in_force: i64,
}

/// `oversold`: stock went below zero with this sale. Raised once per item,
/// day and stock count: `count_generation` changes whenever the item is
/// counted, so a new shortfall after a count is raised again.
pub fn oversold_key(sku: &str, date: NaiveDate, count_generation: i64) -> String {
    format!("oversold:{sku}:{date}:{count_generation}")
}

/// One line of a sale as sold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SoldLine {
    pub line_no: u32,
    pub quantity_milli: i64,
    pub total: i64,
}

/// One refund claiming against a sale.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundClaim {
    pub entry_id: Uuid,
    pub hlc: Hlc,
    pub device_id: Uuid,
    pub seq: u64,
    /// `(line_no, quantity_milli, amount)` per refunded line.
    pub lines: Vec<(u32, i64, i64)>,
}

impl RefundClaim {
    fn order(&self) -> (Hlc, Uuid, u64) {
        (self.hlc, self.device_id, self.seq)
    }
}

/// Why a refund is over what was sold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OverRefund {
    pub entry_id: Uuid,
    pub line_no: u32,
    /// What the sale line sold (quantity, amount) …
    pub sold_quantity_milli: i64,
    pub sold_amount: i64,
    /// … what earlier refunds already took back …
    pub earlier_quantity_milli: i64,
    pub earlier_amount: i64,
    /// … and what this refund asked for.
    pub quantity_milli: i64,
    pub amount: i64,
}

/// `over_refund`: refunds of one sale taken in HLC order (device id and seq
/// break ties); a refund applies against the sale while it fits what is left
/// of each of its lines, and is flagged otherwise. A flagged refund takes
/// nothing, so the next one is judged against what the applied ones left. The
/// answer does not depend on the order in which refunds arrived.
pub fn over_refunds(sold: &[SoldLine], claims: &[RefundClaim]) -> Vec<OverRefund> {
    let sold: BTreeMap<u32, SoldLine> = sold.iter().map(|l| (l.line_no, *l)).collect();
    let mut taken: BTreeMap<u32, (i64, i64)> = BTreeMap::new();
    let mut order: Vec<&RefundClaim> = claims.iter().collect();
    order.sort_by_key(|c| c.order());
    let mut over = Vec::new();
    for claim in order {
        let mut wanted: BTreeMap<u32, (i64, i64)> = BTreeMap::new();
        for (line_no, q, a) in &claim.lines {
            let w = wanted.entry(*line_no).or_default();
            w.0 = w.0.saturating_add(*q);
            w.1 = w.1.saturating_add(*a);
        }
        let first_bad = wanted.iter().find_map(|(line_no, (q, a))| {
            let (tq, ta) = taken.get(line_no).copied().unwrap_or_default();
            let line = sold.get(line_no).copied().unwrap_or(SoldLine {
                line_no: *line_no,
                quantity_milli: 0,
                total: 0,
            });
            let fits =
                tq.saturating_add(*q) <= line.quantity_milli && ta.saturating_add(*a) <= line.total;
            (!fits).then_some(OverRefund {
                entry_id: claim.entry_id,
                line_no: *line_no,
                sold_quantity_milli: line.quantity_milli,
                sold_amount: line.total,
                earlier_quantity_milli: tq,
                earlier_amount: ta,
                quantity_milli: *q,
                amount: *a,
            })
        });
        match first_bad {
            Some(o) => over.push(o),
            None => {
                for (line_no, (q, a)) in wanted {
                    let t = taken.entry(line_no).or_default();
                    t.0 = t.0.saturating_add(q);
                    t.1 = t.1.saturating_add(a);
                }
            }
        }
    }
    over
}

/// A redemption of a voucher code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Redemption {
    pub entry_id: Uuid,
    pub hlc: Hlc,
    pub device_id: Uuid,
    pub seq: u64,
}

/// `voucher_double_spend`: every redemption after the first by HLC (device
/// id, seq break ties) is flagged; all are kept. Returns the flagged ones.
pub fn double_spends(redemptions: &[Redemption]) -> Vec<Redemption> {
    let mut sorted = redemptions.to_vec();
    sorted.sort_by_key(|r| (r.hlc, r.device_id, r.seq));
    sorted.dedup_by_key(|r| r.entry_id);
    sorted.into_iter().skip(1).collect()
}

/// One figure that differs between a shift's closing totals and the totals
/// recomputed from its entries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FigureDiff {
    pub figure: String,
    pub reported: i64,
    pub recomputed: i64,
}

/// `shift_mismatch`: the figures that differ (empty when they agree).
pub fn shift_differences(
    reported: &ShiftTotals,
    reported_expected_cash: i64,
    recomputed: &ShiftTotals,
    recomputed_expected_cash: i64,
) -> Vec<FigureDiff> {
    let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let mut figures: Vec<(String, i64, i64)> = vec![
        (
            "sales_count".into(),
            clamp(reported.sales_count),
            clamp(recomputed.sales_count),
        ),
        ("gross".into(), reported.gross, recomputed.gross),
        ("discounts".into(), reported.discounts, recomputed.discounts),
        ("tax".into(), reported.tax, recomputed.tax),
        (
            "sales_total".into(),
            reported.sales_total,
            recomputed.sales_total,
        ),
        (
            "refunds_count".into(),
            clamp(reported.refunds_count),
            clamp(recomputed.refunds_count),
        ),
        (
            "refunds_total".into(),
            reported.refunds_total,
            recomputed.refunds_total,
        ),
        (
            "voids_count".into(),
            clamp(reported.voids_count),
            clamp(recomputed.voids_count),
        ),
        (
            "voids_total".into(),
            reported.voids_total,
            recomputed.voids_total,
        ),
        ("cash_in".into(), reported.cash_in, recomputed.cash_in),
        ("cash_out".into(), reported.cash_out, recomputed.cash_out),
        (
            "no_sales".into(),
            clamp(reported.no_sales),
            clamp(recomputed.no_sales),
        ),
        (
            "expected_cash".into(),
            reported_expected_cash,
            recomputed_expected_cash,
        ),
    ];
    let methods: std::collections::BTreeSet<&String> = reported
        .payments
        .keys()
        .chain(recomputed.payments.keys())
        .collect();
    for m in methods {
        figures.push((
            format!("payments.{m}"),
            reported.payments.get(m).copied().unwrap_or(0),
            recomputed.payments.get(m).copied().unwrap_or(0),
        ));
    }
    figures
        .into_iter()
        .filter(|(_, a, b)| a != b)
        .map(|(figure, reported, recomputed)| FigureDiff {
            figure,
            reported,
            recomputed,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hlc(ms: u64) -> Hlc {
        Hlc {
            wall_ms: ms,
            counter: 0,
        }
    }

    #[test]
    fn sender_offset_beyond_tolerance_corrects_every_entry() {
        let t = assess_time(1_000_000, 2_000_000, Some(-1_000_000), 120_000);
        assert_eq!(t.skew_ms, Some(-1_000_000));
        assert_eq!(t.occurred_ms, 2_000_000);
    }

    #[test]
    fn offline_entry_with_a_good_clock_is_not_skew() {
        // Written two days ago, pushed now, the sender's clock is right.
        let day = 86_400_000;
        let t = assess_time(10 * day, 12 * day, Some(500), 120_000);
        assert_eq!(t.skew_ms, None);
        assert_eq!(t.occurred_ms, (10 * day) as i64);
    }

    #[test]
    fn future_wall_clock_via_relay_is_skew_corrected_to_receipt() {
        let t = assess_time(5_000_000, 1_000_000, None, 120_000);
        assert_eq!(t.skew_ms, Some(4_000_000));
        assert_eq!(t.occurred_ms, 1_000_000);
        let ok = assess_time(1_100_000, 1_000_000, None, 120_000);
        assert_eq!(ok.skew_ms, None);
    }

    #[test]
    fn business_date_follows_the_branch_time_zone() {
        // 2026-11-22 18:30 UTC is already 2026-11-23 in Jakarta (UTC+7).
        let ms = 1_795_372_200_000;
        assert_eq!(
            business_date(ms, chrono_tz::Asia::Jakarta),
            NaiveDate::from_ymd_opt(2026, 11, 23).expect("date")
        );
        assert_eq!(
            business_date(ms, chrono_tz::UTC),
            NaiveDate::from_ymd_opt(2026, 11, 22).expect("date")
        );
    }

    #[test]
    fn stale_price_only_when_a_price_is_known_and_differs() {
        assert_eq!(stale_price(5000, None), None);
        assert_eq!(stale_price(5000, Some(5000)), None);
        assert_eq!(
            stale_price(5000, Some(5500)),
            Some(StalePrice {
                charged: 5000,
                in_force: 5500
            })
        );
    }

    fn claim(id: u128, ms: u64, lines: Vec<(u32, i64, i64)>) -> RefundClaim {
        RefundClaim {
            entry_id: Uuid::from_u128(id),
            hlc: hlc(ms),
            device_id: Uuid::from_u128(id),
            seq: 1,
            lines,
        }
    }

    #[test]
    fn earliest_refund_by_hlc_applies_whatever_the_arrival_order() {
        let sold = [SoldLine {
            line_no: 1,
            quantity_milli: 2000,
            total: 10_000,
        }];
        let early = claim(1, 100, vec![(1, 2000, 10_000)]);
        let late = claim(2, 200, vec![(1, 1000, 5_000)]);
        for claims in [
            vec![early.clone(), late.clone()],
            vec![late.clone(), early.clone()],
        ] {
            let over = over_refunds(&sold, &claims);
            assert_eq!(over.len(), 1);
            assert_eq!(over[0].entry_id, late.entry_id);
            assert_eq!(over[0].earlier_quantity_milli, 2000);
        }
    }

    #[test]
    fn partial_refunds_that_fit_are_not_flagged() {
        let sold = [SoldLine {
            line_no: 1,
            quantity_milli: 3000,
            total: 9_000,
        }];
        let claims = [
            claim(1, 100, vec![(1, 1000, 3_000)]),
            claim(2, 200, vec![(1, 2000, 6_000)]),
        ];
        assert!(over_refunds(&sold, &claims).is_empty());
    }

    #[test]
    fn refund_of_a_line_never_sold_is_over() {
        let sold = [SoldLine {
            line_no: 1,
            quantity_milli: 1000,
            total: 1_000,
        }];
        let over = over_refunds(&sold, &[claim(1, 1, vec![(7, 1000, 1_000)])]);
        assert_eq!(over.len(), 1);
        assert_eq!(over[0].line_no, 7);
    }

    #[test]
    fn second_voucher_redemption_by_hlc_is_flagged() {
        let r = |id: u128, ms: u64| Redemption {
            entry_id: Uuid::from_u128(id),
            hlc: hlc(ms),
            device_id: Uuid::from_u128(id),
            seq: 1,
        };
        let flagged = double_spends(&[r(2, 50), r(1, 10)]);
        assert_eq!(flagged, vec![r(2, 50)]);
        assert!(double_spends(&[r(1, 10)]).is_empty());
    }

    #[test]
    fn shift_differences_name_each_figure() {
        let mut a = ShiftTotals::default();
        a.payments.insert("cash".into(), 100);
        let mut b = a.clone();
        assert!(shift_differences(&a, 5, &b, 5).is_empty());
        b.payments.insert("cash".into(), 90);
        b.tax = 3;
        let d = shift_differences(&a, 5, &b, 7);
        let names: Vec<&str> = d.iter().map(|f| f.figure.as_str()).collect();
        assert_eq!(names, vec!["tax", "expected_cash", "payments.cash"]);
    }

    #[test]
    fn a_backlog_spanning_a_forward_clock_jump_is_corrected_only_after_it() {
        let hour = 3_600_000u64;
        let day = 24 * hour;
        let t0 = 1_800_000_000_000u64;
        // Two days offline with a good clock (an entry every 4 h), then the
        // clock jumps 3 h ahead, then three more entries 10 min apart.
        let mut stamps: Vec<(u64, u32)> = (0..12).map(|i| (t0 + i * 4 * hour, 0)).collect();
        let jumped = t0 + 2 * day + 3 * hour;
        stamps.extend((0..3).map(|i| (jumped + i * 600_000, 0)));
        let offset = (3 * hour) as i64;
        assert_eq!(offset_applies_from(&stamps, offset, 120_000), 12);
        // Each entry: its own time before the jump, corrected after it.
        let received = jumped + 20 * 60_000 - 3 * hour;
        let k = offset_applies_from(&stamps, offset, 120_000);
        for (i, (wall, _)) in stamps.iter().enumerate() {
            let measured = if i >= k { Some(offset) } else { None };
            let t = assess_time(*wall, received, measured, 120_000);
            if i < k {
                assert_eq!(t.occurred_ms, *wall as i64, "entry {i} keeps its time");
            } else {
                assert_eq!(t.occurred_ms, *wall as i64 - offset, "entry {i} corrected");
            }
        }
        // No gap: the clock was wrong all along, every entry is corrected.
        let steady: Vec<(u64, u32)> = (0..5).map(|i| (t0 + i * 60_000, 0)).collect();
        assert_eq!(offset_applies_from(&steady, offset, 120_000), 0);
        // Within tolerance: nothing to place.
        assert_eq!(offset_applies_from(&stamps, 60_000, 120_000), 0);
    }

    #[test]
    fn a_backlog_spanning_a_backward_clock_step_is_corrected_only_after_it() {
        let hour = 3_600_000u64;
        let t0 = 1_800_000_000_000u64;
        let stamp = |wall, counter, stepped_back| Stamp {
            wall_ms: wall,
            counter,
            stepped_back,
        };
        // A day with a good clock; then the clock is set back 2 h: the till
        // journals the step, the hybrid clock holds its wall for two more
        // entries, then moves on 2 h behind.
        let mut stamps: Vec<Stamp> = (0..6).map(|i| stamp(t0 + i * 4 * hour, 0, false)).collect();
        let held = t0 + 20 * hour;
        stamps.push(stamp(held, 1, true));
        stamps.push(stamp(held, 2, false));
        stamps.push(stamp(held, 3, false));
        stamps.push(stamp(held + 10 * 60_000, 0, false));
        stamps.push(stamp(held + 20 * 60_000, 0, false));
        let offset = -((2 * hour) as i64);
        let applies = offset_applies(&stamps, offset, 120_000);
        assert_eq!(
            applies,
            [vec![false; 9], vec![true; 2]].concat(),
            "only the entries made with the clock behind move"
        );
        // No marker: the clock was behind all along.
        let steady: Vec<Stamp> = (0..4).map(|i| stamp(t0 + i * 60_000, 0, false)).collect();
        assert_eq!(offset_applies(&steady, offset, 120_000), vec![true; 4]);
        // Ahead: the forward rule.
        let ahead = offset_applies(&steady, (2 * hour) as i64, 120_000);
        assert_eq!(ahead, vec![true; 4]);
        // Within tolerance: nothing to place.
        assert_eq!(offset_applies(&stamps, -60_000, 120_000), vec![true; 11]);
    }

    #[test]
    fn a_clock_behind_now_corrects_the_whole_batch() {
        let t0 = 1_800_000_000_000u64;
        let stamps: Vec<(u64, u32)> = (0..4).map(|i| (t0 + i * 60_000, 0)).collect();
        assert_eq!(offset_applies_from(&stamps, -7_200_000, 120_000), 0);
    }
}
