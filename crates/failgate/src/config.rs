//! Building a breaker: every value is checked in [`Builder::build`], and a bad one is a
//! [`ConfigError`] that names the field and the value. Nothing here panics.

use crate::breaker::{CircuitBreaker, Core};
use crate::clock::{duration_to_nanos, ClockSource, SystemClock};
use crate::event::Observer;
use crate::outcome::DefaultClassifier;
use crate::state_machine::MAX_HALF_OPEN_PERMITS;
use crate::{Backoff, Clock};
use check::{check_backoff, check_duration, check_range, check_rate};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

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
/// [`Builder::max_retry_after`] says otherwise: one hour.
pub const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
const MIN_BUCKET: Duration = Duration::from_millis(1);
const DEFAULT_CONSECUTIVE: u32 = 5;
const DEFAULT_WINDOW: u32 = 100;
const DEFAULT_MINIMUM_CALLS: u64 = 10;
const DEFAULT_BUCKETS: u32 = 10;
const DEFAULT_OPEN_FOR: Duration = Duration::from_secs(60);

mod check;
pub use check::{ConfigError, MAX_DURATION};

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
    /// A true ring of the last `n` recorded outcomes (at most [`MAX_COUNT_WINDOW`]).
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
}

/// Checked settings, in the units the core works in.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) consecutive_failures: Option<u32>,
    pub(crate) failure_rate: Option<f64>,
    pub(crate) slow: Option<SlowCalls>,
    pub(crate) window: Option<WindowKind>,
    pub(crate) minimum_calls: u64,
    pub(crate) backoff: Backoff,
    pub(crate) half_open_permits: u32,
    pub(crate) half_open_timeout: Option<u64>,
    pub(crate) honor_retry_after: bool,
    /// The longest `Retry-After` honoured, in nanoseconds.
    pub(crate) max_retry_after: u64,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct SlowCalls {
    pub(crate) threshold: u64,
    pub(crate) rate: f64,
}

/// Configures a [`CircuitBreaker`]. Start with [`CircuitBreaker::builder`].
///
/// Unless a failure condition is set ([`consecutive_failures`](Self::consecutive_failures)
/// or [`failure_rate`](Self::failure_rate)), the breaker trips on 5 consecutive
/// failures, whatever else is set: a window, `minimum_calls` or `slow_calls` alone
/// keeps that default (a slow-call rate alone would leave a dependency that fails fast
/// unprotected). It stays open 60 s, then admits 1 probe. A rate condition without a
/// window uses `Window::count(100)`, judged once it holds 10 outcomes (or the whole
/// count window, if that is smaller). Every configuration `build()` accepts can trip;
/// only [`disable`](CircuitBreaker::disable) and
/// [`metrics_only`](CircuitBreaker::metrics_only) stop it.
#[derive(Clone)]
pub struct Builder<C = DefaultClassifier> {
    name: String,
    consecutive_failures: Option<u32>,
    failure_rate: Option<f64>,
    slow: Option<(Duration, f64)>,
    window: Option<Window>,
    minimum_calls: Option<u64>,
    backoff: Backoff,
    half_open_permits: u32,
    half_open_timeout: Option<Duration>,
    honor_retry_after: bool,
    max_retry_after: Duration,
    clock: Option<ClockSource>,
    observers: Vec<ObserverSource>,
    classifier: C,
}

/// An observer, or a maker of one that wants the breaker's name (metrics handles are
/// registered with it, once).
#[derive(Clone)]
enum ObserverSource {
    Shared(Arc<dyn Observer>),
    PerName(Arc<MakeObserver>),
}

type MakeObserver = dyn Fn(&str) -> Arc<dyn Observer> + Send + Sync;

impl<C: fmt::Debug> fmt::Debug for Builder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("name", &self.name)
            .field("consecutive_failures", &self.consecutive_failures)
            .field("failure_rate", &self.failure_rate)
            .field("slow", &self.slow)
            .field("window", &self.window)
            .field("minimum_calls", &self.minimum_calls)
            .field("backoff", &self.backoff)
            .field("half_open_permits", &self.half_open_permits)
            .field("half_open_timeout", &self.half_open_timeout)
            .field("honor_retry_after", &self.honor_retry_after)
            .field("max_retry_after", &self.max_retry_after)
            .field("clock", &self.clock)
            .field("observers", &self.observers.len())
            .field("classifier", &self.classifier)
            .finish()
    }
}

impl Default for Builder<DefaultClassifier> {
    fn default() -> Self {
        Builder {
            name: "default".to_owned(),
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
            clock: None,
            observers: Vec::new(),
            classifier: DefaultClassifier,
        }
    }
}

impl<C> Builder<C> {
    /// Fixes the clock (the system clock if none was set), so that the breakers built
    /// from clones of this builder share it instead of each making one (which costs
    /// microseconds: the CPU is queried); returns it.
    #[cfg(feature = "tower")]
    pub(crate) fn fixed_clock(&mut self) -> ClockSource {
        self.clock
            .get_or_insert_with(|| ClockSource::System(SystemClock::new()))
            .clone()
    }

