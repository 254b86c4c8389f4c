//! Redis down or slow: calls go on with local breaking and never wait, and the fleet
//! converges when Redis comes back. Each test runs its own redis-server, so it can stop
//! and pause it.

mod common;

use common::{eventually, fleet, raw, unique_namespace, Redis};
use failgate::State;
use failgate_redis::{FleetBreaker, Mode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECOND: Duration = Duration::from_secs(1);
const TIMEOUT: Duration = Duration::from_millis(50);

/// Calls `b` in a loop on a thread of its own until `stop`; returns the longest call.
fn traffic(b: FleetBreaker, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<(Duration, u64)> {
    std::thread::spawn(move || {
        let (mut longest, mut admitted) = (Duration::ZERO, 0);
        while !stop.load(Ordering::Relaxed) {
            let start = Instant::now();
            if b.call(|| Ok::<_, ()>(())).is_ok() {
                admitted += 1;
            }
            longest = longest.max(start.elapsed());
            std::thread::sleep(Duration::from_micros(200));
        }
        (longest, admitted)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_mid_traffic_falls_back_locally_and_converges_on_restart() {
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let ns = unique_namespace("fault");
    let url = redis.url();
    let fleet: Vec<_> = (0..3)
        .map(|_| fleet(&url, &ns).redis_timeout(TIMEOUT).build().unwrap())
        .collect();
    eventually("shared", 5 * SECOND, || {
        fleet.iter().all(|b| b.mode() == Mode::Shared)
    })
    .await;

    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = fleet[1..]
        .iter()
        .map(|b| traffic(b.clone(), stop.clone()))
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;

    redis.stop();
    eventually("every instance falls back", 2 * SECOND, || {
        fleet.iter().all(|b| b.mode() == Mode::Local)
    })
    .await;
    // Local breaking: instance 0's failures open its own breaker, not the others'.
    for _ in 0..4 {
        let _ = fleet[0].call(|| Err::<(), _>("down"));
    }
    assert_eq!(fleet[0].state(), State::Open);
    assert_eq!(fleet[1].state(), State::Closed);
    assert!(fleet[1].call(|| Ok::<_, ()>(())).is_ok());
    tokio::time::sleep(Duration::from_millis(300)).await; // traffic goes on, Redis down

    redis.restart();
    eventually("every instance is shared again", 5 * SECOND, || {
        fleet.iter().all(|b| b.mode() == Mode::Shared)
    })
    .await;
    // Converged: one generation and one state for the fleet.
    eventually("the fleet agrees", 2 * SECOND, || {
        let first = fleet[0].status();
        fleet
            .iter()
            .all(|b| b.status().generation == first.generation && b.state() == first.state)
    })
    .await;

    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let (longest, admitted) = t.join().expect("no panic on the call path");
        assert!(admitted > 100, "calls went on: {admitted}");
        assert!(longest < TIMEOUT, "a call waited {longest:?}");
    }
    assert!(fleet.iter().all(|b| b.status().sync_errors > 0));
    assert!(
        fleet.iter().all(|b| b.status().last_error.is_none()),
        "cleared on reconnect"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_redis_keeps_the_shared_open_state_and_resync_keeps_local_counts() {
    let Some(redis) = Redis::start() else { return };
    let url = redis.url();
    let mut con = raw(&url).await;

    // An open fleet breaker stays open through a slow Redis and after it.
    let ns = unique_namespace("pause-open");
    let fleet_open: Vec<_> = (0..2)
        .map(|_| {
            fleet(&url, &ns)
                .redis_timeout(TIMEOUT)
                .open_for(3 * SECOND)
                // Refusing calls, they have nothing to flush: poll every tick anyway,
                // so they meet the paused Redis at once.
                .idle_poll(Duration::from_millis(20))
                .build()
                .unwrap()
        })
        .collect();
    // And a closed one that counts calls while Redis is slow.
    let ns_closed = unique_namespace("pause-closed");
    let counting = fleet(&url, &ns_closed)
        .redis_timeout(TIMEOUT)
        .idle_poll(Duration::from_millis(20))
        .build()
        .unwrap();
    eventually("shared", 5 * SECOND, || {
        counting.mode() == Mode::Shared && fleet_open.iter().all(|b| b.mode() == Mode::Shared)
    })
    .await;
    for _ in 0..4 {
        let _ = fleet_open[0].call(|| Err::<(), _>("down"));
    }
    eventually("open", 2 * SECOND, || {
        fleet_open.iter().all(|b| b.state() == State::Open)
    })
    .await;
    let generation = fleet_open[0].status().generation;

    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(800)
        .arg("ALL")
        .query_async(&mut con)
        .await
        .unwrap();
    eventually("slow redis: local", SECOND, || {
        counting.mode() == Mode::Local && fleet_open.iter().all(|b| b.mode() == Mode::Local)
    })
    .await;
    assert!(
        fleet_open.iter().all(|b| b.state() == State::Open),
        "the shared open state holds"
    );
    for _ in 0..10 {
        counting.call(|| Ok::<_, ()>(())).unwrap();
    }

    eventually("back to shared", 5 * SECOND, || {
        counting.mode() == Mode::Shared && fleet_open.iter().all(|b| b.mode() == Mode::Shared)
    })
    .await;
    for b in &fleet_open {
        assert_eq!(
            b.state(),
            State::Open,
            "reconnecting never resets a shared open state"
        );
        assert_eq!(b.status().generation, generation);
    }
    eventually(
        "the local counts reached the shared window",
        2 * SECOND,
        || counting.status().shared_calls >= 10,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_come_from_the_url_or_the_builder_and_a_wrong_one_means_local() {
    let Some(redis) = Redis::start_with(&["--requirepass", "s3cret"]) else {
        return;
    };
    let port = redis.port();
    let ns = unique_namespace("auth");
    let from_builder = fleet(&redis.url(), &ns).password("s3cret").build().unwrap();
    let from_url = fleet(&format!("redis://:s3cret@127.0.0.1:{port}"), &ns)
        .build()
        .unwrap();
    let wrong = fleet(&redis.url(), &ns).password("guess").build().unwrap();
    let none = fleet(&redis.url(), &ns).build().unwrap();
    eventually("the right password reaches redis", 5 * SECOND, || {
        from_builder.mode() == Mode::Shared && from_url.mode() == Mode::Shared
    })
    .await;
    eventually("the others failed round trips", 5 * SECOND, || {
        wrong.status().sync_errors >= 3 && none.status().sync_errors >= 3
    })
    .await;
    // Each says why: a refused password, or none given where Redis wants one (not a
    // broken pipe from the connection Redis then closes).
    for (b, said) in [(&wrong, "authentication failed"), (&none, "noauth")] {
        assert_eq!(b.mode(), Mode::Local);
        let why = b.status().last_error.expect("the reason is kept");
        assert!(why.to_lowercase().contains(said), "{why}");
        assert!(b.call(|| Ok::<_, ()>(())).is_ok(), "local breaking goes on");
    }
}

#[test]
fn a_breaker_outlives_the_runtime_it_was_built_in() {
    let Some(redis) = Redis::start() else { return };
    let ns = unique_namespace("outlives");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (b, other) = runtime.block_on(async {
        let fleet = common::instances(2, || fleet(&redis.url(), &ns).redis_timeout(TIMEOUT)).await;
        let mut fleet = fleet.into_iter();
        (fleet.next().unwrap(), fleet.next().unwrap())
    });
    // Built without `runtime`: their client runs on a thread of its own, not on this.
    drop(runtime);
    std::thread::sleep(Duration::from_millis(400));
    for _ in 0..4 {
        let _ = b.call(|| Err::<(), _>("down"));
    }
    let start = std::time::Instant::now();
    while other.state() != State::Open {
        assert!(
            start.elapsed() < 5 * SECOND,
            "the trip reaches the other instance"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!((b.mode(), other.mode()), (Mode::Shared, Mode::Shared));
}

/// A breaker given a runtime runs its client there, and notices when it shuts down.
#[test]
fn a_breaker_whose_runtime_shut_down_breaks_locally_instead_of_freezing() {
    let Some(redis) = Redis::start() else { return };
    let ns = unique_namespace("orphan");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let b = runtime.block_on(async {
        let b = fleet(&redis.url(), &ns)
            .redis_timeout(TIMEOUT)
            .runtime(tokio::runtime::Handle::current())
            .build()
            .unwrap();
        eventually("shared", 5 * SECOND, || b.mode() == Mode::Shared).await;
        b
    });
    drop(runtime); // the sync task is gone; the mirror says closed and shared
    std::thread::sleep(Duration::from_millis(400)); // ten missed rounds (20 ms) and two timeouts
    assert_eq!(
        b.mode(),
        Mode::Shared,
        "nothing notices until a slow path runs"
    );
    for _ in 0..4 {
        let _ = b.call(|| Err::<(), _>("down"));
    }
    assert_eq!(b.mode(), Mode::Local, "failures found the sync task gone");
    for _ in 0..4 {
        let _ = b.call(|| Err::<(), _>("down"));
    }
    assert_eq!(b.state(), State::Open, "and the local breaker tripped");
}

#[test]
fn an_open_breaker_whose_runtime_shut_down_does_not_stay_open_for_ever() {
    let Some(redis) = Redis::start() else { return };
    let ns = unique_namespace("orphan-open");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let b = runtime.block_on(async {
        let b = fleet(&redis.url(), &ns)
            .redis_timeout(TIMEOUT)
            .open_for(Duration::from_millis(200))
            .runtime(tokio::runtime::Handle::current())
            .build()
            .unwrap();
        eventually("shared", 5 * SECOND, || b.mode() == Mode::Shared).await;
        for _ in 0..4 {
            let _ = b.call(|| Err::<(), _>("down"));
        }
        eventually("open", 2 * SECOND, || b.state() == State::Open).await;
        b
    });
    drop(runtime); // nobody will ever hand out probe permits
    std::thread::sleep(Duration::from_millis(400)); // the wait, and the sync task's silence
    assert!(
        b.call(|| Ok::<_, ()>(())).is_ok(),
        "the wait is over and the sync task is gone: the local breaker admits"
    );
    assert_eq!(b.mode(), Mode::Local);
}
