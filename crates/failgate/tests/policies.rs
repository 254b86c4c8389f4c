//! Each trip condition, pinned to its documented semantics.

// The test kit every crate's tests share: crates/failgate-testkit's sources, linked in
// (tests/testkit/ holds symlinks) so that the packaged crate tests on its own.
#[allow(dead_code, unreachable_pub)]
mod testkit;

use failgate::{Backoff, CircuitBreaker, Error, ManualClock, Outcome, Reason, State, Window};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn ok() -> Result<(), ()> {
    Ok(())
}
fn err() -> Result<(), ()> {
    Err(())
}

/// Collects the reasons of state changes.
fn reasons() -> (
    Arc<Mutex<Vec<Reason>>>,
    impl Fn(&failgate::Event<'_>) + Send + Sync,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    (seen, move |e: &failgate::Event<'_>| {
        if let failgate::EventKind::StateChange { reason, .. } = e.kind {
            sink.lock().unwrap().push(reason);
        }
    })
}

#[test]
fn consecutive_success_resets_and_ignore_changes_nothing() {
    let b = CircuitBreaker::builder()
        .consecutive_failures(3)
        .build()
        .unwrap();
    let _ = b.call(err);
    let _ = b.call(err);
    let _ = b.call_with(|_| Outcome::Ignore, err);
    assert_eq!(
        b.snapshot().consecutive_failures,
        2,
        "ignore changes nothing"
    );
    let _ = b.call(ok);
    assert_eq!(b.snapshot().consecutive_failures, 0, "success resets");
    let _ = b.call(err);
    let _ = b.call(err);
    assert_eq!(b.state(), State::Closed);
    assert_eq!(
        b.call(err),
        Err(Error::Inner(())),
        "the tripping call still returns its error"
    );
    assert_eq!(b.state(), State::Open);
}

#[test]
fn failure_rate_is_judged_at_the_minimum_not_only_when_full() {
    let (seen, observer) = reasons();
    let b = CircuitBreaker::builder()
        .failure_rate(0.5)
        .window(Window::count(100))
        .minimum_calls(4)
        .observer(observer)
        .build()
        .unwrap();
    let _ = b.call(err);
    let _ = b.call(err);
    let _ = b.call(err);
    assert_eq!(b.state(), State::Closed, "3 calls: below the minimum");
    assert_eq!(b.snapshot().failure_rate, None, "unknown, not -1 or 100%");
    // A success brings the window to its minimum: 3/4 >= 0.5.
    let _ = b.call(ok);
    assert_eq!(b.state(), State::Open);
    assert_eq!(
        seen.lock().unwrap()[0],
        Reason::FailureRate {
            rate: 0.75,
            threshold: 0.5,
            failures: 3,
            calls: 4
        }
    );
}

#[test]
fn count_window_is_a_true_ring() {
    let b = CircuitBreaker::builder()
        .failure_rate(0.5)
        .window(Window::count(4))
        .minimum_calls(4)
        .build()
        .unwrap();
    // F S S S: 25%. Then S pushes the F out; F F would make 50% only within the last 4.
    for op in [err, ok, ok, ok, ok] {
        let _ = b.call(op);
    }
    assert_eq!(b.snapshot().failures, 0, "the oldest failure slid out");
    let _ = b.call(err);
    assert_eq!(b.state(), State::Closed, "1 of the last 4");
    let _ = b.call(err);
    assert_eq!(b.state(), State::Open, "2 of the last 4");
}

#[test]
fn time_window_slides_with_the_clock() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder()
        .failure_rate(0.5)
        .window(Window::time(Duration::from_secs(10)).buckets(10))
        .minimum_calls(4)
        .clock(clock.clone())
        .build()
        .unwrap();
    for op in [err, err, ok] {
        let _ = b.call(op);
    }
    clock.advance(Duration::from_secs(10));
    // The three old outcomes dropped out without anything pushing them.
    assert_eq!(b.snapshot().calls, 0);
    for op in [err, ok, ok] {
        let _ = b.call(op);
    }
    assert_eq!(b.state(), State::Closed, "only 3 calls in the last 10 s");
    let _ = b.call(ok);
    assert_eq!(b.snapshot().failure_rate, Some(0.25));
    let _ = b.call(err);
    let _ = b.call(err);
    assert_eq!(b.state(), State::Open, "3 of 6 in the window");
}

