//! Every transition of the pure core, called directly.

use super::*;
use crate::{Backoff, CircuitBreaker, Window};
use std::time::Duration;

const SEC: u64 = 1_000_000_000;

fn settings(f: impl FnOnce(crate::Builder) -> crate::Builder) -> Settings {
    f(CircuitBreaker::builder())
        .settings()
        .expect("valid test settings")
}

fn open_word(step_ups: u32) -> Word {
    let mut w = Word::INITIAL.transition(State::Open);
    for _ in 0..step_ups {
        w = w.transition(State::HalfOpen).transition(State::Open);
    }
    w
}

#[test]
fn states_that_admit_everything() {
    let s = settings(|b| b);
    for state in [State::Closed, State::Disabled, State::CountOnly] {
        let w = Word::INITIAL.transition(state);
        assert_eq!(decide(w, 0, 0, &s), Decision::Admit, "{state}");
        assert!(!decision_needs_clock(w, &s));
        // Even while a transition away is being published.
        assert_eq!(decide(w.with_busy(), 0, 0, &s), Decision::Admit);
    }
}

#[test]
fn open_refuses_until_the_wait_is_over_then_probes() {
    let s = settings(|b| b.open_for(Duration::from_secs(60)));
    let w = open_word(0);
    assert!(decision_needs_clock(w, &s));
    let entered = 5 * SEC;
    assert_eq!(
        decide(w, entered, entered, &s),
        Decision::Reject(Some(60 * SEC))
    );
    assert_eq!(
        decide(w, entered + 59 * SEC, entered, &s),
        Decision::Reject(Some(SEC))
    );
    assert_eq!(
        decide(w, entered + 60 * SEC, entered, &s),
        Decision::Transition(State::HalfOpen, Reason::WaitElapsed)
    );
    assert_eq!(
        decide(w.with_busy(), entered, entered, &s),
        Decision::Reject(None)
    );
}

#[test]
fn a_retry_after_hint_only_ever_lengthens_the_open_wait() {
    let s = settings(|b| b.open_for(Duration::from_secs(10)));
    let w = open_word(0);
    let at = Since {
        entered_at: 0,
        until: open_deadline(w, 0, &s),
    };
    assert_eq!(
        decide_with_hint(w, 0, at, 30 * SEC, &s),
        Decision::Reject(Some(30 * SEC))
    );
    assert_eq!(
        decide_with_hint(w, 0, at, 5 * SEC, &s),
        Decision::Reject(Some(10 * SEC)),
        "a shorter hint changes nothing"
    );
    assert_eq!(
        decide_with_hint(w, 30 * SEC, at, 30 * SEC, &s),
        Decision::Transition(State::HalfOpen, Reason::WaitElapsed)
    );
    let closed = Word::INITIAL;
    assert_eq!(
        decide_with_hint(closed, 0, Since::default(), u64::MAX, &s),
        Decision::Admit
    );
}

#[test]
fn deadlines_saturated_at_the_end_of_the_clock_are_never_reached() {
    let s = settings(|b| b.half_open_timeout(Duration::from_secs(1)));
    let open = open_word(0);
    assert_eq!(decide(open, u64::MAX, u64::MAX, &s), Decision::Reject(None));
    let half_open = open.transition(State::HalfOpen);
    assert!(matches!(
        decide(half_open, u64::MAX, u64::MAX, &s),
        Decision::Probe(_)
    ));
}

#[test]
fn exponential_backoff_follows_the_step() {
    let s = settings(|b| {
        b.backoff(Backoff::exponential(
            Duration::from_secs(1),
            Duration::from_secs(4),
        ))
    });
    for (step_ups, wait) in [(0, 1), (1, 2), (2, 4), (3, 4)] {
        let w = open_word(step_ups);
        assert_eq!(open_wait(w, &s), wait * SEC, "after {step_ups} reopenings");
        assert_eq!(decide(w, 0, 0, &s), Decision::Reject(Some(wait * SEC)));
    }
}

