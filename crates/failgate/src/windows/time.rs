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
use crate::vocabulary::Counts;
use std::time::Duration;

const TAG_SHIFT: u32 = 36;
const TAG_MASK: u64 = (1 << 28) - 1;
const COUNT_MASK: u64 = (1 << TAG_SHIFT) - 1;
/// Counts stop growing this far below the field's capacity, leaving room for racing
/// increments (a bucket would need 68 billion calls to get here).
const COUNT_CEILING: u64 = COUNT_MASK - (1 << 24);
// One bucket alone can count the largest minimum accepted: no minimum is out of reach.
const _: () = assert!(COUNT_CEILING >= crate::policy::MAX_MINIMUM_CALLS);
/// Bits of a bucket's slot in the cached location (MAX_TIME_BUCKETS = 1024 < 2^11).
const SLOT_BITS: u32 = 11;
const SLOT_MASK: u64 = (1 << SLOT_BITS) - 1;

#[derive(Debug, Default)]
struct Bucket {
    calls: AtomicU64,
    failures: AtomicU64,
    slow: AtomicU64,
}

#[derive(Debug)]
pub(crate) struct TimeWindow {
    /// The last period located and its slot, `period << SLOT_BITS | slot`: most calls
    /// find their bucket with one load and one multiplication instead of two divisions.
    current: AtomicU64,
    bucket_len: u64,
    bucket_nanos: Divisor,
    bucket_count: Divisor,
    buckets: Box<[Bucket]>,
    track_slow: bool,
    /// Whether the last judgement found fewer calls than the minimum: while it did,
    /// every success is judged too.
    below_minimum: AtomicBool,
}

impl TimeWindow {
    /// A window that starts empty at time `now`.
    pub(crate) fn new(span: Duration, buckets: u32, track_slow: bool, now: u64) -> Self {
        let span = u64::try_from(span.as_nanos()).unwrap_or(u64::MAX);
        let n = u64::from(buckets.max(1));
        let bucket_len = (span / n).max(1);
        let window = TimeWindow {
            current: AtomicU64::new(0),
            bucket_len,
            bucket_nanos: Divisor::new(bucket_len),
            bucket_count: Divisor::new(n),
            buckets: (0..n).map(|_| Bucket::default()).collect(),
            track_slow,
            below_minimum: AtomicBool::new(true),
        };
        window.reset(now);
        window
    }

    #[inline(always)]
    pub(crate) fn record(
        &self,
        now: u64,
        failure: bool,
        slow: bool,
        minimum: u64,
    ) -> Option<Counts> {
        let (period, slot) = self.locate(now);
        let bucket = &self.buckets[slot];
        // Loads go before the first locked instruction, which no later load can pass.
        let below_minimum = self.below_minimum.load(Relaxed);
        // Failures and slow calls follow the period the call was counted in.
        let n = self.buckets.len() as u64;
        let (tag, first_in_period) = bump(&bucket.calls, period & TAG_MASK, n);
        if failure {
            bump(&bucket.failures, tag, n);
        }
        if slow && self.track_slow {
            bump(&bucket.slow, tag, n);
        }
        // Between two judgements the window only loses outcomes when a period ends,
        // so a success needs judging only in a new period or below the minimum.
        if failure || slow || first_in_period || below_minimum {
            let counts = self.counts(now);
            let below = counts.calls < minimum;
            if below != below_minimum {
                self.below_minimum.store(below, Relaxed);
            }
            Some(counts)
        } else {
            None
        }
    }

    /// The period of `now` and the slot of its bucket.
    #[inline]
    fn locate(&self, now: u64) -> (u64, usize) {
        let cached = self.current.load(Relaxed);
        let period = cached >> SLOT_BITS;
        if now.wrapping_sub(period.wrapping_mul(self.bucket_len)) < self.bucket_len {
            return (period, (cached & SLOT_MASK) as usize);
        }
        self.locate_slow(now)
    }

    #[inline(never)]
    fn locate_slow(&self, now: u64) -> (u64, usize) {
        let period = self.bucket_nanos.div_rem(now).0;
        let slot = self.bucket_count.div_rem(period).1;
        // Never move the cache back to an earlier period for a caller that read the
        // clock before another one.
        let last = self
            .current
            .fetch_max((period << SLOT_BITS) | slot, Relaxed)
            >> SLOT_BITS;
        if period >= last.saturating_add(self.buckets.len() as u64) {
            // Nothing was recorded for a whole window: every outcome has expired. Start
            // afresh, so that no counter idle for 2^28 periods can pass for a current one
            // (tags are periods modulo 2^28). A call racing this first one after the
            // silence may lose its count.
            self.reset(now);
        }
        (period, slot as usize)
    }

