//! Totals since creation on the fleet breaker (`FleetBuilder::totals(true)`): each
//! instance's own calls by outcome and refusals, on a real Redis, with two instances
//! of one breaker standing for two hosts.

mod common;

use common::{eventually, fleet, instances, unique_namespace, Target};
use failgate::State;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_totals_count_this_instances_calls_by_outcome_and_its_refusals() {
    let Some(redis) = Target::get() else { return };
    let ns = unique_namespace("totals");
    let fleet = instances(2, || fleet(&redis.url, &ns).totals(true)).await;
    let (a, b) = (&fleet[0], &fleet[1]);
    for _ in 0..2 {
        let _ = a.call(|| Ok::<_, ()>(()));
    }
    a.try_acquire().unwrap().ignore();
    drop(a.try_acquire().unwrap()); // abandoned
    let _ = b.call(|| Ok::<_, ()>(()));
    // Four calls admitted while closed, then failed: all four count, whether the trip
    // comes before the last is reported or not.
    let permits: Vec<_> = (0..4).map(|_| a.try_acquire().unwrap()).collect();
    permits.into_iter().for_each(|p| p.failure());
    eventually("open", 2 * Duration::from_secs(1), || {
        fleet.iter().all(|b| b.state() == State::Open)
    })
    .await;
    for _ in 0..3 {
        assert!(a.call(|| Ok::<_, ()>(())).is_err());
    }
    for _ in 0..2 {
        assert!(b.try_acquire().is_err());
    }

    let ta = a.snapshot().totals.expect("kept with totals(true)");
    assert_eq!(
        (
            ta.successes,
            ta.failures,
            ta.ignored,
            ta.abandoned,
            ta.refused
        ),
        (2, 4, 1, 1, 3),
        "{ta:?}"
    );
    assert_eq!((ta.slow_successes, ta.slow_failures), (0, 0));
    assert_eq!(ta.calls(), 7);
    assert_eq!(a.snapshot().refused(), Some(3));
    let tb = b.snapshot().totals.expect("kept with totals(true)");
    assert_eq!(
        (
            tb.successes,
            tb.failures,
            tb.ignored,
            tb.abandoned,
            tb.refused
        ),
        (1, 0, 0, 0, 2),
        "{tb:?}"
    );
    // The fleet's transitions are not an instance's (see FleetBuilder::totals).
    assert_eq!((ta.transitions(), tb.transitions()), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_totals_are_off_unless_asked_for_and_kept_through_the_local_fallback() {
    let Some(mut redis) = common::Redis::start() else {
        return;
    };
    let ns = unique_namespace("totals-off");
    let plain = instances(1, || fleet(&redis.url(), &ns)).await;
    let _ = plain[0].call(|| Ok::<_, ()>(()));
    assert_eq!(plain[0].snapshot().totals, None);
    assert_eq!(plain[0].snapshot().refused(), None);

    let kept = instances(1, || {
        fleet(&redis.url(), &ns)
            .totals(true)
            .redis_timeout(Duration::from_millis(50))
    })
    .await;
    let b = &kept[0];
    let _ = b.call(|| Ok::<_, ()>(()));
    redis.stop();
    eventually("local", 2 * Duration::from_secs(1), || {
        b.mode() == failgate_redis::Mode::Local
    })
    .await;
    // The local fallback's outcomes and refusals are this instance's too.
    for _ in 0..4 {
        let _ = b.call(|| Err::<(), _>("down"));
    }
    assert_eq!(b.state(), State::Open);
    assert!(b.call(|| Ok::<_, ()>(())).is_err());
    let t = b.snapshot().totals.expect("kept in fallback");
    assert_eq!((t.successes, t.failures, t.refused), (1, 4, 1), "{t:?}");
}

#[cfg(feature = "serde")]
#[test]
fn fleet_totals_are_read_from_config_files() {
    use failgate_redis::config_file::FleetConfig;
    let c: FleetConfig =
        serde_json::from_str(r#"{"redis": {"url": "redis://127.0.0.1:1"}, "totals": true}"#)
            .unwrap();
    assert_eq!(c.totals, Some(true));
    let debug = format!("{:?}", c.builder("x").unwrap());
    assert!(debug.contains("totals: true"), "{debug}");
    let e = serde_json::from_str::<FleetConfig>(r#"{"redis": {"url": "redis://h"}, "totals": 1}"#)
        .unwrap_err();
    assert!(e.to_string().contains("bool"), "{e}");
}
