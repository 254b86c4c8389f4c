//! An operator's orders during an incident: open for a while (or until an instant),
//! half-open now, close now; each with its own reason, on `ManualClock`.

use failgate::{
    Backoff, CircuitBreaker, Control, Error, Event, EventKind, ManualClock, Reason, State,
    MAX_DURATION,
};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

const S: Duration = Duration::from_secs(1);
const MIN: Duration = Duration::from_secs(60);

type Log = Arc<Mutex<Vec<EventKind>>>;

/// A breaker tripping on 2 failures in a row, open 60 s, with 1 probe, and its log of
/// state changes.
fn breaker(
    f: impl FnOnce(failgate::Builder) -> failgate::Builder,
) -> (CircuitBreaker, ManualClock, Log) {
    let clock = ManualClock::new();
    let log: Log = Arc::default();
    let sink = log.clone();
    let b = f(CircuitBreaker::builder()
        .consecutive_failures(2)
        .open_for(MIN)
        .clock(clock.clone())
        .observer(move |e: &Event<'_>| {
            if let EventKind::StateChange { .. } = e.kind {
                sink.lock().unwrap().push(e.kind);
            }
        }))
    .build()
    .unwrap();
    (b, clock, log)
}

fn trip(b: &CircuitBreaker) {
    for _ in 0..2 {
        let _ = b.call(|| Err::<(), _>(()));
    }
    assert_eq!(b.state(), State::Open);
}

