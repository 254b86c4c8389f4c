//! Policies that peer libraries offer: the half-open failure-rate rule
//! (resilience4j), a custom break duration (Polly, recloser), consecutive failures
//! that are forgotten after a quiet span (gobreaker's `Interval`). All on ManualClock.

use failgate::{
    BreakContext, Builder, CircuitBreaker, EventKind, ManualClock, Outcome, Reason, State,
    MAX_DURATION,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const S: Duration = Duration::from_secs(1);

/// The reasons of the breaker's changes of state, in order.
type Changes = Arc<Mutex<Vec<(State, Reason)>>>;

fn build(clock: &ManualClock, f: impl FnOnce(Builder) -> Builder) -> (CircuitBreaker, Changes) {
    let changes: Changes = Arc::default();
    let sink = changes.clone();
    let breaker = f(CircuitBreaker::builder())
        .clock(clock.clone())
        .observer(move |e: &failgate::Event<'_>| {
            if let EventKind::StateChange { to, reason, .. } = e.kind {
                sink.lock().unwrap().push((to, reason));
            }
        })
        .build()
        .unwrap();
    (breaker, changes)
}

fn fail(b: &CircuitBreaker) {
    let _ = b.call(|| Err::<(), ()>(()));
}

fn last(changes: &Changes) -> (State, Reason) {
    *changes.lock().unwrap().last().expect("a change of state")
}

/// A breaker that trips on one failure and probes with 10 permits under `rate`,
/// opened and half-open, with its 10 probe permits taken.
fn ten_probes(
    clock: &ManualClock,
    rate: f64,
) -> (CircuitBreaker, Changes, Vec<failgate::OwnedPermit>) {
    let (b, changes) = build(clock, |b| {
        b.consecutive_failures(1)
            .open_for(10 * S)
            .half_open_permits(10)
            .half_open_failure_rate(rate)
    });
    fail(&b);
    clock.advance(10 * S);
    let probes: Vec<_> = (0..10).map(|_| b.try_acquire_owned().unwrap()).collect();
    assert!(b.try_acquire().is_err(), "only 10 probes");
    assert_eq!(b.state(), State::HalfOpen);
    (b, changes, probes)
}

#[test]
fn rate_rule_closes_with_three_failures_of_ten_probes_below_half() {
    let clock = ManualClock::new();
    let (b, changes, mut probes) = ten_probes(&clock, 0.5);
    for _ in 0..3 {
        probes.pop().unwrap().record(Outcome::Failure);
    }
    for _ in 0..5 {
        probes.pop().unwrap().record(Outcome::Success);
    }
    // 3 failures and 5 successes: 2 more failures would make 5 of 10, not below half.
    assert_eq!(b.state(), State::HalfOpen);
    probes.pop().unwrap().record(Outcome::Success);
    // Now at most 4 of 10 can fail: certain to stay below half, so it closes at once.
    assert_eq!(b.state(), State::Closed);
    assert_eq!(
        last(&changes),
        (
            State::Closed,
            Reason::ProbeFailureRateBelow {
                failures: 3,
                successes: 6,
                probes: 10,
                threshold: 0.5
            }
        )
    );
    // The last probe is of an earlier generation: its failure is not counted.
    probes.pop().unwrap().record(Outcome::Failure);
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.snapshot().consecutive_failures, 0);
}

#[test]
fn rate_rule_reopens_as_soon_as_the_rate_cannot_fall_below() {
    let clock = ManualClock::new();
    let (b, changes, mut probes) = ten_probes(&clock, 0.5);
    for _ in 0..4 {
        probes.pop().unwrap().record(Outcome::Failure);
    }
    assert_eq!(b.state(), State::HalfOpen, "4 of 10 is below half");
    probes.pop().unwrap().record(Outcome::Failure);
    assert_eq!(b.state(), State::Open, "5 of 10 reached half");
    assert_eq!(
        last(&changes),
        (
            State::Open,
            Reason::ProbeFailureRate {
                failures: 5,
                successes: 0,
                probes: 10,
                threshold: 0.5
            }
        )
    );
    // A reopening steps the backoff up, as a failed probe of the default rule does.
    assert_eq!(b.snapshot().retry_after, Some(10 * S));
    for p in probes {
        p.record(Outcome::Success);
    }
    assert_eq!(b.state(), State::Open, "the other probes are stale");
}

