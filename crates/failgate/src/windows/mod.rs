//! The sliding windows that failure and slow-call rates are measured over.
//!
//! - [`count::CountWindow`]: a ring of the last n outcomes, kept as bitmaps, its
//!   positions handed out per thread in chunks.
//! - [`time::TimeWindow`]: buckets of time; a bucket drops out whole once it is older
//!   than the window.
//!
//! Both are lock-free. Recording returns the window's counts only when a judgement
//! could change (a failure, a slow call, the minimum being reached, or a time bucket
//! expiring), so a plain success usually costs one or two atomic operations.

pub(crate) mod count;
mod divisor;
pub(crate) mod stripe;
pub(crate) mod time;

use crate::policy::WindowKind;
use crate::vocabulary::Counts;

/// A window, in an allocation of its own: a breaker without one pays nothing for its
/// size, and a breaker with one pays only for its own kind.
#[derive(Debug)]
pub(crate) enum Windows {
    Count(Box<count::CountWindow>),
    Time(Box<time::TimeWindow>),
}

impl Windows {
    /// An empty window at time `now`.
    pub(crate) fn new(kind: WindowKind, track_slow: bool, now: u64) -> Self {
        match kind {
            WindowKind::Count(n) => {
                Windows::Count(Box::new(count::CountWindow::new(n, track_slow)))
            }
            WindowKind::Time { span, buckets } => Windows::Time(Box::new(time::TimeWindow::new(
                span, buckets, track_slow, now,
            ))),
        }
    }

    /// True if recording needs the current time.
    #[inline]
    pub(crate) fn needs_clock(&self) -> bool {
        matches!(self, Windows::Time(_))
    }

    /// Records one counted outcome at `now` (ignored by count windows). Returns the
    /// counts after it when the trip conditions should be judged.
    #[inline(always)]
    pub(crate) fn record(
        &self,
        now: u64,
        failure: bool,
        slow: bool,
        minimum: u64,
    ) -> Option<Counts> {
        match self {
            Windows::Count(w) => w.record(failure, slow, minimum),
            Windows::Time(w) => w.record(now, failure, slow, minimum),
        }
    }

    /// What the window holds at `now`.
    pub(crate) fn counts(&self, now: u64) -> Counts {
        match self {
            Windows::Count(w) => w.counts(),
            Windows::Time(w) => w.counts(now),
        }
    }

    /// Slow failures in the window at `now` (a part of its slow calls).
    pub(crate) fn slow_failures(&self, now: u64) -> u64 {
        match self {
            Windows::Count(w) => w.slow_failures(),
            Windows::Time(w) => w.slow_failures(now),
        }
    }

    /// Empties the window at time `now`.
    pub(crate) fn reset(&self, now: u64) {
        match self {
            Windows::Count(w) => w.reset(),
            Windows::Time(w) => w.reset(now),
        }
    }
}
