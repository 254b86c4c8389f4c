#![cfg(feature = "tower")]
//! Fleet breakers per key: the core's per-key map and layer, with a fleet builder as
//! the template. Two maps stand for two replicas: a key's breaker is shared by both,
//! and one key's failures never open another's.
mod common;

use common::{eventually, fleet, unique_namespace, Target};
use failgate::tower::per_key::{BreakerMap, PerKeyLayer};
use failgate::State;
use failgate_redis::{FleetBuilder, FleetConfigError, Mode};
use std::time::Duration;
use tower::{service_fn, Service, ServiceBuilder, ServiceExt};

const SECOND: Duration = Duration::from_secs(1);

fn template(url: &str, namespace: &str) -> FleetBuilder {
    fleet(url, namespace).open_for(Duration::from_secs(30))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_key_has_one_fleet_wide_breaker_and_keys_stay_apart() {
    let Some(redis) = Target::get() else { return };
    let namespace = unique_namespace("per-key");
    let replica_a = BreakerMap::new(template(&redis.url, &namespace), 100).unwrap();
    let replica_b = BreakerMap::new(template(&redis.url, &namespace), 100).unwrap();
    let down = "down.example:443".to_string();
    let up = "up.example:443".to_string();

    let mut svc = ServiceBuilder::new()
        .layer(PerKeyLayer::new(replica_a.clone(), |host: &String| {
            host.clone()
        }))
        .service(service_fn(|host: String| async move {
            if host.starts_with("down") {
                Err("503")
            } else {
                Ok("200")
            }
        }));
    for key in [&down, &up] {
        let b = replica_a.get(key);
        eventually("shared", 5 * SECOND, || b.mode() == Mode::Shared).await;
    }
    for _ in 0..4 {
        let reply = svc.ready().await.unwrap().call(down.clone()).await;
        assert_eq!(reply.unwrap_err().to_string(), "503");
        let reply = svc.ready().await.unwrap().call(up.clone()).await;
        assert_eq!(reply.unwrap(), "200");
    }
    // The other replica's breaker of the failing key learns the trip from Redis.
    let seen_by_b = replica_b.get(&down);
    eventually(
        "the other replica refuses the failing key",
        5 * SECOND,
        || seen_by_b.state() == State::Open,
    )
    .await;
    let rejected = svc.ready().await.unwrap().call(down.clone()).await;
    let rejected = rejected.unwrap_err();
    assert!(rejected.is::<failgate::Rejected>(), "{rejected:?}");
    assert_eq!(
        replica_b.get(&up).state(),
        State::Closed,
        "a healthy key stays closed"
    );
    assert_eq!(seen_by_b.name(), "dependency.down.example%3A443");
    assert_eq!(replica_a.untracked(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_fleet_template_is_refused_when_the_map_is_made() {
    let Some(redis) = Target::get() else { return };
    let long = "n".repeat(150);
    let e =
        BreakerMap::<String, _>::new(template(&redis.url, "x").redis("not a url"), 10).unwrap_err();
    assert!(matches!(e, FleetConfigError::RedisUrl { .. }), "{e}");
    let e = BreakerMap::<String, _>::new(
        failgate_redis::FleetBreaker::builder(&long).redis(&redis.url),
        10,
    )
    .unwrap_err();
    assert!(e.to_string().contains("per-key template"), "{e}");
    let e = BreakerMap::<String, _>::new(template(&redis.url, "x"), 0).unwrap_err();
    assert!(e.to_string().contains("max_keys"), "{e}");
}

#[test]
fn a_fleet_template_works_outside_a_runtime_and_on_a_given_one() {
    // No runtime on this thread: the keys' breakers share the process's fleet client.
    let map = BreakerMap::<String, _>::new(template("redis://127.0.0.1:1", "x"), 10).unwrap();
    assert_eq!(map.get(&"k".to_string()).state(), State::Closed);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let map = BreakerMap::<String, _>::new(
        template("redis://127.0.0.1:1", "x").runtime(runtime.handle().clone()),
        10,
    )
    .unwrap();
    // Built on a thread without a runtime: its client runs on the one given.
    assert_eq!(map.get(&"k".to_string()).state(), State::Closed);
}
