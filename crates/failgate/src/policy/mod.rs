//! The validated policy: what a breaker was configured to do, in the units the core
//! works in, with the limits every value is checked against, and the checks. Data
//! near the bottom of the crate: it uses only [`Backoff`] (and its break-duration
//! function), the clock's unit and one atomic (see `LastFailure`), and everything
//! else builds on it.

use crate::backoff::{Backoff, BreakDuration};
use crate::clock::duration_to_nanos;
use std::num::NonZeroU64;
use std::time::Duration;

mod check;
mod peers;
pub(crate) use check::{check_backoff, check_duration, check_range, check_rate};
pub use check::{ConfigError, MAX_DURATION};
pub(crate) use peers::{LastFailure, PeerPolicies};

/// The largest count window: 2^20 outcomes.
pub const MAX_COUNT_WINDOW: u32 = 1 << 20;
/// The most buckets a time window may have.
pub const MAX_TIME_BUCKETS: u32 = 1024;
/// The largest consecutive-failure threshold.
pub const MAX_CONSECUTIVE_FAILURES: u32 = (1 << 30) - 1;
/// The largest `minimum_calls`: the largest count window. (A time window could count
/// more, but a minimum it would rarely reach leaves its rates unjudged for ever.)
pub const MAX_MINIMUM_CALLS: u64 = MAX_COUNT_WINDOW as u64;
/// How long a dependency's `Retry-After` may hold a breaker open, unless
/// [`Builder::max_retry_after`](crate::Builder::max_retry_after) says otherwise: one hour.
pub const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// The most half-open probes a breaker may admit at once.
pub const MAX_HALF_OPEN_PERMITS: u32 = 1023;

// The documented defaults (see `Builder`), and the shortest bucket a time window may
// have.
const MIN_BUCKET: Duration = Duration::from_millis(1);
const DEFAULT_CONSECUTIVE: u32 = 5;
const DEFAULT_WINDOW: u32 = 100;
const DEFAULT_MINIMUM_CALLS: u64 = 10;
const DEFAULT_BUCKETS: u32 = 10;
const DEFAULT_OPEN_FOR: Duration = Duration::from_secs(60);

/// The window over which failure and slow-call rates are measured.
///
/// ```
/// use failgate::Window;
/// use std::time::Duration;
///
/// let last_100_calls = Window::count(100);
/// let last_minute = Window::time(Duration::from_secs(60)).buckets(12); // 5 s buckets
/// # let _ = (last_100_calls, last_minute);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub(crate) kind: WindowKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WindowKind {
    Count(u32),
    Time { span: Duration, buckets: u32 },
}

impl Window {
    /// A ring of the last `n` recorded outcomes (at most [`MAX_COUNT_WINDOW`]).
    ///
    /// Recorded from one thread, the window is exactly the last `n` outcomes. Threads
    /// recording at once each take ring positions in small chunks (so that they do not
    /// all write one shared counter on every call): every outcome still has a position
    /// of its own, the counts are always those of the outcomes in the ring and never
    /// more than `n` of them, and a position a thread has claimed but not yet used
    /// keeps the outcome from one turn of the ring earlier until it is used (fewer
    /// than `n / 4` of them while each thread has a stripe of its own: there is one
    /// stripe per CPU, up to 4). Such positions never count as calls of a window that
    /// is still filling. Windows of fewer than 8 outcomes per CPU take no chunks.
    pub fn count(n: u32) -> Self {
        Window {
            kind: WindowKind::Count(n),
        }
    }

    /// The outcomes of the last `span`, kept in 10 buckets by default: each bucket
    /// drops out whole once it is older than `span`.
    pub fn time(span: Duration) -> Self {
        Window {
            kind: WindowKind::Time {
                span,
                buckets: DEFAULT_BUCKETS,
            },
        }
    }

    /// Sets the number of buckets of a time window (1 to [`MAX_TIME_BUCKETS`]; each at
    /// least 1 ms long). More buckets slide more smoothly and cost more to sum.
    /// A count window ignores this.
    pub fn buckets(self, buckets: u32) -> Self {
        match self.kind {
            WindowKind::Time { span, .. } => Window {
                kind: WindowKind::Time { span, buckets },
            },
            WindowKind::Count(_) => self,
        }
    }

    /// A time window's span and number of buckets; `None` for a count window.
    ///
    /// ```
    /// use failgate::Window;
    /// use std::time::Duration;
    ///
    /// let minute = Window::time(Duration::from_secs(60)).buckets(12);
    /// assert_eq!(minute.as_time(), Some((Duration::from_secs(60), 12)));
    /// assert_eq!(Window::count(100).as_time(), None);
    /// ```
    pub fn as_time(&self) -> Option<(Duration, u32)> {
        match self.kind {
            WindowKind::Time { span, buckets } => Some((span, buckets)),
            WindowKind::Count(_) => None,
        }
    }

