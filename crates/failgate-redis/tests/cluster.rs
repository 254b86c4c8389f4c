//! Fleet breakers on a real Redis Cluster (three masters, one replica each, started by
//! the test on loopback ports): keys spread over the masters, trips reach every
//! instance, and a master killed during traffic is failed over without a call waiting
//! on Redis and without the breakers on its slots losing their protection.

mod common;

use common::{eventually, unique_namespace};
use failgate::State;
use failgate_redis::testing::RedisCluster;
use failgate_redis::{FleetBreaker, Mode};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_millis(200);

/// A cluster of the test's own (three masters, a replica each).
fn cluster() -> Option<RedisCluster> {
    common::cluster_or_skip(RedisCluster::start())
}

/// Two instances of each breaker in `names` (one process: two mirrors on one client),
/// once every one has reached the cluster.
async fn two_instances(
    cluster: &RedisCluster,
    ns: &str,
    names: &[String],
) -> (Vec<FleetBreaker>, Vec<FleetBreaker>) {
    let a: Vec<_> = names.iter().map(|n| breaker(cluster, ns, n)).collect();
    let b: Vec<_> = names.iter().map(|n| breaker(cluster, ns, n)).collect();
    eventually(
        "every breaker reaches the cluster",
        Duration::from_secs(10),
        || a.iter().chain(&b).all(|x| x.mode() == Mode::Shared),
    )
    .await;
    (a, b)
}

fn breaker(cluster: &RedisCluster, ns: &str, name: &str) -> FleetBreaker {
    FleetBreaker::builder(name)
        .namespace(ns)
        .redis_cluster(cluster.urls())
        .failure_rate(0.5)
        .minimum_calls(4)
        .window(failgate::Window::time(Duration::from_secs(10)).buckets(10))
        .open_for(Duration::from_millis(300))
        .flush_interval(Duration::from_millis(20))
        .redis_timeout(TIMEOUT)
        .build()
        .unwrap()
}

/// Fails calls on `b` (more failures than the successes in its window) until every
/// breaker of `all` reports it open.
async fn trip(b: &FleetBreaker, all: &[&FleetBreaker]) {
    eventually("open on every instance", Duration::from_secs(10), || {
        for _ in 0..20 {
            let _ = b.call(|| Err::<(), _>("down"));
        }
        all.iter().all(|b| b.state() == State::Open)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breakers_spread_over_the_masters_and_trip_on_every_instance() {
    let Some(cluster) = cluster() else { return };
    let ns = unique_namespace("spread");
    let names: Vec<String> = (0..30).map(|i| format!("host-{i}")).collect();
    let (a, b) = two_instances(&cluster, &ns, &names).await;
    let masters: BTreeSet<u16> = names
        .iter()
        .map(|n| {
            let slot = cluster
                .slot_of_key(&format!("failgate:{{{ns}:{n}}}:state"))
                .unwrap();
            cluster
                .master_of_slot(slot)
                .expect("every slot has a master")
        })
        .collect();
    assert_eq!(
        masters.len(),
        3,
        "30 breakers' keys landed on all 3 masters"
    );
    for i in (0..names.len()).step_by(3) {
        trip(&a[i], &[&a[i], &b[i]]).await;
    }
    for (i, x) in b.iter().enumerate() {
        assert_eq!(x.state() == State::Open, i % 3 == 0, "{}", names[i]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_killed_during_traffic_fails_over_and_its_breakers_keep_protecting() {
    let Some(mut cluster) = cluster() else { return };
    let ns = unique_namespace("failover");
    let names: Vec<String> = (0..12).map(|i| format!("host-{i}")).collect();
    let (a, b) = two_instances(&cluster, &ns, &names).await;
    // host-0 is open before the failover: its open state must not be lost silently.
    trip(&a[0], &[&a[0], &b[0]]).await;
    let slot = cluster
        .slot_of_key(&format!("failgate:{{{ns}:host-0}}:state"))
        .unwrap();
    let killed = cluster.kill_master_of_slot(slot).unwrap();

    // Traffic on every breaker through the failover: no call waits on Redis.
    let start = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut fell_back = false;
    let failover = Duration::from_secs(15);
    while start.elapsed() < failover {
        for x in a[1..].iter().chain(&b[1..]) {
            let t = Instant::now();
            let _ = x.call(|| Ok::<_, ()>(()));
            slowest = slowest.max(t.elapsed());
        }
        fell_back |= a[0].mode() == Mode::Local;
        if fell_back && cluster.master_of_slot(slot).is_some_and(|p| p != killed) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(
        fell_back,
        "the breakers on the dead master's slot fell back to local"
    );
    assert!(
        slowest < TIMEOUT,
        "a call waited {slowest:?} (Redis timeout {TIMEOUT:?})"
    );
    let promoted = cluster.wait_for_failover(slot, failover).unwrap();
    assert_ne!(promoted, killed);

    eventually(
        "every breaker shared again",
        Duration::from_secs(15),
        || a.iter().chain(&b).all(|x| x.mode() == Mode::Shared),
    )
    .await;
    // Protection kept: host-0 is open still (its replica had the state) or, if the
    // replica lost it, said so (a new epoch) and trips again on new failures. Either
    // way its failing dependency trips it on every instance.
    // (Open, or half-open if the open wait ended during the failover: never closed
    // without a probe.)
    let lost = a[0].status().lost_state + b[0].status().lost_state;
    assert!(
        a[0].state() != State::Closed || lost > 0,
        "host-0 neither kept its open state nor reported it lost: {:?}",
        a[0].status()
    );
    tokio::time::sleep(Duration::from_millis(400)).await; // the open wait
    trip(&a[0], &[&a[0], &b[0]]).await;
    // A breaker of another slot, or of the failed-over one, still trips fleet-wide.
    trip(&a[5], &[&a[5], &b[5]]).await;
}
