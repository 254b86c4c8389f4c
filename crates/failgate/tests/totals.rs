//! What a breaker counts for people's graphs: refusals, slow successes and slow
//! failures apart, and totals since creation that no reset empties.

use failgate::{CircuitBreaker, Event, ManualClock, Outcome, Reason, State, Window};
use std::time::Duration;

fn tripped() -> Reason {
    Reason::ConsecutiveFailures {
        count: 0,
        threshold: 0,
    }
}

#[test]
fn refusals_are_counted_in_the_snapshot_since_creation() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder()
        .consecutive_failures(1)
        .open_for(Duration::from_secs(10))
        .totals(true)
        .clock(clock.clone())
        .build()
        .unwrap();
    assert_eq!(b.snapshot().refused(), Some(0));
    let _ = b.call(|| Err::<(), _>("down"));
    assert_eq!(b.state(), State::Open);
    // Every way of asking is refused, and counted.
    assert!(b.call(|| Ok::<(), ()>(())).is_err());
    assert!(b.try_acquire().is_err());
    assert!(b.try_acquire_owned().is_err());
    assert_eq!(b.snapshot().refused(), Some(3));
    // Half-open refuses what its probe slots do not admit.
    clock.advance(Duration::from_secs(10));
    let probe = b.try_acquire().unwrap();
    assert!(b.try_acquire().is_err());
    probe.success();
    assert_eq!(b.state(), State::Closed);
    // Forced open refuses too, and neither a reset nor closing forgets a refusal.
    b.force_open();
    assert!(b.try_acquire().is_err());
    b.reset();
    let snapshot = b.snapshot();
    assert_eq!(snapshot.refused(), Some(5));
    assert_eq!(snapshot.totals.unwrap().refused, 5);
}

#[test]
fn totals_are_kept_with_an_observer_and_only_when_asked_without_one() {
    let refuse = |b: &CircuitBreaker| {
        b.force_open();
        let _ = b.try_acquire();
        b.snapshot().refused()
    };
    let plain = CircuitBreaker::builder().build().unwrap();
    assert_eq!(refuse(&plain), None, "a plain breaker keeps no totals");
    let observed = CircuitBreaker::builder()
        .observer(|_: &Event<'_>| {})
        .build()
        .unwrap();
    assert_eq!(refuse(&observed), Some(1));
    let refused = CircuitBreaker::builder()
        .observer(|_: &Event<'_>| {})
        .totals(false)
        .build()
        .unwrap();
    assert_eq!(
        refuse(&refused),
        None,
        "totals(false) wins over an observer"
    );
}

#[test]
fn totals_survive_reset_and_transitions() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder()
        .consecutive_failures(2)
        .failure_rate(0.9)
        .window(Window::count(10))
        .open_for(Duration::from_secs(5))
        .totals(true)
        .clock(clock.clone())
        .build()
        .unwrap();
    for _ in 0..3 {
        b.call(|| Ok::<(), ()>(())).unwrap();
    }
    let _ = b.call_with(|_| Outcome::Ignore, || Err::<(), ()>(()));
    drop(b.try_acquire().unwrap()); // abandoned
    let _ = b.call(|| Err::<(), ()>(()));
    let _ = b.call(|| Err::<(), ()>(())); // trips
    let _ = b.call(|| Ok::<(), ()>(())); // refused
    clock.advance(Duration::from_secs(5));
    b.call(|| Ok::<(), ()>(())).unwrap(); // the probe closes it
    let before = b.snapshot();
    assert_eq!(
        (before.calls, before.state),
        (0, State::Closed),
        "closing empties the window"
    );
    b.call(|| Ok::<(), ()>(())).unwrap();
    b.reset();
    let after = b.snapshot();
    assert_eq!(after.calls, 0, "a reset empties the window");
    let t = after.totals.expect("kept");
    assert_eq!(
        (t.successes, t.failures, t.ignored, t.abandoned, t.refused),
        (5, 2, 1, 1, 1)
    );
    assert_eq!(t.calls(), 8);
    assert_eq!(t.transitions_by(&tripped()), 1);
    assert_eq!(t.transitions_by(&Reason::WaitElapsed), 1);
    assert_eq!(t.transitions_by(&Reason::ProbesSucceeded { probes: 0 }), 1);
    assert_eq!(t.transitions_by(&Reason::Manual), 1);
    assert_eq!(t.transitions(), 4);
    let named: Vec<(&str, u64)> = t.transitions_by_reason().filter(|r| r.1 > 0).collect();
    assert_eq!(
        named,
        [
            ("consecutive_failures", 1),
            ("wait_elapsed", 1),
            ("probes_succeeded", 1),
            ("manual", 1)
        ]
    );
    // Totals never go down between snapshots.
    let earlier = before.totals.unwrap();
    assert!(earlier.successes <= t.successes && earlier.transitions() <= t.transitions());
}

#[test]
fn totals_add_up_across_threads() {
    let b = CircuitBreaker::builder()
        .consecutive_failures(1_000_000)
        .totals(true)
        .build()
        .unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for i in 0..1000u32 {
                    let _ = b.call(|| if i % 4 == 0 { Err(i) } else { Ok(i) });
                }
            });
        }
    });
    let t = b.snapshot().totals.unwrap();
    assert_eq!((t.successes, t.failures), (3000, 1000));
}

