//! The concurrent shell around the decision core: atomics, the call paths, and the
//! publication of transitions.
//!
//! # How a transition is published
//! The state word (see `state_machine/word.rs`) holds the state, its generation and the
//! half-open probe counts; `entered_at` holds when the state began, from which the
//! open deadline is derived. A transition claims the word by setting its `busy` bit
//! with a compare-and-swap (exactly one thread wins), writes `entered_at` and resets
//! the window, then stores the new word. Readers of `entered_at` check the word again
//! afterwards, as with a seqlock. Nobody ever waits on a busy word: calls that meet
//! one are decided as its old state decides them if that state admits everything (the
//! outcome will be stale), and refused otherwise.
//!
//! # Generations
//! Every permit carries the generation it was issued in; an outcome whose generation
//! is no longer current is discarded. The consecutive-failure counter is tagged with
//! its generation too, so a transition resets it without writing to it.

use crate::clock::ClockSource;
use crate::config::Settings;
use crate::event::{Event, EventKind, Observer, Reason};
use crate::loom::{fence, AtomicU64, CachePadded, Ordering};
use crate::metrics::Metrics;
use crate::outcome::{Classify, DefaultClassifier};
use crate::permit::{CoreRef, OwnedPermit, Permit, Ticket, TicketKind};
use crate::state_machine::{
    self, admission_needs_clock, admission_with_hint, consecutive_trip, probe_report, window_trip,
    Admission, ProbeReport, ProbeStep, State, Word, GEN_MASK,
};
use crate::windows::Windows;
use crate::{Builder, Error, Outcome, Rejected};
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Consecutive-failure counter: the generation in the high 34 bits (as in the state
/// word), the count in the low 30.
const CONSECUTIVE_SHIFT: u32 = 30;
const CONSECUTIVE_MASK: u64 = (1 << CONSECUTIVE_SHIFT) - 1;

/// The shared state of one breaker.
pub(crate) struct Core {
    /// Read by every call; written only on transitions and by half-open probes.
    state: CachePadded<AtomicU64>,
    entered_at: AtomicU64,
    /// While open: when probing may start (the backoff's wait after `entered_at`, or a
    /// longer `Retry-After`). Written with `entered_at`, so the open path compares one
    /// number with the clock.
    open_until: AtomicU64,
    /// The time until which the dependency asked not to be called (`Retry-After`), or
    /// 0; only used with `honor_retry_after`.
    retry_hint: AtomicU64,
    consecutive: CachePadded<AtomicU64>,
    window: Option<Windows>,
    pub(crate) settings: Settings,
    clock: ClockSource,
    observer: Option<Arc<dyn Observer>>,
    name: Arc<str>,
    /// No observer and no slow-call timing: a closed-state success emits nothing and
    /// takes the short path in [`Core::record`].
    plain_success: bool,
}

impl fmt::Debug for Core {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Core")
            .field("name", &self.name)
            .field("state", &self.word())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Core {
    pub(crate) fn new(
        name: String,
        settings: Settings,
        clock: ClockSource,
        observer: Option<Arc<dyn Observer>>,
    ) -> Self {
        let now = clock.now();
        let window = settings
            .window
            .map(|kind| Windows::new(kind, settings.slow.is_some(), now));
        let plain_success = observer.is_none() && settings.slow.is_none();
        Core {
            state: CachePadded(AtomicU64::new(Word::INITIAL.0)),
            entered_at: AtomicU64::new(now),
            open_until: AtomicU64::new(0),
            retry_hint: AtomicU64::new(0),
            consecutive: CachePadded(AtomicU64::new(0)),
            window,
            settings,
            clock,
            observer,
            name: Arc::from(name),
            plain_success,
        }
    }

    #[inline]
    fn word(&self) -> Word {
        Word(self.state.load(Ordering::Acquire))
    }

    #[inline]
    fn emit(&self, kind: EventKind) {
        if let Some(observer) = &self.observer {
            observer.on_event(&Event {
                name: &self.name,
                kind,
            });
        }
    }

    #[inline]
    fn measures_calls(&self) -> bool {
        self.settings.slow.is_some()
    }

    /// Until when the dependency asked not to be called, or 0.
    #[inline]
    fn hint_until(&self) -> u64 {
        if self.settings.honor_retry_after {
            self.retry_hint.load(Ordering::Relaxed)
        } else {
            0
        }
    }

    /// Notes that the dependency asked not to be called for `retry_after` from now
    /// (at most `max_retry_after`).
    #[cold]
    #[inline(never)]
    fn note_retry_after(&self, retry_after: Duration) {
        let wait = crate::clock::duration_to_nanos(retry_after).min(self.settings.max_retry_after);
        let until = self.clock.now().saturating_add(wait);
        self.retry_hint.fetch_max(until, Ordering::Relaxed);
        // Only read while open; a trip later takes the hint from `retry_hint`.
        self.open_until.fetch_max(until, Ordering::Relaxed);
    }

    /// When the open state in `w` starts probing, or `None` if the state changed while
    /// we looked.
    #[inline]
    fn open_until(&self, w: Word) -> Option<u64> {
        let until = self.open_until.load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        let again = Word(self.state.load(Ordering::Relaxed));
        (!again.busy() && again.generation() == w.generation()).then_some(until)
    }

    /// When the state in `w` began, or `None` if it changed while we looked.
    fn entered_at(&self, w: Word) -> Option<u64> {
        let entered = self.entered_at.load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        let again = Word(self.state.load(Ordering::Relaxed));
        (!again.busy() && again.generation() == w.generation()).then_some(entered)
    }

    // ---- admission ------------------------------------------------------------------

    #[inline(always)]
    pub(crate) fn acquire(&self) -> Result<Ticket, Rejected> {
        let w = self.word();
        if w.is_closed_and_idle() {
            return Ok(self.ticket(w, TicketKind::Counted));
        }
        self.acquire_slow(w)
    }

    #[inline]
    fn reject(&self, w: Word, retry_after: Option<u64>) -> Rejected {
        let rejected = Rejected::from_nanos(w.state(), retry_after);
        self.emit(EventKind::Rejected {
            state: rejected.state,
            retry_after: rejected.retry_after(),
        });
        rejected
    }

    #[inline]
    fn ticket(&self, w: Word, kind: TicketKind) -> Ticket {
        let started = if self.measures_calls() {
            self.clock.now()
        } else {
            0
        };
        Ticket::new(w.generation(), started, kind)
    }

    #[inline(never)]
    fn acquire_slow(&self, mut w: Word) -> Result<Ticket, Rejected> {
        if w.is_open_and_idle() {
            // The common refusal: one clock read and one comparison.
            if let Some(until) = self.open_until(w) {
                let now = self.clock.now();
                if now < until {
                    return Err(self.reject(w, state_machine::time_left(until, now)));
                }
            }
        }
        // The half-open generation this call opened itself, if any: its probe is handed
        // out even if the half-open timeout is shorter than this loop's turn (otherwise
        // open and half-open could alternate for ever under tiny waits).
        let mut opened_half_open: Option<u64> = None;
        loop {
            let (now, entered) = if !w.busy() && admission_needs_clock(w, &self.settings) {
                match self.entered_at(w) {
                    Some(entered) if opened_half_open == Some(w.generation()) => (entered, entered),
                    Some(entered) => (self.clock.now(), entered),
                    None => {
                        w = self.word();
                        continue;
                    }
                }
            } else {
                (0, 0)
            };
            match admission_with_hint(w, now, entered, self.hint_until(), &self.settings) {
                Admission::Admit => {
                    let kind = match w.state() {
                        State::Disabled => TicketKind::Untracked,
                        _ => TicketKind::Counted,
                    };
                    return Ok(self.ticket(w, kind));
                }
                Admission::Probe(next) => {
                    match self.state.compare_exchange_weak(
                        w.0,
                        next.0,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => return Ok(self.ticket(w, TicketKind::Probe)),
                        Err(actual) => w = Word(actual),
                    }
                }
                Admission::Reject(retry_after) => return Err(self.reject(w, retry_after)),
                Admission::Transition(to, reason) => {
                    let made = self.transition(w, to, reason, Some(now));
                    w = self.word();
                    if made && to == State::HalfOpen {
                        opened_half_open = Some(w.generation());
                    }
                }
            }
        }
    }

    /// Makes any transition that is due at the current time (open wait over, half-open
    /// timed out), so that queries see the state a call would.
    ///
    /// At most one transition per query: with waits shorter than a turn of this loop,
    /// "due" could otherwise never stop being true (open, half-open, timed out, ...).
    fn refresh(&self) -> Word {
        loop {
            let w = self.word();
            if w.busy() || !admission_needs_clock(w, &self.settings) {
                return w;
            }
            let Some(entered) = self.entered_at(w) else {
                continue;
            };
            let now = self.clock.now();
            if let Admission::Transition(to, reason) =
                admission_with_hint(w, now, entered, self.hint_until(), &self.settings)
            {
                self.transition(w, to, reason, Some(now));
                return self.word();
            }
            return w;
        }
    }

    // ---- transitions ----------------------------------------------------------------

    /// Moves from the state of `from` to `to`, if nobody has moved it since (same
    /// generation, not busy). Returns whether this thread made the transition.
    pub(crate) fn transition(
        &self,
        from: Word,
        to: State,
        reason: Reason,
        now: Option<u64>,
    ) -> bool {
        let mut current = from;
        loop {
            if current.busy() || current.generation() != from.generation() {
                return false;
            }
            match self.state.compare_exchange_weak(
                current.0,
                current.with_busy().0,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => current = Word(actual),
            }
        }
        // Seqlock writer: the busy mark is ordered before the writes below.
        fence(Ordering::Release);
        let now = now.unwrap_or_else(|| self.clock.now());
        self.entered_at.store(now, Ordering::Relaxed);
        if matches!(to, State::Closed | State::MetricsOnly) {
            if let Some(window) = &self.window {
                window.reset(now);
            }
        }
        if to == State::Closed {
            self.retry_hint.store(0, Ordering::Relaxed);
        }
        let next = current.transition(to);
        // The wait applied: the backoff's, or a longer `Retry-After`.
        let wait = (to == State::Open).then(|| {
            let until =
                state_machine::open_deadline(next, now, &self.settings).max(self.hint_until());
            self.open_until.store(until, Ordering::Relaxed);
            Duration::from_nanos(until - now)
        });
        self.state.store(next.0, Ordering::Release);
        self.emit(EventKind::StateChange {
            from: current.state(),
            to,
            reason,
            generation: next.generation(),
            wait,
        });
        true
    }

    /// An operator's transition: waits out a transition being published, then moves
    /// to `to` from whatever state the breaker is in. `from_same` says whether to
    /// transition when already in `to`.
    fn manual(&self, to: State, from_same: bool) {
        loop {
            let w = self.word();
            if w.busy() {
                std::hint::spin_loop();
                #[cfg(not(failgate_loom))]
                std::thread::yield_now();
                #[cfg(failgate_loom)]
                loom::thread::yield_now();
                continue;
            }
            if w.state() == to && !from_same {
                return;
            }
            if self.transition(w, to, Reason::Manual, None) {
                return;
            }
        }
    }

    // ---- recording ------------------------------------------------------------------

    /// Records an outcome that came with the dependency's request not to be called for
    /// `retry_after`.
    #[inline(always)]
    pub(crate) fn record_with_retry_after(
        &self,
        ticket: Ticket,
        outcome: Outcome,
        retry_after: Option<Duration>,
    ) {
        if let (true, Some(d)) = (self.settings.honor_retry_after, retry_after) {
            self.note_retry_after(d);
        }
        self.record(ticket, outcome);
    }

    /// Whether `Classify::retry_after` should be asked.
    #[inline]
    pub(crate) fn honors_retry_after(&self) -> bool {
        self.settings.honor_retry_after
    }

    /// Records the outcome of the call that `ticket` admitted.
    #[inline(always)]
    pub(crate) fn record(&self, ticket: Ticket, outcome: Outcome) {
        if self.plain_success && outcome == Outcome::Success && ticket.kind() == TicketKind::Counted
        {
            self.record_plain_success(ticket.generation());
        } else {
            self.record_general(ticket, outcome);
        }
    }

    /// The closed-state success of a breaker that neither times calls nor has an
    /// observer. With consecutive failures alone it is one load and, when the count is
    /// already zero, no write; only a time window reads the clock.
    #[inline(always)]
    fn record_plain_success(&self, generation: u64) {
        if self.settings.consecutive_failures.is_some() {
            self.clear_consecutive(generation);
        }
        if let Some(window) = &self.window {
            let now = window.needs_clock().then(|| self.clock.now());
            if let Some(counts) = self.record_in_window(window, generation, false, false, now) {
                self.judge(generation, counts, now);
            }
        }
    }

    /// Counts an outcome in the window, unless it is stale. Returns the window's counts
    /// when they should be judged.
    #[inline(always)]
    fn record_in_window(
        &self,
        window: &Windows,
        generation: u64,
        failure: bool,
        slow: bool,
        now: Option<u64>,
    ) -> Option<state_machine::Counts> {
        if !self.is_current(generation) {
            return None;
        }
        let at = now.unwrap_or(0); // only time windows read it, and they always get it
        window.record(at, failure, slow, self.settings.minimum_calls)
    }

    #[inline(never)]
    fn judge(&self, generation: u64, counts: state_machine::Counts, now: Option<u64>) {
        if let Some(reason) = window_trip(counts, &self.settings) {
            self.trip(generation, reason, now);
        }
    }

    #[inline(never)]
    fn record_general(&self, ticket: Ticket, outcome: Outcome) {
        let needs_now =
            self.measures_calls() || self.window.as_ref().is_some_and(Windows::needs_clock);
        let now = (needs_now && ticket.kind() != TicketKind::Untracked).then(|| self.clock.now());
        let duration = now
            .filter(|_| self.measures_calls())
            .map(|now| now.saturating_sub(ticket.started));
        let slow = match (self.settings.slow, duration) {
            (Some(s), Some(d)) => d >= s.threshold && outcome != Outcome::Ignore,
            _ => false,
        };
        let counted = match ticket.kind() {
            TicketKind::Counted => self.record_counted(ticket.generation(), outcome, slow, now),
            TicketKind::Probe => {
                let report = match (outcome, slow) {
                    (Outcome::Ignore, _) => ProbeReport::Release,
                    (Outcome::Failure, _) => ProbeReport::Failure,
                    (Outcome::Success, true) => ProbeReport::Slow,
                    (Outcome::Success, false) => ProbeReport::Success,
                };
                self.report_probe(ticket.generation(), report)
            }
            TicketKind::Untracked | TicketKind::Recorded => false,
        };
        if self.observer.is_some() {
            let duration = duration.map(Duration::from_nanos);
            if slow {
                if let Some(duration) = duration {
                    self.emit(EventKind::Slow { duration, outcome });
                }
            }
            self.emit(match outcome {
                Outcome::Success => EventKind::Success { duration, counted },
                Outcome::Failure => EventKind::Failure { duration, counted },
                Outcome::Ignore => EventKind::Ignored,
            });
        }
    }

    /// A permit was dropped without an outcome.
    pub(crate) fn abandon(&self, ticket: Ticket) {
        if ticket.kind() == TicketKind::Probe {
            self.report_probe(ticket.generation(), ProbeReport::Release);
        }
        self.emit(EventKind::Abandoned);
    }

    /// Counts an outcome of a closed (or metrics-only) call. Returns whether it was
    /// counted (false if stale).
    #[inline]
    fn record_counted(
        &self,
        generation: u64,
        outcome: Outcome,
        slow: bool,
        now: Option<u64>,
    ) -> bool {
        let failure = match outcome {
            Outcome::Ignore => return true,
            Outcome::Failure => true,
            Outcome::Success => false,
        };
        if !self.is_current(generation) {
            return false;
        }
        let consecutive = match (self.settings.consecutive_failures, failure) {
            (Some(_), true) => self.count_consecutive_failure(generation),
            (Some(_), false) => {
                self.clear_consecutive(generation);
                None
            }
            (None, _) => None,
        };
        // Every condition counts the outcome before any of them trips: a trip starts a
        // new generation, and the window would then refuse the outcome as stale.
        let counts = self
            .window
            .as_ref()
            .and_then(|window| self.record_in_window(window, generation, failure, slow, now));
        match (consecutive, counts) {
            (Some(reason), _) => self.trip(generation, reason, now),
            (None, Some(counts)) => self.judge(generation, counts, now),
            (None, None) => {}
        }
        true
    }

    #[inline]
    fn is_current(&self, generation: u64) -> bool {
        let w = self.word();
        !w.busy() && w.generation() == generation
    }

    /// A success: clears the consecutive-failure count, writing only if it is not
    /// already zero. One attempt is enough: if a failure changes the counter first,
    /// this success is ordered before it.
    #[inline(always)]
    fn clear_consecutive(&self, generation: u64) {
        let c = self.consecutive.load(Ordering::Relaxed);
        if c & CONSECUTIVE_MASK != 0 && c >> CONSECUTIVE_SHIFT == generation {
            let _ = self.consecutive.compare_exchange(
                c,
                generation << CONSECUTIVE_SHIFT,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }

    /// A failure: counts it in the consecutive-failure counter of its generation.
    /// Returns the reason to trip if that reaches the threshold (never for a stale
    /// generation).
    fn count_consecutive_failure(&self, generation: u64) -> Option<Reason> {
        let mut c = self.consecutive.load(Ordering::Relaxed);
        let count = loop {
            let count = if c >> CONSECUTIVE_SHIFT == generation {
                c & CONSECUTIVE_MASK
            } else if self.is_current(generation) {
                0 // first failure of this generation: the old tag means zero
            } else {
                return None;
            };
            let next = (count + 1).min(CONSECUTIVE_MASK);
            match self.consecutive.compare_exchange_weak(
                c,
                (generation << CONSECUTIVE_SHIFT) | next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break next,
                Err(actual) => c = actual,
            }
        };
        consecutive_trip(count as u32, &self.settings)
    }

    /// Opens a closed breaker of `generation` (metrics-only breakers never trip).
    fn trip(&self, generation: u64, reason: Reason, now: Option<u64>) {
        let w = self.word();
        if w.state() == State::Closed && w.generation() == generation {
            self.transition(w, State::Open, reason, now);
        }
    }

    /// Applies a half-open probe's report. Returns false if it was stale.
    fn report_probe(&self, generation: u64, report: ProbeReport) -> bool {
        let mut w = self.word();
        loop {
            match probe_report(w, generation, report, &self.settings) {
                ProbeStep::Stale => return false,
                ProbeStep::Update(next) => match self.state.compare_exchange_weak(
                    w.0,
                    next.0,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return true,
                    Err(actual) => w = Word(actual),
                },
                ProbeStep::Transition(to, reason) => {
                    self.transition(w, to, reason, None);
                    return true;
                }
            }
        }
    }

    // ---- queries --------------------------------------------------------------------

    /// `None` unless closed; then whether a failure or a slow call is counted (in the
    /// consecutive count or the window). What a per-key map asks before evicting.
    #[cfg(feature = "tower")]
    fn closed_failing(&self) -> Option<bool> {
        let w = self.refresh();
        if w.busy() || w.state() != State::Closed {
            return None;
        }
        let c = self.consecutive.load(Ordering::Relaxed);
        let consecutive = c >> CONSECUTIVE_SHIFT == w.generation() && c & CONSECUTIVE_MASK != 0;
        let window = self.window.as_ref().is_some_and(|window| {
            let now = if window.needs_clock() {
                self.clock.now()
            } else {
                0
            };
            let counts = window.counts(now);
            counts.failures > 0 || counts.slow > 0
        });
        Some(consecutive || window)
    }

    fn metrics(&self) -> Metrics {
        let w = self.refresh();
        let now = self.clock.now();
        let entered = self.entered_at(w);
        let counts = self
            .window
            .as_ref()
            .map(|window| window.counts(now))
            .unwrap_or_default();
        let c = self.consecutive.load(Ordering::Relaxed);
        let consecutive_failures = if c >> CONSECUTIVE_SHIFT == w.generation() {
            (c & CONSECUTIVE_MASK) as u32
        } else {
            0
        };
        let retry_after = match (w.state(), entered) {
            (State::Open, Some(entered)) => state_machine::time_left(
                state_machine::open_deadline(w, entered, &self.settings).max(self.hint_until()),
                now,
            )
            .map(Duration::from_nanos),
            _ => None,
        };
        let (window_rates, counted) = if self.window.is_some() {
            (
                (
                    counts.failure_rate(&self.settings),
                    counts.slow_rate(&self.settings),
                ),
                true,
            )
        } else {
            ((None, None), false)
        };
        Metrics {
            name: self.name.clone(),
            state: w.state(),
            generation: w.generation(),
            consecutive_failures,
            window: counted,
            calls: counts.calls,
            successes: counts.calls - counts.failures,
            failures: counts.failures,
            slow_calls: counts.slow,
            failure_rate: window_rates.0,
            slow_call_rate: window_rates.1,
            half_open_probes: w.taken(),
            half_open_successes: w.successes(),
            retry_after,
            time_in_state: entered.map_or(Duration::ZERO, |e| {
                Duration::from_nanos(now.saturating_sub(e))
            }),
        }
    }
}

/// A circuit breaker. Cheap to clone: clones share one breaker.
///
/// See the [crate documentation](crate) for the semantics of every state and policy.
pub struct CircuitBreaker<C = DefaultClassifier> {
    core: Arc<Core>,
    /// Set by [`leak`](CircuitBreaker::leak): the same core, kept for the rest of the
    /// process, so owned permits can borrow it instead of counting references.
    forever: Option<&'static Core>,
    classifier: C,
}

impl<C: Clone> Clone for CircuitBreaker<C> {
    fn clone(&self) -> Self {
        CircuitBreaker {
            core: self.core.clone(),
            forever: self.forever,
            classifier: self.classifier.clone(),
        }
    }
}

impl<C> fmt::Debug for CircuitBreaker<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.core.name)
            .field("state", &self.core.word().state())
            .finish_non_exhaustive()
    }
}

impl CircuitBreaker {
    /// Starts configuring a breaker.
    pub fn builder() -> Builder {
        Builder::default()
    }
}

impl<C> CircuitBreaker<C> {
    pub(crate) fn from_parts(core: Arc<Core>, classifier: C) -> Self {
        CircuitBreaker {
            core,
            forever: None,
            classifier,
        }
    }

    /// Runs `op` if the breaker admits it, and records its outcome with the breaker's
    /// classifier.
    ///
    /// If `op` panics, the permit is dropped unrecorded: nothing is counted and a
    /// half-open probe slot is given back.
    #[inline]
    pub fn call<T, E, F>(&self, op: F) -> Result<T, Error<E>>
    where
        F: FnOnce() -> Result<T, E>,
        C: Classify<T, E>,
    {
        let permit = self.try_acquire()?;
        let result = op();
        self.finish(permit, &result);
        result.map_err(Error::Inner)
    }

    /// Records `result` with the breaker's classifier. (The permit must not be handed to
    /// a function that is not inlined: passing it to one puts it in memory on every
    /// call, which cost 7 ns here.)
    #[inline(always)]
    fn finish<T, E>(&self, permit: Permit<'_>, result: &Result<T, E>)
    where
        C: Classify<T, E>,
    {
        let outcome = self.classifier.classify(result);
        let hint = if self.core.honors_retry_after() {
            self.classifier.retry_after(result)
        } else {
            None
        };
        permit.record_with_retry_after(outcome, hint);
    }

    /// Like [`call`](Self::call), with a classifier for this call only.
    ///
    /// ```
    /// use failgate::{CircuitBreaker, Outcome};
    ///
    /// let breaker = CircuitBreaker::builder().consecutive_failures(1).build().unwrap();
    /// // A "not found" is the caller's problem, not the dependency's.
    /// let r = breaker.call_with(
    ///     |r: &Result<(), &str>| if r == &Err("not found") { Outcome::Ignore } else { Outcome::Failure },
    ///     || Err("not found"),
    /// );
    /// assert!(r.is_err());
    /// assert_eq!(breaker.state(), failgate::State::Closed);
    /// ```
    #[inline]
    pub fn call_with<T, E, K, F>(&self, classify: K, op: F) -> Result<T, Error<E>>
    where
        K: FnOnce(&Result<T, E>) -> Outcome,
        F: FnOnce() -> Result<T, E>,
    {
        let permit = self.try_acquire()?;
        let result = op();
        permit.record(classify(&result));
        result.map_err(Error::Inner)
    }

    /// Runs the future made by `op` if the breaker admits it, and records its outcome.
    ///
    /// Works on any executor: it needs no runtime and allocates nothing. If the
    /// returned future is dropped before it completes, the call is abandoned: nothing
    /// is counted and a half-open probe slot is given back.
    pub async fn call_async<T, E, F, Fut>(&self, op: F) -> Result<T, Error<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        C: Classify<T, E>,
    {
        let permit = self.try_acquire()?;
        let result = op().await;
        self.finish(permit, &result);
        result.map_err(Error::Inner)
    }

    /// Like [`call_async`](Self::call_async), with a classifier for this call only.
    pub async fn call_async_with<T, E, K, F, Fut>(&self, classify: K, op: F) -> Result<T, Error<E>>
    where
        K: FnOnce(&Result<T, E>) -> Outcome,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let permit = self.try_acquire()?;
        let result = op().await;
        permit.record(classify(&result));
        result.map_err(Error::Inner)
    }

    /// Asks for a permit, for callers that run the operation and record its outcome
    /// themselves. Dropping the permit unrecorded abandons the call.
    ///
    /// ```
    /// use failgate::CircuitBreaker;
    ///
    /// let breaker = CircuitBreaker::builder().build().unwrap();
    /// match breaker.try_acquire() {
    ///     Ok(permit) => permit.success(),
    ///     Err(rejected) => println!("refused: {rejected}"),
    /// };
    /// ```
    #[inline]
    pub fn try_acquire(&self) -> Result<Permit<'_>, Rejected> {
        self.core
            .acquire()
            .map(|ticket| Permit::new(&self.core, ticket))
    }

    /// Like [`try_acquire`](Self::try_acquire), for a permit that must outlive this
    /// borrow: it holds a handle on the breaker (one reference-count increment, and
    /// one decrement when it is dropped, unless the breaker was
    /// [leaked](Self::leak)).
    #[inline]
    pub fn try_acquire_owned(&self) -> Result<OwnedPermit, Rejected> {
        self.core.acquire().map(|ticket| {
            let core = match self.forever {
                Some(core) => CoreRef::Forever(core),
                None => CoreRef::Shared(self.core.clone()),
            };
            OwnedPermit::new(core, ticket)
        })
    }

    /// Keeps the breaker for the rest of the process, so that owned permits, and with
    /// them the [tower layer](crate::tower)'s response futures, borrow it instead of
    /// counting references: two atomic read-modify-writes fewer per call (about 14 ns
    /// on a 2-vCPU Xeon VM, most of the layer's cost in the closed state).
    ///
    /// The breaker is never freed, so this is for breakers that live as long as the
    /// program, which is how most are used; not for breakers made per key, per
    /// connection or per test. Calling it again on a leaked handle (or a clone of one)
    /// leaks nothing more. Everything else, clones included, behaves as before.
    ///
    /// ```
    /// use failgate::CircuitBreaker;
    ///
    /// let breaker = CircuitBreaker::builder().build().unwrap().leak();
    /// let permit = breaker.try_acquire_owned().unwrap();
    /// std::thread::spawn(move || permit.success()).join().unwrap();
    /// assert!(breaker.is_leaked());
    /// ```
    pub fn leak(mut self) -> Self {
        if self.forever.is_none() {
            let kept: &'static Arc<Core> = Box::leak(Box::new(Arc::clone(&self.core)));
            self.forever = Some(kept);
        }
        self
    }

    /// True if this handle came from [`leak`](Self::leak) (or is a clone of one that
    /// did).
    pub fn is_leaked(&self) -> bool {
        self.forever.is_some()
    }

    /// The current state, after any transition that is due.
    pub fn state(&self) -> State {
        self.core.refresh().state()
    }

    /// A snapshot of the breaker's state and counts.
    pub fn metrics(&self) -> Metrics {
        self.core.metrics()
    }

    /// How many handles on this breaker exist: clones, and the owned permits of calls
    /// in flight. A per-key map reads it to never evict a breaker someone still holds.
    #[cfg(feature = "tower")]
    pub(crate) fn handles(&self) -> usize {
        Arc::strong_count(&self.core)
    }

    /// `None` unless closed; then whether a failure or a slow call is counted.
    #[cfg(feature = "tower")]
    pub(crate) fn closed_failing(&self) -> Option<bool> {
        self.core.closed_failing()
    }

    /// The breaker's name.
    pub fn name(&self) -> &str {
        &self.core.name
    }

    /// True if `self` and `other` are handles on the same breaker (clones of one
    /// another, whatever their classifiers).
    pub fn same_breaker<K>(&self, other: &CircuitBreaker<K>) -> bool {
        Arc::ptr_eq(&self.core, &other.core)
    }

    /// The breaker's default classifier.
    pub fn classifier(&self) -> &C {
        &self.classifier
    }

    /// The same breaker (shared state, events, everything) seen through another
    /// default classifier.
    ///
    /// ```
    /// use failgate::{CircuitBreaker, Outcome};
    ///
    /// let breaker = CircuitBreaker::builder().consecutive_failures(1).build().unwrap();
    /// let lenient = breaker.clone().with_classifier(|_: &Result<(), &str>| Outcome::Ignore);
    /// let _ = lenient.call(|| Err("ignored"));
    /// assert_eq!(breaker.state(), failgate::State::Closed);
    /// ```
    pub fn with_classifier<K>(self, classifier: K) -> CircuitBreaker<K> {
        CircuitBreaker {
            core: self.core,
            forever: self.forever,
            classifier,
        }
    }

    /// Refuses every call (with no `retry_after`) until [`reset`](Self::reset).
    pub fn force_open(&self) {
        self.core.manual(State::ForcedOpen, false);
    }

    /// Admits every call and counts nothing, until [`reset`](Self::reset).
    pub fn disable(&self) {
        self.core.manual(State::Disabled, false);
    }

    /// Admits every call and counts outcomes (so metrics and rates stay live), but never
    /// trips, until [`reset`](Self::reset).
    pub fn metrics_only(&self) {
        self.core.manual(State::MetricsOnly, false);
    }

    /// Returns to closed with empty counters and the backoff back at its first step.
    /// Always starts a new generation: outcomes of calls admitted before are discarded.
    pub fn reset(&self) {
        self.core.manual(State::Closed, true);
    }
}

#[allow(dead_code)]
const _: () = assert!(
    GEN_MASK == (1 << 34) - 1,
    "the consecutive counter's tag must hold a generation"
);
// The counter saturates at its mask: the largest threshold accepted must be reachable.
const _: () = assert!(CONSECUTIVE_MASK >= crate::config::MAX_CONSECUTIVE_FAILURES as u64);
