//! The registry of named breakers (feature `registry`).
#![cfg(feature = "registry")]

use failgate::{CircuitBreaker, ManualClock, Registry, State, UnknownBreaker};
use std::sync::Barrier;
use std::time::Duration;

#[test]
fn concurrent_first_lookups_of_one_name_get_one_breaker() {
    for _ in 0..50 {
        let registry = Registry::new(CircuitBreaker::builder()).unwrap();
        let barrier = Barrier::new(4);
        let breakers: Vec<CircuitBreaker> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        registry.get_or_create("orders").unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(breakers.iter().all(|b| b.same_breaker(&breakers[0])));
        assert_eq!(registry.names(), ["orders"]);
    }
}

#[test]
fn overrides_defaults_snapshot_and_control_by_name() {
    let clock = ManualClock::new();
    let registry = Registry::builder(
        CircuitBreaker::builder()
            .consecutive_failures(5)
            .clock(clock.clone()),
    )
    .with_override(
        "payments",
        CircuitBreaker::builder()
            .consecutive_failures(1)
            .open_for(Duration::from_secs(30))
            .clock(clock.clone()),
    )
    .build()
    .unwrap();
    let payments = registry.get_or_create("payments").unwrap();
    let search = registry.get_or_create("search").unwrap();
    assert_eq!(payments.name(), "payments");
    let _ = payments.call(|| Err::<(), ()>(()));
    let _ = search.call(|| Err::<(), ()>(()));
    assert_eq!(
        payments.state(),
        State::Open,
        "the override's threshold of 1"
    );
    assert_eq!(
        search.state(),
        State::Closed,
        "the defaults' threshold of 5"
    );

    clock.advance(Duration::from_secs(10));
    let snapshot = registry.snapshot();
    let names: Vec<&str> = snapshot.iter().map(|m| &*m.name).collect();
    assert_eq!(names, ["payments", "search"]);
    assert_eq!(snapshot[0].state, State::Open);
    assert_eq!(snapshot[0].retry_after, Some(Duration::from_secs(20)));
    assert_eq!(snapshot[0].time_in_state, Duration::from_secs(10));
    assert_eq!(snapshot[1].consecutive_failures, 1);
    assert_eq!(
        snapshot[1].failure_rate, None,
        "no window: no rate, never -1"
    );

    registry.force_open("search").unwrap();
    assert_eq!(search.state(), State::ForcedOpen);
    registry.disable("search").unwrap();
    assert_eq!(search.state(), State::Disabled);
    registry.count_only("search").unwrap();
    assert_eq!(search.state(), State::CountOnly);
    registry.reset("payments").unwrap();
    assert_eq!(payments.state(), State::Closed);
    assert_eq!(
        registry.reset("nope"),
        Err(UnknownBreaker("nope".to_string()))
    );
    assert!(registry.get("nope").is_none());
}

#[test]
fn bad_settings_are_refused_when_the_registry_is_built() {
    let e = Registry::new(CircuitBreaker::builder().failure_rate(2.0)).unwrap_err();
    assert_eq!(e.field(), "failure_rate");
    let e = Registry::builder(CircuitBreaker::builder())
        .with_override("x", CircuitBreaker::builder().half_open_permits(0))
        .build()
        .unwrap_err();
    assert_eq!(e.field(), "half_open_permits");
    let registry = Registry::new(CircuitBreaker::builder()).unwrap();
    assert_eq!(registry.get_or_create("").unwrap_err().field(), "name");
}

#[test]
fn every_operator_action_by_name_with_typed_errors() {
    use failgate::{ControlError, MAX_DURATION};
    use std::time::SystemTime;
    let clock = ManualClock::new();
    let registry = Registry::new(CircuitBreaker::builder().clock(clock.clone())).unwrap();
    let orders = registry.get_or_create("orders").unwrap();
    let min = Duration::from_secs(60);

    registry.open_for("orders", 5 * min).unwrap();
    assert_eq!(orders.state(), State::Open);
    assert_eq!(orders.snapshot().retry_after, Some(5 * min));
    clock.advance(5 * min);
    assert_eq!(orders.state(), State::HalfOpen, "it half-opens by itself");
    registry.close("orders").unwrap();
    assert_eq!(orders.state(), State::Closed);
    registry.half_open("orders").unwrap();
    assert_eq!(orders.state(), State::HalfOpen);
    registry
        .open_until("orders", SystemTime::UNIX_EPOCH)
        .unwrap();
    assert!(
        orders.try_acquire().is_ok(),
        "a past deadline: the next call probes"
    );

    let unknown = ControlError::Unknown(UnknownBreaker("nope".into()));
    assert_eq!(registry.open_for("nope", min), Err(unknown.clone()));
    assert_eq!(registry.open_until("nope", SystemTime::now()), Err(unknown));
    assert_eq!(
        registry.half_open("nope"),
        Err(UnknownBreaker("nope".into()))
    );
    assert_eq!(registry.close("nope"), Err(UnknownBreaker("nope".into())));

    let g = orders.snapshot().generation;
    match registry.open_for("orders", MAX_DURATION * 2) {
        Err(ControlError::Invalid(e)) => assert_eq!(e.field(), "open_for"),
        other => panic!("{other:?}"),
    }
    let far = SystemTime::now() + MAX_DURATION + 2 * min;
    match registry.open_until("orders", far) {
        Err(e @ ControlError::Invalid(_)) => {
            assert!(e.to_string().contains("open_until"), "{e}");
            assert!(std::error::Error::source(&e).is_some());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        orders.snapshot().generation,
        g,
        "a bad wait changes nothing"
    );
}
