//! Which summary rows a report over `[from, to]` reads: a *cover* of the
//! period by whole days, months and years, each added or taken away. The
//! summaries keep a row per branch and key for every day, month and year
//! (`item_daily_rollup`, `item_monthly_rollup`, `item_yearly_rollup`, …),
//! so a period can be read as, say, the year 2026 less the days of it that
//! are still to come, plus December 2025 less its first week — four ranges
//! of a few rows each instead of eleven months and thirty-one odd days.
//!
//! Any cover gives the same figures (every day of the period is counted
//! once, every other day not at all); the one chosen is the cheapest by a
//! rough count of the rows each range holds (`Grain::cost`). Units that
//! begin after `today` hold no rows yet, so taking them away costs next to
//! nothing.

use chrono::{Datelike as _, Days, Months, NaiveDate};

/// A table's period: the summaries are kept per day, month and year.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Grain {
    Year,
    Month,
    Day,
}

impl Grain {
    /// The first day of the unit `d` falls in.
    pub fn floor(self, d: NaiveDate) -> NaiveDate {
        match self {
            Grain::Day => d,
            Grain::Month => d.with_day(1).unwrap_or(d),
            Grain::Year => d.with_ordinal(1).unwrap_or(d),
        }
    }

    /// The first day of the unit after the one starting at `start`.
    fn next(self, start: NaiveDate) -> NaiveDate {
        let n = match self {
            Grain::Day => start.checked_add_days(Days::new(1)),
            Grain::Month => start.checked_add_months(Months::new(1)),
            Grain::Year => start.checked_add_months(Months::new(12)),
        };
        n.unwrap_or(NaiveDate::MAX)
    }

    /// Roughly how many rows a unit holds, per branch, in days' worth: a
    /// month's row per SKU is one of the ~2,000 SKUs a branch sells in a
    /// month where a day sells ~350; a year adds the slow sellers.
    fn cost(self) -> f64 {
        match self {
            Grain::Day => 1.0,
            Grain::Month => 5.0,
            Grain::Year => 8.0,
        }
    }
}

/// What reading one more range costs on its own (planning it over every
/// branch's partition, starting its scan), in days' worth of rows.
const RANGE_COST: f64 = 1.0;

/// The units `[from, until)` of one grain, added (`sign` 1) or taken away
/// (`sign` −1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part {
    pub grain: Grain,
    pub from: NaiveDate,
    pub until: NaiveDate,
    pub sign: i8,
}

#[derive(Clone, Debug, Default)]
struct Plan {
    cost: f64,
    parts: Vec<Part>,
}

impl Plan {
    /// The units of `g` in `[from, until)`, both on `g`'s boundaries.
    fn units(g: Grain, from: NaiveDate, until: NaiveDate, today: NaiveDate) -> Plan {
        if from >= until {
            return Plan::default();
        }
        let mut cost = RANGE_COST;
        let mut u = from;
        // Units that begin after today hold nothing (yet); a day range
        // can be long, so it is counted, not walked.
        if g == Grain::Day {
            let last = until.min(today.succ_opt().unwrap_or(today));
            if last > from {
                cost += (last - from).num_days() as f64;
            }
        } else {
            while u < until && u <= today {
                cost += g.cost();
                u = g.next(u);
            }
        }
        Plan {
            cost,
            parts: vec![Part {
                grain: g,
                from,
                until,
                sign: 1,
            }],
        }
    }

    fn plus(mut self, other: Plan, sign: i8) -> Plan {
        self.cost += other.cost;
        self.parts.extend(other.parts.into_iter().map(|p| Part {
            sign: p.sign * sign,
            ..p
        }));
        self
    }

    fn cheaper(self, other: Plan) -> Plan {
        if other.cost < self.cost { other } else { self }
    }
}

/// The cheapest cover of `[from, to]` (both included) by the `grains` a
/// table has — coarsest first, ending with `Grain::Day` — given that no
/// unit beginning after `today` holds rows yet. Returns no part for an
/// empty period.
pub fn cover(from: NaiveDate, to: NaiveDate, grains: &[Grain], today: NaiveDate) -> Vec<Part> {
    let until = to.succ_opt().unwrap_or(to);
    let mut grains = grains.to_vec();
    grains.sort();
    grains.dedup();
    if grains.last() != Some(&Grain::Day) {
        grains.push(Grain::Day);
    }
    best(from, until, &grains, today).parts
}