/// Slow calls with both outcomes, on a breaker whose slow-call rate cannot trip it
/// (its minimum is never reached).
fn slow_mix(window: Window) -> failgate::Snapshot {
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder()
        .consecutive_failures(100)
        .slow_calls(Duration::from_millis(100), 1.0)
        .window(window)
        .minimum_calls(50)
        .totals(true)
        .clock(clock.clone())
        .build()
        .unwrap();
    let call = |slow: bool, outcome: Outcome| {
        let permit = b.try_acquire().unwrap();
        if slow {
            clock.advance(Duration::from_millis(150));
        }
        permit.record(outcome);
    };
    for _ in 0..3 {
        call(true, Outcome::Success);
    }
    for _ in 0..2 {
        call(true, Outcome::Failure);
    }
    call(false, Outcome::Success);
    call(false, Outcome::Failure);
    call(true, Outcome::Ignore); // slow, but not counted: it says nothing
    b.snapshot()
}

#[test]
fn slow_successes_and_slow_failures_are_apart() {
    for (what, window) in [
        ("count window", Window::count(64)),
        ("time window", Window::time(Duration::from_secs(60))),
    ] {
        let s = slow_mix(window);
        assert_eq!(
            (s.calls, s.failures, s.slow_calls),
            (7, 3, 5),
            "{what}: window counts"
        );
        assert_eq!((s.slow_successes, s.slow_failures), (3, 2), "{what}");
        assert_eq!(s.slow_calls, s.slow_successes + s.slow_failures, "{what}");
        let t = s.totals.unwrap();
        assert_eq!(
            (t.slow_successes, t.slow_failures),
            (3, 2),
            "{what}: totals"
        );
        assert_eq!((t.successes, t.failures, t.ignored), (4, 3, 1), "{what}");
    }
}

#[test]
fn a_reason_has_a_short_stable_name() {
    let names: Vec<&str> = [
        tripped(),
        Reason::FailureRate {
            rate: 1.0,
            threshold: 0.5,
            failures: 1,
            calls: 1,
        },
        Reason::SlowCallRate {
            rate: 1.0,
            threshold: 0.5,
            slow: 1,
            calls: 1,
        },
        Reason::WaitElapsed,
        Reason::ProbesSucceeded { probes: 1 },
        Reason::ProbeFailed,
        Reason::ProbeSlow,
        Reason::HalfOpenTimeout,
        Reason::Manual,
    ]
    .iter()
    .map(Reason::as_str)
    .collect();
    assert_eq!(
        names,
        [
            "consecutive_failures",
            "failure_rate",
            "slow_call_rate",
            "wait_elapsed",
            "probes_succeeded",
            "probe_failed",
            "probe_slow",
            "half_open_timeout",
            "manual"
        ]
    );
}
