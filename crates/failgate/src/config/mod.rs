//! Building a breaker: every value is checked in [`Builder::build`], and a bad one is a
//! [`ConfigError`] that names the field and the value. Nothing here panics.

use crate::backoff::Backoff;
use crate::breaker::CircuitBreaker;
use crate::clock::{Clock, ClockSource, SystemClock};
use crate::event::{Fanout, Observer};
use crate::outcome::{Classify, DefaultClassifier, DynClassifier, FnClassifier, Outcome};
use crate::policy::{ConfigError, Draft, Settings, Window};
use crate::totals::Reporting;
use crate::vocabulary::State;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

mod peers;

// The builder's entry point sits here, on top, so that the breaker below never
// names the builder.
impl CircuitBreaker {
    /// Starts configuring a breaker.
    pub fn builder() -> Builder {
        Builder::default()
    }
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
/// [`count_only`](CircuitBreaker::count_only) stop it.
#[derive(Clone)]
pub struct Builder<C = DefaultClassifier> {
    name: String,
    policy: Draft,
    clock: Option<ClockSource>,
    observers: Vec<ObserverSource>,
    classifier: C,
    initial_state: State,
    reporting: Reporting,
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
            .field("consecutive_failures", &self.policy.consecutive_failures)
            .field("failure_rate", &self.policy.failure_rate)
            .field("slow", &self.policy.slow)
            .field("window", &self.policy.window)
            .field("minimum_calls", &self.policy.minimum_calls)
            .field("backoff", &self.policy.backoff)
            .field("half_open_permits", &self.policy.half_open_permits)
            .field("half_open_timeout", &self.policy.half_open_timeout)
            .field("honor_retry_after", &self.policy.honor_retry_after)
            .field("max_retry_after", &self.policy.max_retry_after)
            .field(
                "half_open_failure_rate",
                &self.policy.half_open_failure_rate,
            )
            .field("break_duration", &self.policy.break_duration)
            .field("forget_failures_after", &self.policy.forget_failures_after)
            .field("clock", &self.clock)
            .field("observers", &self.observers.len())
            .field("classifier", &self.classifier)
            .field("initial_state", &self.initial_state)
            .field("reporting", &self.reporting)
            .finish()
    }
}

impl Default for Builder<DefaultClassifier> {
    fn default() -> Self {
        Builder {
            name: "default".to_owned(),
            policy: Draft::default(),
            clock: None,
            observers: Vec::new(),
            classifier: DefaultClassifier,
            initial_state: State::Closed,
            reporting: Reporting::default(),
        }
    }
}

impl<C> Builder<C> {
    /// Fixes the clock (the system clock if none was set), so that the breakers built
    /// from clones of this builder read one clock, with one origin; returns it.
    #[cfg(feature = "tower")]
    pub(crate) fn fixed_clock(&mut self) -> ClockSource {
        self.clock
            .get_or_insert_with(|| ClockSource::System(SystemClock::new()))
            .clone()
    }

    /// Now on the clock this builder's breakers read (fixed by `fixed_clock`).
    #[cfg(feature = "tower")]
    pub(crate) fn clock_now(&self) -> u64 {
        match &self.clock {
            Some(clock) => clock.now(),
            None => ClockSource::System(SystemClock::new()).now(),
        }
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

    /// Trips on the `n`-th failure in a row (1 to [`MAX_CONSECUTIVE_FAILURES`](crate::MAX_CONSECUTIVE_FAILURES)). A
    /// success resets the count; an ignored outcome leaves it alone. The default, 5,
    /// applies unless this or [`failure_rate`](Self::failure_rate) is set.
    pub fn consecutive_failures(mut self, n: u32) -> Self {
        self.policy.consecutive_failures = Some(n);
        self
    }

    /// Trips when failures / (successes + failures) over the window reaches `rate`,
    /// in (0, 1], once the window holds `minimum_calls` outcomes. Replaces the default
    /// trip on 5 consecutive failures (set
    /// [`consecutive_failures`](Self::consecutive_failures) too to keep one).
    pub fn failure_rate(mut self, rate: f64) -> Self {
        self.policy.failure_rate = Some(rate);
        self
    }

    /// Calls that take at least `threshold` (on the breaker's clock) are slow, whatever
    /// their outcome; trips when slow / calls over the window reaches `rate`. A slow
    /// half-open probe reopens the breaker. Adds to the failure conditions: alone, it
    /// keeps the default trip on 5 consecutive failures.
    pub fn slow_calls(mut self, threshold: Duration, rate: f64) -> Self {
        self.policy.slow = Some((threshold, rate));
        self
    }

    /// The window for the failure and slow-call rates. Defaults to `Window::count(100)`.
    /// A window alone sets no trip condition: its counts show in
    /// [`snapshot`](CircuitBreaker::snapshot), and the default trip on 5 consecutive
    /// failures applies.
    pub fn window(mut self, window: Window) -> Self {
        self.policy.window = Some(window);
        self
    }

    /// Rates are judged once the window holds at least `n` outcomes (successes and
    /// failures; ignored calls do not count). From 1 to [`MAX_MINIMUM_CALLS`](crate::MAX_MINIMUM_CALLS), and at
    /// most the size of a count window.
    pub fn minimum_calls(mut self, n: u64) -> Self {
        self.policy.minimum_calls = Some(n);
        self
    }

    /// Stays open for `wait` after each opening. Same as
    /// `backoff(Backoff::constant(wait))`.
    pub fn open_for(mut self, wait: Duration) -> Self {
        self.policy.backoff = Backoff::constant(wait);
        self
    }

    /// How long to stay open after each opening, by reopening count.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.policy.backoff = backoff;
        self
    }

