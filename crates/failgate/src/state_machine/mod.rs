//! The decision core: small pure functions of (state word, time, settings) that say
//! whether to admit a call, how a probe's report moves half-open, and whether a
//! window's counts trip the breaker. They touch no atomics and read no clock; the thin
//! concurrent shell in `breaker/` loads the state, calls them, and publishes their
//! answer with a compare-and-swap. Unit tests walk every transition here directly.

mod word;

pub(crate) use word::{Word, GEN_MASK};

use crate::policy::Settings;
use crate::vocabulary::{Counts, Reason, State};

/// What to do with a call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Decision {
    /// Let it through; the word does not change.
    Admit,
    /// Let it through as a half-open probe, if the word can be swapped for this one.
    Probe(Word),
    /// Refuse it; retry after this many nanoseconds, if known.
    Reject(Option<u64>),
    /// A transition is due first (the open wait is over, or half-open timed out).
    Transition(State, Reason),
}

/// Whether deciding admission in this word needs the current time.
#[inline]
pub(crate) fn decision_needs_clock(w: Word, s: &Settings) -> bool {
    match w.state() {
        State::Open => true,
        State::HalfOpen => s.half_open_timeout.is_some(),
        _ => false,
    }
}

/// The admission decision for word `w` at time `now`, for a state entered at
/// `entered_at`. A word being published (busy) refuses what it does not admit freely.
#[cfg(test)]
pub(crate) fn decide(w: Word, now: u64, entered_at: u64, s: &Settings) -> Decision {
    decide_with_hint(w, now, entered_at, 0, s)
}

/// Like [`decide`], where the dependency asked (with a `Retry-After`) not to be
/// called before `hint_until` (0 for no such request).
#[cfg(test)]
pub(crate) fn decide_with_hint(
    w: Word,
    now: u64,
    entered_at: u64,
    hint_until: u64,
    s: &Settings,
) -> Decision {
    let mark = match w.state() {
        State::Open => open_deadline(w, entered_at, s).max(hint_until),
        _ => entered_at,
    };
    decide_at(w, now, mark, s)
}

/// The admission decision for word `w` at time `now`, where `mark` is, for an open
/// word, when probing may start (the deadline stored at the transition, with any
/// longer `Retry-After`), and for any other word when its state began. The shell
/// passes the stored deadline rather than recomputing it from the backoff, because an
/// operator's opening ([`open_for`](crate::CircuitBreaker::open_for)) sets a wait of
/// its own.
pub(crate) fn decide_at(w: Word, now: u64, mark: u64, s: &Settings) -> Decision {
    let state = w.state();
    if state.admits_all() {
        return Decision::Admit;
    }
    if w.busy() {
        return Decision::Reject(None);
    }
    match state {
        State::Open => {
            if reached(now, mark) {
                Decision::Transition(State::HalfOpen, Reason::WaitElapsed)
            } else {
                Decision::Reject(time_left(mark, now))
            }
        }
        State::HalfOpen => {
            if let Some(timeout) = s.half_open_timeout {
                if reached(now, mark.saturating_add(timeout.get())) {
                    return Decision::Transition(State::Open, Reason::HalfOpenTimeout);
                }
            }
            if w.taken() < s.half_open_permits {
                Decision::Probe(w.with_probes(w.taken() + 1, w.successes()))
            } else {
                Decision::Reject(None)
            }
        }
        _ => Decision::Reject(None),
    }
}

/// A deadline that saturated at the end of the clock (584 years of nanoseconds): it
/// is never reached, or a breaker whose clock stands there would cycle between open
/// and half-open for ever.
const NEVER: u64 = u64::MAX;

#[inline]
fn reached(now: u64, deadline: u64) -> bool {
    now >= deadline && deadline != NEVER
}

/// The wait to promise a caller refused at `now` by an open state ending at
/// `deadline`: `None` for a deadline that saturated, which is never reached (a wait
/// promised then would end in another refusal).
#[inline]
pub(crate) fn time_left(deadline: u64, now: u64) -> Option<u64> {
    (deadline != NEVER).then(|| deadline.saturating_sub(now))
}

/// When an open breaker, entered at `entered_at`, starts probing.
#[inline]
pub(crate) fn open_deadline(w: Word, entered_at: u64, s: &Settings) -> u64 {
    entered_at.saturating_add(open_wait(w, s))
}

/// How long the open state in `w` lasts.
#[inline]
pub(crate) fn open_wait(w: Word, s: &Settings) -> u64 {
    s.backoff.wait_nanos(w.step(), Some(w.generation()))
}

/// What a half-open probe reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProbeReport {
    Success,
    Failure,
    Slow,
    /// Ignored or abandoned: the slot is given back.
    Release,
}

/// How a probe's report moves the state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ProbeStep {
    /// The probe belongs to an earlier generation (or a transition is being
    /// published): its report is discarded.
    Stale,
    /// Swap the word for this one.
    Update(Word),
    /// Make this transition.
    Transition(State, Reason),
}

/// Applies a report from a probe issued in `generation` to word `w`.
pub(crate) fn probe_report(
    w: Word,
    generation: u64,
    report: ProbeReport,
    s: &Settings,
) -> ProbeStep {
    if w.busy() || w.state() != State::HalfOpen || w.generation() != generation {
        return ProbeStep::Stale;
    }
    match report {
        ProbeReport::Success => {
            let successes = w.successes() + 1;
            if successes >= s.half_open_permits {
                ProbeStep::Transition(State::Closed, Reason::ProbesSucceeded { probes: successes })
            } else {
                ProbeStep::Update(w.with_probes(w.taken(), successes))
            }
        }
        ProbeReport::Failure => ProbeStep::Transition(State::Open, Reason::ProbeFailed),
        ProbeReport::Slow => ProbeStep::Transition(State::Open, Reason::ProbeSlow),
        ProbeReport::Release if w.taken() > w.successes() => {
            ProbeStep::Update(w.with_probes(w.taken() - 1, w.successes()))
        }
        ProbeReport::Release => ProbeStep::Stale,
    }
}

/// Does the `count`-th failure in a row trip the breaker?
#[inline]
pub(crate) fn consecutive_trip(count: u32, s: &Settings) -> Option<Reason> {
    match s.consecutive_failures {
        Some(threshold) if count >= threshold => {
            Some(Reason::ConsecutiveFailures { count, threshold })
        }
        _ => None,
    }
}

/// Do these window counts trip the breaker? Failure rate is checked before the
/// slow-call rate.
pub(crate) fn window_trip(c: Counts, s: &Settings) -> Option<Reason> {
    if let (Some(threshold), Some(rate)) = (s.failure_rate, c.failure_rate(s)) {
        if rate >= threshold {
            return Some(Reason::FailureRate {
                rate,
                threshold,
                failures: c.failures,
                calls: c.calls,
            });
        }
    }
    if let (Some(slow), Some(rate)) = (s.slow, c.slow_rate(s)) {
        if rate >= slow.rate {
            return Some(Reason::SlowCallRate {
                rate,
                threshold: slow.rate,
                slow: c.slow,
                calls: c.calls,
            });
        }
    }
    None
}

#[cfg(test)]
mod tests;