    /// The name set so far.
    pub fn current_name(&self) -> &str {
        &self.name
    }

    /// The breaker's name, carried by its events and metrics. Defaults to `"default"`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Trips on the `n`-th failure in a row (1 to [`MAX_CONSECUTIVE_FAILURES`]). A
    /// success resets the count; an ignored outcome leaves it alone. The default, 5,
    /// applies unless this or [`failure_rate`](Self::failure_rate) is set.
    pub fn consecutive_failures(mut self, n: u32) -> Self {
        self.consecutive_failures = Some(n);
        self
    }

    /// Trips when failures / (successes + failures) over the window reaches `rate`,
    /// in (0, 1], once the window holds `minimum_calls` outcomes. Replaces the default
    /// trip on 5 consecutive failures (set
    /// [`consecutive_failures`](Self::consecutive_failures) too to keep one).
    pub fn failure_rate(mut self, rate: f64) -> Self {
        self.failure_rate = Some(rate);
        self
    }

    /// Calls that take at least `threshold` (on the breaker's clock) are slow, whatever
    /// their outcome; trips when slow / calls over the window reaches `rate`. A slow
    /// half-open probe reopens the breaker. Adds to the failure conditions: alone, it
    /// keeps the default trip on 5 consecutive failures.
    pub fn slow_calls(mut self, threshold: Duration, rate: f64) -> Self {
        self.slow = Some((threshold, rate));
        self
    }

    /// The window for the failure and slow-call rates. Defaults to `Window::count(100)`.
    /// A window alone sets no trip condition: its counts show in
    /// [`metrics`](CircuitBreaker::metrics), and the default trip on 5 consecutive
    /// failures applies.
    pub fn window(mut self, window: Window) -> Self {
        self.window = Some(window);
        self
    }

    /// Rates are judged once the window holds at least `n` outcomes (successes and
    /// failures; ignored calls do not count). From 1 to [`MAX_MINIMUM_CALLS`], and at
    /// most the size of a count window.
    pub fn minimum_calls(mut self, n: u64) -> Self {
        self.minimum_calls = Some(n);
        self
    }

    /// Stays open for `wait` after each opening. Same as
    /// `backoff(Backoff::constant(wait))`.
    pub fn open_for(mut self, wait: Duration) -> Self {
        self.backoff = Backoff::constant(wait);
        self
    }

    /// How long to stay open after each opening, by reopening count.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// How many probes half-open admits at once (at most 1023), and how many must
    /// succeed to close. Defaults to 1.
    pub fn half_open_permits(mut self, n: u32) -> Self {
        self.half_open_permits = n;
        self
    }

    /// Reopens a half-open breaker whose probes have not all reported after `timeout`
    /// (checked lazily at the next call or query). Off by default: a probe that is
    /// still running holds its slot; a dropped one gives it back at once.
    pub fn half_open_timeout(mut self, timeout: Duration) -> Self {
        self.half_open_timeout = Some(timeout);
        self
    }

    /// When the dependency answers with a "retry after" (an HTTP `Retry-After` header on
    /// a 503 or 429, read by [`HttpClassifier`](crate::http::HttpClassifier), or any
    /// [`Classify::retry_after`](crate::Classify::retry_after)), stay open at least that
    /// long, but never longer than [`max_retry_after`](Self::max_retry_after) (one
    /// hour by default). Off by default: the backoff alone decides.
    ///
    /// The request holds from the moment the answer is recorded until its time
    /// passes, whatever the answer's outcome and whenever the call was admitted: an
    /// opening within that time (a trip, a failed probe) lasts at least until then,
    /// and an open breaker that receives it stays open at least until then. Closing
    /// (or `reset`) forgets it.
    pub fn honor_retry_after(mut self, honor: bool) -> Self {
        self.honor_retry_after = honor;
        self
    }

    /// The longest "retry after" that [`honor_retry_after`](Self::honor_retry_after)
    /// obeys: a longer one holds the breaker open this long, so a dependency answering
    /// `Retry-After: 99999999999` cannot keep it open for centuries. Defaults to
    /// [`DEFAULT_MAX_RETRY_AFTER`] (one hour); at most [`MAX_DURATION`].
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// The clock the breaker reads. Defaults to [`SystemClock`]; use
    /// [`ManualClock`](crate::ManualClock) in tests.
    pub fn clock<K: Clock>(mut self, clock: K) -> Self {
        self.clock = Some(ClockSource::from_clock(clock));
        self
    }

    /// Adds an observer: it receives every event of the breaker. Observers are called
    /// in the order they were added.
    pub fn observer(mut self, observer: impl Observer) -> Self {
        self.observers
            .push(ObserverSource::Shared(Arc::new(observer)));
        self
    }

