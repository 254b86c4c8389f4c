//! Recording: the outcome of an admitted call goes to the consecutive-failure
//! counter and the window (closed), or moves the half-open state (a probe). A plain
//! closed-state success has a short path of its own.

use super::shared::{Core, CONSECUTIVE_MASK, CONSECUTIVE_SHIFT};
use super::ticket::{Ticket, TicketKind};
use crate::event::EventKind;
use crate::loom::{AtomicU64, Ordering};
use crate::outcome::Outcome;
use crate::state_machine::Word;
use crate::state_machine::{consecutive_trip, window_trip, ProbeReport};
use crate::totals::Count;
use crate::vocabulary::{Counts, Reason, State};
use crate::windows::Windows;
use std::fmt::Display;
use std::time::Duration;

impl Core {
    /// Records an outcome that came with the dependency's request not to be called for
    /// `retry_after`.
    #[inline(always)]
    pub(crate) fn record_with_retry_after(
        &self,
        ticket: Ticket,
        outcome: Outcome,
        retry_after: Option<Duration>,
    ) {
        if let (true, Some(d)) = (self.hot.honor_retry_after, retry_after) {
            self.note_retry_after(d);
        }
        self.record(ticket, outcome);
    }

    /// Records an outcome with what went wrong: the error goes in the outcome event
    /// (sampled), if there is an observer to hear it and the outcome is not a success.
    /// Otherwise this is [`record_with_retry_after`](Self::record_with_retry_after).
    #[inline(always)]
    pub(crate) fn record_described(
        &self,
        ticket: Ticket,
        outcome: Outcome,
        retry_after: Option<Duration>,
        error: Option<&dyn Display>,
    ) {
        match error {
            Some(error) if outcome != Outcome::Success && self.observer().is_some() => {
                if let (true, Some(d)) = (self.hot.honor_retry_after, retry_after) {
                    self.note_retry_after(d);
                }
                self.record_general(ticket, outcome, self.sample_error(error));
            }
            _ => self.record_with_retry_after(ticket, outcome, retry_after),
        }
    }

    /// Whether `Classify::retry_after` should be asked.
    #[inline]
    pub(crate) fn honors_retry_after(&self) -> bool {
        self.hot.honor_retry_after
    }

    /// Records the outcome of the call that `ticket` admitted.
    #[inline(always)]
    pub(crate) fn record(&self, ticket: Ticket, outcome: Outcome) {
        if outcome == Outcome::Success && ticket.kind() == TicketKind::Counted {
            if self.hot.plain_success {
                return self.record_plain_success(ticket.generation());
            }
            if let (None, Some(slow)) = (&self.reporter, self.settings.slow) {
                return self.record_timed_success(ticket, slow.threshold.get());
            }
        }
        if self.hot.plain_success {
            self.record_plain(ticket, outcome);
        } else {
            self.record_general(ticket, outcome, None);
        }
    }

    /// Any other outcome of a breaker that neither times calls nor has an observer:
    /// [`record_general`](Self::record_general) without the timing and the events.
    #[inline(never)]
    pub(super) fn record_plain(&self, ticket: Ticket, outcome: Outcome) {
        match ticket.kind() {
            TicketKind::Counted => {
                let now = self
                    .hot
                    .window
                    .as_ref()
                    .is_some_and(Windows::needs_clock)
                    .then(|| self.hot.clock.now());
                self.record_counted(ticket.generation(), outcome, false, now);
            }
            TicketKind::Probe => {
                self.report_probe(ticket.generation(), probe_report_of(outcome, false));
            }
            TicketKind::Untracked | TicketKind::Recorded => {}
        }
    }

    /// The closed-state success of a breaker that neither times calls nor has an
    /// observer. With consecutive failures alone it is one load and, when the count is
    /// already zero, no write; only a time window reads the clock.
    #[inline(always)]
    pub(super) fn record_plain_success(&self, generation: u64) {
        let now = match &self.hot.window {
            Some(window) if window.needs_clock() => Some(self.hot.clock.now()),
            _ => None,
        };
        self.count_success(generation, false, now);
    }

    /// The closed-state success of a breaker that times calls and has no observer:
    /// one clock read, one comparison with the threshold, and the counters. The
    /// general path would do the same with more branches, for events nobody hears.
    #[inline(always)]
    fn record_timed_success(&self, ticket: Ticket, threshold: u64) {
        let now = self.hot.clock.now();
        let slow = now.saturating_sub(ticket.started) >= threshold;
        self.count_success(ticket.generation(), slow, Some(now));
    }

