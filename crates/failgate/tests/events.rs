//! The observer sees every event, in order, once.

use failgate::{CircuitBreaker, Event, EventKind, ManualClock, Outcome, Reason, State};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn recorded() -> (
    Arc<Mutex<Vec<EventKind>>>,
    impl Fn(&Event<'_>) + Send + Sync,
) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    (log, move |e: &Event<'_>| {
        assert_eq!(e.name, "orders");
        sink.lock().unwrap().push(e.kind);
    })
}

#[test]
fn a_full_cycle_in_order() {
    let clock = ManualClock::new();
    let (log, observer) = recorded();
    let b = CircuitBreaker::builder()
        .name("orders")
        .consecutive_failures(2)
        .open_for(Duration::from_secs(10))
        .clock(clock.clone())
        .observer(observer)
        .build()
        .unwrap();
    let _ = b.call(|| Err::<(), ()>(()));
    let _ = b.call(|| Err::<(), ()>(()));
    clock.advance(Duration::from_secs(4));
    let _ = b.call(|| Ok::<(), ()>(()));
    clock.advance(Duration::from_secs(6));
    let _ = b.call_with(|_| Outcome::Ignore, || Ok::<(), ()>(()));
    drop(b.try_acquire().unwrap());
    b.call(|| Ok::<(), ()>(())).unwrap();

    let failure = EventKind::Failure {
        duration: None,
        counted: true,
    };
    let expected = vec![
        failure,
        EventKind::StateChange {
            from: State::Closed,
            to: State::Open,
            reason: Reason::ConsecutiveFailures {
                count: 2,
                threshold: 2,
            },
            generation: 1,
            wait: Some(Duration::from_secs(10)),
        },
        failure, // the tripping call's own event follows the transition it caused
        EventKind::Rejected {
            state: State::Open,
            retry_after: Some(Duration::from_secs(6)),
        },
        EventKind::StateChange {
            from: State::Open,
            to: State::HalfOpen,
            reason: Reason::WaitElapsed,
            generation: 2,
            wait: None,
        },
        EventKind::Ignored,
        EventKind::Abandoned,
        EventKind::StateChange {
            from: State::HalfOpen,
            to: State::Closed,
            reason: Reason::ProbesSucceeded { probes: 1 },
            generation: 3,
            wait: None,
        },
        EventKind::Success {
            duration: None,
            counted: true,
        },
    ];
    assert_eq!(*log.lock().unwrap(), expected);
}

#[test]
fn slow_calls_are_reported_beside_their_outcome() {
    let clock = ManualClock::new();
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    let b = CircuitBreaker::builder()
        .slow_calls(Duration::from_secs(1), 1.0)
        .clock(clock.clone())
        .observer(move |e: &Event<'_>| sink.lock().unwrap().push(e.kind))
        .build()
        .unwrap();
    b.call(|| {
        clock.advance(Duration::from_secs(3));
        Ok::<(), ()>(())
    })
    .unwrap();
    let d = Some(Duration::from_secs(3));
    assert_eq!(
        *log.lock().unwrap(),
        vec![
            EventKind::Slow {
                duration: Duration::from_secs(3),
                outcome: Outcome::Success
            },
            EventKind::Success {
                duration: d,
                counted: true
            },
        ]
    );
}
