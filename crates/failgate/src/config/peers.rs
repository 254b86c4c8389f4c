//! The builder's settings for the features peers offer: resilience4j's half-open
//! failure rate, Polly's break-duration generator, gobreaker's interval, totals since
//! creation, sampled error texts, and the state a breaker starts in.

use super::Builder;
use crate::backoff::{BreakContext, BreakDuration};
use crate::policy::ConfigError;
use crate::vocabulary::State;
use std::time::Duration;

impl<C> Builder<C> {
    /// Judges the half-open round by the probes' failure rate instead of "every probe
    /// succeeds" (the default, which closes after `half_open_permits` successes and
    /// reopens on the first failure), as resilience4j does: the rate is failures over
    /// all [`half_open_permits`](Self::half_open_permits) probes, in (0, 1]. The
    /// breaker closes when the rate is below `rate` and reopens when it reaches it.
    ///
    /// It decides as soon as the result is certain, without waiting for the rest of
    /// the probes: it reopens once the failures so far reach `rate` of the probes
    /// ([`Reason::ProbeFailureRate`](crate::Reason::ProbeFailureRate)), and closes
    /// once the rate would stay below `rate` even if every probe not yet succeeded
    /// failed ([`Reason::ProbeFailureRateBelow`](crate::Reason::ProbeFailureRateBelow)).
    /// With 10 probes and 0.5, the fifth failure reopens, and the sixth success closes.
    /// A probe that reports neither (an ignored outcome, a dropped permit) gives its
    /// slot back, to be taken by another probe.
    ///
    /// A slow probe (see [`slow_calls`](Self::slow_calls)) counts as a failed probe,
    /// whatever its outcome: there is one rate over the probes, not a second
    /// slow-call rate. With one permit the rule is the default one.
    pub fn half_open_failure_rate(mut self, rate: f64) -> Self {
        self.policy.half_open_failure_rate = Some(rate);
        self
    }

    /// Sets each open wait with `f`, in place of the [`backoff`](Self::backoff), from
    /// the attempt number (reopenings since the last close) and the figures of the
    /// opening (the trip's [`Reason`](crate::Reason) with its counts and rates): see
    /// [`BreakContext`](crate::BreakContext). Like Polly's `BreakDurationGenerator`.
    ///
    /// `f` is called once per opening, while the transition is published, and never
    /// on a call that does not open the breaker. Its result is capped at
    /// [`MAX_DURATION`](crate::MAX_DURATION), and a longer honoured `Retry-After`
    /// still holds the breaker open longer (see
    /// [`honor_retry_after`](Self::honor_retry_after)). A zero wait probes at the next
    /// call. If `f` panics, the panic is caught and this opening waits the backoff's
    /// wait ([`BreakContext::backoff_wait`](crate::BreakContext::backoff_wait)), so
    /// the breaker is never left mid-transition (unless the program aborts on panic).
    ///
    /// ```
    /// use failgate::{BreakContext, CircuitBreaker, Reason};
    /// use std::time::Duration;
    ///
    /// let breaker = CircuitBreaker::builder()
    ///     .failure_rate(0.5)
    ///     .break_duration(|ctx: &BreakContext| {
    ///         let base = match ctx.reason {
    ///             // The worse the rate, the longer the break.
    ///             Reason::FailureRate { rate, .. } => Duration::from_secs_f64(60.0 * rate),
    ///             _ => Duration::from_secs(30),
    ///         };
    ///         base * (ctx.attempt + 1)
    ///     })
    ///     .build()
    ///     .unwrap();
    /// # let _ = breaker;
    /// ```
    pub fn break_duration<F>(mut self, f: F) -> Self
    where
        F: Fn(&BreakContext) -> Duration + Send + Sync + 'static,
    {
        self.policy.break_duration = Some(BreakDuration::new(f));
        self
    }

