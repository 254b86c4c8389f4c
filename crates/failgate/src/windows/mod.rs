//! The sliding windows that failure and slow-call rates are measured over.
//!
//! - [`count::CountWindow`]: a true ring of the last n outcomes, kept as bitmaps.
//! - [`time::TimeWindow`]: buckets of time; a bucket drops out whole once it is older
//!   than the window.
//!
//! Both are lock-free. Recording returns the window's counts only when a judgement
//! could change (a failure, a slow call, the minimum being reached, or a time bucket
//! expiring), so a plain success usually costs one or two atomic operations.

pub(crate) mod count;
mod divisor;
pub(crate) mod time;

use crate::policy::WindowKind;
use crate::vocabulary::Counts;

// The count window is large because its head sits on a cache line of its own, so
// that writing it does not slow down readers of its neighbours; boxing it would add
// a pointer chase to every call.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Windows {
    Count(count::CountWindow),
    Time(time::TimeWindow),
}

impl Windows {
    /// An empty window at time `now`.
    pub(crate) fn new(kind: WindowKind, track_slow: bool, now: u64) -> Self {
        match kind {
            WindowKind::Count(n) => Windows::Count(count::CountWindow::new(n, track_slow)),
            WindowKind::Time { span, buckets } => {
                Windows::Time(time::TimeWindow::new(span, buckets, track_slow, now))
            }
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

    /// Empties the window at time `now`.
    pub(crate) fn reset(&self, now: u64) {
        match self {
            Windows::Count(w) => w.reset(),
            Windows::Time(w) => w.reset(now),
        }
    }
}
