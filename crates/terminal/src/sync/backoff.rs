//! Exponential backoff with full jitter: after the n-th failure in a row
//! the wait is uniform in `[0, min(cap, base · 2ⁿ⁻¹)]`. Jitter keeps a
//! branch's terminals from hammering the cloud in step when it comes back.

use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    failures: u32,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff {
            base,
            cap: cap.max(base),
            failures: 0,
        }
    }

    /// Failures in a row so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The largest wait the next failure can draw.
    pub fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.failures.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// Count a failure and draw the wait before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.failures = self.failures.saturating_add(1);
        full_jitter(ceiling, random_u64())
    }

    /// A success: the next failure starts from `base` again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

/// The wait after a `Retry-After` of `asked`: uniform in `[asked, 2·asked]`,
/// so tills told the same number do not all come back in the same second.
pub fn after_retry_after(asked: Duration) -> Duration {
    asked + full_jitter(asked, random_u64())
}

/// Uniform in `[0, ceiling]` (millisecond steps) from a random number.
pub fn full_jitter(ceiling: Duration, random: u64) -> Duration {
    let ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(random % ms.saturating_add(1))
}

fn random_u64() -> u64 {
    getrandom::u64().unwrap_or_else(|_| {
        // No OS randomness: the clock's nanoseconds still spread terminals.
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::from(d.subsec_nanos()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_after_is_waited_at_least_and_at_most_twice() {
        for _ in 0..200 {
            let wait = after_retry_after(Duration::from_secs(2));
            assert!(
                wait >= Duration::from_secs(2) && wait <= Duration::from_secs(4),
                "{wait:?}"
            );
        }
    }

    #[test]
    fn ceilings_double_up_to_the_cap() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let mut ceilings = Vec::new();
        for _ in 0..10 {
            ceilings.push(b.ceiling().as_secs());
            b.next_delay();
        }
        assert_eq!(ceilings, [1, 2, 4, 8, 16, 32, 60, 60, 60, 60]);
        for _ in 0..100 {
            b.next_delay();
        }
        assert_eq!(b.ceiling(), Duration::from_secs(60), "no overflow");
        b.reset();
        assert_eq!(b.ceiling(), Duration::from_secs(1));
    }

    #[test]
    fn delays_stay_within_zero_and_the_ceiling() {
        let mut b = Backoff::new(Duration::from_millis(500), Duration::from_secs(60));
        for _ in 0..2000 {
            let ceiling = b.ceiling();
            let d = b.next_delay();
            assert!(d <= ceiling, "{d:?} > {ceiling:?}");
            assert!(d <= Duration::from_secs(60));
        }
        assert_eq!(full_jitter(Duration::from_secs(2), 0), Duration::ZERO);
        assert_eq!(
            full_jitter(Duration::from_secs(2), 2000),
            Duration::from_secs(2)
        );
        assert_eq!(full_jitter(Duration::ZERO, 12345), Duration::ZERO);
    }

    #[test]
    fn jitter_spreads_over_the_whole_range() {
        // Full jitter, not "ceiling ± a little": draws land in every tenth.
        let mut tenths = [0u32; 10];
        for _ in 0..2000 {
            let d = full_jitter(Duration::from_millis(10_000), random_u64());
            let i = (d.as_millis() as usize / 1000).min(9);
            tenths[i] += 1;
        }
        assert!(tenths.iter().all(|&n| n > 0), "{tenths:?}");
    }
}