    /// How many probes half-open admits at once (at most 1023), and how many must
    /// succeed to close (unless [`half_open_failure_rate`](Self::half_open_failure_rate)
    /// judges them by their failure rate). Defaults to 1.
    pub fn half_open_permits(mut self, n: u32) -> Self {
        self.policy.half_open_permits = n;
        self
    }

    /// Reopens a half-open breaker whose probes have not all reported after `timeout`
    /// (checked lazily at the next call or query). Off by default: a probe that is
    /// still running holds its slot; a dropped one gives it back at once.
    pub fn half_open_timeout(mut self, timeout: Duration) -> Self {
        self.policy.half_open_timeout = Some(timeout);
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
        self.policy.honor_retry_after = honor;
        self
    }

    /// The longest "retry after" that [`honor_retry_after`](Self::honor_retry_after)
    /// obeys: a longer one holds the breaker open this long, so a dependency answering
    /// `Retry-After: 99999999999` cannot keep it open for centuries. Defaults to
    /// [`DEFAULT_MAX_RETRY_AFTER`](crate::DEFAULT_MAX_RETRY_AFTER) (one hour); at most [`MAX_DURATION`](crate::MAX_DURATION).
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.policy.max_retry_after = max;
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
    pub fn with_classifier<C2>(self, classifier: C2) -> Builder<C2> {
        Builder {
            name: self.name,
            policy: self.policy,
            clock: self.clock,
            observers: self.observers,
            classifier,
            initial_state: self.initial_state,
            reporting: self.reporting,
        }
    }

    /// The breaker's default classifier is the function `classify`, under a type a
    /// struct field can name: `CircuitBreaker<FnClassifier<T, E>>`. See
    /// [`FnClassifier`](crate::FnClassifier).
    pub fn with_fn_classifier<T, E>(
        self,
        classify: fn(&Result<T, E>) -> Outcome,
    ) -> Builder<FnClassifier<T, E>> {
        self.with_classifier(FnClassifier::new(classify))
    }

    /// The breaker's default classifier is `classifier` (any
    /// [`Classify<T, E>`](crate::Classify), a capturing closure included), behind one
    /// shared pointer, under a type a struct field can name:
    /// `CircuitBreaker<DynClassifier<T, E>>`. Allocates once, here; calls never do. See
    /// [`DynClassifier`](crate::DynClassifier).
    pub fn with_dyn_classifier<T, E>(
        self,
        classifier: impl Classify<T, E> + Send + Sync + 'static,
    ) -> Builder<DynClassifier<T, E>> {
        self.with_classifier(DynClassifier::new(classifier))
    }

    /// Checks every value and builds the breaker.
    pub fn build(self) -> Result<CircuitBreaker<C>, ConfigError> {
        if self.name.is_empty() {
            return Err(ConfigError::new("name", &self.name, "must not be empty"));
        }
        let settings = self.settings()?;
        peers::check_initial_state(self.initial_state)?;
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
            _ => Some(Arc::new(Fanout(observers)) as Arc<dyn Observer>),
        };
        Ok(CircuitBreaker::from_settings(
            self.name,
            settings,
            clock,
            observer,
            self.reporting,
            self.classifier,
            self.initial_state,
        ))
    }

    /// The checked settings this builder describes.
    pub(crate) fn settings(&self) -> Result<Settings, ConfigError> {
        self.policy.validate()
    }
}
