//! A breaker an operator gives orders to, on `ManualClock`, with its log of state
//! changes (`manual_open.rs`, `manual_control.rs`).
#![allow(dead_code)] // each test file uses some of these

use failgate::{CircuitBreaker, Error, Event, EventKind, ManualClock, Reason, State};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub(crate) const S: Duration = Duration::from_secs(1);
pub(crate) const MIN: Duration = Duration::from_secs(60);

pub(crate) type Log = Arc<Mutex<Vec<EventKind>>>;

/// A breaker tripping on 2 failures in a row, open 60 s, with 1 probe, and its log of
/// state changes.
pub(crate) fn breaker(
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

pub(crate) fn trip(b: &CircuitBreaker) {
    for _ in 0..2 {
        let _ = b.call(|| Err::<(), _>(()));
    }
    assert_eq!(b.state(), State::Open);
}

#[track_caller]
pub(crate) fn refused_with(b: &CircuitBreaker, state: State) -> Option<Duration> {
    match b.call(|| Ok::<_, ()>(())) {
        Err(Error::Rejected(r)) => {
            assert_eq!(r.state(), state);
            r.retry_after()
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

pub(crate) fn last_change(log: &Log) -> (State, State, Reason, Option<Duration>) {
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
pub(crate) fn in_state(state: State) -> (CircuitBreaker, ManualClock, Log) {
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

pub(crate) const EVERY_STATE: [State; 6] = [
    State::Closed,
    State::Open,
    State::HalfOpen,
    State::ForcedOpen,
    State::Disabled,
    State::CountOnly,
];
