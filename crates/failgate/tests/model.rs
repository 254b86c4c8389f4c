//! Model-based property test: the real breaker, driven by random configurations and
//! random sequences of operations on a `ManualClock`, against a small single-threaded
//! reference model written from the crate docs.
//!
//! The model is deliberately naive: a `VecDeque` for the count window, a list of
//! `(period, failure, slow)` entries for the time window, plain integers for the state,
//! generation, backoff step and half-open slots, and every judgement made after every
//! counted outcome. After every operation the two must agree on the stored state
//! (read without triggering lazy transitions), admission, `retry_after`, the permit's
//! kind and generation and, when the operation asks for it, on `state()` and every
//! field of `snapshot()`. When the breaker has an observer (half the cases; the other
//! half runs the observer-free fast paths), the events must agree too, in order.

use failgate::{
    Backoff, CircuitBreaker, Error, Event, EventKind, ManualClock, Outcome, OwnedPermit, Reason,
    Snapshot, State, Window,
};
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestCaseError};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const MS: u64 = 1_000_000;

// ---- configurations -------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum WindowCfg {
    Count(u32),
    /// Span in nanoseconds (not always a multiple of the bucket count).
    Time {
        span: u64,
        buckets: u32,
    },
}

#[derive(Debug, Clone, Copy)]
enum BackoffCfg {
    Constant(u64),
    Exponential { base: u64, max: u64 },
}

#[derive(Debug, Clone)]
struct Cfg {
    consecutive: Option<u32>,
    failure_rate: Option<f64>,
    /// (threshold in nanoseconds, rate)
    slow: Option<(u64, f64)>,
    window: Option<WindowCfg>,
    minimum_calls: Option<u64>,
    backoff: BackoffCfg,
    permits: u32,
    half_open_timeout: Option<u64>,
    observer: bool,
    /// `honor_retry_after`: `None` off, `Some(None)` with the default cap,
    /// `Some(Some(cap))` with `max_retry_after(cap)` (nanoseconds).
    retry_after: Option<Option<u64>>,
    /// Where the clock stands when the breaker is built (nanoseconds).
    start: u64,
}

fn rate() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.2),
        Just(0.25),
        Just(1.0 / 3.0),
        Just(0.5),
        Just(0.6),
        Just(2.0 / 3.0),
        Just(1.0),
        (1u32..=100).prop_map(|p| f64::from(p) / 100.0),
    ]
}

fn window_cfg() -> impl Strategy<Value = WindowCfg> {
    prop_oneof![
        3 => (1u32..=8).prop_map(WindowCfg::Count),
        1 => Just(WindowCfg::Count(65)), // spans two bitmap words
        3 => (1u32..=5, 1u64..=20, 0u64..MS).prop_map(|(buckets, bucket_ms, extra)| {
            WindowCfg::Time {
                span: u64::from(buckets) * bucket_ms * MS + extra,
                buckets,
            }
        }),
    ]
}

fn backoff_cfg() -> impl Strategy<Value = BackoffCfg> {
    prop_oneof![
        (1u64..=40).prop_map(|w| BackoffCfg::Constant(w * MS)),
        (1u64..=10, 0u32..=4, 0u64..3).prop_map(|(base, doublings, extra)| {
            BackoffCfg::Exponential {
                base: base * MS,
                max: (base << doublings) * MS + extra,
            }
        }),
    ]
}

fn cfg() -> impl Strategy<Value = Cfg> {
    (
        proptest::option::of(1u32..=4),
        proptest::option::of(rate()),
        proptest::option::of((1u64..=20, rate())),
        proptest::option::weighted(0.8, window_cfg()),
        proptest::option::of(1u64..=6),
        backoff_cfg(),
        1u32..=4,
        proptest::option::of(1u64..=40),
        (
            any::<bool>(),
            proptest::option::of(proptest::option::of(1u64..=60)),
        ),
        (0u8..4, 0u64..5_000 * MS),
    )
        .prop_map(
            |(
                consecutive,
                failure_rate,
                slow,
                window,
                minimum_calls,
                backoff,
                permits,
                timeout,
                (observer, retry_after),
                (start_kind, offset),
            )| {
                let start = match (start_kind, window) {
                    (0, _) => 0,
                    // A few buckets before a time window's period tags wrap (they are
                    // 28 bits wide), so that the sequence crosses the wrap.
                    (1, Some(WindowCfg::Time { span, buckets })) => {
                        let bucket_len = span / u64::from(buckets);
                        ((1 << 28) - 3) * bucket_len + offset % (3 * bucket_len)
                    }
                    // Far from zero: about two weeks of uptime.
                    (2, _) => (1 << 50) + offset,
                    _ => offset,
                };
                // A count window must hold the minimum: keep it valid.
                let minimum_calls = match (minimum_calls, window) {
                    (Some(m), Some(WindowCfg::Count(n))) => Some(m.min(u64::from(n))),
                    (m, _) => m,
                };
                Cfg {
                    consecutive,
                    failure_rate,
                    slow: slow.map(|(ms, r)| (ms * MS, r)),
                    window,
                    minimum_calls,
                    backoff,
                    permits,
                    half_open_timeout: timeout.map(|ms| ms * MS),
                    observer,
                    retry_after: retry_after.map(|cap| cap.map(|ms| ms * MS)),
                    start,
                }
            },
        )
}

