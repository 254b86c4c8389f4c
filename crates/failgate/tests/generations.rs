//! Late results are counted against the state they were admitted in, or not at all.

use failgate::{CircuitBreaker, EventKind, ManualClock, State};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[test]
fn a_failure_admitted_while_closed_does_not_count_after_the_breaker_opened_and_closed() {
    let clock = ManualClock::new();
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(2)
        .open_for(Duration::from_secs(1))
        .clock(clock.clone())
        .build()
        .unwrap();
    // A slow call is admitted while closed...
    let slow_call = breaker.try_acquire().unwrap();
    let old_generation = slow_call.generation();
    // ...meanwhile the breaker trips, waits, probes and closes again.
    let _ = breaker.call(|| Err::<(), ()>(()));
    let _ = breaker.call(|| Err::<(), ()>(()));
    clock.advance(Duration::from_secs(1));
    breaker.call(|| Ok::<(), ()>(())).unwrap();
    assert_eq!(breaker.state(), State::Closed);
    let _ = breaker.call(|| Err::<(), ()>(()));
    assert_eq!(breaker.snapshot().consecutive_failures, 1);
    assert!(breaker.snapshot().generation > old_generation);
    // The slow call now fails: it belongs to an older generation and is discarded.
    slow_call.failure();
    assert_eq!(breaker.snapshot().consecutive_failures, 1);
    assert_eq!(
        breaker.state(),
        State::Closed,
        "the stale failure must not trip it"
    );
}

#[test]
fn a_stale_success_does_not_close_a_half_open_breaker() {
    let clock = ManualClock::new();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(1)
        .open_for(Duration::from_secs(1))
        .clock(clock.clone())
        .observer(move |e: &failgate::Event<'_>| sink.lock().unwrap().push(e.kind))
        .build()
        .unwrap();
    let early = breaker.try_acquire().unwrap();
    let _ = breaker.call(|| Err::<(), ()>(()));
    clock.advance(Duration::from_secs(1));
    assert_eq!(breaker.state(), State::HalfOpen);
    early.success();
    assert_eq!(
        breaker.state(),
        State::HalfOpen,
        "a closed-state success is not a probe"
    );
    assert!(events.lock().unwrap().contains(&EventKind::Success {
        duration: None,
        counted: false
    }));
}

#[test]
fn a_stale_window_failure_is_not_counted() {
    let breaker = CircuitBreaker::builder()
        .failure_rate(0.5)
        .window(failgate::Window::count(10))
        .minimum_calls(1)
        .build()
        .unwrap();
    let stale = breaker.try_acquire().unwrap();
    breaker.force_open();
    breaker.reset();
    stale.failure();
    assert_eq!(breaker.snapshot().calls, 0);
    assert_eq!(breaker.state(), State::Closed);
}
