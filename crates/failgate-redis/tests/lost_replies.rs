//! Round trips whose answer is lost, late, or an error after the script's writes: the
//! shared state and the instance's view stay consistent. Probe permits granted in a
//! lost answer come back, a re-sent batch is counted once, and a user that may not
//! PUBLISH still gets its probes and closes the fleet.

mod common;

use common::{eventually, fleet, raw, trip, unique_namespace, Redis};
use failgate::State;
use failgate_redis::testing::LossyProxy;
use failgate_redis::{FleetBreaker, FleetBuilder, Mode};
use redis::AsyncCommands;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const SECOND: Duration = Duration::from_secs(1);
/// Longer than any wait below: the half-open timeout must not be what rescues a fleet.
const HALF_OPEN_TIMEOUT: Duration = Duration::from_secs(6);

fn probing(url: &str, ns: &str) -> FleetBuilder {
    fleet(url, ns)
        .half_open_permits(1)
        .half_open_timeout(HALF_OPEN_TIMEOUT)
        .redis_timeout(Duration::from_millis(200))
}

async fn shared(fleet: &[&FleetBreaker]) {
    eventually("shared", 5 * SECOND, || {
        fleet.iter().all(|b| b.mode() == Mode::Shared)
    })
    .await;
}

async fn shared_state(url: &str, ns: &str) -> HashMap<String, String> {
    raw(url)
        .await
        .hgetall(format!("failgate:{ns}:dependency:state"))
        .await
        .unwrap()
}

/// Waits until every instance of `fleet` is shared and closed.
async fn closes(fleet: &[&FleetBreaker]) {
    eventually("closed, fleet-wide", 2 * SECOND, || {
        fleet
            .iter()
            .all(|b| b.mode() == Mode::Shared && b.state() == State::Closed)
    })
    .await;
}

