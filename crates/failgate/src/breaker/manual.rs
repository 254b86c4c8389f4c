//! An operator's orders: the manual transitions of [`CircuitBreaker`], and its
//! [`Control`] implementation.
//!
//! Each order is one transition, made from whatever state the breaker is in (a
//! transition being published is waited out), so it starts a new generation:
//! outcomes of calls admitted before it are discarded. The exceptions are
//! [`force_open`](CircuitBreaker::force_open), [`disable`](CircuitBreaker::disable) and
//! [`count_only`](CircuitBreaker::count_only) given in the state they lead to: they
//! change nothing (no event, no new generation), so an operator's repeated order does
//! not discard the outcomes of calls in flight. [`reset`](CircuitBreaker::reset),
//! [`close`](CircuitBreaker::close) and the timed openings always transition.

use super::CircuitBreaker;
use crate::control::{check_open_wait, wait_until, Control};
use crate::policy::ConfigError;
use crate::vocabulary::{Reason, State};
use std::time::{Duration, SystemTime};

impl<C> CircuitBreaker<C> {
    /// Refuses every call (with no `retry_after`) until [`reset`](Self::reset) (or
    /// another order). Its reason is [`Reason::Manual`]. While already forced open it
    /// changes nothing.
    pub fn force_open(&self) {
        self.core
            .manual(State::ForcedOpen, Reason::Manual, None, false);
    }

    /// Admits every call and counts nothing, until [`reset`](Self::reset) (or another
    /// order). Its reason is [`Reason::Manual`]. While already disabled it changes
    /// nothing.
    pub fn disable(&self) {
        self.core
            .manual(State::Disabled, Reason::Manual, None, false);
    }

    /// Admits every call and counts outcomes (so the snapshot's counts and rates stay
    /// live), but never trips, until [`reset`](Self::reset) (or another order).
    /// (resilience4j calls this state `METRICS_ONLY`.) Its reason is [`Reason::Manual`].
    /// While already count-only it changes nothing.
    #[doc(alias = "metrics_only")]
    pub fn count_only(&self) {
        self.core
            .manual(State::CountOnly, Reason::Manual, None, false);
    }

    /// Returns to closed with empty counters and the backoff back at its first step.
    /// Always starts a new generation: outcomes of calls admitted before are discarded.
    /// Its reason is [`Reason::Manual`]; [`close`](Self::close) does the same under
    /// [`Reason::ManualClose`].
    pub fn reset(&self) {
        self.core.manual(State::Closed, Reason::Manual, None, true);
    }

    /// Opens now, from any state (open included: the wait starts again), for `wait`,
    /// then half-opens by itself exactly as after a trip: the first call after the wait
    /// is the first probe. Unlike [`force_open`](Self::force_open), it ends by itself.
    /// (resilience4j's `transitionToOpenStateFor`, Polly's isolate for a while.)
    ///
    /// - The wait is exactly `wait` on the breaker's clock: the backoff does not apply.
    ///   A `Retry-After` the breaker [honours](crate::Builder::honor_retry_after) and
    ///   that asks for longer still holds, as it does for every opening: the
    ///   dependency asked not to be called.
    /// - Refusals meanwhile carry the time left as their
    ///   [`retry_after`](crate::Rejected::retry_after).
    /// - The event is a [`StateChange`](crate::EventKind::StateChange) to open whose
    ///   `wait` is the wait applied and whose reason is [`Reason::ManualOpen`].
    /// - The backoff step is kept as it was (an operator's opening is not a
    ///   reopening): from closed it stays at 0, so a failed probe after the wait
    ///   waits the backoff's second step, and the next close returns it to 0 as ever.
    /// - A zero wait is accepted: the next call probes. A wait above
    ///   [`MAX_DURATION`](crate::MAX_DURATION) is a [`ConfigError`] naming `open_for`,
    ///   and changes nothing.
    ///
    /// ```
    /// use failgate::{CircuitBreaker, ManualClock, State};
    /// use std::time::Duration;
    ///
    /// let clock = ManualClock::new();
    /// let breaker = CircuitBreaker::builder().clock(clock.clone()).build().unwrap();
    /// breaker.open_for(Duration::from_secs(300)).unwrap();
    /// assert_eq!(breaker.state(), State::Open);
    /// clock.advance(Duration::from_secs(300));
    /// assert_eq!(breaker.state(), State::HalfOpen);
    /// ```
    pub fn open_for(&self, wait: Duration) -> Result<(), ConfigError> {
        let nanos = check_open_wait(wait)?;
        self.core
            .manual(State::Open, Reason::ManualOpen { wait }, Some(nanos), true);
        Ok(())
    }

    /// [`open_for`](Self::open_for) the time from now until `deadline`
    /// (resilience4j's `transitionToOpenStateUntil`). The deadline is converted to a
    /// wait against the system's wall clock at this call (by
    /// [`control::wait_until`](crate::control::wait_until)), then waited out on the
    /// breaker's clock: a later change of the wall clock does not move it. A deadline
    /// in the past opens with no wait (the next call probes); one more than
    /// [`MAX_DURATION`](crate::MAX_DURATION) away is a [`ConfigError`] naming
    /// `open_until`.
    pub fn open_until(&self, deadline: SystemTime) -> Result<(), ConfigError> {
        self.open_for(wait_until(deadline, SystemTime::now())?)
    }

    /// Moves to half-open now, from any state but half-open (where it does nothing),
    /// probing as after an open wait: up to
    /// [`half_open_permits`](crate::Builder::half_open_permits) probes, and the
    /// half-open timeout counts from now. The backoff step is kept. Its reason is
    /// [`Reason::ManualHalfOpen`].
    pub fn half_open(&self) {
        self.core
            .manual(State::HalfOpen, Reason::ManualHalfOpen, None, false);
    }

    /// Closes now with empty counters and the backoff at its first step, as
    /// [`reset`](Self::reset) does (always a new generation), under its own reason,
    /// [`Reason::ManualClose`].
    pub fn close(&self) {
        self.core
            .manual(State::Closed, Reason::ManualClose, None, true);
    }
}

impl<C> Control for CircuitBreaker<C> {
    fn force_open(&self) {
        CircuitBreaker::force_open(self);
    }

    fn disable(&self) {
        CircuitBreaker::disable(self);
    }

    fn count_only(&self) {
        CircuitBreaker::count_only(self);
    }

    fn reset(&self) {
        CircuitBreaker::reset(self);
    }

    fn open_for(&self, wait: Duration) -> Result<(), ConfigError> {
        CircuitBreaker::open_for(self, wait)
    }

    fn open_until(&self, deadline: SystemTime) -> Result<(), ConfigError> {
        CircuitBreaker::open_until(self, deadline)
    }

    fn half_open(&self) {
        CircuitBreaker::half_open(self);
    }

    fn close(&self) {
        CircuitBreaker::close(self);
    }
}
