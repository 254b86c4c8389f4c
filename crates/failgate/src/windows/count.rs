//! A count window: the last n outcomes, as a ring of bits.
//!
//! Each recorded outcome claims the next position with one `fetch_add` and owns the
//! bit at `position % n` in the failure bitmap (and in the slow bitmap, when slow calls
//! are tracked). The bits are the truth: counts are popcounts, so no counter can
//! drift. A success that overwrites a success writes nothing but the position.

use super::divisor::Divisor;
use crate::loom::{AtomicU64, CachePadded, Ordering::Relaxed};
use crate::vocabulary::Counts;

#[derive(Debug)]
pub(crate) struct CountWindow {
    size: u64,
    ring: Divisor,
    /// The next position to claim (never wraps: 2^64 calls is 584 years at 1 ns each).
    head: CachePadded<AtomicU64>,
    /// The position of the last reset; calls = head - base, capped at size.
    base: AtomicU64,
    failures: Box<[AtomicU64]>,
    /// Empty when slow calls are not tracked.
    slow: Box<[AtomicU64]>,
}

impl CountWindow {
    pub(crate) fn new(size: u32, track_slow: bool) -> Self {
        let words = (size as usize).div_ceil(64);
        let bitmap = |n: usize| (0..n).map(|_| AtomicU64::new(0)).collect();
        CountWindow {
            size: u64::from(size),
            ring: Divisor::new(u64::from(size)),
            head: CachePadded(AtomicU64::new(0)),
            base: AtomicU64::new(0),
            failures: bitmap(words),
            slow: bitmap(if track_slow { words } else { 0 }),
        }
    }

    #[inline(always)]
    pub(crate) fn record(&self, failure: bool, slow: bool, minimum: u64) -> Option<Counts> {
        // Loads go before the locked instruction, which no later load can pass.
        let base = self.base.load(Relaxed);
        let position = self.head.fetch_add(1, Relaxed);
        let slot = self.ring.div_rem(position).1;
        let (word, bit) = ((slot / 64) as usize, 1u64 << (slot % 64));
        set_bit(&self.failures[word], bit, failure);
        if let Some(w) = self.slow.get(word) {
            set_bit(w, bit, slow);
        }
        let calls = (position + 1).saturating_sub(base).min(self.size);
        // A success can only trip the breaker by bringing the window to its minimum.
        (failure || slow || calls == minimum).then(|| self.counts_with(calls))
    }

    pub(crate) fn counts(&self) -> Counts {
        self.counts_with(self.calls(self.head.load(Relaxed)))
    }

    fn calls(&self, head: u64) -> u64 {
        head.saturating_sub(self.base.load(Relaxed)).min(self.size)
    }

    fn counts_with(&self, calls: u64) -> Counts {
        let ones = |bits: &[AtomicU64]| -> u64 {
            bits.iter()
                .map(|w| u64::from(w.load(Relaxed).count_ones()))
                .sum::<u64>()
                .min(calls)
        };
        Counts {
            calls,
            failures: ones(&self.failures),
            slow: ones(&self.slow),
        }
    }

    /// Empties the window. Called while a transition is being published, when no
    /// current-generation call can record; an outcome from an earlier generation that
    /// raced past its staleness check may still land here (one bit, overwritten in turn).
    pub(crate) fn reset(&self) {
        self.base.store(self.head.load(Relaxed), Relaxed);
        for w in self.failures.iter().chain(self.slow.iter()) {
            w.store(0, Relaxed);
        }
    }
}

/// Sets or clears `bit`, writing only if it changes.
#[inline]
fn set_bit(word: &AtomicU64, bit: u64, on: bool) {
    let is_on = word.load(Relaxed) & bit != 0;
    if is_on != on {
        if on {
            word.fetch_or(bit, Relaxed);
        } else {
            word.fetch_and(!bit, Relaxed);
        }
    }
}

#[cfg(all(test, not(failgate_loom)))]
mod tests {
    use super::*;

    fn c(calls: u64, failures: u64, slow: u64) -> Counts {
        Counts {
            calls,
            failures,
            slow,
        }
    }

    #[test]
    fn ring_keeps_exactly_the_last_n() {
        let w = CountWindow::new(4, true);
        assert_eq!(w.record(true, false, 10), Some(c(1, 1, 0)));
        assert_eq!(w.record(false, false, 10), None);
        assert_eq!(w.record(true, true, 10), Some(c(3, 2, 1)));
        assert_eq!(w.record(false, false, 10), None);
        assert_eq!(w.counts(), c(4, 2, 1));
        // the 5th outcome evicts the 1st (a failure)
        assert_eq!(w.record(false, false, 10), None);
        assert_eq!(w.counts(), c(4, 1, 1));
        // the 6th evicts the 2nd (a success) and adds a failure
        assert_eq!(w.record(true, false, 10), Some(c(4, 2, 1)));
        // the 7th evicts the slow failure
        w.record(false, false, 10);
        assert_eq!(w.counts(), c(4, 1, 0));
    }

    #[test]
    fn success_reports_counts_when_reaching_the_minimum() {
        let w = CountWindow::new(100, false);
        w.record(true, false, 3);
        assert_eq!(w.record(false, false, 3), None);
        assert_eq!(w.record(false, false, 3), Some(c(3, 1, 0)));
        assert_eq!(w.record(false, false, 3), None);
    }

    #[test]
    fn reset_empties_and_restarts_the_count() {
        let w = CountWindow::new(70, true);
        for i in 0..150 {
            w.record(i % 3 == 0, i % 5 == 0, 1);
        }
        assert_eq!(w.counts().calls, 70);
        w.reset();
        assert_eq!(w.counts(), c(0, 0, 0));
        w.record(true, false, 1);
        assert_eq!(w.counts(), c(1, 1, 0));
    }

    #[test]
    fn windows_that_span_several_bitmap_words() {
        let w = CountWindow::new(200, false);
        for i in 0..200 {
            w.record(i < 130, false, 1);
        }
        assert_eq!(w.counts(), c(200, 130, 0));
        for _ in 0..100 {
            w.record(false, false, 1);
        }
        assert_eq!(w.counts(), c(200, 30, 0));
    }

    #[test]
    fn the_windows_enum_hands_a_count_window_its_calls() {
        use crate::policy::WindowKind;
        use crate::windows::Windows;
        let w = Windows::new(WindowKind::Count(3), true, 0);
        assert!(!w.needs_clock(), "a count window never reads the clock");
        assert_eq!(w.record(0, true, true, 10), Some(c(1, 1, 1)));
        assert_eq!(w.record(0, false, false, 10), None);
        assert_eq!(w.counts(0), c(2, 1, 1));
        w.reset(0);
        assert_eq!(w.counts(0), c(0, 0, 0));
    }
}
