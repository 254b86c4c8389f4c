//! Lost shared state (a FLUSHALL, a failover to an empty replica, an evicted or expired
//! key) is detected: the instances, whose generations are ahead of the recreated
//! state's, re-establish it and keep protecting, instead of discarding every flush.

mod common;

use common::{eventually, fleet, instances, raw, trip, unique_namespace, Redis, Target};
use failgate::State;
use failgate_redis::{FleetBreaker, Mode};
use redis::AsyncCommands;
use std::time::Duration;

const SECOND: Duration = Duration::from_secs(1);

/// Trips the fleet, lets one probe close it again: the shared generation is then 3.
async fn move_generation_ahead(fleet: &[FleetBreaker]) {
    trip(fleet).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    eventually("a probe succeeds", 2 * SECOND, || {
        fleet[0].try_acquire().map(|p| p.success()).is_ok()
    })
    .await;
    eventually("closed again", 2 * SECOND, || {
        fleet
            .iter()
            .all(|b| b.state() == State::Closed && b.status().generation == 3)
    })
    .await;
}

/// Nine failures in ten calls on every instance, until all of them refuse.
async fn fail_until_open(fleet: &[FleetBreaker]) -> Duration {
    eventually("the fleet trips again", 3 * SECOND, || {
        for b in fleet {
            for i in 0..10 {
                let _ = b.call(|| if i == 0 { Ok(()) } else { Err("down") });
            }
        }
        fleet
            .iter()
            .all(|b| b.mode() == Mode::Shared && b.state() == State::Open)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flushall_is_detected_and_the_fleet_trips_again() {
    let Some(redis) = Redis::start() else { return };
    let ns = unique_namespace("flushall");
    let fleet = instances(2, || fleet(&redis.url(), &ns)).await;
    move_generation_ahead(&fleet).await;

    let mut con = raw(&redis.url()).await;
    let _: () = redis::cmd("FLUSHALL").query_async(&mut con).await.unwrap();
    fail_until_open(&fleet).await;
    for b in &fleet {
        let status = b.status();
        assert_eq!(status.lost_state, 1, "{status:?}");
        assert!(status.last_lost_state.is_some(), "{status:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_breaker_keys_are_detected_like_a_flushall() {
    let Some(redis) = Target::get() else { return };
    let ns = unique_namespace("evicted");
    let fleet = instances(2, || fleet(&redis.url, &ns)).await;
    move_generation_ahead(&fleet).await;

    // As an eviction or an expiry would: the keys go, connections stay up.
    let mut con = raw(&redis.url).await;
    let prefix = format!("failgate:{ns}:dependency");
    let _: () = con
        .del(&[format!("{prefix}:state"), format!("{prefix}:window")])
        .await
        .unwrap();
    fail_until_open(&fleet).await;
    for b in &fleet {
        assert_eq!(b.status().lost_state, 1, "{:?}", b.status());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_lost_in_a_failover_are_detected_and_the_fleet_trips_again() {
    let Some(redis) = Target::get() else { return };
    let ns = unique_namespace("rolled-back");
    let fleet = instances(2, || fleet(&redis.url, &ns)).await;
    move_generation_ahead(&fleet).await;

    // As a failover to a replica that lagged would leave it: the state as it was
    // before the trip (closed, generation 0), with the same epoch. The instances know
    // generation 3, which this Redis will never reach by itself.
    let mut con = raw(&redis.url).await;
    let state = format!("failgate:{ns}:dependency:state");
    let _: () = con
        .hset_multiple(
            &state,
            &[
                ("state", "closed"),
                ("gen", "0"),
                ("taken", "0"),
                ("ok", "0"),
            ],
        )
        .await
        .unwrap();
    fail_until_open(&fleet).await;
    for b in &fleet {
        assert_eq!(b.status().lost_state, 1, "{:?}", b.status());
    }
}