    /// A count window's number of outcomes; `None` for a time window.
    ///
    /// ```
    /// use failgate::Window;
    /// use std::time::Duration;
    ///
    /// assert_eq!(Window::count(100).as_count(), Some(100));
    /// assert_eq!(Window::time(Duration::from_secs(60)).as_count(), None);
    /// ```
    pub fn as_count(&self) -> Option<u32> {
        match self.kind {
            WindowKind::Count(n) => Some(n),
            WindowKind::Time { .. } => None,
        }
    }
}

/// Checked settings, in the units the core works in.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) consecutive_failures: Option<u32>,
    pub(crate) failure_rate: Option<Rate>,
    pub(crate) slow: Option<SlowCalls>,
    pub(crate) window: Option<WindowKind>,
    pub(crate) minimum_calls: u64,
    pub(crate) backoff: Backoff,
    pub(crate) half_open_permits: u32,
    /// In nanoseconds (a zero timeout is refused, so `None` costs no space).
    pub(crate) half_open_timeout: Option<NonZeroU64>,
    pub(crate) honor_retry_after: bool,
    /// The longest `Retry-After` honoured, in nanoseconds.
    pub(crate) max_retry_after: u64,
    /// The policies peers offer, boxed: most breakers set none of them, and the
    /// breaker's shared state stays within four cache lines.
    pub(crate) peer: Option<Box<PeerPolicies>>,
}

/// A rate in (0, 1], kept as its bits, which are never zero: an `Option<Rate>`
/// takes 8 bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rate(NonZeroU64);

impl Rate {
    /// A rate that `check_rate` accepted.
    pub(crate) fn new(rate: f64) -> Option<Rate> {
        NonZeroU64::new(rate.to_bits()).map(Rate)
    }

    #[inline]
    pub(crate) fn get(self) -> f64 {
        f64::from_bits(self.0.get())
    }
}

impl std::fmt::Debug for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct SlowCalls {
    /// In nanoseconds (a zero threshold is refused, so `None` costs no space).
    pub(crate) threshold: NonZeroU64,
    pub(crate) rate: f64,
}

/// The policy as a builder was told it, unchecked: what [`Draft::validate`] turns into
/// [`Settings`] or refuses with a [`ConfigError`].
#[derive(Debug, Clone)]
pub(crate) struct Draft {
    pub(crate) consecutive_failures: Option<u32>,
    pub(crate) failure_rate: Option<f64>,
    pub(crate) slow: Option<(Duration, f64)>,
    pub(crate) window: Option<Window>,
    pub(crate) minimum_calls: Option<u64>,
    pub(crate) backoff: Backoff,
    pub(crate) half_open_permits: u32,
    pub(crate) half_open_timeout: Option<Duration>,
    pub(crate) honor_retry_after: bool,
    pub(crate) max_retry_after: Duration,
    pub(crate) half_open_failure_rate: Option<f64>,
    pub(crate) break_duration: Option<BreakDuration>,
    pub(crate) forget_failures_after: Option<Duration>,
}

impl Default for Draft {
    fn default() -> Self {
        Draft {
            consecutive_failures: None,
            failure_rate: None,
            slow: None,
            window: None,
            minimum_calls: None,
            backoff: Backoff::constant(DEFAULT_OPEN_FOR),
            half_open_permits: 1,
            half_open_timeout: None,
            honor_retry_after: false,
            max_retry_after: DEFAULT_MAX_RETRY_AFTER,
            half_open_failure_rate: None,
            break_duration: None,
            forget_failures_after: None,
        }
    }
}

