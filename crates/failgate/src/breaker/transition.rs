//! Transitions: claiming the state word, publishing the new state, and the moves
//! that lead to one (a trip, a probe's report, an operator's order).

use super::shared::Core;
use crate::event::EventKind;
use crate::loom::{fence, Ordering};
use crate::state_machine::{self, probe_report, ProbeReport, ProbeStep, Word};
use crate::vocabulary::{Reason, State};
use std::time::Duration;

impl Core {
    /// Moves from the state of `from` to `to`, if nobody has moved it since (same
    /// generation, not busy). Returns whether this thread made the transition.
    #[inline(never)]
    pub(crate) fn transition(
        &self,
        from: Word,
        to: State,
        reason: Reason,
        now: Option<u64>,
    ) -> bool {
        self.publish(from, to, reason, now, 0, None).is_some()
    }

    /// Opens the closed breaker of `w`: [`transition`](Self::transition) to open,
    /// compiled for that one move, since every trip takes it.
    #[inline(never)]
    fn open_from_closed(&self, w: Word, reason: Reason, now: Option<u64>) {
        self.publish(w, State::Open, reason, now, 0, None);
    }

    /// Moves the open breaker of `w`, whose wait ended by `now`, to half-open, with
    /// the first probe slot taken by the calling thread in the same store. Returns the
    /// half-open word if this thread made the transition.
    #[inline(never)]
    pub(super) fn half_open_with_probe(&self, w: Word, reason: Reason, now: u64) -> Option<Word> {
        self.publish(w, State::HalfOpen, reason, Some(now), 1, None)
    }

    /// Closes the half-open breaker of `w`, whose probes passed.
    #[inline(never)]
    fn close_from_half_open(&self, w: Word, reason: Reason) {
        self.publish(w, State::Closed, reason, None, 0, None);
    }

    /// The transition itself: claims the word, writes what readers of the new state
    /// need, and stores the new word, in which `probes` half-open slots are already
    /// taken (by the thread making the transition, which admits its own call so).
    /// An opening waits `manual_wait` (an operator's) if given, the backoff's wait
    /// otherwise. Returns the word published, if this thread made the transition.
    /// Inlined into each caller, so that a known `to` folds the branches on it away.
    #[inline(always)]
    fn publish(
        &self,
        from: Word,
        to: State,
        reason: Reason,
        now: Option<u64>,
        probes: u32,
        manual_wait: Option<u64>,
    ) -> Option<Word> {
        let current = self.claim(from)?;
        // Seqlock writer: the busy mark is ordered before the writes below.
        fence(Ordering::Release);
        let now = now.unwrap_or_else(|| self.hot.clock.now());
        self.entered_at.store(now, Ordering::Relaxed);
        if matches!(to, State::Closed | State::CountOnly) {
            if let Some(window) = &self.hot.window {
                window.reset(now);
            }
        }
        // Only written when honoured: otherwise it stays 0 and is never read.
        if to == State::Closed && self.hot.honor_retry_after {
            self.retry_hint.store(0, Ordering::Relaxed);
        }
        let mut next = current.transition(to);
        if manual_wait.is_some() {
            // An operator's opening is not a reopening: it keeps the step it found.
            next = next.with_step(current.step());
        }
        if probes > 0 {
            next = next.with_probes(probes, 0);
        }
        // The wait applied: the operator's, or the backoff's (or the custom break
        // duration's), or a longer `Retry-After`.
        let until = (to == State::Open).then(|| {
            let wait = match manual_wait {
                Some(wait) => wait,
                None => state_machine::break_wait(next, reason, &self.settings),
            };
            let until = now.saturating_add(wait).max(self.hint_until());
            self.hot.open_until.store(until, Ordering::Relaxed);
            until
        });
        self.hot.state.store(next.0, Ordering::Release);
        if let Some(reporter) = &self.reporter {
            if let Some(tally) = &reporter.tally {
                tally.transition(&reason);
            }
            let wait = until.map(|until| Duration::from_nanos(until - now));
            self.emit_state_change(current.state(), to, reason, next.generation(), wait);
        }
        Some(next)
    }

    /// Sets the busy bit of `from`'s word, if it is still of `from`'s generation and
    /// idle: exactly one thread wins. Returns the word it claimed (without the bit).
    #[inline(always)]
    fn claim(&self, from: Word) -> Option<Word> {
        let mut current = from;
        loop {
            if current.busy() || current.generation() != from.generation() {
                return None;
            }
            match self.hot.state.compare_exchange_weak(
                current.0,
                current.with_busy().0,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(current),
                Err(actual) => current = Word(actual),
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn emit_state_change(
        &self,
        from: State,
        to: State,
        reason: Reason,
        generation: u64,
        wait: Option<Duration>,
    ) {
        self.emit(EventKind::StateChange {
            from,
            to,
            reason,
            generation,
            wait,
        });
    }

    /// An operator's transition: waits out a transition being published, then moves
    /// to `to` from whatever state the breaker is in, with `reason`; an opening waits
    /// `wait` (nanoseconds). `from_same` says whether to transition when already in
    /// `to`.
    pub(super) fn manual(&self, to: State, reason: Reason, wait: Option<u64>, from_same: bool) {
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
            if self.publish(w, to, reason, None, 0, wait).is_some() {
                return;
            }
        }
    }

    /// Opens the closed breaker of `w`, a word read since the outcome that trips it
    /// was found current (count-only breakers never trip). If the word has moved on
    /// since, the claim fails and the outcome was stale anyway.
    #[inline]
    pub(super) fn trip(&self, w: Word, reason: Reason, now: Option<u64>) {
        if w.state() == State::Closed {
            self.open_from_closed(w, reason, now);
        }
    }

    /// Applies a half-open probe's report. Returns false if it was stale.
    pub(super) fn report_probe(&self, generation: u64, report: ProbeReport) -> bool {
        let mut w = self.word();
        loop {
            match probe_report(w, generation, report, &self.settings) {
                ProbeStep::Stale => return false,
                ProbeStep::Update(next) => match self.hot.state.compare_exchange_weak(
                    w.0,
                    next.0,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return true,
                    Err(actual) => w = Word(actual),
                },
                ProbeStep::Transition(State::Closed, reason) => {
                    self.close_from_half_open(w, reason);
                    return true;
                }
                ProbeStep::Transition(to, reason) => {
                    self.transition(w, to, reason, None);
                    return true;
                }
            }
        }
    }
}