#[test]
fn slow_calls_trip_whatever_their_outcome() {
    let clock = ManualClock::new();
    let (seen, observer) = reasons();
    let b = CircuitBreaker::builder()
        .slow_calls(Duration::from_secs(2), 0.5)
        .minimum_calls(2)
        .clock(clock.clone())
        .observer(observer)
        .build()
        .unwrap();
    let slow_ok = || {
        clock.advance(Duration::from_secs(2));
        Ok::<(), ()>(())
    };
    let fast_ok = || Ok::<(), ()>(());
    let _ = b.call(fast_ok);
    assert_eq!(b.state(), State::Closed);
    let _ = b.call(slow_ok);
    assert_eq!(b.state(), State::Open);
    assert_eq!(
        seen.lock().unwrap()[0],
        Reason::SlowCallRate {
            rate: 0.5,
            threshold: 0.5,
            slow: 1,
            calls: 2
        }
    );
}

#[test]
fn the_clock_is_not_read_for_consecutive_and_count_policies() {
    #[derive(Debug, Default)]
    struct CountingClock(std::sync::atomic::AtomicU64);
    impl failgate::Clock for CountingClock {
        fn now_nanos(&self) -> u64 {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        }
    }
    let clock = Arc::new(CountingClock::default());
    #[derive(Debug)]
    struct Shared(Arc<CountingClock>);
    impl failgate::Clock for Shared {
        fn now_nanos(&self) -> u64 {
            self.0.now_nanos()
        }
    }
    for window in [None, Some(Window::count(10))] {
        let mut builder = CircuitBreaker::builder()
            .consecutive_failures(5)
            .clock(Shared(clock.clone()));
        if let Some(w) = window {
            builder = builder.failure_rate(0.9).window(w);
        }
        let b = builder.build().unwrap();
        let before = clock.0.load(std::sync::atomic::Ordering::Relaxed);
        for _ in 0..100 {
            b.call(ok).unwrap();
        }
        let _ = b.call(err);
        assert_eq!(
            clock.0.load(std::sync::atomic::Ordering::Relaxed),
            before,
            "window {window:?}: no clock read on the closed path"
        );
    }
}

#[test]
fn any_condition_trips() {
    let b = CircuitBreaker::builder()
        .consecutive_failures(3)
        .failure_rate(0.9)
        .window(Window::count(10))
        .minimum_calls(10)
        .build()
        .unwrap();
    for op in [err, err, err] {
        let _ = b.call(op);
    }
    assert_eq!(
        b.state(),
        State::Open,
        "consecutive tripped before the rate was judged"
    );
}

#[test]
fn exponential_backoff_doubles_on_reopening_and_resets_on_close() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder()
        .consecutive_failures(1)
        .backoff(Backoff::exponential(
            Duration::from_secs(1),
            Duration::from_secs(4),
        ))
        .clock(clock.clone())
        .build()
        .unwrap();
    let retry = |b: &CircuitBreaker| b.call(ok).unwrap_err().rejected().unwrap().retry_after();
    let _ = b.call(err);
    assert_eq!(retry(&b), Some(Duration::from_secs(1)));
    for expected in [2, 4, 4] {
        clock.advance(Duration::from_secs(expected));
        let _ = b.call(err); // the probe fails: reopen one step up
        assert_eq!(retry(&b), Some(Duration::from_secs(expected)));
    }
    clock.advance(Duration::from_secs(4));
    b.call(ok).unwrap(); // the probe succeeds: closed, backoff starts over
    let _ = b.call(err);
    assert_eq!(retry(&b), Some(Duration::from_secs(1)));
}