#[track_caller]
fn refused_with(b: &CircuitBreaker, state: State) -> Option<Duration> {
    match b.call(|| Ok::<_, ()>(())) {
        Err(Error::Rejected(r)) => {
            assert_eq!(r.state(), state);
            r.retry_after()
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn last_change(log: &Log) -> (State, State, Reason, Option<Duration>) {
    match log.lock().unwrap().last().copied() {
        Some(EventKind::StateChange {
            from,
            to,
            reason,
            wait,
            ..
        }) => (from, to, reason, wait),
        other => panic!("no state change: {other:?}"),
    }
}

/// Puts a fresh breaker in `state` by the public API.
fn in_state(state: State) -> (CircuitBreaker, ManualClock, Log) {
    let (b, clock, log) = breaker(|b| b);
    match state {
        State::Open => trip(&b),
        State::HalfOpen => {
            trip(&b);
            clock.advance(MIN);
            assert_eq!(b.state(), State::HalfOpen);
        }
        State::ForcedOpen => b.force_open(),
        State::Disabled => b.disable(),
        State::CountOnly => b.count_only(),
        _ => {}
    }
    (b, clock, log)
}

const EVERY_STATE: [State; 6] = [
    State::Closed,
    State::Open,
    State::HalfOpen,
    State::ForcedOpen,
    State::Disabled,
    State::CountOnly,
];

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

#[test]
fn half_open_admits_exactly_half_open_permits_probes() {
    let (b, _, log) = breaker(|b| b.half_open_permits(3));
    b.half_open();
    assert_eq!(
        last_change(&log),
        (State::Closed, State::HalfOpen, Reason::ManualHalfOpen, None)
    );
    let probes: Vec<_> = (0..3).map(|_| b.try_acquire().expect("a probe")).collect();
    assert!(probes.iter().all(failgate::Report::is_probe));
    assert_eq!(
        refused_with(&b, State::HalfOpen),
        None,
        "the fourth is refused"
    );
    for p in probes {
        p.success();
    }
    assert_eq!(last_change(&log).2, Reason::ProbesSucceeded { probes: 3 });
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn half_open_from_any_state_but_half_open_probes_now() {
    for from in EVERY_STATE {
        let (b, _, log) = in_state(from);
        let g = b.snapshot().generation;
        b.half_open();
        assert_eq!(b.state(), State::HalfOpen, "from {from}");
        if from == State::HalfOpen {
            assert_eq!(
                b.snapshot().generation,
                g,
                "already half-open: nothing to do"
            );
            continue;
        }
        assert_eq!(
            last_change(&log),
            (from, State::HalfOpen, Reason::ManualHalfOpen, None)
        );
        b.try_acquire().unwrap().failure();
        assert_eq!(
            b.state(),
            State::Open,
            "a failed probe reopens, from {from}"
        );
    }
}

#[test]
fn half_open_times_out_from_the_order() {
    let (b, clock, log) = breaker(|b| b.half_open_timeout(10 * S));
    trip(&b);
    clock.advance(30 * S);
    b.half_open();
    clock.advance(9 * S);
    assert_eq!(b.state(), State::HalfOpen);
    clock.advance(S);
    assert_eq!(b.state(), State::Open);
    assert_eq!(last_change(&log).2, Reason::HalfOpenTimeout);
}

#[test]
fn close_closes_now_with_empty_counters_under_its_own_reason() {
    for from in EVERY_STATE {
        let (b, _, log) = in_state(from);
        let g = b.snapshot().generation;
        b.close();
        assert_eq!(b.state(), State::Closed);
        assert_eq!(b.snapshot().generation, g + 1, "always a new generation");
        assert_eq!(
            last_change(&log),
            (from, State::Closed, Reason::ManualClose, None)
        );
        let _ = b.call(|| Err::<(), _>(()));
        assert_eq!(
            b.snapshot().consecutive_failures,
            1,
            "the count started over"
        );
    }
}

#[test]
fn the_older_orders_keep_reason_manual() {
    let (b, _, log) = breaker(|b| b);
    b.force_open();
    assert_eq!(last_change(&log).2, Reason::Manual);
    b.disable();
    assert_eq!(last_change(&log).2, Reason::Manual);
    b.count_only();
    assert_eq!(last_change(&log).2, Reason::Manual);
    b.reset();
    assert_eq!(last_change(&log).2, Reason::Manual);
}

#[test]
fn late_outcomes_of_calls_admitted_before_a_manual_action_are_discarded() {
    type Order = fn(&CircuitBreaker);
    let orders: [(&str, Order); 4] = [
        ("open_for", |b| b.open_for(Duration::ZERO).unwrap()),
        ("half_open", CircuitBreaker::half_open),
        ("close", CircuitBreaker::close),
        ("open_until", |b| {
            b.open_until(SystemTime::UNIX_EPOCH).unwrap()
        }),
    ];
    for (name, order) in orders {
        // Admitted closed, reported after the order: a failure counts nowhere.
        let (b, _, _) = breaker(|b| b);
        let _ = b.call(|| Err::<(), _>(()));
        let late = [b.try_acquire().unwrap(), b.try_acquire().unwrap()];
        order(&b);
        let state = b.state();
        let g = b.snapshot().generation;
        for p in late {
            p.failure();
        }
        assert_eq!(b.state(), state, "{name}");
        assert_eq!(
            b.snapshot().generation,
            g,
            "{name}: no transition from a stale outcome"
        );
        assert_eq!(b.snapshot().consecutive_failures, 0, "{name}");
    }
    // A probe admitted before `close` reports a failure: the breaker stays closed.
    let (b, _, _) = in_state(State::HalfOpen);
    let probe = b.try_acquire().unwrap();
    b.close();
    probe.failure();
    assert_eq!(
        (b.state(), b.snapshot().consecutive_failures),
        (State::Closed, 0)
    );
    // A probe admitted before `open_for` reports a success: the breaker stays open.
    let (b, _, _) = in_state(State::HalfOpen);
    let probe = b.try_acquire().unwrap();
    b.open_for(MIN).unwrap();
    probe.success();
    assert_eq!(b.state(), State::Open);
}

/// Written over the trait, as an operator's tool would be.
fn drill(c: &impl Control) -> Result<(), failgate::ConfigError> {
    c.force_open();
    c.disable();
    c.count_only();
    c.reset();
    c.open_for(MIN)?;
    c.half_open();
    c.close();
    c.open_until(SystemTime::UNIX_EPOCH)
}

#[test]
fn control_names_every_operator_action() {
    let (b, _, log) = breaker(|b| b);
    drill(&b).unwrap();
    let states: Vec<State> = log
        .lock()
        .unwrap()
        .iter()
        .map(|e| match e {
            EventKind::StateChange { to, .. } => *to,
            _ => unreachable!(),
        })
        .collect();
    use State::*;
    assert_eq!(
        states,
        [ForcedOpen, Disabled, CountOnly, Closed, Open, HalfOpen, Closed, Open]
    );
    let e = Control::open_for(&b, MAX_DURATION * 2).unwrap_err();
    assert_eq!(e.field(), "open_for");
}