    /// Counts a success of generation `generation`: clears the consecutive failures
    /// and records it in the window (which judges it if it could change a decision).
    #[inline(always)]
    fn count_success(&self, generation: u64, slow: bool, now: Option<u64>) {
        if self.hot.counts_consecutive {
            self.clear_consecutive(generation);
        }
        if let Some(window) = &self.hot.window {
            if let Some(counts) = self.record_in_window(window, generation, false, slow, now) {
                self.judge(generation, counts, now);
            }
        }
    }

    /// Counts an outcome in the window, unless it is stale. Returns the window's counts
    /// when they should be judged.
    #[inline(always)]
    pub(super) fn record_in_window(
        &self,
        window: &Windows,
        generation: u64,
        failure: bool,
        slow: bool,
        now: Option<u64>,
    ) -> Option<Counts> {
        if !self.is_current(generation) {
            return None;
        }
        let at = now.unwrap_or(0); // only time windows read it, and they always get it
        window.record(at, failure, slow, u64::from(self.hot.minimum_calls))
    }

    #[inline(never)]
    pub(super) fn judge(&self, generation: u64, counts: Counts, now: Option<u64>) {
        if let Some(reason) = window_trip(counts, &self.settings) {
            let w = self.word();
            if w.generation() == generation {
                self.trip(w, reason, now);
            }
        }
    }

    #[inline(never)]
    pub(super) fn record_general(
        &self,
        ticket: Ticket,
        outcome: Outcome,
        error: Option<&dyn Display>,
    ) {
        let needs_now =
            self.measures_calls() || self.hot.window.as_ref().is_some_and(|w| w.needs_clock());
        let now =
            (needs_now && ticket.kind() != TicketKind::Untracked).then(|| self.hot.clock.now());
        let duration = now
            .filter(|_| self.measures_calls())
            .map(|now| now.saturating_sub(ticket.started));
        let slow = match (self.settings.slow, duration) {
            (Some(s), Some(d)) => d >= s.threshold.get() && outcome != Outcome::Ignore,
            _ => false,
        };
        let counted = match ticket.kind() {
            TicketKind::Counted => self.record_counted(ticket.generation(), outcome, slow, now),
            TicketKind::Probe => {
                self.report_probe(ticket.generation(), probe_report_of(outcome, slow))
            }
            TicketKind::Untracked | TicketKind::Recorded => false,
        };
        if let Some(tally) = self.tally() {
            tally_outcome(tally, outcome, slow);
        }
        if self.observer().is_some() {
            let duration = duration.map(Duration::from_nanos);
            if slow {
                if let Some(duration) = duration {
                    self.emit(EventKind::Slow { duration, outcome });
                }
            }
            let kind = match outcome {
                Outcome::Success => EventKind::Success { duration, counted },
                Outcome::Failure => EventKind::Failure { duration, counted },
                Outcome::Ignore => EventKind::Ignored,
            };
            self.emit_with(kind, error);
        }
    }

    /// A permit was dropped without an outcome.
    pub(crate) fn abandon(&self, ticket: Ticket) {
        if ticket.kind() == TicketKind::Probe {
            self.report_probe(ticket.generation(), ProbeReport::Release);
        }
        self.count(Count::Abandoned);
        self.emit(EventKind::Abandoned);
    }

    /// Counts an outcome of a closed (or count-only) call. Returns whether it was
    /// counted (false if stale).
    #[inline]
    pub(super) fn record_counted(
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
        let w = self.word();
        if w.busy() || w.generation() != generation {
            return false;
        }
        let consecutive = match (self.settings.consecutive_failures, failure) {
            (Some(threshold), true) => self.count_consecutive_failure(w, threshold, now),
            (Some(_), false) => {
                self.clear_consecutive(generation);
                None
            }
            (None, _) => None,
        };
        // Every condition counts the outcome before any of them trips: a trip starts a
        // new generation, and the window would then refuse the outcome as stale.
        let counts = self
            .hot
            .window
            .as_ref()
            .and_then(|window| self.record_in_window(window, generation, failure, slow, now));
        match (consecutive, counts) {
            (Some(reason), _) => self.trip(w, reason, now),
            (None, Some(counts)) => self.judge(generation, counts, now),
            (None, None) => {}
        }
        true
    }

