//! A snapshot of a breaker, for dashboards, health checks and tests.

use crate::totals::Totals;
use crate::vocabulary::State;
use std::sync::Arc;
use std::time::Duration;

/// What a breaker looked like at one moment. From [`CircuitBreaker::snapshot`](crate::CircuitBreaker::snapshot).
///
/// Counts describe the current window (emptied when the breaker closes); the rates are
/// `None` until the window holds the minimum number of calls, never a made-up number.
/// Beside them, [`totals`](Self::totals) count since the breaker was made (refusals
/// included), when it keeps them.
///
/// `#[non_exhaustive]`: a snapshot gains a field with each new thing a breaker counts.
/// Read its fields; build one with [`Snapshot::new`], not with a struct literal.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Snapshot {
    /// The breaker's name.
    pub name: Arc<str>,
    /// The state, after any transition that was due.
    pub state: State,
    /// How many transitions the breaker has made (wrapping at 2^24).
    pub generation: u64,
    /// Failures in a row in the current state, counted when consecutive failures can
    /// trip the breaker (set, or the default); 0 for a breaker with only a failure rate.
    pub consecutive_failures: u32,
    /// Whether the breaker keeps a window (a failure-rate or slow-call condition, or an
    /// explicit `window`). Without one, the window counts below are zero.
    pub window: bool,
    /// Counted calls (successes and failures) in the window.
    pub calls: u64,
    /// Successes in the window.
    pub successes: u64,
    /// Failures in the window.
    pub failures: u64,
    /// Slow calls in the window: `slow_successes + slow_failures`.
    pub slow_calls: u64,
    /// Failures / calls, once the window holds the minimum number of calls.
    pub failure_rate: Option<f64>,
    /// Slow calls / calls, once the window holds the minimum number of calls.
    pub slow_call_rate: Option<f64>,
    /// Half-open probe slots in use (in flight or succeeded).
    pub half_open_probes: u32,
    /// Half-open probes that succeeded.
    pub half_open_successes: u32,
    /// While open: the time left until probing. `None` otherwise, and for an open
    /// state whose wait never ends (its deadline saturated at the end of the clock).
    pub retry_after: Option<Duration>,
    /// How long the breaker has been in this state.
    pub time_in_state: Duration,
    /// Slow successes in the window (successes that took at least the slow-call
    /// threshold).
    pub slow_successes: u64,
    /// Slow failures in the window (failures that took at least the threshold).
    pub slow_failures: u64,
    /// Totals since the breaker was made, which no reset empties: `Some` when the
    /// breaker keeps them (it has an observer, or was built with
    /// [`Builder::totals(true)`](crate::Builder::totals)), `None` otherwise, never
    /// made-up zeros.
    pub totals: Option<Totals>,
}

impl Snapshot {
    /// A snapshot of breaker `name` in `state`, with every count zero, every rate
    /// `None` and no wait: for a [`Breaker`](crate::Breaker) implemented outside this
    /// crate, which then fills in the fields it knows.
    ///
    /// ```
    /// use failgate::{Snapshot, State};
    ///
    /// let mut s = Snapshot::new("inventory", State::Closed);
    /// s.calls = 3;
    /// assert_eq!((s.state, s.calls, s.failure_rate), (State::Closed, 3, None));
    /// ```
    pub fn new(name: impl Into<Arc<str>>, state: State) -> Self {
        Snapshot {
            name: name.into(),
            state,
            generation: 0,
            consecutive_failures: 0,
            window: false,
            calls: 0,
            successes: 0,
            failures: 0,
            slow_calls: 0,
            failure_rate: None,
            slow_call_rate: None,
            half_open_probes: 0,
            half_open_successes: 0,
            retry_after: None,
            time_in_state: Duration::ZERO,
            slow_successes: 0,
            slow_failures: 0,
            totals: None,
        }
    }

    /// Calls refused since the breaker was made (resilience4j's
    /// `numberOfNotPermittedCalls`), when it keeps [totals](Self::totals).
    ///
    /// ```
    /// use failgate::{CircuitBreaker, ManualClock};
    ///
    /// let breaker = CircuitBreaker::builder().totals(true).clock(ManualClock::new()).build()?;
    /// breaker.force_open();
    /// assert!(breaker.try_acquire().is_err());
    /// assert_eq!(breaker.snapshot().refused(), Some(1));
    /// # Ok::<(), failgate::ConfigError>(())
    /// ```
    pub fn refused(&self) -> Option<u64> {
        self.totals.as_ref().map(|t| t.refused)
    }
}