    /// Forgets consecutive failures after a quiet `span`: a failure that comes more
    /// than `span` after the previous failure (on the breaker's clock) starts the count
    /// of [`consecutive_failures`](Self::consecutive_failures) again at 1. Like
    /// gobreaker's `Interval`, for a dependency whose rare failures should not add up
    /// to a trip over hours.
    ///
    /// The span runs from the previous failure, not from the first of the run: failures
    /// that keep coming closer together than `span` keep counting, so a steady outage
    /// trips exactly as it would without this setting, and only a lull of more than
    /// `span` without a failure forgets. (A span from the first failure would restart
    /// the count in the middle of an outage.) A success still resets the count.
    /// The [`snapshot`](crate::CircuitBreaker::snapshot) shows 0 once the span has
    /// passed. The clock is read only when a failure is recorded. From 1 ns to
    /// [`MAX_DURATION`](crate::MAX_DURATION); refused with
    /// [`failure_rate`](Self::failure_rate) alone, which turns the consecutive
    /// count off.
    pub fn forget_failures_after(mut self, span: Duration) -> Self {
        self.policy.forget_failures_after = Some(span);
        self
    }

    /// Whether the breaker keeps [totals](crate::Totals) since it was made (calls by
    /// outcome, refusals, transitions by reason), read in
    /// [`Snapshot::totals`](crate::Snapshot::totals).
    ///
    /// By default they are kept when the breaker has an observer (which already takes
    /// the general call path), and not otherwise: a plain breaker's closed-state
    /// success then stays one load, with no counter to add to. `true` keeps them
    /// without an observer, at the cost of one add per call on the calling thread's
    /// own stripe (a cache line no other thread usually writes); `false` never keeps
    /// them, even with an observer.
    pub fn totals(mut self, keep: bool) -> Self {
        self.reporting.totals = Some(keep);
        self
    }

    /// Which failures' (and ignored outcomes') events carry their error
    /// ([`Event::error`](crate::Event::error)): one in every `every_n` described
    /// outcomes, the first included; 1 (the default) is every one, 0 none. Only
    /// outcomes whose classifier [describes](crate::Classify::describe) the error
    /// carry one, and only to an observer: nothing is formatted unless an observer
    /// formats it. Sampling by more than 1 counts described outcomes on a shared
    /// counter (one atomic add per described failure).
    pub fn sample_errors(mut self, every_n: u32) -> Self {
        self.reporting.sample_errors = every_n;
        self
    }

    /// The state the breaker starts in: [`State::Closed`] (the default),
    /// [`State::ForcedOpen`] (a dependency known to be down at deploy time),
    /// [`State::Disabled`] or [`State::CountOnly`] (a new breaker that should only
    /// observe). Any other state is a [`ConfigError`] naming `initial_state`: open and
    /// half-open are reached by a trip (or [`open_for`](crate::CircuitBreaker::open_for) and
    /// [`half_open`](crate::CircuitBreaker::half_open) once built), which give them their wait
    /// and probes. In configuration files: `initial_state = "forced_open"`.
    ///
    /// The breaker is built in that state, at generation 0, so its first snapshot
    /// reports it and no transition event is emitted at build; it leaves it as from
    /// the same state set by an operator ([`reset`](crate::CircuitBreaker::reset) closes it).
    ///
    /// ```
    /// use failgate::{CircuitBreaker, State};
    ///
    /// let breaker = CircuitBreaker::builder().initial_state(State::ForcedOpen).build()?;
    /// assert_eq!(breaker.snapshot().state, State::ForcedOpen);
    /// breaker.reset();
    /// assert_eq!(breaker.state(), State::Closed);
    /// # Ok::<(), failgate::ConfigError>(())
    /// ```
    pub fn initial_state(mut self, state: State) -> Self {
        self.initial_state = state;
        self
    }
}

/// A breaker may start closed, forced open, disabled or counting only.
pub(super) fn check_initial_state(state: State) -> Result<(), ConfigError> {
    match state {
        State::Closed | State::ForcedOpen | State::Disabled | State::CountOnly => Ok(()),
        _ => Err(ConfigError::new(
            "initial_state",
            state.as_str(),
            "must be closed, forced_open, disabled or count_only",
        )),
    }
}
