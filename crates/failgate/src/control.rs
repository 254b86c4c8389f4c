//! What an operator can order a breaker to do during an incident: [`Control`].
//!
//! A leaf beside the [contract](crate::contract): it names only the core's plain
//! types ([`ConfigError`], durations, wall-clock instants), so a fleet-wide breaker
//! can honour every method as well as [`CircuitBreaker`](crate::CircuitBreaker) does.
//!
//! ```
//! use failgate::{CircuitBreaker, Control, State};
//! use std::time::Duration;
//!
//! // Works with any breaker an operator can control.
//! fn isolate(breaker: &impl Control) -> Result<(), failgate::ConfigError> {
//!     breaker.open_for(Duration::from_secs(300))
//! }
//!
//! let breaker = CircuitBreaker::builder().build().unwrap();
//! isolate(&breaker).unwrap();
//! assert_eq!(breaker.state(), State::Open);
//! ```

use crate::policy::{ConfigError, MAX_DURATION};
use std::time::{Duration, SystemTime};

/// The operator's actions on a breaker. Every action is a transition with its own
/// [`Reason`](crate::Reason) (the first four keep [`Reason::Manual`](crate::Reason::Manual)),
/// and outcomes of calls admitted before it are discarded.
///
/// [`CircuitBreaker`](crate::CircuitBreaker) implements it with its methods of the
/// same names, which document each action.
pub trait Control {
    /// Refuses every call (with no `retry_after`) until [`reset`](Self::reset) or
    /// another action.
    fn force_open(&self);

    /// Admits every call and counts nothing, until another action.
    fn disable(&self);

    /// Admits every call and counts outcomes, but never trips, until another action.
    fn count_only(&self);

    /// Closes with empty counters and the backoff back at its first step.
    fn reset(&self);

    /// Opens now, from any state, for exactly `wait` (or a longer `Retry-After` the
    /// breaker honours), then half-opens by itself. A wait above [`MAX_DURATION`] is
    /// a [`ConfigError`] naming `open_for`.
    fn open_for(&self, wait: Duration) -> Result<(), ConfigError>;

    /// [`open_for`](Self::open_for) the time from now, on the system's wall clock,
    /// until `deadline` (resilience4j's `transitionToOpenStateUntil`): a deadline in
    /// the past opens with no wait, so the next call probes. A deadline more than
    /// [`MAX_DURATION`] away is a [`ConfigError`] naming `open_until`.
    fn open_until(&self, deadline: SystemTime) -> Result<(), ConfigError> {
        self.open_for(wait_until(deadline, SystemTime::now())?)
    }

    /// Moves to half-open now (from any state but half-open), admitting probes as
    /// after an open wait.
    fn half_open(&self);

    /// Closes now with empty counters, as [`reset`](Self::reset) does, under a reason
    /// of its own.
    fn close(&self);
}

/// The wait from `now` until `deadline`, both on the wall clock: zero for a deadline
/// in the past, a [`ConfigError`] naming `open_until` for one more than
/// [`MAX_DURATION`] away. Pure, so [`Control::open_until`] is tested without sleeping.
///
/// ```
/// use failgate::control::wait_until;
/// use std::time::{Duration, SystemTime};
///
/// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
/// assert_eq!(wait_until(now + Duration::from_secs(90), now), Ok(Duration::from_secs(90)));
/// assert_eq!(wait_until(now - Duration::from_secs(5), now), Ok(Duration::ZERO));
/// ```
pub fn wait_until(deadline: SystemTime, now: SystemTime) -> Result<Duration, ConfigError> {
    let wait = deadline.duration_since(now).unwrap_or(Duration::ZERO);
    if wait > MAX_DURATION {
        return Err(ConfigError::new(
            "open_until",
            deadline,
            format!("is {wait:?} away, more than {MAX_DURATION:?}"),
        ));
    }
    Ok(wait)
}

/// The check [`Control::open_for`] makes, without opening anything: a wait above
/// [`MAX_DURATION`] is a [`ConfigError`] naming `open_for`. A breaker that implements
/// [`Control`] over another (the fleet breaker over its local fallback) refuses alike.
///
/// ```
/// use failgate::control::check_open_for;
/// use std::time::Duration;
///
/// assert!(check_open_for(Duration::from_secs(300)).is_ok());
/// let error = check_open_for(Duration::MAX).unwrap_err();
/// assert_eq!(error.field(), "open_for");
/// ```
pub fn check_open_for(wait: Duration) -> Result<(), ConfigError> {
    check_open_wait(wait).map(|_| ())
}

/// Checks an operator's open wait: at most [`MAX_DURATION`]; zero is accepted (the
/// next call probes).
pub(crate) fn check_open_wait(wait: Duration) -> Result<u64, ConfigError> {
    if wait > MAX_DURATION {
        return Err(ConfigError::new(
            "open_for",
            wait,
            format!("must be at most {MAX_DURATION:?}"),
        ));
    }
    Ok(crate::clock::duration_to_nanos(wait))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn wait_until_converts_against_the_given_now() {
        let now = SystemTime::UNIX_EPOCH + 1_000_000 * S;
        assert_eq!(wait_until(now + 300 * S, now), Ok(300 * S));
        assert_eq!(wait_until(now, now), Ok(Duration::ZERO));
        assert_eq!(
            wait_until(now - S, now),
            Ok(Duration::ZERO),
            "past: no wait"
        );
        assert_eq!(wait_until(SystemTime::UNIX_EPOCH, now), Ok(Duration::ZERO));
        let far = now + MAX_DURATION + S;
        let e = wait_until(far, now).unwrap_err();
        assert_eq!(e.field(), "open_until");
        assert!(e.to_string().contains("open_until"), "{e}");
        assert_eq!(wait_until(now + MAX_DURATION, now), Ok(MAX_DURATION));
    }

    #[test]
    fn open_waits_above_the_limit_are_refused() {
        assert_eq!(check_open_wait(Duration::ZERO), Ok(0));
        assert_eq!(check_open_wait(S), Ok(1_000_000_000));
        let e = check_open_wait(MAX_DURATION + S).unwrap_err();
        assert_eq!(e.field(), "open_for");
        assert_eq!(e.value(), format!("{:?}", MAX_DURATION + S));
    }
}
