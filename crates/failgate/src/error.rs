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

impl<E: fmt::Display> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Rejected(r) => r.fmt(f),
            Error::Inner(e) => e.fmt(f),
        }
    }
}

/// `Error` displays the rejection or, transparently, the inner error. It is an error
/// for any inner type that can be displayed, `BoxError` included, so it converts into
/// a `Box<dyn Error + Send + Sync>` in tower stacks; match on it (or use
/// [`Error::into_inner`]) to reach the inner error itself.
impl<E: fmt::Debug + fmt::Display> std::error::Error for Error<E> {}
