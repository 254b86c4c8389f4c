//! The decision core: small pure functions of (state word, time, settings) that say
//! whether to admit a call, how a probe's report moves half-open, and whether a
//! window's counts trip the breaker. They touch no atomics and read no clock; the thin
//! concurrent shell in `breaker/` loads the state, calls them, and publishes their
//! answer with a compare-and-swap. Unit tests walk every transition here directly.

mod word;

pub(crate) use word::{Word, GEN_MASK};

use crate::backoff::BreakContext;
use crate::clock::duration_to_nanos;
use crate::policy::{Rate, Settings, MAX_DURATION};
use crate::vocabulary::{Counts, Reason, State};
use std::time::Duration;

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
/// `entered_at`, whose open wait is the backoff's. A word being published (busy)
/// refuses what it does not admit freely.
#[cfg(test)]
pub(crate) fn decide(w: Word, now: u64, entered_at: u64, s: &Settings) -> Decision {
    let until = open_deadline(w, entered_at, s);
    decide_with_hint(w, now, Since { entered_at, until }, 0, s)
}

/// When the state of a word began, and (for an open state) when its wait ends, as
/// the transition into it set them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Since {
    pub(crate) entered_at: u64,
    pub(crate) until: u64,
}

/// Like [`decide`], for a state with the times `at`, where the dependency asked
/// (with a `Retry-After`) not to be called before `hint_until` (0 for no such
/// request).
pub(crate) fn decide_with_hint(
    w: Word,
    now: u64,
    at: Since,
    hint_until: u64,
    s: &Settings,
) -> Decision {
    let entered_at = at.entered_at;
    let state = w.state();
    if state.admits_all() {
        return Decision::Admit;
    }
    if w.busy() {
        return Decision::Reject(None);
    }
    match state {
        State::Open => {
            let deadline = at.until.max(hint_until);
            if reached(now, deadline) {
                Decision::Transition(State::HalfOpen, Reason::WaitElapsed)
            } else {
                Decision::Reject(time_left(deadline, now))
            }
        }
        State::HalfOpen => {
            if let Some(timeout) = s.half_open_timeout {
                if reached(now, entered_at.saturating_add(timeout.get())) {
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

/// When an open breaker, entered at `entered_at`, starts probing, by its backoff.
#[cfg(test)]
pub(crate) fn open_deadline(w: Word, entered_at: u64, s: &Settings) -> u64 {
    entered_at.saturating_add(open_wait(w, s))
}

/// How long the open state in `w` lasts, by the backoff.
#[inline]
pub(crate) fn open_wait(w: Word, s: &Settings) -> u64 {
    s.backoff.wait_nanos(w.step(), Some(w.generation()))
}

/// How long the open state in `w`, entered for `reason`, lasts: the custom break
/// duration's wait (at most [`MAX_DURATION`]) if one is set, else the backoff's.
pub(crate) fn break_wait(w: Word, reason: Reason, s: &Settings) -> u64 {
    let backoff = open_wait(w, s);
    match s.break_duration() {
        None => backoff,
        Some(f) => {
            let ctx = BreakContext {
                attempt: w.step(),
                reason,
                backoff_wait: Duration::from_nanos(backoff),
            };
            duration_to_nanos(f.wait(&ctx).min(MAX_DURATION))
        }
    }
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
    let (taken, successes, failures) = (w.taken(), w.successes(), w.failures());
    match (report, s.half_open_failure_rate()) {
        (ProbeReport::Release, _) if taken > successes + failures => {
            ProbeStep::Update(w.with_probes(taken - 1, successes))
        }
        (ProbeReport::Release, _) => ProbeStep::Stale,
        (ProbeReport::Success, Some(rate)) => {
            rate_rule(w.with_probes(taken, successes + 1), rate, s)
        }
        (ProbeReport::Failure | ProbeReport::Slow, Some(rate)) => {
            rate_rule(w.with_probe_counts(taken, successes, failures + 1), rate, s)
        }
        (ProbeReport::Success, None) if successes + 1 >= s.half_open_permits => {
            ProbeStep::Transition(
                State::Closed,
                Reason::ProbesSucceeded {
                    probes: successes + 1,
                },
            )
        }
        (ProbeReport::Success, None) => ProbeStep::Update(w.with_probes(taken, successes + 1)),
        (ProbeReport::Failure, None) => ProbeStep::Transition(State::Open, Reason::ProbeFailed),
        (ProbeReport::Slow, None) => ProbeStep::Transition(State::Open, Reason::ProbeSlow),
    }
}

/// The failure-rate rule on the probe counts of `w`: the rate is failures over all
/// `half_open_permits` probes, decided as soon as it is certain. It reopens once
/// the failures alone reach `rate`, and closes once it stays below `rate` even if
/// every probe not yet succeeded fails; otherwise the counts are kept.
fn rate_rule(w: Word, rate: f64, s: &Settings) -> ProbeStep {
    let probes = s.half_open_permits;
    let (failures, successes) = (w.failures(), w.successes());
    let share = |n: u32| f64::from(n) / f64::from(probes);
    if share(failures) >= rate {
        ProbeStep::Transition(
            State::Open,
            Reason::ProbeFailureRate {
                failures,
                successes,
                probes,
                threshold: rate,
            },
        )
    } else if share(probes.saturating_sub(successes)) < rate {
        ProbeStep::Transition(
            State::Closed,
            Reason::ProbeFailureRateBelow {
                failures,
                successes,
                probes,
                threshold: rate,
            },
        )
    } else {
        ProbeStep::Update(w)
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
    if let (Some(threshold), Some(rate)) = (
        s.failure_rate.map(Rate::get),
        c.failure_rate(s.minimum_calls),
    ) {
        if rate >= threshold {
            return Some(Reason::FailureRate {
                rate,
                threshold,
                failures: c.failures,
                calls: c.calls,
            });
        }
    }
    if let (Some(slow), Some(rate)) = (s.slow, c.slow_rate(s.minimum_calls)) {
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
