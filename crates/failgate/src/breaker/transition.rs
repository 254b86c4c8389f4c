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
            match self.hot.state.compare_exchange_weak(
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
        let now = now.unwrap_or_else(|| self.hot.clock.now());
        self.entered_at.store(now, Ordering::Relaxed);
        if matches!(to, State::Closed | State::CountOnly) {
            if let Some(window) = &self.hot.window {
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
            self.hot.open_until.store(until, Ordering::Relaxed);
            Duration::from_nanos(until - now)
        });
        self.hot.state.store(next.0, Ordering::Release);
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
    pub(super) fn manual(&self, to: State, from_same: bool) {
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

    /// Opens a closed breaker of `generation` (count-only breakers never trip).
    pub(super) fn trip(&self, generation: u64, reason: Reason, now: Option<u64>) {
        let w = self.word();
        if w.state() == State::Closed && w.generation() == generation {
            self.transition(w, State::Open, reason, now);
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
                ProbeStep::Transition(to, reason) => {
                    self.transition(w, to, reason, None);
                    return true;
                }
            }
        }
    }
}
