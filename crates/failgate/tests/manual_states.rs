//! Operator controls: force open, disable, count only, reset.

use failgate::{CircuitBreaker, Error, ManualClock, State, Window};
use std::time::Duration;

fn breaker() -> (CircuitBreaker, ManualClock) {
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder()
        .consecutive_failures(2)
        .failure_rate(0.5)
        .window(Window::count(10))
        .minimum_calls(2)
        .open_for(Duration::from_secs(1))
        .clock(clock.clone())
        .build()
        .unwrap();
    (b, clock)
}

#[test]
fn forced_open_refuses_everything_without_retry_after_until_reset() {
    let (b, clock) = breaker();
    b.force_open();
    assert_eq!(b.state(), State::ForcedOpen);
    clock.advance(Duration::from_secs(3600));
    match b.call(|| Ok::<_, ()>(())) {
        Err(Error::Rejected(r)) => {
            assert_eq!(r.state(), State::ForcedOpen);
            assert_eq!(r.retry_after(), None);
        }
        other => panic!("{other:?}"),
    }
    b.reset();
    assert_eq!(b.state(), State::Closed);
    b.call(|| Ok::<_, ()>(())).unwrap();
}

#[test]
fn disabled_admits_everything_and_counts_nothing() {
    let (b, _) = breaker();
    b.disable();
    for _ in 0..100 {
        assert_eq!(b.call(|| Err::<(), _>(1)), Err(Error::Inner(1)));
    }
    assert_eq!(b.state(), State::Disabled);
    assert_eq!(b.snapshot().calls, 0);
}

#[test]
fn metrics_only_counts_but_never_trips() {
    let (b, _) = breaker();
    b.count_only();
    for _ in 0..5 {
        let _ = b.call(|| Err::<(), _>(()));
    }
    let m = b.snapshot();
    assert_eq!(m.state, State::CountOnly);
    assert_eq!((m.calls, m.failures), (5, 5));
    assert_eq!(m.failure_rate, Some(1.0));
}

#[test]
fn reset_clears_counters_and_backoff() {
    let (b, _) = breaker();
    let _ = b.call(|| Err::<(), _>(()));
    assert_eq!(b.snapshot().consecutive_failures, 1);
    b.reset();
    let m = b.snapshot();
    assert_eq!((m.consecutive_failures, m.calls, m.failures), (0, 0, 0));
    let _ = b.call(|| Err::<(), _>(()));
    assert_eq!(b.state(), State::Closed, "the count started over");
}

#[test]
fn manual_calls_are_idempotent_and_always_leave_the_named_state() {
    let (b, _) = breaker();
    for _ in 0..2 {
        let _ = b.call(|| Err::<(), _>(()));
    }
    assert_eq!(b.state(), State::Open);
    let g = b.snapshot().generation;
    b.force_open();
    b.force_open();
    assert_eq!(
        b.snapshot().generation,
        g + 1,
        "a second force_open is a no-op"
    );
    b.disable();
    assert_eq!(b.state(), State::Disabled);
    b.count_only();
    assert_eq!(b.state(), State::CountOnly);
    b.reset();
    b.reset();
    assert_eq!(
        b.snapshot().generation,
        g + 5,
        "reset always starts a new generation"
    );
}