#[test]
fn rate_rule_waits_for_the_last_probe_when_only_it_decides() {
    for (last_outcome, expected) in [
        (Outcome::Success, State::Closed),
        (Outcome::Failure, State::Open),
    ] {
        let clock = ManualClock::new();
        let (b, _, mut probes) = ten_probes(&clock, 0.5);
        for i in 0..9 {
            let outcome = if i % 2 == 0 {
                Outcome::Success
            } else {
                Outcome::Failure
            };
            probes.pop().unwrap().record(outcome);
        }
        // 5 successes and 4 failures: the tenth decides.
        assert_eq!(b.state(), State::HalfOpen);
        probes.pop().unwrap().record(last_outcome);
        assert_eq!(b.state(), expected, "{last_outcome:?}");
    }
}

#[test]
fn rate_rule_gives_the_slot_of_an_ignored_probe_to_another() {
    let clock = ManualClock::new();
    let (b, _, mut probes) = ten_probes(&clock, 0.5);
    probes.pop().unwrap().record(Outcome::Ignore);
    drop(probes.pop());
    let again: Vec<_> = (0..2).map(|_| b.try_acquire_owned().unwrap()).collect();
    assert!(b.try_acquire().is_err());
    for p in again.into_iter().chain(probes).take(6) {
        p.record(Outcome::Success);
    }
    assert_eq!(b.state(), State::Closed, "6 of 10 succeeded");
}

#[test]
fn rate_rule_counts_a_slow_probe_as_failed() {
    let clock = ManualClock::new();
    let (b, changes) = build(&clock, |b| {
        b.consecutive_failures(1)
            .slow_calls(S, 1.0)
            .open_for(10 * S)
            .half_open_permits(2)
            .half_open_failure_rate(0.5)
    });
    fail(&b);
    clock.advance(10 * S);
    let probe = b.try_acquire().unwrap();
    clock.advance(2 * S);
    probe.record(Outcome::Success);
    assert_eq!(b.state(), State::Open, "1 slow of 2 probes reaches half");
    assert!(matches!(
        last(&changes),
        (State::Open, Reason::ProbeFailureRate { failures: 1, .. })
    ));
}

#[test]
fn the_default_rule_still_reopens_on_the_first_failed_probe() {
    let clock = ManualClock::new();
    let (b, changes) = build(&clock, |b| {
        b.consecutive_failures(1).open_for(S).half_open_permits(10)
    });
    fail(&b);
    clock.advance(S);
    let probes: Vec<_> = (0..10).map(|_| b.try_acquire_owned().unwrap()).collect();
    let mut probes = probes.into_iter();
    probes.next().unwrap().record(Outcome::Success);
    probes.next().unwrap().record(Outcome::Failure);
    assert_eq!(last(&changes), (State::Open, Reason::ProbeFailed));
}

#[test]
fn custom_break_duration_sees_the_attempt_and_the_tripping_rate() {
    let clock = ManualClock::new();
    let seen: Arc<Mutex<Vec<BreakContext>>> = Arc::default();
    let log = seen.clone();
    let (b, _) = build(&clock, |b| {
        b.failure_rate(0.5)
            .window(failgate::Window::count(4))
            .minimum_calls(4)
            .open_for(7 * S)
            .break_duration(move |ctx: &BreakContext| {
                log.lock().unwrap().push(*ctx);
                10 * S * (ctx.attempt + 1)
            })
    });
    let _ = b.call(|| Ok::<(), ()>(()));
    for _ in 0..3 {
        fail(&b);
    }
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.snapshot().retry_after, Some(10 * S));
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "called once, on the trip");
        assert_eq!(seen[0].attempt, 0);
        assert_eq!(seen[0].backoff_wait, 7 * S);
        assert_eq!(
            seen[0].reason,
            Reason::FailureRate {
                rate: 0.75,
                threshold: 0.5,
                failures: 3,
                calls: 4
            }
        );
    }
    clock.advance(10 * S);
    fail(&b); // the probe fails: the second opening
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.snapshot().retry_after, Some(20 * S));
    let second = seen.lock().unwrap()[1];
    assert_eq!((second.attempt, second.reason), (1, Reason::ProbeFailed));
    clock.advance(20 * S - Duration::from_nanos(1));
    assert!(
        b.try_acquire().is_err(),
        "still open 1 ns before the wait ends"
    );
    clock.advance(Duration::from_nanos(1));
    assert!(b.try_acquire().unwrap().is_probe());
    assert_eq!(
        seen.lock().unwrap().len(),
        2,
        "never called but on an opening"
    );
}

