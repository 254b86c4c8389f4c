//! A time window: the outcomes of the last `span`, in buckets.
//!
//! The window is `buckets` slots of `span / buckets` each. An outcome at time t goes
//! to period `t / bucket_len`, kept in slot `period % buckets`. Each counter of a slot
//! is one `u64` that packs the period's tag with its count, so a slot is recycled for a
//! new period by one compare-and-swap, with no lock and no separate epoch. Summing
//! takes only counters whose period is within the last `buckets` periods, so old
//! outcomes really drop out, even when no call arrives to overwrite them.

use super::Divisor;
use crate::loom::{AtomicBool, AtomicU64, Ordering::Relaxed};
use crate::state_machine::Counts;
use std::time::Duration;

const TAG_SHIFT: u32 = 36;
const TAG_MASK: u64 = (1 << 28) - 1;
const COUNT_MASK: u64 = (1 << TAG_SHIFT) - 1;
/// Counts stop growing this far below the field's capacity, leaving room for racing
/// increments (a bucket would need 68 billion calls to get here).
const COUNT_CEILING: u64 = COUNT_MASK - (1 << 24);

#[derive(Debug, Default)]
struct Bucket {
    calls: AtomicU64,
    failures: AtomicU64,
    slow: AtomicU64,
}

#[derive(Debug)]
pub(crate) struct TimeWindow {
    bucket_nanos: Divisor,
    bucket_count: Divisor,
    buckets: Box<[Bucket]>,
    track_slow: bool,
    /// Whether the last judgement found fewer calls than the minimum: while it did,
    /// every success is judged too.
    below_minimum: AtomicBool,
}

impl TimeWindow {
    pub(crate) fn new(span: Duration, buckets: u32, track_slow: bool) -> Self {
        let span = u64::try_from(span.as_nanos()).unwrap_or(u64::MAX);
        let n = u64::from(buckets.max(1));
        TimeWindow {
            bucket_nanos: Divisor::new(span / n),
            bucket_count: Divisor::new(n),
            buckets: (0..n).map(|_| Bucket::default()).collect(),
            track_slow,
            below_minimum: AtomicBool::new(true),
        }
    }

    #[inline]
    pub(crate) fn record(
        &self,
        now: u64,
        failure: bool,
        slow: bool,
        minimum: u64,
    ) -> Option<Counts> {
        let period = self.bucket_nanos.div_rem(now).0;
        let bucket = &self.buckets[self.bucket_count.div_rem(period).1 as usize];
        // Failures and slow calls follow the period the call was counted in.
        let (tag, first_in_period) = bump(&bucket.calls, period & TAG_MASK);
        if failure {
            bump(&bucket.failures, tag);
        }
        if slow && self.track_slow {
            bump(&bucket.slow, tag);
        }
        // Between two judgements the window only loses outcomes when a period ends,
        // so a success needs judging only in a new period or below the minimum.
        if failure || slow || first_in_period || self.below_minimum.load(Relaxed) {
            let counts = self.counts(now);
            let below = counts.calls < minimum;
            if below != self.below_minimum.load(Relaxed) {
                self.below_minimum.store(below, Relaxed);
            }
            Some(counts)
        } else {
            None
        }
    }

    pub(crate) fn counts(&self, now: u64) -> Counts {
        let current = self.bucket_nanos.div_rem(now).0 & TAG_MASK;
        let live = self.buckets.len() as u64;
        let count = |word: &AtomicU64| {
            let w = word.load(Relaxed);
            let age = current.wrapping_sub(w >> TAG_SHIFT) & TAG_MASK;
            if age < live {
                w & COUNT_MASK
            } else {
                0
            }
        };
        let mut c = Counts::default();
        for b in self.buckets.iter() {
            c.calls += count(&b.calls);
            c.failures += count(&b.failures);
            c.slow += count(&b.slow);
        }
        // Counters of one bucket are recycled one at a time: never report more
        // failures than calls.
        c.failures = c.failures.min(c.calls);
        c.slow = c.slow.min(c.calls);
        c
    }

