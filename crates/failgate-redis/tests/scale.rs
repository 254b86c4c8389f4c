//! A thousand fleet breakers in one process, each with traffic, against a real
//! `redis-server` of the test's own: they share one client, so Redis sees two
//! connections and one round trip per flush interval (plus idle polls), and each breaker
//! still trips and closes on its own.

mod common;

use common::{connections, eventually, unique_namespace, Redis};
use failgate::State;
use failgate_redis::{FleetBreaker, Mode};
use std::time::{Duration, Instant};

const BREAKERS: usize = 1_000;
const INTERVAL: Duration = Duration::from_millis(50);
/// Breakers per script call (the client's `PER_CALL`): a round trip carries
/// `BREAKERS / PER_CALL` script calls, pipelined.
const PER_CALL: u64 = 100;

fn breaker(url: &str, ns: &str, i: usize) -> FleetBreaker {
    FleetBreaker::builder(&format!("host-{i}"))
        .namespace(ns)
        .redis(url)
        .failure_rate(0.5)
        .minimum_calls(4)
        .window(failgate::Window::time(Duration::from_secs(10)).buckets(10))
        .open_for(Duration::from_millis(300))
        .flush_interval(INTERVAL)
        .redis_timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

/// `INFO commandstats`' count for one command (0 before its first call).
async fn calls_of(con: &mut redis::aio::MultiplexedConnection, command: &str) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(con)
        .await
        .unwrap();
    let prefix = format!("cmdstat_{command}:calls=");
    info.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |n| n.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_breakers_share_two_connections_and_trip_and_close_on_their_own() {
    let Some(redis) = Redis::start() else { return };
    let url = redis.url();
    let ns = unique_namespace("scale");
    let mut con = common::raw(&url).await;
    let before = connections(&mut con).await;
    let fleet: Vec<FleetBreaker> = (0..BREAKERS).map(|i| breaker(&url, &ns, i)).collect();
    eventually(
        "every breaker reaches redis",
        Duration::from_secs(20),
        || fleet.iter().all(|b| b.mode() == Mode::Shared),
    )
    .await;
    assert_eq!(
        connections(&mut con).await,
        before + 2,
        "one connection for the rounds and one for pub/sub, for all {BREAKERS}"
    );

    // Traffic on every breaker for a second: each round carries all of them.
    let (start_calls, start) = (calls_of(&mut con, "evalsha").await, Instant::now());
    while start.elapsed() < Duration::from_secs(1) {
        for b in &fleet {
            assert!(b.call(|| Ok::<_, ()>(())).is_ok());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = start.elapsed();
    let script_calls = calls_of(&mut con, "evalsha").await - start_calls;
    let rounds_allowed = elapsed.as_millis() as u64 / INTERVAL.as_millis() as u64 + 2;
    let per_round = BREAKERS as u64 / PER_CALL;
    assert!(
        script_calls <= rounds_allowed * per_round,
        "{script_calls} script calls in {elapsed:?}: more than one round trip per \
         {INTERVAL:?} ({rounds_allowed} rounds of {per_round} calls)"
    );
    // At least two whole rounds: a loaded machine delays rounds, so this does not
    // ask for the one per interval that the bound above allows.
    assert!(
        script_calls >= per_round * 2,
        "the counts were flushed: {script_calls} script calls"
    );
    assert_eq!(
        calls_of(&mut con, "eval").await,
        0,
        "never the whole script"
    );

    // Every breaker trips and closes, in two waves, each on its own: first the even
    // ones' dependencies fail (more failures than the successes in their windows),
    // then the odd ones' while the even ones' recover.
    for wave in [0, 1] {
        let failing = |i: usize| i % 2 == wave;
        eventually(
            "this wave open, the others not",
            Duration::from_secs(15),
            || {
                for (i, b) in fleet.iter().enumerate() {
                    for _ in 0..20 {
                        let _ = if failing(i) {
                            b.call(|| Err::<(), _>(format!("host-{i} down")))
                        } else {
                            b.call(|| Ok::<_, String>(()))
                        };
                    }
                }
                fleet
                    .iter()
                    .enumerate()
                    .all(|(i, b)| (b.state() == State::Open) == failing(i))
            },
        )
        .await;
        for (i, b) in fleet.iter().enumerate().filter(|(i, _)| failing(*i)) {
            // A trip (and, in the second wave, the first wave's close) is a generation.
            assert!(b.status().generation > 0, "host-{i} tripped on its own");
        }
    }
    // The odd ones' dependencies are back too: every breaker closes again.
    eventually("all close again", Duration::from_secs(15), || {
        for b in fleet.iter() {
            let _ = b.call(|| Ok::<_, ()>(()));
        }
        fleet.iter().all(|b| b.state() == State::Closed)
    })
    .await;
    for (i, b) in fleet.iter().enumerate() {
        // Closed after one trip: open (1), half-open (2), closed (3).
        assert!(b.status().generation >= 3, "host-{i}: {:?}", b.status());
    }
    assert_eq!(connections(&mut con).await, before + 2);
}
