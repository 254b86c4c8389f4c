//! Totals since a breaker was made: what its events report, counted.
//!
//! A leaf: the shell counts into a [`Tally`], a snapshot reads it into [`Totals`].
//!
//! Outcomes and refusals are counted on every call, so each thread counts on a stripe
//! of its own (see `windows/stripe.rs`): a total costs the calling thread an atomic
//! add on a line that no other thread usually writes, never a line every call of every
//! thread wants. Transitions are rare and share one line.

use crate::loom::{AtomicU64, CachePadded, Ordering::Relaxed};
use crate::vocabulary::{Reason, REASON_NAMES};
use crate::windows::stripe;

/// What a breaker has counted since it was made, beside the window's current counts
/// (in [`Snapshot::totals`](crate::Snapshot::totals)). Totals never go down: a
/// [`reset`](crate::CircuitBreaker::reset) or a transition empties the window, not the
/// totals.
///
/// They count what the breaker's [events](crate::EventKind) report: every outcome
/// recorded (stale ones too, which the window discards), every refusal, every
/// transition. A slow call counts once as slow and once in its outcome:
/// `successes` includes `slow_successes`, `failures` includes `slow_failures`.
///
/// Kept when the breaker has an observer, or was built with
/// [`Builder::totals(true)`](crate::Builder::totals).
///
/// `#[non_exhaustive]`: a total may be added with each new thing a breaker counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Totals {
    /// Outcomes recorded as successes (slow ones included).
    pub successes: u64,
    /// Outcomes recorded as failures (slow ones included).
    pub failures: u64,
    /// Outcomes classified [`Outcome::Ignore`](crate::Outcome::Ignore).
    pub ignored: u64,
    /// Successes that took at least the slow-call threshold.
    pub slow_successes: u64,
    /// Failures that took at least the slow-call threshold.
    pub slow_failures: u64,
    /// Permits dropped without an outcome.
    pub abandoned: u64,
    /// Calls refused (resilience4j's `numberOfNotPermittedCalls`).
    pub refused: u64,
    transitions: [u64; REASON_NAMES.len()],
}

impl Totals {
    /// Transitions made, for any reason.
    pub fn transitions(&self) -> u64 {
        self.transitions.iter().sum()
    }

    /// Transitions made for a reason of the same variant as `reason` (its figures do
    /// not matter).
    ///
    /// ```
    /// use failgate::{CircuitBreaker, ManualClock, Reason};
    ///
    /// let breaker = CircuitBreaker::builder()
    ///     .consecutive_failures(1)
    ///     .totals(true)
    ///     .clock(ManualClock::new())
    ///     .build()?;
    /// let _ = breaker.call(|| Err::<(), _>("down"));
    /// let totals = breaker.snapshot().totals.unwrap();
    /// let tripped = Reason::ConsecutiveFailures { count: 0, threshold: 0 };
    /// assert_eq!((totals.transitions_by(&tripped), totals.failures), (1, 1));
    /// # Ok::<(), failgate::ConfigError>(())
    /// ```
    pub fn transitions_by(&self, reason: &Reason) -> u64 {
        self.transitions[reason.index()]
    }

    /// Transitions by reason, keyed by [`Reason::as_str`], every reason listed (zeros
    /// too), in a stable order.
    pub fn transitions_by_reason(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        REASON_NAMES
            .iter()
            .copied()
            .zip(self.transitions.iter().copied())
    }

    /// Calls that ended with an outcome: successes, failures and ignored ones.
    pub fn calls(&self) -> u64 {
        self.successes + self.failures + self.ignored
    }
}

/// Where a counted thing goes in a stripe. Public but hidden, with [`Tally`], for
/// failgate-redis's fleet breaker, which keeps an instance's totals the same way; not
/// a stable API.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Count {
    /// [`Totals::successes`].
    Success = 0,
    /// [`Totals::failures`].
    Failure = 1,
    /// [`Totals::ignored`].
    Ignored = 2,
    /// [`Totals::slow_successes`].
    SlowSuccess = 3,
    /// [`Totals::slow_failures`].
    SlowFailure = 4,
    /// [`Totals::abandoned`].
    Abandoned = 5,
    /// [`Totals::refused`].
    Refused = 6,
}

const KINDS: usize = 7;

/// The counters behind [`Totals`] (public but hidden, see [`Count`]).
#[doc(hidden)]
#[derive(Debug)]
pub struct Tally {
    stripes: Box<[CachePadded<[AtomicU64; KINDS]>]>,
    transitions: [AtomicU64; REASON_NAMES.len()],
}

impl Default for Tally {
    fn default() -> Self {
        Tally::new()
    }
}

impl Tally {
    /// Every total at zero.
    pub fn new() -> Self {
        Tally {
            stripes: (0..stripe::count())
                .map(|_| CachePadded(std::array::from_fn(|_| AtomicU64::new(0))))
                .collect(),
            transitions: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// Counts one `what` on the calling thread's stripe.
    #[inline]
    pub fn add(&self, what: Count) {
        let stripe = &self.stripes[stripe::index(self.stripes.len())];
        stripe[what as usize].fetch_add(1, Relaxed);
    }

    /// Counts one transition for `reason`.
    #[inline]
    pub fn transition(&self, reason: &Reason) {
        self.transitions[reason.index()].fetch_add(1, Relaxed);
    }

    /// The totals so far. Each counter only grows, so each figure read is one the
    /// breaker did reach (figures of different counters may be a few calls apart).
    pub fn totals(&self) -> Totals {
        let sum = |what: Count| {
            self.stripes
                .iter()
                .map(|s| s[what as usize].load(Relaxed))
                .fold(0u64, u64::wrapping_add)
        };
        Totals {
            successes: sum(Count::Success),
            failures: sum(Count::Failure),
            ignored: sum(Count::Ignored),
            slow_successes: sum(Count::SlowSuccess),
            slow_failures: sum(Count::SlowFailure),
            abandoned: sum(Count::Abandoned),
            refused: sum(Count::Refused),
            transitions: std::array::from_fn(|i| self.transitions[i].load(Relaxed)),
        }
    }
}

/// What a builder decided about reporting, beyond the policy: whether totals are kept,
/// and which failures' events carry their error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reporting {
    /// `Some(kept)` when the builder said; otherwise totals are kept with an observer.
    pub(crate) totals: Option<bool>,
    /// Every how many described outcomes an event carries the error (0: never).
    pub(crate) sample_errors: u32,
}

impl Default for Reporting {
    fn default() -> Self {
        Reporting {
            totals: None,
            sample_errors: 1,
        }
    }
}
