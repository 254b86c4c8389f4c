//! The half-open rule judged fleet-wide as a failure rate over the probes
//! (`FleetBuilder::half_open_failure_rate`), on a real Redis: two instances of one
//! breaker stand for two hosts, and their probes of one generation count together.

mod common;

use common::{eventually, fleet, instances, trip, unique_namespace, Target};
use failgate::State;
use failgate_redis::{FleetBreaker, OwnedPermit};
use std::time::Duration;

const SECOND: Duration = Duration::from_secs(1);

/// Waits out the open wait, then takes probe permits on every instance (at most `per`
/// each) until the fleet holds `n`: `(instance, permit)` pairs.
async fn probes(fleet: &[FleetBreaker], n: usize, per: usize) -> Vec<(usize, OwnedPermit)> {
    let mut held: Vec<(usize, OwnedPermit)> = Vec::new();
    eventually("the fleet's probe permits", 5 * SECOND, || {
        for (i, b) in fleet.iter().enumerate() {
            if held.iter().filter(|h| h.0 == i).count() >= per {
                continue;
            }
            if let Ok(p) = b.try_acquire_owned() {
                assert!(p.is_probe(), "only probes while half-open");
                held.push((i, p));
            }
        }
        held.len() >= n
    })
    .await;
    assert_eq!(held.len(), n, "no more than the fleet's permits");
    held
}

/// Two instances of a breaker with 4 half-open permits judged at `rate`, tripped, and
/// the fleet's 4 probes, 2 on each instance (instance 0's first).
async fn half_open_fleet(
    url: &str,
    test: &str,
    rate: f64,
) -> (Vec<FleetBreaker>, Vec<(usize, OwnedPermit)>) {
    let ns = unique_namespace(test);
    let b = || {
        fleet(url, &ns)
            .half_open_permits(4)
            .half_open_failure_rate(rate)
    };
    let fleet = instances(2, b).await;
    trip(&fleet).await;
    let mut held = probes(&fleet, 4, 2).await;
    held.sort_by_key(|(i, _)| *i);
    (fleet, held)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_failure_rate_closes_the_fleet_on_a_rate_below_the_threshold() {
    let Some(redis) = Target::get() else { return };
    let (fleet, mut held) = half_open_fleet(&redis.url, "probe-rate-close", 0.75).await;
    // 4 probes at 0.75: after a failure and a success the rate could still reach 3 in
    // 4; a second success makes "below 0.75" certain with the fourth probe still out.
    let (last_instance, last) = held.pop().unwrap();
    let mut outcomes = held.into_iter();
    outcomes.next().unwrap().1.failure(); // instance 0
    outcomes.next().unwrap().1.success(); // instance 0
    tokio::time::sleep(Duration::from_millis(200)).await; // a few rounds
    assert!(
        fleet.iter().all(|b| b.state() == State::HalfOpen),
        "1 failure, 1 success and 2 probes out: undecided, {:?}",
        fleet.iter().map(|b| b.state()).collect::<Vec<_>>()
    );
    outcomes.next().unwrap().1.success(); // instance 1
    eventually(
        "two successes and a failure of four close the fleet",
        2 * SECOND,
        || fleet.iter().all(|b| b.state() == State::Closed),
    )
    .await;
    // The fourth probe's outcome is late: it belongs to the generation that closed.
    last.failure();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(fleet[last_instance].state(), State::Closed);
    assert!(fleet.iter().all(|b| b.state() == State::Closed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_failure_rate_reopens_the_fleet_when_the_failures_reach_it() {
    let Some(redis) = Target::get() else { return };
    let (fleet, mut held) = half_open_fleet(&redis.url, "probe-rate-open", 0.5).await;
    // One failure from each instance: two of four reach 0.5, with two probes out.
    let (_, on_second) = held.pop().unwrap();
    let (_, on_first) = held.remove(0);
    on_first.failure();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        fleet.iter().all(|b| b.state() == State::HalfOpen),
        "one failure in four is below 0.5"
    );
    on_second.failure();
    eventually("two failures of four reopen the fleet", 2 * SECOND, || {
        fleet.iter().all(|b| b.state() == State::Open)
    })
    .await;
    drop(held);
}

#[tokio::test]
async fn half_open_failure_rate_is_validated_as_the_local_builders() {
    for bad in [0.0, -0.5, 1.5, f64::NAN, f64::INFINITY] {
        let e = fleet("redis://127.0.0.1:1", "x")
            .half_open_failure_rate(bad)
            .build()
            .unwrap_err();
        let local = failgate::CircuitBreaker::builder()
            .half_open_failure_rate(bad)
            .build()
            .unwrap_err();
        match &e {
            failgate_redis::FleetConfigError::Policy(c) => {
                assert_eq!(c.field(), "half_open_failure_rate", "{e}");
                assert_eq!(c.value(), local.value(), "{e}");
                assert_eq!(c.to_string(), local.to_string());
            }
            other => panic!("{bad}: {other:?}"),
        }
        assert!(e.to_string().contains("half_open_failure_rate"), "{e}");
        assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
    }
    for good in [0.1, 0.5, 1.0] {
        assert!(fleet("redis://127.0.0.1:1", "x")
            .half_open_failure_rate(good)
            .build()
            .is_ok());
    }
}

#[cfg(feature = "serde")]
#[tokio::test]
async fn half_open_failure_rate_is_read_from_config_files_and_refused_by_key() {
    use failgate_redis::config_file::FleetConfig;
    let file = |rate: &str| {
        format!(
            r#"{{"redis": {{"url": "redis://127.0.0.1:1"}}, "half_open_permits": 4, "half_open_failure_rate": {rate}}}"#
        )
    };
    let config: FleetConfig = serde_json::from_str(&file("0.5")).unwrap();
    assert_eq!(config.half_open_failure_rate, Some(0.5));
    assert!(config.builder("x").unwrap().build().is_ok());
    let debug = format!("{:?}", config.builder("x").unwrap());
    assert!(
        debug.contains("half_open_failure_rate: Some(0.5)"),
        "{debug}"
    );

    let config: FleetConfig = serde_json::from_str(&file("1.5")).unwrap();
    let e = config.builder("x").unwrap().build().unwrap_err();
    assert!(e.to_string().contains("half_open_failure_rate"), "{e}");
    assert!(e.to_string().contains("1.5"), "{e}");

    let e = serde_json::from_str::<FleetConfig>(&file(r#""half""#)).unwrap_err();
    assert!(e.to_string().contains("f64"), "{e}");
    let e = serde_json::from_str::<FleetConfig>(
        r#"{"redis": {"url": "redis://h"}, "half_open_failure_rat": 0.5}"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("half_open_failure_rat"), "{e}");
}