#[test]
fn half_open_admits_exactly_n_probes() {
    let s = settings(|b| b.half_open_permits(3));
    let mut w = open_word(0).transition(State::HalfOpen);
    assert!(!decision_needs_clock(w, &s), "no timeout: no clock");
    for taken in 1..=3 {
        match decide(w, 0, 0, &s) {
            Decision::Probe(next) => {
                assert_eq!(next.taken(), taken);
                w = next;
            }
            other => panic!("probe {taken} refused: {other:?}"),
        }
    }
    assert_eq!(decide(w, 0, 0, &s), Decision::Reject(None));
}

#[test]
fn half_open_times_out_into_open() {
    let s = settings(|b| b.half_open_timeout(Duration::from_secs(10)));
    let w = open_word(0).transition(State::HalfOpen);
    assert!(decision_needs_clock(w, &s));
    assert!(matches!(decide(w, 9 * SEC, 0, &s), Decision::Probe(_)));
    assert_eq!(
        decide(w, 10 * SEC, 0, &s),
        Decision::Transition(State::Open, Reason::HalfOpenTimeout)
    );
}

#[test]
fn forced_open_refuses_with_no_retry_after() {
    let s = settings(|b| b);
    let w = Word::INITIAL.transition(State::ForcedOpen);
    assert_eq!(decide(w, u64::MAX, 0, &s), Decision::Reject(None));
}

#[test]
fn n_probe_successes_close() {
    let s = settings(|b| b.half_open_permits(2));
    let w = open_word(0).transition(State::HalfOpen).with_probes(2, 0);
    let g = w.generation();
    let ProbeStep::Update(one) = probe_report(w, g, ProbeReport::Success, &s) else {
        panic!("first success should only count");
    };
    assert_eq!((one.taken(), one.successes()), (2, 1));
    assert_eq!(
        probe_report(one, g, ProbeReport::Success, &s),
        ProbeStep::Transition(State::Closed, Reason::ProbesSucceeded { probes: 2 })
    );
}

#[test]
fn a_failed_or_slow_probe_reopens() {
    let s = settings(|b| b.half_open_permits(2));
    let w = open_word(0).transition(State::HalfOpen).with_probes(2, 1);
    let g = w.generation();
    assert_eq!(
        probe_report(w, g, ProbeReport::Failure, &s),
        ProbeStep::Transition(State::Open, Reason::ProbeFailed)
    );
    assert_eq!(
        probe_report(w, g, ProbeReport::Slow, &s),
        ProbeStep::Transition(State::Open, Reason::ProbeSlow)
    );
}

#[test]
fn a_released_probe_gives_its_slot_back() {
    let s = settings(|b| b.half_open_permits(2));
    let w = open_word(0).transition(State::HalfOpen).with_probes(2, 1);
    let g = w.generation();
    let ProbeStep::Update(freed) = probe_report(w, g, ProbeReport::Release, &s) else {
        panic!("release should free a slot");
    };
    assert_eq!((freed.taken(), freed.successes()), (1, 1));
    // Only in-flight probes can be released: the successful one keeps its slot.
    assert_eq!(
        probe_report(freed, g, ProbeReport::Release, &s),
        ProbeStep::Stale
    );
}

#[test]
fn stale_probe_reports_are_discarded() {
    let s = settings(|b| b);
    let w = open_word(0).transition(State::HalfOpen).with_probes(1, 0);
    let old = w.generation() - 1;
    for report in [
        ProbeReport::Success,
        ProbeReport::Failure,
        ProbeReport::Release,
    ] {
        assert_eq!(probe_report(w, old, report, &s), ProbeStep::Stale);
        assert_eq!(
            probe_report(w.with_busy(), w.generation(), report, &s),
            ProbeStep::Stale
        );
        let closed = w.transition(State::Closed);
        assert_eq!(
            probe_report(closed, closed.generation(), report, &s),
            ProbeStep::Stale
        );
    }
}

#[test]
fn consecutive_threshold() {
    let s = settings(|b| b.consecutive_failures(3));
    assert_eq!(consecutive_trip(2, &s), None);
    assert_eq!(
        consecutive_trip(3, &s),
        Some(Reason::ConsecutiveFailures {
            count: 3,
            threshold: 3
        })
    );
    let none = settings(|b| b.failure_rate(0.5));
    assert_eq!(consecutive_trip(1_000, &none), None, "only when configured");
}