    pub(crate) fn reset(&self) {
        for b in self.buckets.iter() {
            b.calls.store(0, Relaxed);
            b.failures.store(0, Relaxed);
            b.slow.store(0, Relaxed);
        }
        self.below_minimum.store(true, Relaxed);
    }
}

/// Adds one to a tagged counter for period `tag`. Returns the period it was counted
/// in and whether this call recycled the counter for a new period.
#[inline]
fn bump(word: &AtomicU64, tag: u64) -> (u64, bool) {
    let mut current = word.load(Relaxed);
    loop {
        let current_tag = current >> TAG_SHIFT;
        if current_tag == tag || is_newer(current_tag, tag) {
            // Same period (or a racing caller already moved it on: count us there).
            if current & COUNT_MASK < COUNT_CEILING {
                word.fetch_add(1, Relaxed);
            }
            return (current_tag, false);
        }
        match word.compare_exchange_weak(current, (tag << TAG_SHIFT) | 1, Relaxed, Relaxed) {
            Ok(_) => return (tag, true),
            Err(actual) => current = actual,
        }
    }
}

/// Is tag `a` a later period than `b` (modulo the tag width)?
#[inline]
fn is_newer(a: u64, b: u64) -> bool {
    a != b && (a.wrapping_sub(b) & TAG_MASK) < (1 << 27)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    fn window() -> TimeWindow {
        // 10 s in 10 buckets of 1 s.
        TimeWindow::new(Duration::from_secs(10), 10, true)
    }

    #[test]
    fn outcomes_drop_out_after_the_span() {
        let w = window();
        w.record(0, true, false, 1);
        w.record(SEC / 2, false, true, 1);
        w.record(3 * SEC, true, false, 1);
        assert_eq!(
            w.counts(5 * SEC),
            Counts {
                calls: 3,
                failures: 2,
                slow: 1
            }
        );
        // At 10 s the first bucket (0..1 s) is out; the one from 3 s is in.
        assert_eq!(
            w.counts(10 * SEC),
            Counts {
                calls: 1,
                failures: 1,
                slow: 0
            }
        );
        // Nothing arrives, and yet the window slides: empty at 13 s.
        assert_eq!(w.counts(13 * SEC), Counts::default());
    }

    #[test]
    fn a_recycled_bucket_forgets_its_old_period() {
        let w = window();
        w.record(SEC, true, false, 1);
        // 11 s lands in the same slot as 1 s.
        w.record(11 * SEC, false, false, 1);
        assert_eq!(
            w.counts(11 * SEC),
            Counts {
                calls: 1,
                failures: 0,
                slow: 0
            }
        );
    }

    #[test]
    fn successes_are_judged_below_the_minimum_and_in_new_periods() {
        let w = window();
        assert!(w.record(0, false, false, 2).is_some(), "below the minimum");
        assert!(
            w.record(1, false, false, 2).is_some(),
            "reaches the minimum"
        );
        assert!(w.record(2, false, false, 2).is_none(), "nothing can change");
        assert!(
            w.record(SEC, false, false, 2).is_some(),
            "first in a new period"
        );
        assert!(
            w.record(SEC + 1, true, false, 2).is_some(),
            "failures always"
        );
    }

    #[test]
    fn late_callers_count_in_the_newer_period() {
        let w = window();
        w.record(11 * SEC, false, false, 1);
        // A caller that read the clock long before (its period 1 shares the slot with
        // period 11) does not roll the bucket back.
        w.record(SEC, true, false, 1);
        assert_eq!(
            w.counts(11 * SEC),
            Counts {
                calls: 2,
                failures: 1,
                slow: 0
            }
        );
    }

    #[test]
    fn reset_empties() {
        let w = window();
        w.record(0, true, true, 1);
        w.reset();
        assert_eq!(w.counts(0), Counts::default());
        assert!(w.below_minimum.load(Relaxed));
    }

    #[test]
    fn tags_compare_across_wraparound() {
        assert!(is_newer(0, TAG_MASK));
        assert!(!is_newer(TAG_MASK, 0));
        assert!(is_newer(5, 4));
        assert!(!is_newer(4, 4));
    }
}