impl Draft {
    /// Checks every value; the settings in the core's units, or the first refusal.
    pub(crate) fn validate(&self) -> Result<Settings, ConfigError> {
        if let Some(n) = self.consecutive_failures {
            check_range("consecutive_failures", n, 1, MAX_CONSECUTIVE_FAILURES)?;
        }
        if let Some(rate) = self.failure_rate {
            check_rate("failure_rate", rate)?;
        }
        let slow = self.slow_calls()?;
        let wants_window = self.failure_rate.is_some() || slow.is_some() || self.window.is_some();
        let window = if wants_window {
            let w = self.window.unwrap_or(Window::count(DEFAULT_WINDOW));
            check_window(w)?;
            Some(w.kind)
        } else {
            None
        };
        let minimum_calls = self.minimum_calls(window)?;
        check_backoff(&self.backoff)?;
        check_range(
            "half_open_permits",
            self.half_open_permits,
            1,
            MAX_HALF_OPEN_PERMITS,
        )?;
        let half_open_timeout = match self.half_open_timeout {
            Some(t) => {
                check_duration("half_open_timeout", t)?;
                Some(nonzero_nanos(t))
            }
            None => None,
        };
        check_duration("max_retry_after", self.max_retry_after)?;
        if let Some(rate) = self.half_open_failure_rate {
            check_rate("half_open_failure_rate", rate)?;
        }
        // The documented default trip: only a failure condition replaces it.
        let consecutive_failures = match (self.consecutive_failures, self.failure_rate) {
            (None, None) => Some(DEFAULT_CONSECUTIVE),
            (n, _) => n,
        };
        Ok(Settings {
            consecutive_failures,
            failure_rate: self.failure_rate.and_then(Rate::new),
            slow,
            window,
            minimum_calls,
            backoff: self.backoff,
            half_open_permits: self.half_open_permits,
            half_open_timeout,
            honor_retry_after: self.honor_retry_after,
            max_retry_after: duration_to_nanos(self.max_retry_after),
            peer: self.peer_policies(consecutive_failures)?,
        })
    }

    /// The peers' policies, boxed if any is set.
    fn peer_policies(
        &self,
        consecutive: Option<u32>,
    ) -> Result<Option<Box<PeerPolicies>>, ConfigError> {
        let peer = PeerPolicies {
            half_open_failure_rate: self.half_open_failure_rate,
            break_duration: self.break_duration.clone(),
            forget_failures_after: self.forget_failures_after(consecutive)?,
            last_failure: LastFailure::default(),
        };
        let any = peer.half_open_failure_rate.is_some()
            || peer.break_duration.is_some()
            || peer.forget_failures_after.is_some();
        Ok(any.then(|| Box::new(peer)))
    }

    /// The span after which consecutive failures are forgotten, checked: it needs a
    /// consecutive-failure condition to apply to.
    fn forget_failures_after(
        &self,
        consecutive: Option<u32>,
    ) -> Result<Option<NonZeroU64>, ConfigError> {
        let Some(span) = self.forget_failures_after else {
            return Ok(None);
        };
        check_duration("forget_failures_after", span)?;
        if consecutive.is_none() {
            return Err(ConfigError::new(
                "forget_failures_after",
                span,
                "needs consecutive_failures (failure_rate alone turns them off)",
            ));
        }
        Ok(Some(nonzero_nanos(span)))
    }

    /// The slow-call condition, checked, with its threshold in nanoseconds.
    fn slow_calls(&self) -> Result<Option<SlowCalls>, ConfigError> {
        Ok(match self.slow {
            Some((threshold, rate)) => {
                check_duration("slow_calls.threshold", threshold)?;
                check_rate("slow_calls.rate", rate)?;
                Some(SlowCalls {
                    threshold: nonzero_nanos(threshold),
                    rate,
                })
            }
            None => None,
        })
    }

    /// The minimum number of outcomes before rates are judged: at most what a count
    /// `window` holds.
    fn minimum_calls(&self, window: Option<WindowKind>) -> Result<u64, ConfigError> {
        Ok(match (self.minimum_calls, window) {
            (Some(n), Some(WindowKind::Count(size))) => {
                check_range("minimum_calls", n, 1, u64::from(size)).map_err(|e| {
                    ConfigError::new(
                        e.field(),
                        n,
                        format!("{} (the count window holds {size})", e.problem()),
                    )
                })?;
                n
            }
            (Some(n), _) => check_range("minimum_calls", n, 1, MAX_MINIMUM_CALLS).map(|_| n)?,
            (None, Some(WindowKind::Count(size))) => DEFAULT_MINIMUM_CALLS.min(u64::from(size)),
            (None, _) => DEFAULT_MINIMUM_CALLS,
        })
    }
}

/// A duration that `check_duration` accepted (longer than zero), in nanoseconds.
fn nonzero_nanos(d: Duration) -> NonZeroU64 {
    NonZeroU64::new(duration_to_nanos(d)).unwrap_or(NonZeroU64::MIN)
}

/// Checks a window's size against the limits.
fn check_window(w: Window) -> Result<(), ConfigError> {
    match w.kind {
        WindowKind::Count(n) => check_range("window.count", n, 1, MAX_COUNT_WINDOW),
        WindowKind::Time { span, buckets } => {
            check_duration("window.time", span)?;
            check_range("window.buckets", buckets, 1, MAX_TIME_BUCKETS)?;
            if span / buckets < MIN_BUCKET {
                return Err(ConfigError::new(
                    "window.buckets",
                    buckets,
                    format!("makes buckets shorter than {MIN_BUCKET:?} for a {span:?} window"),
                ));
            }
            Ok(())
        }
    }
}