    pub(crate) fn counts(&self, now: u64) -> Counts {
        let period = self.bucket_nanos.div_rem(now).0;
        let live = self.buckets.len() as u64;
        let last = self.current.load(Relaxed) >> SLOT_BITS;
        if period >= last.saturating_add(live) {
            return Counts::default(); // nothing recorded within the window
        }
        let current = period & TAG_MASK;
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

    /// Empties the window at time `now`: every counter is tagged with a period that has
    /// already expired, so no later period can mistake it for its own or a newer one.
    pub(crate) fn reset(&self, now: u64) {
        let n = self.buckets.len() as u64;
        let expired = self.bucket_nanos.div_rem(now).0.wrapping_sub(n) & TAG_MASK;
        let empty = expired << TAG_SHIFT;
        for b in self.buckets.iter() {
            b.calls.store(empty, Relaxed);
            b.failures.store(empty, Relaxed);
            b.slow.store(empty, Relaxed);
        }
        self.below_minimum.store(true, Relaxed);
    }
}

/// Adds one to a tagged counter for period `tag`. Returns the period it was counted
/// in and whether this call recycled the counter for a new period.
///
/// The common case is one `fetch_add` and nothing else: the increment goes first and
/// the tag it landed on is checked after. If it landed on an expired period, the
/// counter is recycled for ours, and whoever loses that race adds itself again.
#[inline]
fn bump(word: &AtomicU64, tag: u64, buckets: u64) -> (u64, bool) {
    let previous = word.fetch_add(1, Relaxed);
    let previous_tag = previous >> TAG_SHIFT;
    if previous_tag == tag || runs_ahead(previous_tag, tag, buckets) {
        // Same period (or a racing caller already moved it on: count us there).
        if previous & COUNT_MASK >= COUNT_CEILING {
            word.fetch_sub(1, Relaxed); // saturate instead of carrying into the tag
        }
        return (previous_tag, false);
    }
    // Our increment landed on an expired period's count: recycle the counter.
    let mut current = previous.wrapping_add(1);
    loop {
        let current_tag = current >> TAG_SHIFT;
        if current_tag == tag || runs_ahead(current_tag, tag, buckets) {
            word.fetch_add(1, Relaxed); // someone else recycled it: add ourselves
            return (current_tag, false);
        }
        match word.compare_exchange_weak(current, (tag << TAG_SHIFT) | 1, Relaxed, Relaxed) {
            Ok(_) => return (tag, true),
            Err(actual) => current = actual,
        }
    }
}

/// Is counter tag `a` the same slot's period a few windows after our period `b`, as
/// when a caller that read the clock before a slow stretch (a preemption) finds its
/// bucket already recycled by callers one or more whole windows later? Then it counts
/// there rather than rolling the bucket back.
///
/// Only exact multiples of the window, and at most four of them, qualify: any other
/// tag is an older period, however far back (tags are periods modulo 2^28, so a
/// counter idle for about 2^28 periods could alias; `reset` and construction tag every
/// counter as expired for that reason).
#[inline]
fn runs_ahead(a: u64, b: u64, buckets: u64) -> bool {
    let ahead = a.wrapping_sub(b) & TAG_MASK;
    ahead != 0 && ahead <= 4 * buckets && ahead % buckets == 0
}

#[cfg(all(test, not(failgate_loom)))]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    fn window() -> TimeWindow {
        // 10 s in 10 buckets of 1 s.
        TimeWindow::new(Duration::from_secs(10), 10, true, 0)
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
    fn located_buckets_match_division() {
        let w = TimeWindow::new(Duration::from_millis(70), 7, false, 0); // 10 ms buckets
        let ms = 1_000_000;
        for now in [
            0,
            1,
            9 * ms,
            10 * ms,
            10 * ms - 1,
            69 * ms,
            70 * ms,
            71 * ms,
            7 * ms,
            12_345 * ms,
        ] {
            let (period, slot) = w.locate(now);
            assert_eq!(period, now / (10 * ms), "period of {now}");
            assert_eq!(slot as u64, period % 7, "slot of {now}");
        }
    }

    #[test]
    fn reset_empties() {
        let w = window();
        w.record(0, true, true, 1);
        w.reset(0);
        assert_eq!(w.counts(0), Counts::default());
        assert!(w.below_minimum.load(Relaxed));
    }

    #[test]
    fn counts_stay_visible_far_from_the_clock_origin() {
        // Periods past 2^27 (and 2^28): fresh, reset and idle counters must never look
        // newer than the current period.
        for start in [(1u64 << 27) + 5, (1 << 28) + 3, 3 << 27] {
            let now = start * SEC;
            let w = TimeWindow::new(Duration::from_secs(10), 10, true, now);
            w.record(now, true, true, 1);
            w.record(now + 1, false, false, 1);
            assert_eq!(
                w.counts(now + 1),
                Counts {
                    calls: 2,
                    failures: 1,
                    slow: 1
                },
                "{start}"
            );
            w.reset(now + 2);
            w.record(now + 3 * SEC, true, false, 1);
            assert_eq!(
                w.counts(now + 3 * SEC),
                Counts {
                    calls: 1,
                    failures: 1,
                    slow: 0
                }
            );
            // A bucket idle for 2^27 periods comes back as an old period, not a new one.
            let later = now + (1 << 27) * SEC;
            w.record(later, true, false, 1);
            assert_eq!(
                w.counts(later),
                Counts {
                    calls: 1,
                    failures: 1,
                    slow: 0
                }
            );
        }
    }