/// The cheapest cover of `[a, b)`.
fn best(a: NaiveDate, b: NaiveDate, grains: &[Grain], today: NaiveDate) -> Plan {
    if a >= b {
        return Plan::default();
    }
    let Some((&g, finer)) = grains.split_first() else {
        return Plan::default();
    };
    if finer.is_empty() {
        return Plan::units(g, a, b, today);
    }
    let (s, e) = (g.floor(a), g.floor(b));
    if s == e {
        // Inside one unit: its days by a finer grain, or the whole unit
        // less what is outside the period.
        let outer = Plan::units(g, s, g.next(s), today)
            .plus(best(s, a, finer, today), -1)
            .plus(best(b, g.next(s), finer, today), -1);
        return best(a, b, finer, today).cheaper(outer);
    }
    // The whole units in the middle, and at each end either the part of a
    // unit inside the period (a finer cover) or the whole unit less the
    // part outside it.
    let first_whole = if a == s { a } else { g.next(s) };
    let mut plans = Vec::with_capacity(4);
    for left_whole in [false, true] {
        if left_whole && a == s {
            continue;
        }
        for right_whole in [false, true] {
            if right_whole && b == e {
                continue;
            }
            let lo = if left_whole { s } else { first_whole };
            let hi = if right_whole { g.next(e) } else { e };
            let mut p = Plan::units(g, lo, hi, today);
            p = if left_whole {
                p.plus(best(s, a, finer, today), -1)
            } else {
                p.plus(best(a, first_whole, finer, today), 1)
            };
            p = if right_whole {
                p.plus(best(b, g.next(e), finer, today), -1)
            } else {
                p.plus(best(e, b, finer, today), 1)
            };
            plans.push(p);
        }
    }
    plans.into_iter().reduce(Plan::cheaper).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    /// How many times each day of `[lo, hi)` is counted by `parts`.
    fn counts(parts: &[Part], lo: NaiveDate, hi: NaiveDate) -> Vec<(NaiveDate, i32)> {
        lo.iter_days()
            .take_while(|x| *x < hi)
            .map(|x| {
                let n = parts
                    .iter()
                    .filter(|p| p.from <= x && x < p.until)
                    .map(|p| i32::from(p.sign))
                    .sum();
                (x, n)
            })
            .collect()
    }

    /// Every day of the period counted once and no other day at all, each
    /// part on its grain's boundaries.
    fn assert_exact(from: NaiveDate, to: NaiveDate, grains: &[Grain], today: NaiveDate) {
        let parts = cover(from, to, grains, today);
        for p in &parts {
            assert!(p.from < p.until, "{p:?}");
            assert_eq!(p.grain.floor(p.from), p.from, "{p:?} starts on its grain");
            assert_eq!(p.grain.floor(p.until), p.until, "{p:?} ends on its grain");
            assert!(grains.contains(&p.grain) || p.grain == Grain::Day, "{p:?}");
        }
        let lo = Grain::Year.floor(from) - Days::new(1);
        let hi = Grain::Year.next(Grain::Year.floor(to)) + Days::new(1);
        for (day, n) in counts(&parts, lo, hi) {
            let want = i32::from(from <= day && day <= to);
            assert_eq!(n, want, "{day} in {from}..={to} (today {today}): {parts:?}");
        }
    }

    #[test]
    fn every_day_of_the_period_is_counted_once() {
        let all = [Grain::Year, Grain::Month, Grain::Day];
        let month_day = [Grain::Month, Grain::Day];
        let starts = [
            "2025-01-01",
            "2025-02-28",
            "2025-12-08",
            "2025-12-31",
            "2026-01-01",
            "2026-02-01",
            "2026-03-15",
            "2026-11-30",
        ];
        let lengths = [0, 1, 6, 27, 30, 59, 180, 364, 365, 700];
        let todays = ["2024-06-01", "2026-03-20", "2026-12-06", "2030-01-01"];
        for s in starts {
            for n in lengths {
                let from = d(s);
                let to = from + Days::new(n);
                for t in todays {
                    assert_exact(from, to, &all, d(t));
                    assert_exact(from, to, &month_day, d(t));
                    assert_exact(from, to, &[Grain::Day], d(t));
                }
            }
        }
    }

    #[test]
    fn the_last_365_days_read_a_year_and_a_month_less_some_days() {
        let today = d("2026-12-06");
        let parts = cover(
            d("2025-12-07"),
            today,
            &[Grain::Year, Grain::Month, Grain::Day],
            today,
        );
        let rows: f64 = parts
            .iter()
            .filter(|p| p.grain != Grain::Day)
            .map(|p| p.grain.cost())
            .sum();
        assert!(
            parts.iter().any(|p| p.grain == Grain::Year && p.sign == 1),
            "{parts:?}"
        );
        assert!(
            rows <= Grain::Year.cost() + Grain::Month.cost(),
            "{parts:?}"
        );
        assert!(parts.len() <= 4, "{parts:?}");
    }

    #[test]
    fn a_whole_month_is_one_month_row_and_a_day_one_day_row() {
        let today = d("2026-12-06");
        let g = [Grain::Year, Grain::Month, Grain::Day];
        let month = cover(d("2026-11-01"), d("2026-11-30"), &g, today);
        assert_eq!(
            month,
            vec![Part {
                grain: Grain::Month,
                from: d("2026-11-01"),
                until: d("2026-12-01"),
                sign: 1
            }]
        );
        let day = cover(d("2026-11-05"), d("2026-11-05"), &g, today);
        assert_eq!(day.len(), 1);
        assert_eq!(day[0].grain, Grain::Day);
        assert!(cover(d("2026-11-05"), d("2026-11-04"), &g, today).is_empty());
    }
}
