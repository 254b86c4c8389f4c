//! A time window: the outcomes of the last `span`, in buckets.
//!
//! The window is `buckets` slots of `span / buckets` each. An outcome at time t goes
//! to period `t / bucket_len`, kept in slot `period % buckets`. Each counter of a slot
//! is one `u64` that packs the period's tag with its count, so a slot is recycled for a
//! new period by one compare-and-swap, with no lock and no separate epoch. Summing
//! takes only counters whose period is within the last `buckets` periods, so old
//! outcomes really drop out, even when no call arrives to overwrite them.

use super::divisor::Divisor;
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
    bucket_nanos: Divisor,
    bucket_count: Divisor,
    buckets: Box<[Bucket]>,
    /// Slow failures per bucket, tagged like the bucket's counters, when slow calls are
    /// tracked (`None` otherwise). Behind a thin pointer: a window that does not track
    /// slow calls pays one word for it.
    slow_failures: Option<Box<Box<[AtomicU64]>>>,
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
            bucket_nanos: Divisor::new(bucket_len),
            bucket_count: Divisor::new(n),
            buckets: (0..n).map(|_| Bucket::default()).collect(),
            slow_failures: track_slow
                .then(|| Box::new((0..n).map(|_| AtomicU64::new(0)).collect())),
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
        if let (true, Some(slow_failures)) = (slow, &self.slow_failures) {
            bump(&bucket.slow, tag, n);
            if failure {
                bump(&slow_failures[slot], tag, n);
            }
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
        let len = self.bucket_nanos.divisor();
        if now.wrapping_sub(period.wrapping_mul(len)) < len {
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
        let count = |word: &AtomicU64| live_count(word, current, live);
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

    /// Slow failures in the window at `now` (0 when slow calls are not tracked).
    pub(crate) fn slow_failures(&self, now: u64) -> u64 {
        let Some(slow_failures) = &self.slow_failures else {
            return 0;
        };
        let period = self.bucket_nanos.div_rem(now).0;
        let live = self.buckets.len() as u64;
        let last = self.current.load(Relaxed) >> SLOT_BITS;
        if period >= last.saturating_add(live) {
            return 0;
        }
        let current = period & TAG_MASK;
        slow_failures
            .iter()
            .map(|word| live_count(word, current, live))
            .sum()
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
        for w in self.slow_failures.iter().flat_map(|s| s.iter()) {
            w.store(empty, Relaxed);
        }
        self.below_minimum.store(true, Relaxed);
    }
}

/// The count of a tagged counter, if its period is one of the `live` periods up to
/// `current`; 0 if it has expired.
#[inline]
fn live_count(word: &AtomicU64, current: u64, live: u64) -> u64 {
    let w = word.load(Relaxed);
    let age = current.wrapping_sub(w >> TAG_SHIFT) & TAG_MASK;
    if age < live {
        w & COUNT_MASK
    } else {
        0
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
    ahead != 0 && ahead <= 4 * buckets && ahead.is_multiple_of(buckets)
}

#[cfg(all(test, not(failgate_loom)))]
mod tests;
