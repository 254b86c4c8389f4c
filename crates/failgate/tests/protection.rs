//! No silent loss of protection: configurations and answers that used to leave a
//! breaker reporting healthy while it protected nothing, or promising a retry it
//! would not honour. Each test is named after the behaviour it pins down.

// The test kit every crate's tests share: crates/failgate-testkit's sources, linked in
// (tests/testkit/ holds symlinks) so that the packaged crate tests on its own.
#[allow(dead_code, unreachable_pub)]
mod testkit;

use failgate::{
    Builder, CircuitBreaker, Classify, Event, EventKind, ManualClock, Reason, State, Window,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SEC: Duration = Duration::from_secs(1);

fn fail<C: Classify<(), u64>>(b: &CircuitBreaker<C>) {
    let _ = b.call(|| Err::<(), u64>(0));
}

type Seen<T> = Arc<Mutex<Vec<T>>>;

/// An observer that keeps what `pick` takes from each event, and what it kept.
fn recorder<T: Send + 'static>(
    pick: fn(EventKind) -> Option<T>,
) -> (impl Fn(&Event<'_>) + Send + Sync + 'static, Seen<T>) {
    let seen: Seen<T> = Arc::default();
    let sink = seen.clone();
    let observer = move |e: &Event<'_>| sink.lock().unwrap().extend(pick(e.kind));
    (observer, seen)
}

/// `n` failures in a row, each checked: the first `n - 1` leave it closed, the last
/// opens it.
fn assert_opens_on_failure(b: &CircuitBreaker, n: u64, what: &str) {
    for i in 1..n {
        fail(b);
        assert_eq!(b.state(), State::Closed, "{what} after {i} failures");
    }
    fail(b);
    assert_eq!(b.state(), State::Open, "{n} failures in a row trip {what}");
}

/// Five failures in a row, each checked: the first four leave it closed, the fifth
/// opens it with the consecutive-failure reason.
fn assert_trips_on_five_in_a_row(builder: Builder) {
    let label = format!("{builder:?}");
    let (observer, reasons) = recorder(|kind| match kind {
        EventKind::StateChange { reason, .. } => Some(reason),
        _ => None,
    });
    let b = builder
        .clock(ManualClock::new())
        .observer(observer)
        .build()
        .unwrap();
    assert_opens_on_failure(&b, 5, &label);
    assert_eq!(
        *reasons.lock().unwrap(),
        vec![Reason::ConsecutiveFailures {
            count: 5,
            threshold: 5
        }]
    );
}

// ---- 1. the documented default trip holds whatever else is set ----------------------

#[test]
fn window_only_builder_trips_on_five_consecutive_failures() {
    assert_trips_on_five_in_a_row(CircuitBreaker::builder().window(Window::count(100)));
    assert_trips_on_five_in_a_row(
        CircuitBreaker::builder().window(Window::time(Duration::from_secs(60))),
    );
}

#[test]
fn minimum_calls_only_builder_trips_on_five_consecutive_failures() {
    assert_trips_on_five_in_a_row(CircuitBreaker::builder().minimum_calls(50));
    assert_trips_on_five_in_a_row(
        CircuitBreaker::builder()
            .window(Window::count(100))
            .minimum_calls(100),
    );
}

#[test]
fn slow_calls_only_builder_still_trips_on_five_consecutive_fast_failures() {
    // A slow-call rate measures latency, not errors: alone it would leave a dependency
    // that fails fast unprotected.
    assert_trips_on_five_in_a_row(CircuitBreaker::builder().slow_calls(SEC, 0.5));
}

#[test]
fn an_explicit_failure_condition_replaces_the_default_trip() {
    let b = CircuitBreaker::builder()
        .failure_rate(1.0)
        .window(Window::count(10))
        .minimum_calls(10)
        .clock(ManualClock::new())
        .build()
        .unwrap();
    assert_opens_on_failure(&b, 10, "a rate judged at 10 calls");
}

#[test]
fn minimum_calls_no_time_window_can_reach_is_refused() {
    let e = CircuitBreaker::builder()
        .failure_rate(0.5)
        .window(Window::time(Duration::from_secs(60)))
        .minimum_calls(u64::MAX)
        .build()
        .unwrap_err();
    assert_eq!(e.field(), "minimum_calls");
    assert_eq!(e.value(), u64::MAX.to_string());
    let e = CircuitBreaker::builder()
        .minimum_calls(u64::from(failgate::MAX_COUNT_WINDOW) + 1)
        .build()
        .unwrap_err();
    assert_eq!(e.field(), "minimum_calls");
}

/// The largest accepted values still trip. (The largest consecutive-failure threshold,
/// 2^30 - 1 failures, is too many for a test: the counter saturates exactly there, which
/// a compile-time assertion in `breaker/shared.rs` pins down.)
#[test]
fn largest_minimum_calls_in_a_time_window_is_reached_and_trips() {
    let b = CircuitBreaker::builder()
        .failure_rate(1.0)
        .window(Window::time(Duration::from_secs(60)).buckets(1))
        .minimum_calls(failgate::MAX_MINIMUM_CALLS)
        .clock(ManualClock::new())
        .build()
        .unwrap();
    assert_opens_on_failure(&b, failgate::MAX_MINIMUM_CALLS, "the largest minimum");
}

// ---- 3. one call, one count ----------------------------------------------------------

#[test]
fn failure_that_trips_through_the_consecutive_counter_is_counted_in_the_window() {
    let (observer, counted) = recorder(|kind| match kind {
        EventKind::Failure { counted, .. } => Some(counted),
        _ => None,
    });
    let b = CircuitBreaker::builder()
        .consecutive_failures(3)
        .failure_rate(1.0)
        .window(Window::count(100))
        .minimum_calls(50)
        .clock(ManualClock::new())
        .observer(observer)
        .build()
        .unwrap();
    for _ in 0..3 {
        fail(&b);
    }
    let m = b.snapshot();
    assert_eq!(m.state, State::Open);
    assert_eq!(*counted.lock().unwrap(), vec![true; 3], "all three counted");
    assert_eq!(m.calls, 3, "the window holds every counted call: {m:?}");
    assert_eq!(m.failures, 3, "{m:?}");
}

#[test]
fn failure_that_trips_through_the_consecutive_counter_is_counted_in_a_time_window() {
    let b = CircuitBreaker::builder()
        .consecutive_failures(2)
        .window(Window::time(Duration::from_secs(10)))
        .clock(ManualClock::new())
        .build()
        .unwrap();
    fail(&b);
    fail(&b);
    let m = b.snapshot();
    assert_eq!(m.state, State::Open);
    assert_eq!((m.calls, m.failures), (2, 2), "{m:?}");
}

// ---- 2, 4 and 5: what an opening reports, and Retry-After -------------------------------

use crate::testkit::Hinting;

/// A breaker that trips on its first failure, opens for 10 s and honours Retry-After,
/// and the waits of its openings.
fn hinting(
    builder: Builder,
    clock: &ManualClock,
) -> (CircuitBreaker<Hinting>, Seen<Option<Duration>>) {
    let (observer, waits) = recorder(|kind| match kind {
        EventKind::StateChange {
            to: State::Open,
            wait,
            ..
        } => Some(wait),
        _ => None,
    });
    let b = builder
        .consecutive_failures(1)
        .open_for(10 * SEC)
        .honor_retry_after(true)
        .clock(clock.clone())
        .observer(observer)
        .with_classifier(Hinting)
        .build()
        .unwrap();
    (b, waits)
}

#[test]
fn opening_lengthened_by_retry_after_reports_the_wait_applied_in_its_event() {
    let clock = ManualClock::new();
    let (b, waits) = hinting(CircuitBreaker::builder(), &clock);
    let _ = b.call(|| Err::<(), u64>(120));
    let r = b.try_acquire().unwrap_err();
    assert_eq!(r.retry_after(), Some(120 * SEC));
    assert_eq!(*waits.lock().unwrap(), vec![Some(120 * SEC)]);
    clock.advance(119 * SEC);
    assert_eq!(b.state(), State::Open, "the 120 s wait is the one applied");
}

#[test]
fn retry_after_is_capped_at_one_hour_by_default() {
    let clock = ManualClock::new();
    let (b, waits) = hinting(CircuitBreaker::builder(), &clock);
    let _ = b.call(|| Err::<(), u64>(99_999_999_999));
    let hour = Duration::from_secs(3600);
    let r = b.try_acquire().unwrap_err();
    assert_eq!(r.retry_after(), Some(hour));
    assert_eq!(b.snapshot().retry_after, Some(hour));
    assert_eq!(*waits.lock().unwrap(), vec![Some(hour)]);
    clock.advance(hour);
    assert_eq!(b.state(), State::HalfOpen, "probing after the capped wait");
}

#[test]
fn retry_after_cap_is_configurable_and_checked() {
    let clock = ManualClock::new();
    let (b, _) = hinting(CircuitBreaker::builder().max_retry_after(30 * SEC), &clock);
    let _ = b.call(|| Err::<(), u64>(120));
    assert_eq!(b.try_acquire().unwrap_err().retry_after(), Some(30 * SEC));
    // A hint shorter than the backoff changes nothing.
    let (b, _) = hinting(CircuitBreaker::builder().max_retry_after(30 * SEC), &clock);
    let _ = b.call(|| Err::<(), u64>(2));
    assert_eq!(b.try_acquire().unwrap_err().retry_after(), Some(10 * SEC));
    let e = CircuitBreaker::builder()
        .max_retry_after(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(e.field(), "max_retry_after");
}

/// A refusal and `snapshot()` promise the same wait, and a wait promised is honoured.
fn assert_promise_is_kept<C>(b: &CircuitBreaker<C>, clock: &ManualClock) {
    let Err(refused) = b.try_acquire() else {
        panic!("the breaker should refuse");
    };
    let promised = refused.retry_after();
    assert_eq!(
        promised,
        b.snapshot().retry_after,
        "refusal and metrics agree"
    );
    if let Some(wait) = promised {
        clock.advance(wait);
        assert!(b.try_acquire().is_ok(), "promised {wait:?}, then refused");
    }
}

#[test]
fn refusal_at_a_saturated_deadline_promises_no_retry_after() {
    let clock = ManualClock::new();
    clock.advance(Duration::from_nanos(u64::MAX) - SEC);
    let b = CircuitBreaker::builder()
        .consecutive_failures(1)
        .open_for(10 * SEC) // ends past the end of the clock
        .clock(clock.clone())
        .build()
        .unwrap();
    fail(&b);
    assert_promise_is_kept(&b, &clock);
}

#[test]
fn refusal_after_a_saturated_retry_after_hint_promises_no_retry_after() {
    let clock = ManualClock::new();
    clock.advance(Duration::from_nanos(u64::MAX) - 20 * SEC);
    let (b, _) = hinting(CircuitBreaker::builder(), &clock);
    let _ = b.call(|| Err::<(), u64>(60)); // the hint ends past the end of the clock
    assert_promise_is_kept(&b, &clock);
}