#[test]
fn custom_break_duration_is_capped_and_yields_to_a_longer_retry_after() {
    let clock = ManualClock::new();
    let (b, _) = build(&clock, |b| {
        b.consecutive_failures(1)
            .break_duration(|_: &BreakContext| Duration::MAX)
    });
    fail(&b);
    assert_eq!(b.snapshot().retry_after, Some(MAX_DURATION));

    let (b, _) = build(&clock, |b| {
        b.consecutive_failures(1)
            .honor_retry_after(true)
            .break_duration(|_: &BreakContext| S)
    });
    b.try_acquire()
        .unwrap()
        .record_with_retry_after(Outcome::Failure, Some(30 * S));
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.snapshot().retry_after, Some(30 * S));
    clock.advance(29 * S);
    assert!(b.try_acquire().is_err(), "the Retry-After holds it open");
    clock.advance(S);
    assert!(b.try_acquire().unwrap().is_probe());
}

#[test]
fn custom_break_duration_that_panics_waits_the_backoff() {
    let clock = ManualClock::new();
    let (b, changes) = build(&clock, |b| {
        b.consecutive_failures(1)
            .open_for(7 * S)
            .break_duration(|_: &BreakContext| -> Duration { panic!("a broken generator") })
    });
    fail(&b);
    assert_eq!(b.state(), State::Open, "the transition was published");
    assert_eq!(b.snapshot().retry_after, Some(7 * S));
    clock.advance(7 * S);
    let _ = b.call(|| Ok::<(), ()>(()));
    assert_eq!(b.state(), State::Closed, "and the breaker works on");
    assert_eq!(changes.lock().unwrap().len(), 3);
}

#[test]
fn consecutive_failures_forget_after_a_quiet_span() {
    let clock = ManualClock::new();
    let (b, _) = build(&clock, |b| {
        b.consecutive_failures(3).forget_failures_after(10 * S)
    });
    fail(&b);
    clock.advance(10 * S);
    fail(&b);
    assert_eq!(
        b.snapshot().consecutive_failures,
        2,
        "a gap of exactly the span is not longer than it"
    );
    clock.advance(10 * S + Duration::from_nanos(1));
    assert_eq!(
        b.snapshot().consecutive_failures,
        0,
        "forgotten once the span passed"
    );
    fail(&b);
    assert_eq!(
        b.snapshot().consecutive_failures,
        1,
        "the count starts again at 1"
    );
    assert_eq!(b.state(), State::Closed);
    clock.advance(9 * S);
    fail(&b);
    clock.advance(9 * S);
    fail(&b);
    assert_eq!(
        b.state(),
        State::Open,
        "failures closer than the span keep counting"
    );
}

#[test]
fn forgetting_failures_counts_a_steady_outage_as_before() {
    // The span runs from the previous failure: a run longer than the span still trips.
    let clock = ManualClock::new();
    let (b, _) = build(&clock, |b| {
        b.consecutive_failures(5).forget_failures_after(2 * S)
    });
    for _ in 0..4 {
        fail(&b);
        clock.advance(S);
    }
    fail(&b);
    assert_eq!(b.state(), State::Open);
}

#[test]
fn a_success_still_resets_forgetful_consecutive_failures() {
    let clock = ManualClock::new();
    let (b, _) = build(&clock, |b| {
        b.consecutive_failures(2).forget_failures_after(10 * S)
    });
    fail(&b);
    let _ = b.call(|| Ok::<(), ()>(()));
    fail(&b);
    assert_eq!(b.state(), State::Closed);
    fail(&b);
    assert_eq!(b.state(), State::Open);
}

#[test]
fn new_settings_are_checked_by_build() {
    for bad in [0.0, -0.1, 1.5, f64::NAN] {
        let e = CircuitBreaker::builder()
            .half_open_failure_rate(bad)
            .build()
            .unwrap_err();
        assert_eq!(
            (e.field(), e.value()),
            ("half_open_failure_rate", format!("{bad:?}").as_str())
        );
    }
    let e = CircuitBreaker::builder()
        .forget_failures_after(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!((e.field(), e.value()), ("forget_failures_after", "0ns"));
    let e = CircuitBreaker::builder()
        .failure_rate(0.5)
        .forget_failures_after(S)
        .build()
        .unwrap_err();
    assert_eq!(e.field(), "forget_failures_after");
    assert!(e.problem().contains("needs consecutive_failures"), "{e}");
    // With the default trip (5 in a row) it applies.
    assert!(CircuitBreaker::builder()
        .forget_failures_after(S)
        .build()
        .is_ok());
}
