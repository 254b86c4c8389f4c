//! An operator's orders to open: for a while, or until an instant; each half-opens
//! by itself after its wait, under its own reason, on `ManualClock`.

#[path = "support/manual.rs"]
mod manual;

use failgate::{Backoff, EventKind, Reason, State, MAX_DURATION};
use manual::*;
use std::time::{Duration, SystemTime};

#[test]
fn open_for_opens_from_any_state_then_half_opens_after_exactly_the_wait() {
    for from in EVERY_STATE {
        let (b, clock, log) = in_state(from);
        b.open_for(5 * MIN).unwrap();
        assert_eq!(b.state(), State::Open, "from {from}");
        assert_eq!(
            last_change(&log),
            (
                from,
                State::Open,
                Reason::ManualOpen { wait: 5 * MIN },
                Some(5 * MIN)
            ),
        );
        assert_eq!(refused_with(&b, State::Open), Some(5 * MIN), "from {from}");
        clock.advance(5 * MIN - Duration::from_nanos(1));
        assert_eq!(refused_with(&b, State::Open), Some(Duration::from_nanos(1)));
        clock.advance(Duration::from_nanos(1));
        // The next call is the first probe, and with one permit the only one.
        let probe = b
            .try_acquire()
            .expect("the first call after the wait probes");
        assert_eq!(b.state(), State::HalfOpen);
        assert_eq!(refused_with(&b, State::HalfOpen), None);
        probe.success();
        assert_eq!(b.state(), State::Closed, "from {from}");
    }
}

#[test]
fn open_for_honours_neither_the_backoff_nor_a_shorter_wait() {
    let (b, clock, _) = breaker(|b| b);
    b.open_for(S).unwrap();
    clock.advance(S);
    assert_eq!(b.state(), State::HalfOpen, "1 s, not the backoff's 60 s");
    b.open_for(2 * MIN).unwrap();
    clock.advance(MIN);
    assert_eq!(b.state(), State::Open, "2 min, not the backoff's 60 s");
    assert_eq!(b.snapshot().retry_after, Some(MIN));
    b.open_for(S).unwrap();
    assert_eq!(
        b.snapshot().retry_after,
        Some(S),
        "a new order restarts the wait, shorter too"
    );
}

#[test]
fn open_for_keeps_a_longer_honoured_retry_after() {
    let (b, clock, log) = breaker(|b| b.honor_retry_after(true));
    b.try_acquire()
        .unwrap()
        .record_with_retry_after(failgate::Outcome::Success, Some(10 * MIN));
    b.open_for(MIN).unwrap();
    assert_eq!(
        last_change(&log).3,
        Some(10 * MIN),
        "the dependency asked for 10 min"
    );
    assert_eq!(refused_with(&b, State::Open), Some(10 * MIN));
    b.open_for(20 * MIN).unwrap();
    assert_eq!(
        refused_with(&b, State::Open),
        Some(20 * MIN),
        "longer than asked"
    );
    clock.advance(20 * MIN);
    assert_eq!(b.state(), State::HalfOpen);
}

#[test]
fn open_for_above_max_duration_is_refused_naming_open_for_and_changes_nothing() {
    let (b, _, log) = breaker(|b| b);
    let g = b.snapshot().generation;
    let e = b.open_for(MAX_DURATION + S).unwrap_err();
    assert_eq!(e.field(), "open_for");
    assert_eq!(e.value(), format!("{:?}", MAX_DURATION + S));
    assert!(e.to_string().contains("open_for"), "{e}");
    assert_eq!((b.state(), b.snapshot().generation), (State::Closed, g));
    assert!(log.lock().unwrap().is_empty());
    b.open_for(MAX_DURATION).unwrap();
    assert_eq!(b.state(), State::Open);
}

#[test]
fn open_for_zero_lets_the_next_call_probe() {
    let (b, _, _) = breaker(|b| b);
    b.open_for(Duration::ZERO).unwrap();
    let probe = b.try_acquire().expect("no wait: the next call probes");
    assert_eq!(b.state(), State::HalfOpen);
    probe.failure();
    assert_eq!(
        b.snapshot().retry_after,
        Some(MIN),
        "the backoff after a failed probe"
    );
}

#[test]
fn manual_open_reason_reads_as_an_operator_order() {
    assert_eq!(
        Reason::ManualOpen { wait: 5 * MIN }.to_string(),
        "opened by an operator for 5m"
    );
    assert_eq!(
        Reason::ManualOpen {
            wait: 90 * MIN + 1500 * Duration::from_millis(1)
        }
        .to_string(),
        "opened by an operator for 1h 30m 1s 500ms"
    );
    assert_eq!(
        Reason::ManualOpen {
            wait: Duration::ZERO
        }
        .to_string(),
        "opened by an operator for 0s"
    );
    assert_eq!(
        Reason::ManualHalfOpen.to_string(),
        "half-opened by an operator"
    );
    assert_eq!(Reason::ManualClose.to_string(), "closed by an operator");
}

#[test]
fn open_for_keeps_the_backoff_step_it_found() {
    let (b, clock, log) = breaker(|b| b.backoff(Backoff::exponential(S, MIN)));
    // From closed: the probe after the operator's wait fails, and waits the second step.
    b.open_for(10 * S).unwrap();
    clock.advance(10 * S);
    b.try_acquire().unwrap().failure();
    assert_eq!(last_change(&log).3, Some(2 * S));
    // Probing at step 1, the operator reopens: the step stays 1, so the failed probe
    // after it waits step 2 (4 s), not step 3.
    clock.advance(2 * S);
    assert_eq!(b.state(), State::HalfOpen);
    b.open_for(30 * S).unwrap();
    assert_eq!(last_change(&log).3, Some(30 * S));
    clock.advance(30 * S);
    b.try_acquire().unwrap().failure();
    assert_eq!(last_change(&log).3, Some(4 * S));
    // Closing forgets it: the next trip waits the first step.
    b.close();
    trip(&b);
    assert_eq!(last_change(&log).3, Some(S));
}

#[test]
fn open_until_a_past_deadline_opens_with_no_wait() {
    let (b, _, log) = breaker(|b| b);
    b.open_until(SystemTime::UNIX_EPOCH).unwrap();
    assert_eq!(
        log.lock().unwrap()[0],
        EventKind::StateChange {
            from: State::Closed,
            to: State::Open,
            reason: Reason::ManualOpen {
                wait: Duration::ZERO
            },
            generation: 1,
            wait: Some(Duration::ZERO),
        }
    );
    assert!(b.try_acquire().is_ok(), "the next call probes");
    assert_eq!(b.state(), State::HalfOpen);
}

#[test]
fn open_until_a_future_deadline_waits_the_time_left_on_the_breakers_clock() {
    let (b, clock, _) = breaker(|b| b);
    b.open_until(SystemTime::now() + 3600 * S).unwrap();
    let left = b.snapshot().retry_after.unwrap();
    assert!(left <= 3600 * S && left > 3590 * S, "{left:?}");
    clock.advance(left - S);
    assert_eq!(b.state(), State::Open);
    clock.advance(S);
    assert_eq!(b.state(), State::HalfOpen);
}

#[test]
fn open_until_too_far_away_is_refused_naming_open_until() {
    let (b, _, _) = breaker(|b| b);
    let e = b
        .open_until(SystemTime::now() + MAX_DURATION + 86_400 * S)
        .unwrap_err();
    assert_eq!(e.field(), "open_until");
    assert!(e.to_string().contains("open_until"), "{e}");
    assert_eq!(b.state(), State::Closed);
}