    /// Same as [`observer`](Self::observer), for an observer that is already shared.
    pub fn shared_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observers.push(ObserverSource::Shared(observer));
        self
    }

    /// Adds an observer made, when the breaker is built, from the breaker's final name:
    /// for observers that register something under the name once (metrics handles).
    /// A template builder that builds many breakers makes one observer per breaker.
    pub fn observer_per_breaker<O, F>(mut self, make: F) -> Self
    where
        O: Observer,
        F: Fn(&str) -> O + Send + Sync + 'static,
    {
        self.observers.push(ObserverSource::PerName(Arc::new(
            move |name: &str| -> Arc<dyn Observer> { Arc::new(make(name)) },
        )));
        self
    }

    /// Logs this breaker's changes of state (and sampled rejections) through `tracing`;
    /// see [`TracingObserver`](crate::observers::TracingObserver).
    #[cfg(feature = "tracing")]
    pub fn with_tracing(self) -> Self {
        self.observer_per_breaker(|_| crate::observers::TracingObserver::new())
    }

    /// Counts this breaker's calls and transitions through the `metrics` facade, with
    /// handles registered once under its name; see
    /// [`MetricsObserver`](crate::observers::MetricsObserver).
    #[cfg(feature = "metrics")]
    pub fn with_metrics(self) -> Self {
        self.observer_per_breaker(crate::observers::MetricsObserver::new)
    }

    /// The breaker's default classifier, used by `call`, `call_async` and the tower
    /// layer. See [`Classify`](crate::Classify).
    pub fn classifier<C2>(self, classifier: C2) -> Builder<C2> {
        Builder {
            name: self.name,
            consecutive_failures: self.consecutive_failures,
            failure_rate: self.failure_rate,
            slow: self.slow,
            window: self.window,
            minimum_calls: self.minimum_calls,
            backoff: self.backoff,
            half_open_permits: self.half_open_permits,
            half_open_timeout: self.half_open_timeout,
            honor_retry_after: self.honor_retry_after,
            max_retry_after: self.max_retry_after,
            clock: self.clock,
            observers: self.observers,
            classifier,
        }
    }

    /// Checks every value and builds the breaker.
    pub fn build(self) -> Result<CircuitBreaker<C>, ConfigError> {
        if self.name.is_empty() {
            return Err(ConfigError::new("name", &self.name, "must not be empty"));
        }
        let settings = self.settings()?;
        let clock = self
            .clock
            .unwrap_or_else(|| ClockSource::System(SystemClock::new()));
        let mut observers: Vec<Arc<dyn Observer>> = self
            .observers
            .iter()
            .map(|source| match source {
                ObserverSource::Shared(o) => o.clone(),
                ObserverSource::PerName(make) => make(&self.name),
            })
            .collect();
        let observer = match observers.len() {
            0 => None,
            1 => observers.pop(),
            _ => Some(Arc::new(crate::event::Fanout(observers)) as Arc<dyn Observer>),
        };
        let core = Core::new(self.name, settings, clock, observer);
        Ok(CircuitBreaker::from_parts(Arc::new(core), self.classifier))
    }

    pub(crate) fn settings(&self) -> Result<Settings, ConfigError> {
        if let Some(n) = self.consecutive_failures {
            check_range("consecutive_failures", n, 1, MAX_CONSECUTIVE_FAILURES)?;
        }
        if let Some(rate) = self.failure_rate {
            check_rate("failure_rate", rate)?;
        }
        let slow = match self.slow {
            Some((threshold, rate)) => {
                check_duration("slow_calls.threshold", threshold)?;
                check_rate("slow_calls.rate", rate)?;
                Some(SlowCalls {
                    threshold: duration_to_nanos(threshold),
                    rate,
                })
            }
            None => None,
        };
        let wants_window = self.failure_rate.is_some() || slow.is_some() || self.window.is_some();
        let window = if wants_window {
            let w = self.window.unwrap_or(Window::count(DEFAULT_WINDOW));
            check_window(w)?;
            Some(w.kind)
        } else {
            None
        };
        let minimum_calls = match (self.minimum_calls, window) {
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
        };
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
                Some(duration_to_nanos(t))
            }
            None => None,
        };
        check_duration("max_retry_after", self.max_retry_after)?;
        // The documented default trip: only a failure condition replaces it.
        let consecutive_failures = match (self.consecutive_failures, self.failure_rate) {
            (None, None) => Some(DEFAULT_CONSECUTIVE),
            (n, _) => n,
        };
        Ok(Settings {
            consecutive_failures,
            failure_rate: self.failure_rate,
            slow,
            window,
            minimum_calls,
            backoff: self.backoff,
            half_open_permits: self.half_open_permits,
            half_open_timeout,
            honor_retry_after: self.honor_retry_after,
            max_retry_after: duration_to_nanos(self.max_retry_after),
        })
    }
}

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