#[test]
fn rates_are_judged_from_the_minimum_and_trip_at_equality() {
    let s = settings(|b| {
        b.failure_rate(0.5)
            .window(Window::count(100))
            .minimum_calls(4)
    });
    let c = |calls, failures| Counts {
        calls,
        failures,
        slow: 0,
    };
    assert_eq!(
        c(3, 3).failure_rate(s.minimum_calls),
        None,
        "below the minimum: unknown"
    );
    assert_eq!(window_trip(c(3, 3), &s), None);
    assert_eq!(c(4, 1).failure_rate(s.minimum_calls), Some(0.25));
    assert_eq!(window_trip(c(4, 1), &s), None);
    assert_eq!(
        window_trip(c(4, 2), &s),
        Some(Reason::FailureRate {
            rate: 0.5,
            threshold: 0.5,
            failures: 2,
            calls: 4
        })
    );
}

#[test]
fn slow_rate_trips_independently() {
    let s = settings(|b| b.slow_calls(Duration::from_secs(2), 0.8).minimum_calls(5));
    let c = Counts {
        calls: 5,
        failures: 0,
        slow: 4,
    };
    assert_eq!(
        window_trip(c, &s),
        Some(Reason::SlowCallRate {
            rate: 0.8,
            threshold: 0.8,
            slow: 4,
            calls: 5
        })
    );
    assert_eq!(window_trip(Counts { slow: 3, ..c }, &s), None);
    assert_eq!(Counts::default().slow_rate(s.minimum_calls), None);
}

// ----- found by mutation testing (cargo mutants -f 'crates/failgate/src/state_machine/**') -----

#[test]
fn state_names_and_codes() {
    let all = [
        (State::Closed, "closed", 0),
        (State::Open, "open", 1),
        (State::HalfOpen, "half_open", 2),
        (State::ForcedOpen, "forced_open", 3),
        (State::Disabled, "disabled", 4),
        (State::CountOnly, "count_only", 5),
    ];
    for (state, name, code) in all {
        assert_eq!(state.as_str(), name);
        assert_eq!(state.to_string(), name, "Display is the name");
        assert_eq!(state.code(), code);
        assert_eq!(Word::INITIAL.transition(state).state(), state);
    }
}

#[test]
fn marking_a_word_busy_twice_keeps_it_busy() {
    let w = open_word(0).transition(State::HalfOpen).with_probes(2, 1);
    let twice = w.with_busy().with_busy();
    assert!(twice.busy());
    assert_eq!(twice.state(), State::HalfOpen);
    assert_eq!((twice.taken(), twice.successes()), (2, 1));
    assert_eq!(twice.generation(), w.generation());
}

#[test]
fn an_empty_window_has_no_rate_even_with_no_minimum() {
    // The builder never allows a minimum of 0, but the core must not divide 0 by 0
    // (a NaN rate) if one ever reaches it.
    let mut s = settings(|b| b.failure_rate(0.5).slow_calls(Duration::from_secs(1), 0.5));
    s.minimum_calls = 0;
    let empty = Counts::default();
    assert_eq!(empty.failure_rate(s.minimum_calls), None);
    assert_eq!(empty.slow_rate(s.minimum_calls), None);
    assert_eq!(window_trip(empty, &s), None);
    let one = Counts {
        calls: 1,
        failures: 1,
        slow: 0,
    };
    assert_eq!(one.failure_rate(s.minimum_calls), Some(1.0));
}

#[test]
fn a_second_probe_success_is_counted_not_merged_with_the_first() {
    // 4 permits: successes go 1 -> 2 -> 3 without closing; the count field is replaced
    // each time, never OR-ed with the old value (1 | 2 would read as 3).
    let s = settings(|b| b.half_open_permits(4));
    let w = open_word(0).transition(State::HalfOpen).with_probes(4, 1);
    let g = w.generation();
    let ProbeStep::Update(two) = probe_report(w, g, ProbeReport::Success, &s) else {
        panic!("the second success of four should only count");
    };
    assert_eq!((two.taken(), two.successes()), (4, 2));
    let ProbeStep::Update(three) = probe_report(two, g, ProbeReport::Success, &s) else {
        panic!("the third success of four should only count");
    };
    assert_eq!((three.taken(), three.successes()), (4, 3));
    let rewritten = three.with_probes(1, 0);
    assert_eq!((rewritten.taken(), rewritten.successes()), (1, 0));
}