    #[test]
    fn tags_compare_across_wraparound() {
        assert!(
            runs_ahead(9, TAG_MASK, 10),
            "one window ahead, across the wrap"
        );
        assert!(runs_ahead(44, 4, 10) && runs_ahead(14, 4, 10));
        assert!(
            !runs_ahead(54, 4, 10),
            "more than four windows: an old period"
        );
        assert!(!runs_ahead(5, 4, 10), "not the same slot");
        assert!(!runs_ahead(4, 4, 10));
        assert!(
            !runs_ahead(0, 1 << 27, 10),
            "a fresh counter is not newer than anything"
        );
    }

    #[test]
    fn the_windows_enum_hands_a_time_window_its_calls_and_the_time() {
        use crate::policy::WindowKind;
        use crate::windows::Windows;
        let kind = WindowKind::Time {
            span: Duration::from_secs(10),
            buckets: 10,
        };
        let w = Windows::new(kind, true, 0);
        assert!(w.needs_clock(), "a time window reads the clock");
        let one = Counts {
            calls: 1,
            failures: 1,
            slow: 1,
        };
        assert_eq!(w.record(SEC, true, true, 10), Some(one));
        assert_eq!(w.counts(SEC), one);
        assert_eq!(
            w.counts(11 * SEC),
            Counts::default(),
            "the time is passed on"
        );
        w.reset(SEC);
        assert_eq!(w.counts(SEC), Counts::default());
    }

    #[test]
    fn a_bucket_count_saturates_below_its_tag() {
        let tag = 5;
        let word = AtomicU64::new((tag << TAG_SHIFT) | (COUNT_CEILING - 1));
        assert_eq!(bump(&word, tag, 10), (tag, false));
        assert_eq!(word.load(Relaxed), (tag << TAG_SHIFT) | COUNT_CEILING);
        // At the ceiling the count stops growing, far from carrying into the tag.
        assert_eq!(bump(&word, tag, 10), (tag, false));
        assert_eq!(word.load(Relaxed), (tag << TAG_SHIFT) | COUNT_CEILING);
        const { assert!(COUNT_CEILING < COUNT_MASK && COUNT_CEILING > 1 << 35) };
    }

    const MS: u64 = 1_000_000;

    #[test]
    fn a_counter_idle_for_2_pow_28_periods_is_not_taken_for_a_current_one() {
        // 1 ms buckets; period p and p + 2^28 share both a slot and a tag.
        let w = TimeWindow::new(Duration::from_millis(16), 16, false, 0);
        let p = 1u64 << 20;
        assert!(w.record(p * MS, true, false, 1).is_some());
        let failure = Counts {
            calls: 1,
            failures: 1,
            slow: 0,
        };
        assert_eq!(w.counts(p * MS), failure);
        let later = (p + (1 << 28)) * MS;
        assert_eq!(w.counts(later), Counts::default(), "nothing recorded since");
        w.record(later, false, false, 1);
        let success = Counts {
            calls: 1,
            failures: 0,
            slow: 0,
        };
        assert_eq!(
            w.counts(later),
            success,
            "the old failure does not come back"
        );
    }

    #[test]
    fn after_a_reset_anywhere_on_the_tag_circle_a_new_period_is_new() {
        // A success first in a new period is judged (the window may have lost outcomes),
        // wherever the reset left the tags: mid-circle, and just before they wrap.
        for p in [4, TAG_MASK - 1, TAG_MASK] {
            let w = TimeWindow::new(Duration::from_millis(10), 10, false, p * MS);
            assert!(
                w.record(p * MS, false, false, 1).is_some(),
                "below the minimum"
            );
            assert!(
                w.record((p + 1) * MS, false, false, 1).is_some(),
                "first in period {} after a reset at {p}",
                p + 1
            );
            assert_eq!(w.counts((p + 1) * MS).calls, 2);
        }
    }

    #[test]
    fn recycling_a_counter_just_before_the_tags_wrap() {
        // Period 2^28 - 10 is one window short of the wrap: its counter, left expired
        // by the reset, is recycled for it and counts the call.
        let p = TAG_MASK - 9;
        let w = TimeWindow::new(Duration::from_millis(10), 10, false, p * MS);
        w.record(p * MS, false, false, 1);
        assert_eq!(w.counts(p * MS).calls, 1);
    }
}