    #[inline]
    pub(super) fn is_current(&self, generation: u64) -> bool {
        let w = self.word();
        !w.busy() && w.generation() == generation
    }

    /// A success: clears the consecutive-failure count, writing only if it is not
    /// already zero. One attempt is enough: if a failure changes the counter first,
    /// this success is ordered before it.
    #[inline(always)]
    pub(super) fn clear_consecutive(&self, generation: u64) {
        let c = self.hot.consecutive.load(Ordering::Relaxed);
        if c & CONSECUTIVE_MASK != 0 && c >> CONSECUTIVE_SHIFT == generation {
            let _ = self.hot.consecutive.compare_exchange(
                c,
                generation << CONSECUTIVE_SHIFT,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }

    /// A failure in the generation of `w` (a current, idle word): counts it in the
    /// consecutive-failure counter of its generation. Returns the reason to trip if
    /// that reaches `threshold` (never for a stale generation).
    ///
    /// The failure that reaches the threshold of a closed breaker is not written: the
    /// trip that follows starts a new generation, which empties the counter by its tag.
    /// If the trip loses to another transition, that one starts a new generation too,
    /// and this failure was stale. Either way nobody reads the count it would have
    /// written. (A count-only breaker never trips, so there every failure is written.)
    ///
    /// With `forget_failures_after`, a failure more than that span after the previous
    /// failure counts as the first again (`now`, if the caller read the clock, is
    /// when it was recorded).
    pub(super) fn count_consecutive_failure(
        &self,
        w: Word,
        threshold: u32,
        now: Option<u64>,
    ) -> Option<Reason> {
        let restart = self
            .settings
            .forget_failures_after()
            .is_some_and(|(span, last)| self.after_quiet_span(span, last, now));
        let generation = w.generation();
        let mut c = self.hot.consecutive.load(Ordering::Relaxed);
        let count = loop {
            let count = if c >> CONSECUTIVE_SHIFT == generation && !restart {
                c & CONSECUTIVE_MASK
            } else if self.is_current(generation) {
                0 // first failure of this generation: the old tag means zero
            } else {
                return None;
            };
            let next = (count + 1).min(CONSECUTIVE_MASK);
            if next >= u64::from(threshold) && w.state() == State::Closed {
                break next;
            }
            match self.hot.consecutive.compare_exchange_weak(
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

    /// Notes a failure now; whether it came more than `span` after the previous one.
    /// Threads failing at once each swap in their own time: a restart may then race a
    /// failure counted in the same instant, which is lost from the count.
    #[cold]
    #[inline(never)]
    fn after_quiet_span(&self, span: u64, last: &AtomicU64, now: Option<u64>) -> bool {
        let now = now.unwrap_or_else(|| self.hot.clock.now());
        let previous = last.swap(now, Ordering::Relaxed);
        now.saturating_sub(previous) > span
    }

    /// The consecutive failures of the word `w`'s generation, as a snapshot shows
    /// them: a count the next failure would restart (its quiet span has passed)
    /// shows as 0.
    pub(super) fn consecutive_count(&self, w: Word) -> u32 {
        let c = self.hot.consecutive.load(Ordering::Relaxed);
        if c >> CONSECUTIVE_SHIFT != w.generation() {
            return 0;
        }
        if let Some((span, last)) = self.settings.forget_failures_after() {
            let last = last.load(Ordering::Relaxed);
            if self.hot.clock.now().saturating_sub(last) > span {
                return 0;
            }
        }
        (c & CONSECUTIVE_MASK) as u32
    }
}

/// Counts an outcome (slow or not) in the totals.
fn tally_outcome(tally: &crate::totals::Tally, outcome: Outcome, slow: bool) {
    tally.add(match outcome {
        Outcome::Success => Count::Success,
        Outcome::Failure => Count::Failure,
        Outcome::Ignore => Count::Ignored,
    });
    match (slow, outcome) {
        (true, Outcome::Success) => tally.add(Count::SlowSuccess),
        (true, Outcome::Failure) => tally.add(Count::SlowFailure),
        _ => {}
    }
}

/// What a probe's outcome (slow or not) reports.
#[inline]
fn probe_report_of(outcome: Outcome, slow: bool) -> ProbeReport {
    match (outcome, slow) {
        (Outcome::Ignore, _) => ProbeReport::Release,
        (Outcome::Failure, _) => ProbeReport::Failure,
        (Outcome::Success, true) => ProbeReport::Slow,
        (Outcome::Success, false) => ProbeReport::Success,
    }
}
