//! Hybrid logical clock (Kulkarni et al., 2014).
//!
//! The physical time is passed in by the caller; this module never reads a
//! clock. A stamp is `(wall_ms, counter)`, ordered by `wall_ms` then
//! `counter`. Every stamp a [`HlcClock`] hands out is strictly greater than
//! the one before, even when the physical clock jumps backwards.

use serde::{Deserialize, Serialize};

/// A hybrid logical clock stamp: milliseconds since the Unix epoch, plus a
/// counter that orders events within the same millisecond.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Hlc {
    pub wall_ms: u64,
    pub counter: u32,
}

impl Hlc {
    pub const ZERO: Hlc = Hlc {
        wall_ms: 0,
        counter: 0,
    };

    pub const fn new(wall_ms: u64, counter: u32) -> Hlc {
        Hlc { wall_ms, counter }
    }

    /// The smallest stamp greater than `(wall_ms, counter)`: the counter is
    /// bumped; on counter overflow the wall moves one millisecond on and the
    /// counter restarts at 0. At the very top of the range (never reached in
    /// practice) the stamp saturates.
    fn successor(wall_ms: u64, counter: u32) -> Hlc {
        match counter.checked_add(1) {
            Some(c) => Hlc::new(wall_ms, c),
            None => match wall_ms.checked_add(1) {
                Some(w) => Hlc::new(w, 0),
                None => Hlc::new(u64::MAX, u32::MAX),
            },
        }
    }
}

impl std::fmt::Display for Hlc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.wall_ms, self.counter)
    }
}

/// The clock of one device. Persist [`HlcClock::last`] with each entry and
/// rebuild the clock from it with [`HlcClock::new`] on start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HlcClock {
    last: Hlc,
}

impl HlcClock {
    pub fn new(last: Hlc) -> Self {
        HlcClock { last }
    }

    /// The last stamp handed out (or the one the clock was built with).
    pub fn last(&self) -> Hlc {
        self.last
    }

    /// Stamp a local event. The result is strictly greater than `last()`;
    /// its wall is `max(last.wall_ms, physical_ms)`.
    pub fn tick(&mut self, physical_ms: u64) -> Hlc {
        let next = if physical_ms > self.last.wall_ms {
            Hlc::new(physical_ms, 0)
        } else {
            Hlc::successor(self.last.wall_ms, self.last.counter)
        };
        self.last = next;
        next
    }

    /// Merge a stamp received from another node (standard HLC receive). The
    /// result is strictly greater than both `last()` and `remote`.
    pub fn observe(&mut self, remote: Hlc, physical_ms: u64) -> Hlc {
        let last = self.last;
        let wall = last.wall_ms.max(remote.wall_ms).max(physical_ms);
        let next = if wall == last.wall_ms && wall == remote.wall_ms {
            Hlc::successor(wall, last.counter.max(remote.counter))
        } else if wall == last.wall_ms {
            Hlc::successor(wall, last.counter)
        } else if wall == remote.wall_ms {
            Hlc::successor(wall, remote.counter)
        } else {
            Hlc::new(wall, 0)
        };
        self.last = next;
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_follows_physical_time_and_counts_within_a_millisecond() {
        let mut c = HlcClock::new(Hlc::ZERO);
        assert_eq!(c.tick(100), Hlc::new(100, 0));
        assert_eq!(c.tick(100), Hlc::new(100, 1));
        assert_eq!(c.tick(101), Hlc::new(101, 0));
        // Physical clock goes backwards: the wall stays, the counter moves.
        assert_eq!(c.tick(50), Hlc::new(101, 1));
        assert_eq!(c.last(), Hlc::new(101, 1));
    }

    #[test]
    fn counter_overflow_bumps_wall() {
        let mut c = HlcClock::new(Hlc::new(10, u32::MAX));
        assert_eq!(c.tick(5), Hlc::new(11, 0));
        let mut c = HlcClock::new(Hlc::new(10, 0));
        assert_eq!(c.observe(Hlc::new(10, u32::MAX), 3), Hlc::new(11, 0));
    }

    #[test]
    fn saturates_at_the_top_without_panicking() {
        let mut c = HlcClock::new(Hlc::new(u64::MAX, u32::MAX));
        assert_eq!(c.tick(0), Hlc::new(u64::MAX, u32::MAX));
    }

    #[test]
    fn observe_merges() {
        let mut c = HlcClock::new(Hlc::new(100, 5));
        // Remote ahead of both.
        assert_eq!(c.observe(Hlc::new(200, 7), 150), Hlc::new(200, 8));
        // Same wall on both sides: max counter + 1.
        let mut c = HlcClock::new(Hlc::new(100, 5));
        assert_eq!(c.observe(Hlc::new(100, 9), 90), Hlc::new(100, 10));
        // Local ahead.
        let mut c = HlcClock::new(Hlc::new(100, 5));
        assert_eq!(c.observe(Hlc::new(40, 9), 90), Hlc::new(100, 6));
        // Physical ahead of both.
        let mut c = HlcClock::new(Hlc::new(100, 5));
        assert_eq!(c.observe(Hlc::new(40, 9), 300), Hlc::new(300, 0));
    }

    #[test]
    fn order_is_wall_then_counter() {
        assert!(Hlc::new(1, 9) < Hlc::new(2, 0));
        assert!(Hlc::new(2, 0) < Hlc::new(2, 1));
    }
}