#[test]
fn jittered_waits_never_exceed_the_backoff() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder()
        .consecutive_failures(1)
        .backoff(Backoff::constant(Duration::from_secs(10)).with_jitter(0.5))
        .clock(clock.clone())
        .build()
        .unwrap();
    let mut waits = std::collections::HashSet::new();
    for _ in 0..20 {
        let _ = b.call(err);
        let wait = b.snapshot().retry_after.unwrap();
        assert!(
            wait <= Duration::from_secs(10) && wait >= Duration::from_secs(5),
            "{wait:?}"
        );
        waits.insert(wait);
        b.reset();
    }
    assert!(
        waits.len() > 10,
        "jitter varies between openings: {waits:?}"
    );
}

#[test]
fn half_open_timeout_reopens_when_probes_never_report() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder()
        .consecutive_failures(1)
        .open_for(Duration::from_secs(1))
        .half_open_timeout(Duration::from_secs(5))
        .clock(clock.clone())
        .build()
        .unwrap();
    let _ = b.call(err);
    clock.advance(Duration::from_secs(1));
    let hung = b.try_acquire().expect("the probe");
    assert!(hung.is_probe());
    assert!(b.try_acquire().is_err(), "the only slot is taken");
    clock.advance(Duration::from_secs(5));
    assert_eq!(b.state(), State::Open, "timed out");
    hung.success(); // too late: stale
    assert_eq!(b.state(), State::Open);
}

#[test]
fn retry_after_hints_lengthen_the_open_wait_only_when_honored() {
    use crate::testkit::Hinting;
    for honor in [false, true] {
        let clock = ManualClock::new();
        let b = CircuitBreaker::builder()
            .consecutive_failures(1)
            .open_for(Duration::from_secs(10))
            .honor_retry_after(honor)
            .with_classifier(Hinting)
            .clock(clock.clone())
            .build()
            .unwrap();
        let _ = b.call(|| Err::<(), u64>(120));
        let expected = if honor { 120 } else { 10 };
        assert_eq!(
            b.snapshot().retry_after,
            Some(Duration::from_secs(expected))
        );
        clock.advance(Duration::from_secs(10));
        let state = if honor { State::Open } else { State::HalfOpen };
        assert_eq!(b.state(), state, "honor_retry_after({honor})");
        clock.advance(Duration::from_secs(110));
        b.call(|| Ok::<(), u64>(())).unwrap();
        assert_eq!(b.state(), State::Closed);
        // Closing forgets the hint: the next opening waits only the backoff.
        let _ = b.call(|| Err::<(), u64>(1));
        assert_eq!(b.snapshot().retry_after, Some(Duration::from_secs(10)));
    }
}

#[test]
fn slow_successes_trip_a_breaker_without_an_observer() {
    // No observer: a closed-state success takes the timed short path, which must still
    // tell slow from fast and count both, in a count window and in a time window.
    for window in [Window::count(10), Window::time(Duration::from_secs(60))] {
        let clock = ManualClock::new();
        let b = CircuitBreaker::builder()
            .slow_calls(Duration::from_secs(2), 0.5)
            .window(window)
            .minimum_calls(4)
            .clock(clock.clone())
            .build()
            .unwrap();
        let ok = |wait: Duration| {
            clock.advance(wait);
            Ok::<(), ()>(())
        };
        for _ in 0..2 {
            let _ = b.call(|| ok(Duration::from_millis(1999)));
        }
        let _ = b.call(|| ok(Duration::from_secs(2)));
        assert_eq!(b.snapshot().slow_calls, 1, "{window:?}");
        assert_eq!(b.state(), State::Closed, "1 slow of 3, under the minimum");
        let _ = b.call(|| ok(Duration::from_secs(3)));
        assert_eq!(b.state(), State::Open, "2 slow of 4: {window:?}");
    }
}