type Log = Arc<Mutex<Vec<EventKind>>>;

fn build(cfg: &Cfg, clock: &ManualClock) -> (CircuitBreaker, Log) {
    let mut b = CircuitBreaker::builder().clock(clock.clone());
    if let Some(n) = cfg.consecutive {
        b = b.consecutive_failures(n);
    }
    if let Some(r) = cfg.failure_rate {
        b = b.failure_rate(r);
    }
    if let Some((threshold, r)) = cfg.slow {
        b = b.slow_calls(Duration::from_nanos(threshold), r);
    }
    match cfg.window {
        Some(WindowCfg::Count(n)) => b = b.window(Window::count(n)),
        Some(WindowCfg::Time { span, buckets }) => {
            b = b.window(Window::time(Duration::from_nanos(span)).buckets(buckets))
        }
        None => {}
    }
    if let Some(m) = cfg.minimum_calls {
        b = b.minimum_calls(m);
    }
    b = match cfg.backoff {
        BackoffCfg::Constant(w) => b.open_for(Duration::from_nanos(w)),
        BackoffCfg::Exponential { base, max } => b.backoff(Backoff::exponential(
            Duration::from_nanos(base),
            Duration::from_nanos(max),
        )),
    };
    b = b.half_open_permits(cfg.permits);
    if let Some(t) = cfg.half_open_timeout {
        b = b.half_open_timeout(Duration::from_nanos(t));
    }
    if let Some(cap) = cfg.retry_after {
        b = b.honor_retry_after(true);
        if let Some(cap) = cap {
            b = b.max_retry_after(Duration::from_nanos(cap));
        }
    }
    let log: Log = Arc::default();
    if cfg.observer {
        let sink = log.clone();
        b = b.observer(move |e: &Event<'_>| sink.lock().unwrap().push(e.kind));
    }
    (b.build().expect("generated configs are valid"), log)
}

// ---- the reference model ---------------------------------------------------------------

/// The window, kept the obvious way.
#[derive(Debug)]
enum ModelWindow {
    /// The last `size` outcomes as (failure, slow).
    Count {
        size: usize,
        ring: VecDeque<(bool, bool)>,
    },
    /// Every counted outcome as (period, failure, slow); a period counts while
    /// `current - period < buckets`.
    Time {
        bucket_len: u64,
        buckets: u64,
        entries: Vec<(u64, bool, bool)>,
    },
}

impl ModelWindow {
    fn push(&mut self, now: u64, failure: bool, slow: bool) {
        match self {
            ModelWindow::Count { size, ring } => {
                ring.push_back((failure, slow));
                if ring.len() > *size {
                    ring.pop_front();
                }
            }
            ModelWindow::Time {
                bucket_len,
                entries,
                ..
            } => entries.push((now / *bucket_len, failure, slow)),
        }
    }

    /// (calls, failures, slow) at `now`.
    fn counts(&self, now: u64) -> (u64, u64, u64) {
        let live: Vec<(bool, bool)> = match self {
            ModelWindow::Count { ring, .. } => ring.iter().copied().collect(),
            ModelWindow::Time {
                bucket_len,
                buckets,
                entries,
            } => {
                let current = now / *bucket_len;
                entries
                    .iter()
                    .filter(|(period, _, _)| current - period < *buckets)
                    .map(|&(_, f, s)| (f, s))
                    .collect()
            }
        };
        let calls = live.len() as u64;
        let failures = live.iter().filter(|(f, _)| *f).count() as u64;
        let slow = live.iter().filter(|(_, s)| *s).count() as u64;
        (calls, failures, slow)
    }

    fn clear(&mut self) {
        match self {
            ModelWindow::Count { ring, .. } => ring.clear(),
            ModelWindow::Time { entries, .. } => entries.clear(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counted,
    Probe,
    Untracked,
}

#[derive(Debug, Clone, Copy)]
struct ModelPermit {
    generation: u64,
    kind: Kind,
    started: u64,
}

#[derive(Debug)]
struct Model {
    // settings, as the docs say they default
    consecutive: Option<u32>,
    failure_rate: Option<f64>,
    slow: Option<(u64, f64)>,
    minimum: u64,
    backoff: BackoffCfg,
    permits: u32,
    timeout: Option<u64>,
    /// The longest `Retry-After` obeyed, if they are.
    retry_cap: Option<u64>,
    // state
    now: u64,
    state: State,
    generation: u64,
    entered: u64,
    step: u32,
    taken: u32,
    successes: u32,
    failures_in_a_row: u32,
    /// Until when the dependency asked not to be called (0: no request).
    hint_until: u64,
    window: Option<ModelWindow>,
    events: Vec<EventKind>,
}

impl Model {
    fn new(cfg: &Cfg) -> Self {
        let wants_window = cfg.failure_rate.is_some() || cfg.slow.is_some() || cfg.window.is_some();
        let window_cfg = wants_window.then(|| cfg.window.unwrap_or(WindowCfg::Count(100)));
        let minimum = match (cfg.minimum_calls, window_cfg) {
            (Some(m), _) => m,
            (None, Some(WindowCfg::Count(n))) => 10.min(u64::from(n)),
            (None, _) => 10,
        };
        // "Unless a failure condition is set (consecutive_failures or failure_rate),
        // the breaker trips on 5 consecutive failures, whatever else is set."
        let consecutive = match (cfg.consecutive, cfg.failure_rate) {
            (None, None) => Some(5),
            (n, _) => n,
        };
        let window = window_cfg.map(|w| match w {
            WindowCfg::Count(n) => ModelWindow::Count {
                size: n as usize,
                ring: VecDeque::new(),
            },
            WindowCfg::Time { span, buckets } => ModelWindow::Time {
                bucket_len: span / u64::from(buckets),
                buckets: u64::from(buckets),
                entries: Vec::new(),
            },
        });
        Model {
            consecutive,
            failure_rate: cfg.failure_rate,
            slow: cfg.slow,
            minimum,
            backoff: cfg.backoff,
            permits: cfg.permits,
            timeout: cfg.half_open_timeout,
            // "never longer than max_retry_after (one hour by default)"
            retry_cap: cfg.retry_after.map(|cap| cap.unwrap_or(3_600_000 * MS)),
            hint_until: 0,
            now: cfg.start,
            state: State::Closed,
            generation: 0,
            entered: cfg.start,
            step: 0,
            taken: 0,
            successes: 0,
            failures_in_a_row: 0,
            window,
            events: Vec::new(),
        }
    }

    /// The open wait at backoff step `step`: constant, or base doubled `step` times and
    /// capped at max.
    fn wait(&self, step: u32) -> u64 {
        match self.backoff {
            BackoffCfg::Constant(w) => w,
            BackoffCfg::Exponential { base, max } => {
                let mut w = base.min(max);
                for _ in 0..step {
                    w = w.saturating_mul(2).min(max);
                }
                w
            }
        }
    }

    /// The end of the open wait: the backoff's, or a longer `Retry-After` that holds.
    fn deadline(&self) -> u64 {
        (self.entered + self.wait(self.step)).max(self.hint_until)
    }

    /// The dependency answered "retry after `d`": obeyed (capped) if configured, from
    /// now, whatever the answer's outcome or generation.
    fn hint(&mut self, d: Duration) {
        if let Some(cap) = self.retry_cap {
            let d = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).min(cap);
            self.hint_until = self.hint_until.max(self.now + d);
        }
    }

    fn emit(&mut self, kind: EventKind) {
        self.events.push(kind);
    }

    fn transition(&mut self, to: State, reason: Reason) {
        let from = self.state;
        self.step = match (from, to) {
            (State::HalfOpen, State::Open) => (self.step + 1).min(63),
            (_, State::Open) | (_, State::HalfOpen) => self.step,
            _ => 0,
        };
        self.state = to;
        self.generation += 1;
        self.entered = self.now;
        self.taken = 0;
        self.successes = 0;
        self.failures_in_a_row = 0;
        if matches!(to, State::Closed | State::CountOnly) {
            if let Some(w) = &mut self.window {
                w.clear();
            }
        }
        if to == State::Closed {
            self.hint_until = 0; // "closing (or reset) forgets it"
        }
        // The wait applied, the same a refusal right after reports.
        let wait = (to == State::Open).then(|| Duration::from_nanos(self.deadline() - self.now));
        self.emit(EventKind::StateChange {
            from,
            to,
            reason,
            generation: self.generation,
            wait,
        });
    }

    /// The transitions that are due now (lazily made at calls and queries).
    fn refresh(&mut self) {
        loop {
            match self.state {
                State::Open if self.now >= self.deadline() => {
                    self.transition(State::HalfOpen, Reason::WaitElapsed)
                }
                State::HalfOpen if self.timeout.is_some_and(|t| self.now >= self.entered + t) => {
                    self.transition(State::Open, Reason::HalfOpenTimeout)
                }
                _ => return,
            }
        }
    }

    fn acquire(&mut self) -> Result<ModelPermit, (State, Option<Duration>)> {
        self.refresh();
        let kind = match self.state {
            State::Closed | State::CountOnly => Kind::Counted,
            State::Disabled => Kind::Untracked,
            State::HalfOpen if self.taken < self.permits => {
                self.taken += 1;
                Kind::Probe
            }
            state => {
                let retry_after = (state == State::Open)
                    .then(|| Duration::from_nanos(self.deadline() - self.now));
                self.emit(EventKind::Rejected { state, retry_after });
                return Err((state, retry_after));
            }
        };
        Ok(ModelPermit {
            generation: self.generation,
            kind,
            started: self.now,
        })
    }

    fn record(&mut self, p: ModelPermit, outcome: Outcome) {
        let duration = (self.slow.is_some() && p.kind != Kind::Untracked)
            .then(|| Duration::from_nanos(self.now - p.started));
        let slow = match (self.slow, duration) {
            (Some((threshold, _)), Some(d)) => {
                d >= Duration::from_nanos(threshold) && outcome != Outcome::Ignore
            }
            _ => false,
        };
        let counted = match p.kind {
            Kind::Counted => self.count(p.generation, outcome, slow),
            Kind::Probe => self.probe(p.generation, outcome, slow),
            Kind::Untracked => false,
        };
        if slow {
            self.emit(EventKind::Slow {
                duration: duration.unwrap(),
                outcome,
            });
        }
        self.emit(match outcome {
            Outcome::Success => EventKind::Success { duration, counted },
            Outcome::Failure => EventKind::Failure { duration, counted },
            Outcome::Ignore => EventKind::Ignored,
        });
    }

    /// A closed or count-only outcome. Returns whether it counted (false if stale).
    fn count(&mut self, generation: u64, outcome: Outcome, slow: bool) -> bool {
        if outcome == Outcome::Ignore {
            return true; // counts nothing, and is not stale either
        }
        if generation != self.generation {
            return false;
        }
        let failure = outcome == Outcome::Failure;
        // Every condition counts the outcome first; then the first condition met (in
        // the order consecutive failures, failure rate, slow-call rate) trips it.
        // Failures in a row are counted where they can trip the breaker.
        if self.consecutive.is_some() {
            if failure {
                self.failures_in_a_row += 1;
            } else {
                self.failures_in_a_row = 0;
            }
        }
        let now = self.now;
        let counts = self.window.as_mut().map(|window| {
            window.push(now, failure, slow);
            window.counts(now)
        });
        if self.state != State::Closed {
            return true; // count-only counts, and never trips
        }
        if let Some(threshold) = self.consecutive {
            let count = self.failures_in_a_row;
            if failure && count >= threshold {
                self.transition(
                    State::Open,
                    Reason::ConsecutiveFailures { count, threshold },
                );
                return true;
            }
        }
        let Some((calls, failures, slow_calls)) = counts else {
            return true;
        };
        if calls < self.minimum || calls == 0 {
            return true;
        }
        if let Some(threshold) = self.failure_rate {
            let rate = failures as f64 / calls as f64;
            if rate >= threshold {
                self.transition(
                    State::Open,
                    Reason::FailureRate {
                        rate,
                        threshold,
                        failures,
                        calls,
                    },
                );
                return true;
            }
        }
        if let Some((_, threshold)) = self.slow {
            let rate = slow_calls as f64 / calls as f64;
            if rate >= threshold {
                self.transition(
                    State::Open,
                    Reason::SlowCallRate {
                        rate,
                        threshold,
                        slow: slow_calls,
                        calls,
                    },
                );
            }
        }
        true
    }

    /// A half-open probe's outcome. Returns whether it counted (false if stale).
    fn probe(&mut self, generation: u64, outcome: Outcome, slow: bool) -> bool {
        if self.state != State::HalfOpen || generation != self.generation {
            return false;
        }
        match outcome {
            Outcome::Ignore => self.release(),
            Outcome::Failure => {
                self.transition(State::Open, Reason::ProbeFailed);
                true
            }
            Outcome::Success if slow => {
                self.transition(State::Open, Reason::ProbeSlow);
                true
            }
            Outcome::Success => {
                self.successes += 1;
                if self.successes >= self.permits {
                    let probes = self.successes;
                    self.transition(State::Closed, Reason::ProbesSucceeded { probes });
                }
                true
            }
        }
    }

    fn release(&mut self) -> bool {
        if self.taken > self.successes {
            self.taken -= 1;
            true
        } else {
            false
        }
    }

    fn abandon(&mut self, p: ModelPermit) {
        if p.kind == Kind::Probe && self.state == State::HalfOpen && p.generation == self.generation
        {
            self.release();
        }
        self.emit(EventKind::Abandoned);
    }

    fn manual(&mut self, to: State) {
        if self.state != to || to == State::Closed {
            self.transition(to, Reason::Manual);
        }
    }

    fn snapshot(&mut self) -> Expected {
        self.refresh();
        let (calls, failures, slow) = self
            .window
            .as_ref()
            .map_or((0, 0, 0), |w| w.counts(self.now));
        let judged = self.window.is_some() && calls >= self.minimum && calls > 0;
        Expected {
            state: self.state,
            generation: self.generation,
            consecutive_failures: self.failures_in_a_row,
            window: self.window.is_some(),
            calls,
            successes: calls - failures,
            failures,
            slow_calls: slow,
            failure_rate: judged.then(|| failures as f64 / calls as f64),
            slow_call_rate: judged.then(|| slow as f64 / calls as f64),
            half_open_probes: self.taken,
            half_open_successes: self.successes,
            retry_after: (self.state == State::Open)
                .then(|| Duration::from_nanos(self.deadline() - self.now)),
            time_in_state: Duration::from_nanos(self.now - self.entered),
        }
    }
}

/// Every field of `Snapshot` but the name, in a type the test can build.
#[derive(Debug, Clone, PartialEq)]
struct Expected {
    state: State,
    generation: u64,
    consecutive_failures: u32,
    window: bool,
    calls: u64,
    successes: u64,
    failures: u64,
    slow_calls: u64,
    failure_rate: Option<f64>,
    slow_call_rate: Option<f64>,
    half_open_probes: u32,
    half_open_successes: u32,
    retry_after: Option<Duration>,
    time_in_state: Duration,
}

impl From<Snapshot> for Expected {
    fn from(m: Snapshot) -> Self {
        Expected {
            state: m.state,
            generation: m.generation,
            consecutive_failures: m.consecutive_failures,
            window: m.window,
            calls: m.calls,
            successes: m.successes,
            failures: m.failures,
            slow_calls: m.slow_calls,
            failure_rate: m.failure_rate,
            slow_call_rate: m.slow_call_rate,
            half_open_probes: m.half_open_probes,
            half_open_successes: m.half_open_successes,
            retry_after: m.retry_after,
            time_in_state: m.time_in_state,
        }
    }
}

// ---- operations ------------------------------------------------------------------------

/// A duration relative to the configuration, so that boundaries are hit exactly.
#[derive(Debug, Clone, Copy)]
enum Base {
    SlowThreshold,
    OpenWait,
    Bucket,
    HalfOpenTimeout,
}

#[derive(Debug, Clone, Copy)]
enum Dur {
    Zero,
    Ms(u64),
    /// `base * mult + delta` nanoseconds.
    Rel {
        base: Base,
        mult: u64,
        delta: i8,
    },
    /// Up to the model's next due transition (the end of the open wait, or the
    /// half-open timeout), plus `delta` nanoseconds; 5 ms when none is pending.
    UntilDue(i8),
}

impl Dur {
    fn nanos(self, m: &Model, cfg: &Cfg) -> u64 {
        match self {
            Dur::Zero => 0,
            Dur::Ms(ms) => ms * MS,
            Dur::Rel { base, mult, delta } => {
                let base = match base {
                    Base::SlowThreshold => cfg.slow.map_or(5 * MS, |(t, _)| t),
                    Base::OpenWait => m.wait(0),
                    Base::Bucket => match cfg.window {
                        Some(WindowCfg::Time { span, buckets }) => span / u64::from(buckets),
                        _ => 3 * MS,
                    },
                    Base::HalfOpenTimeout => cfg.half_open_timeout.unwrap_or(7 * MS),
                };
                (base * mult).saturating_add_signed(i64::from(delta))
            }
            Dur::UntilDue(delta) => {
                let due = match (m.state, m.timeout) {
                    (State::Open, _) => m.deadline(),
                    (State::HalfOpen, Some(t)) => m.entered + t,
                    _ => m.now + 5 * MS,
                };
                due.saturating_sub(m.now)
                    .saturating_add_signed(i64::from(delta))
            }
        }
    }
}

/// A "retry after" a dependency sends.
#[derive(Debug, Clone, Copy)]
enum Hint {
    Dur(Dur),
    /// `Retry-After: 99999999999` and beyond.
    Huge,
}

impl Hint {
    fn duration(self, m: &Model, cfg: &Cfg) -> Duration {
        match self {
            Hint::Dur(d) => Duration::from_nanos(d.nanos(m, cfg)),
            Hint::Huge => Duration::MAX,
        }
    }
}

fn hint() -> impl Strategy<Value = Hint> {
    prop_oneof![
        4 => advance().prop_map(Hint::Dur),
        1 => Just(Hint::Huge),
    ]
}

#[derive(Debug, Clone, Copy)]
enum Op {
    /// `call_with` whose operation moves the clock by the duration, with this outcome.
    Call(Outcome, Dur),
    /// `try_acquire_owned`, held across later operations.
    Acquire,
    /// Records (or, with `None`, drops) a held permit, chosen by index.
    Finish(usize, Option<Outcome>),
    /// Records a held permit with the dependency's "retry after".
    FinishHinted(usize, Outcome, Hint),
    Advance(Dur),
    ForceOpen,
    Disable,
    CountOnly,
    Reset,
}

/// Outcomes, with failures weighed by `failing` (3: a mostly healthy dependency, 6: a
/// flaky one).
fn outcome(failing: u32) -> impl Strategy<Value = Outcome> {
    prop_oneof![
        5 => Just(Outcome::Success),
        failing => Just(Outcome::Failure),
        1 => Just(Outcome::Ignore),
    ]
}

fn base() -> impl Strategy<Value = Base> {
    prop_oneof![
        Just(Base::SlowThreshold),
        Just(Base::OpenWait),
        Just(Base::Bucket),
        Just(Base::HalfOpenTimeout),
    ]
}

fn advance() -> impl Strategy<Value = Dur> {
    prop_oneof![
        1 => (0u64..=30).prop_map(Dur::Ms),
        4 => (base(), 0u64..=4, -1i8..=1).prop_map(|(base, mult, delta)| Dur::Rel { base, mult, delta }),
        // exactly to the next due transition: the boundaries that matter
        2 => (-1i8..=1).prop_map(Dur::UntilDue),
    ]
}

fn call_duration() -> impl Strategy<Value = Dur> {
    prop_oneof![
        6 => Just(Dur::Zero),
        3 => (1u64..=2, -1i8..=1).prop_map(|(mult, delta)| Dur::Rel {
            base: Base::SlowThreshold,
            mult,
            delta
        }),
        1 => (0u64..=10).prop_map(Dur::Ms),
    ]
}

/// Operations. `manual` weighs the operator's actions (0: none, so that the sequence
/// keeps cycling through open and half-open; 1: rare; 4: frequent).
fn op(manual: u32, failing: u32) -> BoxedStrategy<Op> {
    let calls = prop_oneof![
        40 => (outcome(failing), call_duration()).prop_map(|(o, d)| Op::Call(o, d)),
        12 => Just(Op::Acquire),
        15 => (any::<usize>(), proptest::option::weighted(0.8, outcome(failing)))
            .prop_map(|(i, o)| Op::Finish(i, o)),
        5 => (any::<usize>(), outcome(failing), hint())
            .prop_map(|(i, o, h)| Op::FinishHinted(i, o, h)),
        20 => advance().prop_map(Op::Advance),
    ];
    if manual == 0 {
        return calls.boxed();
    }
    prop_oneof![
        87 => calls,
        manual => Just(Op::ForceOpen),
        manual => Just(Op::Disable),
        manual => Just(Op::CountOnly),
        2 * manual => Just(Op::Reset),
    ]
    .boxed()
}

/// Each operation, and whether to query `state()` and `snapshot()` after it (queries
/// make due transitions, so they are not made after every step).
fn ops() -> impl Strategy<Value = Vec<(Op, bool)>> {
    (
        prop_oneof![Just(0u32), Just(1), Just(4)],
        prop_oneof![Just(3u32), Just(6)],
    )
        .prop_flat_map(|(manual, failing)| {
            proptest::collection::vec((op(manual, failing), proptest::bool::weighted(0.7)), 1..=40)
        })
}

// ---- the runner ------------------------------------------------------------------------

/// The state as stored, without making any due transition (from `Debug`, which does
/// not refresh).
fn stored_state(b: &CircuitBreaker) -> String {
    let debug = format!("{b:?}");
    let start = debug.find("state: ").expect("Debug shows the state") + "state: ".len();
    debug[start..]
        .split([',', ' ', '}'])
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn run(cfg: &Cfg, ops: &[(Op, bool)]) -> Result<(), TestCaseError> {
    let clock = ManualClock::new();
    clock.set(Duration::from_nanos(cfg.start));
    let (breaker, log) = build(cfg, &clock);
    let mut model = Model::new(cfg);
    let mut held: Vec<(OwnedPermit, ModelPermit)> = Vec::new();

    for (i, &(op, query)) in ops.iter().enumerate() {
        match op {
            Op::Call(outcome, d) => {
                let d = d.nanos(&model, cfg);
                let real = breaker.call_with(
                    |_: &Result<(), ()>| outcome,
                    || {
                        clock.advance(Duration::from_nanos(d));
                        Ok(())
                    },
                );
                let expected = match model.acquire() {
                    Ok(p) => {
                        model.now += d;
                        model.record(p, outcome);
                        Ok(())
                    }
                    Err(r) => Err(r),
                };
                match (&real, &expected) {
                    (Ok(()), Ok(())) => {}
                    (Err(Error::Rejected(r)), Err((state, retry_after))) => {
                        prop_assert_eq!(r.state(), *state, "step {}: rejecting state", i);
                        prop_assert_eq!(r.retry_after(), *retry_after, "step {}: retry_after", i);
                    }
                    _ => prop_assert!(
                        false,
                        "step {}: {:?}: breaker {:?}, model {:?}",
                        i,
                        op,
                        real,
                        expected
                    ),
                }
            }
            Op::Acquire => {
                let real = breaker.try_acquire_owned();
                match (real, model.acquire()) {
                    (Ok(p), Ok(m)) => {
                        prop_assert_eq!(p.is_probe(), m.kind == Kind::Probe, "step {}: probe", i);
                        prop_assert_eq!(p.generation(), m.generation, "step {}: generation", i);
                        held.push((p, m));
                    }
                    (Err(r), Err((state, retry_after))) => {
                        prop_assert_eq!(r.state(), state, "step {}: rejecting state", i);
                        prop_assert_eq!(r.retry_after(), retry_after, "step {}: retry_after", i);
                    }
                    (real, expected) => prop_assert!(
                        false,
                        "step {}: acquire: breaker {:?}, model {:?}",
                        i,
                        real,
                        expected
                    ),
                }
            }
            Op::Finish(index, outcome) => {
                if !held.is_empty() {
                    let (p, m) = held.remove(index % held.len());
                    match outcome {
                        Some(o) => {
                            p.record(o);
                            model.record(m, o);
                        }
                        None => {
                            drop(p);
                            model.abandon(m);
                        }
                    }
                }
            }
            Op::FinishHinted(index, outcome, hint) => {
                if !held.is_empty() {
                    let (p, m) = held.remove(index % held.len());
                    let d = hint.duration(&model, cfg);
                    p.record_with_retry_after(outcome, Some(d));
                    model.hint(d);
                    model.record(m, outcome);
                }
            }
            Op::Advance(d) => {
                let d = d.nanos(&model, cfg);
                clock.advance(Duration::from_nanos(d));
                model.now += d;
            }
            Op::ForceOpen => {
                breaker.force_open();
                model.manual(State::ForcedOpen);
            }
            Op::Disable => {
                breaker.disable();
                model.manual(State::Disabled);
            }
            Op::CountOnly => {
                breaker.count_only();
                model.manual(State::CountOnly);
            }
            Op::Reset => {
                breaker.reset();
                model.manual(State::Closed);
            }
        }
        prop_assert_eq!(
            stored_state(&breaker),
            format!("{:?}", model.state),
            "step {}: stored state after {:?}",
            i,
            op
        );
        if query {
            prop_assert_eq!(breaker.state(), {
                model.refresh();
                model.state
            });
            let real = Expected::from(breaker.snapshot());
            let expected = model.snapshot();
            prop_assert_eq!(real, expected, "step {}: metrics after {:?}", i, op);
        }
        if cfg.observer {
            let real: Vec<EventKind> = std::mem::take(&mut *log.lock().unwrap());
            let expected = std::mem::take(&mut model.events);
            prop_assert_eq!(real, expected, "step {}: events of {:?}", i, op);
        } else {
            model.events.clear();
        }
    }
    // Whatever happened, a final snapshot agrees.
    prop_assert_eq!(Expected::from(breaker.snapshot()), model.snapshot());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 10_000,
        // Integration tests have no lib.rs beside them, so say where the file goes
        // (cargo runs tests from the package root).
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/model.txt"
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn breaker_matches_the_reference_model(cfg in cfg(), ops in ops()) {
        run(&cfg, &ops)?;
    }
}

// ---- bugs the model found ----------------------------------------------------------------

/// BUG, fixed in c9469e4 (found by the model above with a clock started far from zero;
/// these reproducers keep it fixed). A time window tagged each bucket counter with its
/// period modulo 2^28 and treated a counter whose tag was up to 2^27 periods *ahead* of
/// the caller's as "newer" (a racing caller moved it on), counting the caller there.
/// Fresh and reset counters carried tag 0, so once the current period was past 2^27
/// (mod 2^28), tag 0 looked newer than every new outcome: outcomes went to period-0
/// counters that `counts()` then treated as expired. The window was blind, and the
/// failure-rate and slow-call policies never tripped, for 2^27 periods out of every
/// 2^28 after each reset, and after any bucket sat idle for 2^27 periods. With 1 ms
/// buckets that was from 37.3 h of clock time on (for 37.3 h); with 100 ms buckets
/// (`Window::time(1 s)`, 10 buckets), from day 155.
#[test]
fn bug_time_window_counts_nothing_once_periods_pass_2_pow_27() {
    let clock = ManualClock::new();
    let breaker = CircuitBreaker::builder()
        .failure_rate(0.5)
        .window(Window::time(Duration::from_secs(1)).buckets(1000)) // 1 ms buckets
        .minimum_calls(2)
        .clock(clock.clone())
        .build()
        .unwrap();
    // 38 hours of uptime: period 136,800,000 > 2^27 = 134,217,728.
    clock.advance(Duration::from_secs(38 * 3600));
    let _ = breaker.call(|| Err::<(), ()>(()));
    assert_eq!(breaker.snapshot().calls, 1, "the failure is in the window");
    let _ = breaker.call(|| Err::<(), ()>(()));
    assert_eq!(
        breaker.state(),
        State::Open,
        "two failures out of two trip it"
    );
}

/// The same bug in steady use: recycling a bucket's call counter does not recycle its
/// failure and slow-call counters (they follow their own tags), so a failure counter
/// untouched for 2^27 periods (tag 0 from the start or the last close, or an old
/// failure) swallowed new failures while the calls were still counted. A breaker with
/// `Window::time(1 s)` that had not failed since day 0 counted the calls but none of
/// the failures after day 155, and never tripped on its failure rate.
#[test]
fn bug_time_window_sees_the_calls_but_not_their_failures() {
    let clock = ManualClock::new();
    let breaker = CircuitBreaker::builder()
        .failure_rate(0.5)
        .window(Window::time(Duration::from_secs(1))) // 10 buckets of 100 ms
        .minimum_calls(2)
        .clock(clock.clone())
        .build()
        .unwrap();
    // Day 150 (period 129,600,000 < 2^27): steady successes use every bucket.
    clock.advance(Duration::from_secs(150 * 86_400));
    for _ in 0..10 {
        breaker.call(|| Ok::<(), ()>(())).unwrap();
        clock.advance(Duration::from_millis(100));
    }
    // Day 160 (period 138,240,000 > 2^27): two failures in a row.
    clock.advance(Duration::from_secs(10 * 86_400));
    let _ = breaker.call(|| Err::<(), ()>(()));
    let _ = breaker.call(|| Err::<(), ()>(()));
    let m = breaker.snapshot();
    assert_eq!((m.calls, m.failures), (2, 2), "both calls, both failures");
    assert_eq!(breaker.state(), State::Open);
}

/// BUG (still open, a narrow residue of the one above, noted in c9469e4's comment on
/// `runs_ahead`): tags are periods modulo 2^28, so a window that sits idle for exactly
/// 2^28 periods (give or take its bucket count) finds its old counters carrying the
/// current period's tags. Outcomes from long ago come back: `snapshot()` shows them,
/// and new outcomes are added to them, so the breaker can trip on failures three days
/// old. With 1 ms buckets, an idle stretch that ends within a window's span of
/// 74.6 h (or any multiple) does it. `TimeWindow::current` caches the last period in
/// full width; comparing it with `now` (everything is expired when they are a span
/// apart) would close the hole.
#[test]
fn bug_time_window_old_outcomes_return_after_2_pow_28_idle_periods() {
    let clock = ManualClock::new();
    let breaker = CircuitBreaker::builder()
        .failure_rate(0.5)
        .window(Window::time(Duration::from_millis(10)).buckets(10)) // 1 ms buckets
        .minimum_calls(4)
        .clock(clock.clone())
        .build()
        .unwrap();
    clock.advance(Duration::from_millis(100));
    let _ = breaker.call(|| Err::<(), ()>(()));
    breaker.call(|| Ok::<(), ()>(())).unwrap();
    breaker.call(|| Ok::<(), ()>(())).unwrap();
    // Idle for 2^28 periods of 1 ms (74.6 hours): all of that has long dropped out.
    clock.advance(Duration::from_millis(1 << 28));
    assert_eq!(breaker.snapshot().calls, 0, "the window is empty");
    let _ = breaker.call(|| Err::<(), ()>(()));
    assert_eq!(
        breaker.state(),
        State::Closed,
        "one failure in a window of one call is below the minimum"
    );
}
