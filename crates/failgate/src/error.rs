//! Rejections and the error type of a guarded call.

use crate::vocabulary::State;
use std::fmt;
use std::time::Duration;

/// A call the breaker refused without running it.
///
/// Like governor's `NotUntil`, a rejection is information: the state that refused the
/// call and, where it is known, how long until the breaker will try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected {
    pub(crate) state: State,
    /// Nanoseconds, or `u64::MAX` for unknown: keeps `Result<T, Error<E>>` small.
    retry_after: u64,
}

impl Rejected {
    /// A rejection by a breaker in `state`, with the time until it tries again where
    /// that is known. For breakers built on this crate's types (`failgate-redis`'s
    /// fleet-wide breaker, say) that refuse calls of their own.
    ///
    /// ```
    /// use failgate::{Rejected, State};
    /// use std::time::Duration;
    ///
    /// let r = Rejected::new(State::Open, Some(Duration::from_secs(2)));
    /// assert_eq!(r.retry_after(), Some(Duration::from_secs(2)));
    /// ```
    pub fn new(state: State, retry_after: Option<Duration>) -> Self {
        let nanos = retry_after.map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        Self::from_nanos(state, nanos)
    }

    pub(crate) fn from_nanos(state: State, retry_after: Option<u64>) -> Self {
        Rejected {
            state,
            retry_after: retry_after.map_or(u64::MAX, |n| n.min(u64::MAX - 1)),
        }
    }

    /// The state that refused the call: [`State::Open`], [`State::HalfOpen`] (all probe
    /// slots taken) or [`State::ForcedOpen`].
    pub fn state(&self) -> State {
        self.state
    }

    /// How long until the breaker lets probes through again.
    ///
    /// `Some` while open: the time left of the wait (zero if the wait is over and the
    /// probe slots are being handed out). `None` when nobody knows: a forced-open breaker
    /// waits for an operator, a half-open one for its probes to report, and an open one
    /// whose deadline saturated at the end of the clock would refuse a retry at any
    /// time. A wait reported is one the breaker honours.
    pub fn retry_after(&self) -> Option<Duration> {
        (self.retry_after != u64::MAX).then(|| Duration::from_nanos(self.retry_after))
    }
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.state {
            State::HalfOpen => f.write_str("circuit half-open: all probe slots are taken")?,
            State::ForcedOpen => f.write_str("circuit forced open")?,
            _ => f.write_str("circuit open")?,
        }
        match self.retry_after() {
            Some(d) => write!(f, ", retry after {:.3}s", d.as_secs_f64()),
            None => Ok(()),
        }
    }
}

impl std::error::Error for Rejected {}

/// The error of a call made through a breaker: refused, or the call's own error.
///
/// It wraps, as errors that wrap others do (reqwest's "error sending request", say):
/// its own text says only what happened at the breaker, and
/// [`source()`](std::error::Error::source) is the error behind it, the [`Rejected`]
/// for a refusal and the operation's own error otherwise. So each text appears once
/// in a report that walks the chain (`anyhow`'s `{:#}`, `tracing`'s error chains),
/// and every link keeps its type: `anyhow`'s `chain()` finds the `Rejected` and the
/// inner error by `downcast_ref`, and [`rejection`] finds a refusal from any error
/// that wraps this one.
///
/// ```
/// use failgate::{CircuitBreaker, Error};
/// use std::error::Error as _;
///
/// let breaker = CircuitBreaker::builder().consecutive_failures(1).build()?;
/// let failed = breaker.call(|| Err::<(), _>(std::io::Error::other("disk full"))).unwrap_err();
/// assert_eq!(failed.to_string(), "call through the circuit breaker failed");
/// assert_eq!(failed.source().unwrap().to_string(), "disk full");
///
/// let refused: Error<std::io::Error> = breaker.call(|| Ok(())).unwrap_err();
/// assert_eq!(refused.to_string(), "call refused by the circuit breaker");
/// assert!(refused.source().unwrap().to_string().starts_with("circuit open"));
/// # Ok::<(), failgate::ConfigError>(())
/// ```
///
/// Exhaustive on purpose: a guarded call was either refused or ran, and that stays so,
/// so a `match` on it needs no wildcard arm:
///
/// ```
/// fn describe(e: &failgate::Error<std::io::Error>) -> String {
///     match e {
///         failgate::Error::Rejected(r) => format!("refused: {r}"),
///         failgate::Error::Inner(e) => format!("failed: {e}"),
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error<E> {
    /// The breaker refused the call; the operation did not run.
    Rejected(Rejected),
    /// The operation ran and returned this error.
    Inner(E),
}

impl<E> Error<E> {
    /// The rejection, if the call was refused.
    pub fn rejected(&self) -> Option<&Rejected> {
        match self {
            Error::Rejected(r) => Some(r),
            Error::Inner(_) => None,
        }
    }

    /// The operation's own error, if it ran.
    pub fn into_inner(self) -> Option<E> {
        match self {
            Error::Rejected(_) => None,
            Error::Inner(e) => Some(e),
        }
    }

    /// True if the breaker refused the call.
    pub fn is_rejected(&self) -> bool {
        matches!(self, Error::Rejected(_))
    }
}

impl<E> From<Rejected> for Error<E> {
    fn from(r: Rejected) -> Self {
        Error::Rejected(r)
    }
}

/// What happened at the breaker, and nothing of the error behind it: that one is the
/// [`source`](std::error::Error::source), and printing it here too would print it
/// twice in every report that walks the chain.
impl<E> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Rejected(_) => f.write_str("call refused by the circuit breaker"),
            Error::Inner(_) => f.write_str("call through the circuit breaker failed"),
        }
    }
}

/// An error whenever the inner one is: its source is the [`Rejected`] or the inner
/// error. (A tower stack needs no more: the [tower layer](crate::tower) returns
/// `tower::BoxError`, as tower's own middleware does.)
impl<E: std::error::Error + 'static> std::error::Error for Error<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Rejected(r) => Some(r),
            Error::Inner(e) => Some(e),
        }
    }
}

/// The rejection in `error` or anywhere in its chain of
/// [`source`](std::error::Error::source)s: the one call that finds a refusal however
/// it came back. From a breaker's own [`Error`], from the [tower layer](crate::tower)
/// (a boxed `Rejected`, under a `Timeout` or a `Buffer` too), from `failgate-reqwest`,
/// or wrapped again by the application (`anyhow`, `Box<dyn Error>`, an error enum of
/// its own whose `source` is the breaker's error).
///
/// One exception: an `anyhow::Error` made from a `Box<dyn Error>` (with
/// `anyhow::Error::from_boxed`, as a tower `BoxError` must be) lists only the box's
/// sources in its chain, not the boxed error itself. Look before converting, or take
/// the box back first: `err.downcast_ref::<tower::BoxError>()`, then `rejection(&**boxed)`.
///
/// ```
/// use failgate::{CircuitBreaker, State};
///
/// let breaker = CircuitBreaker::builder().build()?;
/// breaker.force_open();
/// let error: Box<dyn std::error::Error + Send + Sync> =
///     breaker.call(|| Ok::<_, std::io::Error>(())).unwrap_err().into();
/// let rejected = failgate::rejection(&*error).expect("refused");
/// assert_eq!(rejected.state(), State::ForcedOpen);
///
/// let other: Box<dyn std::error::Error> = "timed out".into();
/// assert!(failgate::rejection(&*other).is_none());
/// # Ok::<(), failgate::ConfigError>(())
/// ```
pub fn rejection<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a Rejected> {
    std::iter::successors(Some(error), |e| e.source()).find_map(|e| e.downcast_ref::<Rejected>())
}
