//! An operator's orders during an incident, besides opening (`manual_open.rs`):
//! half-open now, close now, the older orders, and the `Control` trait naming them
//! all; each with its own reason, on `ManualClock`.

#[path = "support/manual.rs"]
mod manual;

use failgate::{CircuitBreaker, Control, EventKind, Reason, State, MAX_DURATION};
use manual::*;
use std::time::{Duration, SystemTime};

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
