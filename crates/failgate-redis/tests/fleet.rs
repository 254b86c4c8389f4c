//! Fleet-wide behaviour against a real Redis server: one trip for the fleet, bounded
//! probes, stale generations, isolated namespaces, the tower layer.

mod common;

use common::{eventually, fleet, instances, raw, trip, unique_namespace, Target};
use failgate::{Error, State};
use failgate_redis::{FleetBreaker, SYNC_LUA};
use redis::AsyncCommands;
use std::time::Duration;

const SECOND: Duration = Duration::from_secs(1);

async fn shared_generation(url: &str, ns: &str) -> u64 {
    let mut con = raw(url).await;
    let gen: Option<u64> = con
        .hget(format!("failgate:{ns}:dependency:state"), "gen")
        .await
        .unwrap();
    gen.unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_share_one_trip_with_a_single_transition() {
    let Some(redis) = Target::get() else { return };
    let ns = unique_namespace("one-trip");
    let fleet = instances(3, || fleet(&redis.url, &ns)).await;

    // All three fail at once: 12 failures, but the fleet trips once.
    let calls: Vec<_> = fleet
        .iter()
        .cloned()
        .map(|b| {
            tokio::spawn(async move {
                for _ in 0..4 {
                    let _ = b.call(|| Err::<(), _>("down"));
                }
            })
        })
        .collect();
    for c in calls {
        c.await.unwrap();
    }
    eventually("every instance refuses", 2 * SECOND, || {
        fleet
            .iter()
            .all(|b| matches!(b.call(|| Ok::<_, ()>(())), Err(Error::Rejected(r)) if r.state() == State::Open))
    })
    .await;
    assert_eq!(
        shared_generation(&redis.url, &ns).await,
        1,
        "one transition, fleet-wide"
    );
    for b in &fleet {
        assert_eq!(b.status().generation, 1);
        let retry = b.try_acquire().unwrap_err().retry_after().unwrap();
        assert!(retry <= Duration::from_millis(500), "{retry:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trip_on_one_instance_reaches_the_others_without_their_traffic() {
    let Some(redis) = Target::get() else { return };
    let ns = unique_namespace("spread");
    let fleet = instances(3, || {
        fleet(&redis.url, &ns).flush_interval(Duration::from_millis(100))
    })
    .await;
    for _ in 0..4 {
        let _ = fleet[0].call(|| Err::<(), _>("down"));
    }
    // Instance 0 flushes at once (its failures could trip), and pub/sub tells the rest:
    // well within one flush interval of polling.
    let took = eventually("the others see the trip", 2 * SECOND, || {
        fleet[1].state() == State::Open && fleet[2].state() == State::Open
    })
    .await;
    assert!(took < SECOND, "{took:?}");
    assert!(fleet[1].status().announcements + fleet[2].status().announcements >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_instance_polls_rarely_and_still_hears_a_trip_at_once() {
    let Some(redis) = Target::get() else { return };
    let ns = unique_namespace("idle");
    let fleet = instances(2, || fleet(&redis.url, &ns).idle_poll(SECOND)).await;
    // Once subscribed (pub/sub connects beside the first round trips), it goes quiet.
    let quiet = |b: &FleetBreaker| {
        let n = b.status().round_trips;
        std::thread::sleep(Duration::from_millis(60));
        b.status().round_trips == n
    };
    eventually("quiet", 3 * SECOND, || quiet(&fleet[1])).await;
    let before = fleet[1].status().round_trips;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let idle = fleet[1].status().round_trips - before;
    assert!(
        idle <= 1,
        "{idle} round trips in 600 ms while idle (ticks every 20 ms)"
    );

    // Traffic: a round trip every tick again.
    let before = fleet[1].status().round_trips;
    for _ in 0..20 {
        fleet[1].call(|| Ok::<_, ()>(())).unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let busy = fleet[1].status().round_trips - before;
    assert!(busy >= 5, "{busy} round trips in 200 ms of traffic");

    // And the idle one hears a trip over pub/sub, not at its next poll.
    eventually("the other is quiet", 3 * SECOND, || quiet(&fleet[0])).await;
    // The window holds 20 successes: 20 failures make half.
    for _ in 0..20 {
        let _ = fleet[1].call(|| Err::<(), _>("down"));
    }
    eventually("the busy instance trips", 2 * SECOND, || {
        fleet[1].state() == State::Open
    })
    .await;
    let took = eventually("the idle instance sees the trip", 2 * SECOND, || {
        fleet[0].state() == State::Open
    })
    .await;
    assert!(took < Duration::from_millis(500), "{took:?}");
    assert!(fleet[0].status().announcements >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_probes_are_bounded_fleet_wide_and_the_fleet_closes_together() {
    let Some(redis) = Target::get() else { return };
    let ns = unique_namespace("probes");
    let fleet = instances(3, || fleet(&redis.url, &ns).half_open_permits(2)).await;
    for _ in 0..4 {
        let _ = fleet[0].call(|| Err::<(), _>("down"));
    }
    eventually("all open", 2 * SECOND, || {
        fleet.iter().all(|b| b.state() == State::Open)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await; // the open wait

    // Every instance keeps asking for half a second and holds what it gets.
    let mut held = Vec::new();
    let until = std::time::Instant::now() + Duration::from_millis(500);
    while std::time::Instant::now() < until {
        for b in &fleet {
            if let Ok(p) = b.try_acquire_owned() {
                assert!(p.is_probe(), "only probes while half-open");
                held.push(p);
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(held.len(), 2, "exactly the fleet's two permits went out");
    for p in held {
        p.success();
    }
    eventually("all closed", 2 * SECOND, || {
        fleet.iter().all(|b| b.state() == State::Closed)
    })
    .await;
    assert_eq!(
        shared_generation(&redis.url, &ns).await,
        3,
        "open, half-open, closed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_probe_goes_back_to_the_fleet() {
    let Some(redis) = Target::get() else { return };
    let ns = unique_namespace("abandon");
    let fleet = instances(2, || fleet(&redis.url, &ns)).await;
    trip(&fleet).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut probe = None;
    eventually("a probe", 2 * SECOND, || {
        probe = fleet[0].try_acquire_owned().ok();
        probe.is_some()
    })
    .await;
    drop(probe); // a cancelled request
    let mut second = None;
    eventually("the permit is handed out again", 2 * SECOND, || {
        second = fleet[1].try_acquire_owned().ok();
        second.is_some()
    })
    .await;
    second.unwrap().failure();
    eventually("a failed probe reopens", 2 * SECOND, || {
        fleet.iter().all(|b| b.state() == State::Open)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_generations_are_discarded() {
    let Some(redis) = Target::get() else { return };
    let ns = unique_namespace("stale");
    let fleet = instances(2, || fleet(&redis.url, &ns)).await;
    // A call admitted while closed, finishing after the fleet tripped, counts nothing.
    let late = fleet[0].try_acquire().unwrap();
    for _ in 0..4 {
        let _ = fleet[1].call(|| Err::<(), _>("down"));
    }
    eventually("open", 2 * SECOND, || fleet[0].state() == State::Open).await;
    late.failure();

    // In Redis: counts sent for an ended generation are discarded by the script.
    let mut con = raw(&redis.url).await;
    let state_key = format!("failgate:{ns}:dependency:state");
    let window_key = format!("failgate:{ns}:dependency:window");
    let reply: Vec<redis::Value> = redis::Script::new(SYNC_LUA)
        .key(&state_key)
        .key(&window_key)
        .key(format!("failgate:{ns}:dependency:batch:test"))
        .arg(0) // the generation before the trip
        .arg(10) // calls
        .arg(10) // failures
        .arg(0)
        .arg(0)
        .arg(0)
        .arg(0)
        .arg(0.5)
        .arg(4)
        .arg(10_000)
        .arg(10)
        .arg(500)
        .arg(1)
        .arg(30_000)
        .arg(3_600_000)
        .arg(format!("failgate:{ns}:dependency:events"))
        .arg(0) // no epoch known
        .arg(0) // no batch id
        .arg(30_000)
        .invoke_async(&mut con)
        .await
        .unwrap();
    let discarded: u64 = redis::from_redis_value(reply[6].clone()).unwrap();
    assert_eq!(
        discarded, 10,
        "the 10 stale calls (all failures) were refused"
    );
    let window: Option<String> = con.hget(&window_key, "c0").await.unwrap();
    assert_eq!(window, None);
    assert_eq!(
        shared_generation(&redis.url, &ns).await,
        1,
        "and changed nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_namespaces_never_interfere() {
    let Some(redis) = Target::get() else { return };
    let (a, b) = (unique_namespace("ns-a"), unique_namespace("ns-b"));
    let in_a = instances(1, || fleet(&redis.url, &a)).await.remove(0);
    let in_b = instances(1, || fleet(&redis.url, &b)).await.remove(0);
    for _ in 0..4 {
        let _ = in_a.call(|| Err::<(), _>("down"));
    }
    eventually("a is open", 2 * SECOND, || in_a.state() == State::Open).await;
    for _ in 0..20 {
        assert!(in_b.call(|| Ok::<_, ()>(())).is_ok());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(in_b.state(), State::Closed);
    assert_eq!(shared_generation(&redis.url, &b).await, 0);
    let mut con = raw(&redis.url).await;
    let ttl: i64 = con
        .pttl(format!("failgate:{a}:dependency:state"))
        .await
        .unwrap();
    assert!(
        ttl > 0 && ttl <= 3_600_000,
        "keys expire after inactivity: {ttl}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_last_handle_stops_the_background_tasks() {
    // A server of its own: other tests' breakers share the client of the common one.
    let Some(redis) = common::Redis::start() else {
        return;
    };
    let ns = unique_namespace("drop");
    let mut con = raw(&redis.url()).await;
    let before = futures_lite_block(&mut con);
    let fleet = instances(2, || fleet(&redis.url(), &ns)).await;
    let during = futures_lite_block(&mut con);
    // One client for both: one connection for the rounds, one for pub/sub.
    assert_eq!(during, before + 2, "{before} -> {during}");
    drop(fleet);
    let mut after = during;
    eventually("their connections close", 3 * SECOND, || {
        after = futures_lite_block(&mut con);
        after <= before
    })
    .await;
}

/// CLIENT LIST's line count, from a synchronous closure (one extra round trip).
fn futures_lite_block(con: &mut redis::aio::MultiplexedConnection) -> usize {
    let mut con = con.clone();
    let handle = tokio::runtime::Handle::current();
    std::thread::scope(|s| {
        s.spawn(|| {
            handle.block_on(async {
                let list: String = redis::cmd("CLIENT")
                    .arg("LIST")
                    .query_async(&mut con)
                    .await
                    .unwrap();
                list.lines().count()
            })
        })
        .join()
        .unwrap()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_configuration_is_a_typed_error() {
    use failgate_redis::FleetConfigError;
    let url = "redis://127.0.0.1:1";
    let err = |b: failgate_redis::FleetBuilder| b.build().unwrap_err();
    assert!(matches!(
        err(fleet(url, "x").flush_interval(Duration::from_millis(500))),
        FleetConfigError::Invalid {
            field: "flush_interval",
            ..
        }
    ));
    assert!(matches!(
        err(fleet(url, "a:b")),
        FleetConfigError::Invalid {
            field: "namespace",
            ..
        }
    ));
    assert!(matches!(
        err(fleet(url, "x").failure_rate(1.5)),
        FleetConfigError::Policy(_)
    ));
    assert!(matches!(
        err(FleetBreaker::builder("x")),
        FleetConfigError::NoRedisUrl
    ));
    let e = err(fleet("http://user:secret@host", "x"));
    assert!(matches!(e, FleetConfigError::RedisUrl { .. }));
    assert!(!e.to_string().contains("secret"), "{e}");
}

#[test]
fn breakers_built_outside_any_runtime_share_state_through_their_client_thread() {
    let Some(redis) = Target::get() else { return };
    let ns = unique_namespace("no-runtime");
    // No tokio runtime on this thread: the fleet client runs on a thread of its own.
    let fleet: Vec<FleetBreaker> = (0..2)
        .map(|_| fleet(&redis.url, &ns).build().unwrap())
        .collect();
    let until = |what: &str, check: &dyn Fn() -> bool| {
        let start = std::time::Instant::now();
        while !check() {
            assert!(start.elapsed() < 5 * SECOND, "not within 5 s: {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    until("both reach redis", &|| {
        fleet
            .iter()
            .all(|b| b.mode() == failgate_redis::Mode::Shared)
    });
    for _ in 0..4 {
        let _ = fleet[0].call(|| Err::<(), _>("down"));
    }
    until("the other instance refuses", &|| {
        fleet[1].state() == State::Open
    });
}

#[cfg(feature = "tower")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tower_layer_refuses_without_calling_the_inner_service() {
    use failgate_redis::tower::FleetBreakerLayer;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tower::{Layer, Service, ServiceExt};

    let Some(redis) = Target::get() else { return };
    let ns = unique_namespace("tower");
    let b = instances(1, || fleet(&redis.url, &ns)).await.remove(0);
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let inner = tower::service_fn(move |_: ()| {
        seen.fetch_add(1, Ordering::SeqCst);
        async { Err::<(), _>("down") }
    });
    let mut svc = FleetBreakerLayer::new(b.clone()).layer(inner);
    for _ in 0..4 {
        let r = svc.ready().await.unwrap().call(()).await;
        assert_eq!(r.unwrap_err().to_string(), "down");
    }
    eventually("open", 2 * SECOND, || b.state() == State::Open).await;
    let r = svc.ready().await.unwrap().call(()).await;
    assert!(r.unwrap_err().is::<failgate::Rejected>());
    assert_eq!(
        calls.load(Ordering::SeqCst),
        4,
        "the refused call never reached it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_breaker_leaves_its_client_and_the_others_go_on() {
    // A server of its own: the client's rounds are the only writes.
    let Some(redis) = common::Redis::start() else {
        return;
    };
    let (kept_ns, dropped_ns) = (unique_namespace("kept"), unique_namespace("dropped"));
    let kept = instances(1, || fleet(&redis.url(), &kept_ns))
        .await
        .remove(0);
    let dropped = instances(1, || fleet(&redis.url(), &dropped_ns))
        .await
        .remove(0);
    let mut con = raw(&redis.url()).await;
    let ttl = |ns: &str| format!("failgate:{ns}:dependency:state");
    drop(dropped);
    // Every round refreshes a breaker's keys' expiry (an idle one polls every second):
    // the dropped breaker's are no longer refreshed, the kept one's still are.
    let left: i64 = con.pttl(ttl(&dropped_ns)).await.unwrap();
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_millis(1500) {
        kept.call(|| Ok::<_, ()>(())).unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let dropped_left: i64 = con.pttl(ttl(&dropped_ns)).await.unwrap();
    let kept_left: i64 = con.pttl(ttl(&kept_ns)).await.unwrap();
    assert!(
        dropped_left <= left - 1_400,
        "the dropped breaker is no longer synced: {left} -> {dropped_left} ms"
    );
    assert!(
        kept_left > 3_600_000 - 500,
        "the other breaker of the client still is: {kept_left} ms left"
    );
    assert_eq!(kept.mode(), failgate_redis::Mode::Shared);
}