/// True if one of `fleet` admits a fleet-wide probe now (which then succeeds).
fn a_probe_is_admitted(fleet: &[&FleetBreaker]) -> bool {
    fleet.iter().any(|b| match b.try_acquire() {
        Ok(p) if p.is_probe() && !p.is_local() => {
            p.success();
            true
        }
        _ => false,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_permits_granted_in_a_lost_reply_come_back() {
    let Some(redis) = Redis::start() else { return };
    let proxy = LossyProxy::start(redis.port()).await.unwrap();
    let ns = unique_namespace("lost-grant");
    let behind_proxy = probing(&proxy.url(), &ns).build().unwrap();
    let direct = probing(&redis.url(), &ns).build().unwrap();
    let fleet = [&direct, &behind_proxy];
    shared(&fleet).await;
    trip(&fleet).await;

    // The open wait ends; the instance behind the proxy asks for the one permit, Redis
    // grants it, and the answer is lost.
    proxy.drop_replies(true);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(behind_proxy.try_acquire().is_err(), "asks for permits");
    eventually("redis granted the permit", 2 * SECOND, || {
        behind_proxy.mode() == Mode::Local
    })
    .await;
    let state = shared_state(&redis.url(), &ns).await;
    assert_eq!(
        (state["state"].as_str(), state["taken"].as_str()),
        ("half_open", "1")
    );
    proxy.drop_replies(false);

    // Within one half-open timeout (6 s from the grant), the fleet probes again: the
    // round whose answer was lost is given up after twenty timeouts (4 s), and its
    // batch sent again is answered with the permit it was granted.
    eventually("a fleet-wide probe", 5 * SECOND, || {
        a_probe_is_admitted(&fleet)
    })
    .await;
    closes(&fleet).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resent_batch_is_counted_once() {
    let Some(redis) = Redis::start() else { return };
    let proxy = LossyProxy::start(redis.port()).await.unwrap();
    let ns = unique_namespace("resent");
    let b = fleet(&proxy.url(), &ns)
        .minimum_calls(1_000_000)
        .redis_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    shared(&[&b]).await;

    // Redis runs the flush of these 50 calls, and its answer comes too late.
    proxy.delay_replies(Duration::from_millis(600));
    for _ in 0..50 {
        b.call(|| Ok::<_, ()>(())).unwrap();
    }
    eventually("the round trip timed out", 2 * SECOND, || {
        b.mode() == Mode::Local
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    proxy.delay_replies(Duration::ZERO);
    shared(&[&b]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    assert_eq!(
        window_calls(&redis.url(), &ns).await,
        50,
        "the shared window's calls"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_without_channel_permissions_still_probes_and_closes_the_fleet() {
    let Some(redis) = Redis::start() else { return };
    let mut admin = raw(&redis.url()).await;
    let _: () = redis::cmd("ACL")
        .arg(&[
            "SETUSER",
            "fleet",
            "on",
            ">pw",
            "~*",
            "+@all",
            "resetchannels",
        ])
        .query_async(&mut admin)
        .await
        .unwrap();
    let ns = unique_namespace("no-publish");
    let fleet: Vec<_> = (0..2)
        .map(|_| {
            probing(&redis.url(), &ns)
                .username("fleet")
                .password("pw")
                .build()
                .unwrap()
        })
        .collect();
    let fleet: Vec<_> = fleet.iter().collect();
    shared(&fleet).await;
    // Found when connecting, before any transition needed a PUBLISH.
    let refused = |b: &&FleetBreaker| {
        b.status()
            .last_error
            .is_some_and(|e| e.contains("refuses PUBLISH") && e.contains("polling"))
    };
    eventually("the refusal is reported", 2 * SECOND, || {
        fleet.iter().all(refused)
    })
    .await;
    trip(&fleet).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    // The dependency is healthy again: the fleet must probe and close, shared.
    eventually("a fleet-wide probe", 3 * SECOND, || {
        a_probe_is_admitted(&fleet)
    })
    .await;
    closes(&fleet).await;
    assert_eq!(shared_state(&redis.url(), &ns).await["state"], "closed");
    assert!(
        fleet.iter().all(refused),
        "and stays reported while it lasts"
    );
}

/// The shared window's calls, from Redis.
async fn window_calls(url: &str, ns: &str) -> u64 {
    let window: HashMap<String, u64> = raw(url)
        .await
        .hgetall(format!("failgate:{ns}:dependency:window"))
        .await
        .unwrap();
    window
        .iter()
        .filter(|(k, _)| k.starts_with('c'))
        .map(|(_, n)| n)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_slower_than_the_timeout_is_given_one_round_at_a_time_on_one_connection() {
    let Some(redis) = Redis::start() else { return };
    let proxy = LossyProxy::start(redis.port()).await.unwrap();
    let ns = unique_namespace("slow");
    // The timeout is 100 ms; an answer is still taken within 2 s.
    let b = fleet(&proxy.url(), &ns)
        .minimum_calls(1_000_000)
        .redis_timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    shared(&[&b]).await;
    let before = common::connections(&mut raw(&redis.url()).await).await;

    // Every answer now takes 300 ms: later than the timeout, within the patience.
    proxy.delay_replies(Duration::from_millis(300));
    let rounds_before = b.status().round_trips;
    let start = Instant::now();
    let mut calls = 0;
    while start.elapsed() < 2 * SECOND {
        b.call(|| Ok::<_, ()>(())).unwrap();
        calls += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let rounds = b.status().round_trips - rounds_before;
    assert_eq!(
        b.mode(),
        Mode::Local,
        "late answers: the breaker decides locally"
    );
    // A new round every tick (20 ms) or every timeout (100 ms) would be 20 to 100;
    // one at a time, each waited for, is at most one per 300 ms.
    assert!(
        rounds <= 8,
        "{rounds} rounds in 2 s against a Redis that answers in 300 ms"
    );
    assert_eq!(
        common::connections(&mut raw(&redis.url()).await).await,
        before,
        "no connection was given up and made again"
    );

    proxy.delay_replies(Duration::ZERO);
    shared(&[&b]).await;
    eventually("every call counted, once", 2 * SECOND, || {
        futures_lite(window_calls(&redis.url(), &ns)) == calls
    })
    .await;
}

/// Runs `f` to completion from a synchronous closure.
fn futures_lite<T: Send>(f: impl std::future::Future<Output = T> + Send) -> T {
    let handle = tokio::runtime::Handle::current();
    std::thread::scope(|s| s.spawn(|| handle.block_on(f)).join().unwrap())
}
