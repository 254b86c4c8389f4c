//! Observers of a fleet breaker (`FleetBuilder::observer`): each instance tells its
//! observers of the changes of state its callers see, with the operator's reason for
//! an order given on it, the local fallback's reason while the fallback decides, and
//! `Reason::Fleet` for a transition made in Redis.

mod common;

use common::{eventually, fleet, trip, unique_namespace, Target};
use failgate::{Control, Event, EventKind, Reason, State};
use failgate_redis::{FleetBreaker, FleetBuilder, Mode};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SECOND: Duration = Duration::from_secs(1);

type Seen = Arc<Mutex<Vec<(State, State, Reason, Option<Duration>)>>>;

/// `b` with an observer that keeps every state change it is told of.
fn observed(b: FleetBuilder) -> (FleetBuilder, Seen) {
    let seen: Seen = Arc::default();
    let keep = seen.clone();
    let b = b.observer(move |e: &Event<'_>| {
        assert_eq!(e.name, "dependency");
        match e.kind {
            EventKind::StateChange {
                from,
                to,
                reason,
                wait,
                ..
            } => keep.lock().unwrap().push((from, to, reason, wait)),
            other => panic!("a fleet observer is told of state changes only: {other:?}"),
        }
    });
    (b, seen)
}

/// Two observed instances of one breaker, once both reach Redis.
async fn two_instances(url: &str, ns: &str) -> [(FleetBreaker, Seen); 2] {
    let make = || {
        let (b, seen) = observed(fleet(url, ns));
        (b.build().unwrap(), seen)
    };
    let both = [make(), make()];
    eventually("both shared", 5 * SECOND, || {
        both.iter().all(|(b, _)| b.mode() == Mode::Shared)
    })
    .await;
    both
}

fn changes(seen: &Seen) -> Vec<(State, State, Reason)> {
    let seen = seen.lock().unwrap();
    seen.iter().map(|&(f, t, r, _)| (f, t, r)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trip_in_redis_is_told_to_every_instance_with_the_fleet_reason() {
    let Some(redis) = Target::get() else { return };
    let ns = unique_namespace("observer-trip");
    let [(a, seen_a), (b, seen_b)] = two_instances(&redis.url, &ns).await;
    // Starting shared and closed, as the fallback was, is no change callers see.
    assert_eq!(changes(&seen_a), vec![]);

    trip(&[&a, &b]).await;
    let open = (State::Closed, State::Open, Reason::Fleet);
    for seen in [&seen_a, &seen_b] {
        eventually("told", 2 * SECOND, || !changes(seen).is_empty()).await;
        assert_eq!(changes(seen), vec![open]);
        let wait = seen.lock().unwrap()[0]
            .3
            .expect("an opening carries its wait");
        assert!(wait <= Duration::from_millis(500), "{wait:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_carries_the_operators_reason_here_and_the_fleets_elsewhere() {
    let Some(redis) = Target::get() else { return };
    let ns = unique_namespace("observer-order");
    let [(a, seen_a), (b, seen_b)] = two_instances(&redis.url, &ns).await;

    a.force_open();
    eventually("b follows", 2 * SECOND, || b.state() == State::ForcedOpen).await;
    a.close();
    eventually("b closes", 2 * SECOND, || b.state() == State::Closed).await;
    eventually("b told twice", 2 * SECOND, || changes(&seen_b).len() == 2).await;

    assert_eq!(
        changes(&seen_a),
        vec![
            (State::Closed, State::ForcedOpen, Reason::Manual),
            (State::ForcedOpen, State::Closed, Reason::ManualClose),
        ]
    );
    assert_eq!(
        changes(&seen_b),
        vec![
            (State::Closed, State::ForcedOpen, Reason::Fleet),
            (State::ForcedOpen, State::Closed, Reason::Fleet),
        ]
    );
    // Redis confirming a's orders is no new change. b has seen the close, so Redis
    // has it: a's next round trip (an idle one comes within `idle_poll`, 1 s) comes
    // after the one that carried it.
    let trips = a.status().round_trips;
    eventually("one more round trip", 5 * SECOND, || {
        a.status().round_trips > trips
    })
    .await;
    assert_eq!(changes(&seen_a).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_fallbacks_trip_is_told_with_its_own_reason() {
    // No Redis listens on port 1: the breaker decides locally from the start.
    let (b, seen) = observed(fleet("redis://127.0.0.1:1", "observer-fallback"));
    let b = b.build().unwrap();
    assert_eq!(b.mode(), Mode::Local);
    for _ in 0..4 {
        let _ = b.call(|| Err::<(), _>("down"));
    }
    assert_eq!(b.state(), State::Open);
    let seen = changes(&seen);
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!((seen[0].0, seen[0].1), (State::Closed, State::Open));
    assert!(
        matches!(
            seen[0].2,
            Reason::FailureRate {
                failures: 4,
                calls: 4,
                ..
            }
        ),
        "{:?}",
        seen[0].2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_observer_may_give_the_breaker_an_order() {
    // No Redis: orders are obeyed locally at once, and observers told after.
    let me: Arc<std::sync::OnceLock<FleetBreaker>> = Arc::default();
    let handle = me.clone();
    let (b, seen) = observed(fleet("redis://127.0.0.1:1", "observer-reentrant"));
    let b = b
        .observer(move |e: &Event<'_>| {
            if let EventKind::StateChange {
                to: State::ForcedOpen,
                ..
            } = e.kind
            {
                handle.get().expect("built").close();
            }
        })
        .build()
        .unwrap();
    let b = me.get_or_init(|| b);
    b.force_open();
    assert_eq!(b.state(), State::Closed);
    assert_eq!(
        changes(&seen),
        vec![
            (State::Closed, State::ForcedOpen, Reason::Manual),
            (State::ForcedOpen, State::Closed, Reason::ManualClose),
        ]
    );
}
