//! Decision: whether a call may start, and the ticket that says how its outcome
//! will count. The closed, idle breaker admits with one load; everything else takes
//! the slow path, which also makes any transition that is due.

use super::shared::Core;
use super::ticket::{Ticket, TicketKind};
use crate::error::Rejected;
use crate::event::EventKind;
use crate::loom::Ordering;
use crate::state_machine::{self, decide_with_hint, decision_needs_clock, Decision, Since, Word};
use crate::vocabulary::{Reason, State};

impl Core {
    #[inline(always)]
    pub(crate) fn acquire(&self) -> Result<Ticket, Rejected> {
        let w = self.word();
        if w.is_closed_and_idle() {
            return Ok(self.ticket(w, TicketKind::Counted));
        }
        self.acquire_slow(w)
    }

    #[inline]
    pub(super) fn reject(&self, w: Word, retry_after: Option<u64>) -> Rejected {
        let rejected = Rejected::from_nanos(w.state(), retry_after);
        self.count(crate::totals::Count::Refused);
        self.emit(EventKind::Rejected {
            state: rejected.state,
            retry_after: rejected.retry_after(),
        });
        rejected
    }

    #[inline]
    pub(super) fn ticket(&self, w: Word, kind: TicketKind) -> Ticket {
        let started = if self.measures_calls() {
            self.hot.clock.now()
        } else {
            0
        };
        Ticket::new(w.generation(), started, kind)
    }

    #[inline(never)]
    pub(super) fn acquire_slow(&self, w: Word) -> Result<Ticket, Rejected> {
        if w.is_open_and_idle() {
            // The common refusal: one clock read and one comparison.
            if let Some(until) = self.open_until(w) {
                let now = self.hot.clock.now();
                if now < until {
                    return Err(self.reject(w, state_machine::time_left(until, now)));
                }
                return self.wait_over(w, until, now);
            }
        }
        self.admit(w)
    }

    /// The open breaker of `w` found its wait over at `now` (by `until`): this call
    /// moves it to half-open and is its first probe, both in the one store that
    /// publishes the half-open word.
    #[inline(never)]
    fn wait_over(&self, w: Word, until: u64, now: u64) -> Result<Ticket, Rejected> {
        // A longer `Retry-After` noted while the deadline was being read still holds,
        // and a deadline that saturated is never reached.
        let until = until.max(self.hint_until());
        if now < until || until == u64::MAX {
            return Err(self.reject(w, state_machine::time_left(until, now)));
        }
        match self.half_open_with_probe(w, Reason::WaitElapsed, now) {
            Some(next) => Ok(self.ticket(next, TicketKind::Probe)),
            None => self.admit(self.word()),
        }
    }

    /// The general admission: decides on `w` and retries until the decision sticks.
    #[inline(never)]
    fn admit(&self, mut w: Word) -> Result<Ticket, Rejected> {
        loop {
            let (now, since) = if !w.busy() && decision_needs_clock(w, &self.settings) {
                match self.since(w) {
                    Some(since) => (self.hot.clock.now(), since),
                    None => {
                        w = self.word();
                        continue;
                    }
                }
            } else {
                (0, Since::default())
            };
            match decide_with_hint(w, now, since, self.hint_until(), &self.settings) {
                Decision::Admit => {
                    let kind = match w.state() {
                        State::Disabled => TicketKind::Untracked,
                        _ => TicketKind::Counted,
                    };
                    return Ok(self.ticket(w, kind));
                }
                Decision::Probe(next) => {
                    match self.hot.state.compare_exchange_weak(
                        w.0,
                        next.0,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => return Ok(self.ticket(w, TicketKind::Probe)),
                        Err(actual) => w = Word(actual),
                    }
                }
                Decision::Reject(retry_after) => return Err(self.reject(w, retry_after)),
                // The thread that opens half-open takes its first probe in the same
                // store, so its probe is handed out even if the half-open timeout is
                // shorter than this loop's turn (otherwise open and half-open could
                // alternate for ever under tiny waits).
                Decision::Transition(State::HalfOpen, reason) => {
                    match self.half_open_with_probe(w, reason, now) {
                        Some(next) => return Ok(self.ticket(next, TicketKind::Probe)),
                        None => w = self.word(),
                    }
                }
                Decision::Transition(to, reason) => {
                    self.transition(w, to, reason, Some(now));
                    w = self.word();
                }
            }
        }
    }

    /// Makes any transition that is due at the current time (open wait over, half-open
    /// timed out), so that queries see the state a call would.
    ///
    /// At most one transition per query: with waits shorter than a turn of this loop,
    /// "due" could otherwise never stop being true (open, half-open, timed out, ...).
    pub(super) fn refresh(&self) -> Word {
        loop {
            let w = self.word();
            if w.busy() || !decision_needs_clock(w, &self.settings) {
                return w;
            }
            let Some(since) = self.since(w) else {
                continue;
            };
            let now = self.hot.clock.now();
            if let Decision::Transition(to, reason) =
                decide_with_hint(w, now, since, self.hint_until(), &self.settings)
            {
                self.transition(w, to, reason, Some(now));
                return self.word();
            }
            return w;
        }
    }
}
