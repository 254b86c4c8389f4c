//! Fleet-wide "retry after" on a real Redis: two instances of one breaker, a hint noted
//! on one through the mirror (`Mirror::note_retry_after`, which the permits'
//! `record_with_retry_after` calls), and what both refuse with afterwards. Unit tests,
//! so that they reach the mirror; the Redis is `FAILGATE_TEST_REDIS_URL`'s or one of
//! their own (`redis-server` on PATH; without it they skip, except on CI).

use crate::mirror::Mirror;
use crate::testing::{RedisServer, ServerError};
use crate::{start, FleetBreaker, FleetBuilder, Mode};
use failgate::{DefaultClassifier, Outcome, State, Window};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECOND: Duration = Duration::from_secs(1);
const HINT: Duration = Duration::from_secs(30);

/// The Redis URL, and the server if it is this test's own.
fn redis() -> Option<(String, Option<RedisServer>)> {
    if let Ok(url) = std::env::var("FAILGATE_TEST_REDIS_URL") {
        if !url.is_empty() {
            return Some((url, None));
        }
    }
    match RedisServer::start() {
        Ok(server) => Some((server.url(), Some(server))),
        Err(ServerError::NotFound) => {
            assert_ne!(
                std::env::var("CI").as_deref(),
                Ok("true"),
                "redis-server is not on PATH (CI=true: not skipping)"
            );
            eprintln!("skipping: redis-server is not on PATH");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

fn namespace(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("retry-{test}-{}-{nanos}", std::process::id())
}

/// The test policy: 4 calls, half failed, trip; open for `open_for`; hints obeyed; a
/// round trip every 20 ms, idle or not.
fn builder(url: &str, ns: &str, open_for: Duration) -> FleetBuilder {
    FleetBreaker::builder("dependency")
        .namespace(ns)
        .redis(url)
        .failure_rate(0.5)
        .minimum_calls(4)
        .window(Window::time(Duration::from_secs(10)))
        .open_for(open_for)
        .flush_interval(Duration::from_millis(20))
        .idle_poll(Duration::from_millis(20))
        .redis_timeout(Duration::from_millis(500))
        .honor_retry_after(true)
}

/// An instance, and its mirror (to note hints on).
struct Instance {
    breaker: FleetBreaker,
    mirror: Arc<Mirror>,
}

fn instance(b: FleetBuilder) -> Instance {
    let mirror = start::start(&b.settings).unwrap();
    Instance {
        breaker: FleetBreaker::from_core(mirror.clone(), DefaultClassifier),
        mirror,
    }
}

/// Polls `check` every 5 ms until it holds, or panics after `within`.
async fn eventually(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < within, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn two(a: FleetBuilder, b: FleetBuilder) -> (Instance, Instance) {
    let (a, b) = (instance(a), instance(b));
    eventually("both reach redis", 5 * SECOND, || {
        a.breaker.mode() == Mode::Shared && b.breaker.mode() == Mode::Shared
    })
    .await;
    (a, b)
}

/// Four failures on `on`, then waits until both refuse.
async fn trip(on: &Instance, other: &Instance) {
    for _ in 0..4 {
        let _ = on.breaker.call(|| Err::<(), _>("down"));
    }
    eventually("both open", 2 * SECOND, || {
        on.breaker.state() == State::Open && other.breaker.state() == State::Open
    })
    .await;
}

/// What a call is refused with now (`None` if admitted).
fn refusal(i: &Instance) -> Option<Duration> {
    match i.breaker.try_acquire() {
        Ok(_) => None,
        Err(r) => Some(r.retry_after().unwrap_or(Duration::ZERO)),
    }
}

fn about(d: Option<Duration>, expected: Duration) -> bool {
    d.is_some_and(|d| d <= expected && d + SECOND > expected)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hint_noted_on_one_instance_while_open_keeps_both_refusing_for_it() {
    let Some((url, _own)) = redis() else { return };
    let ns = namespace("open");
    // The other instance polls once an hour while idle: it can only learn by pub/sub.
    let (a, b) = two(
        builder(&url, &ns, 2 * SECOND),
        builder(&url, &ns, 2 * SECOND).idle_poll(Duration::from_secs(3600)),
    )
    .await;
    trip(&a, &b).await;
    assert!(refusal(&b).is_some_and(|d| d <= 2 * SECOND));
    let polls = b.breaker.status().round_trips;
    a.mirror.note_retry_after(HINT);
    assert!(about(refusal(&a), HINT), "at once here: {:?}", refusal(&a));
    eventually(
        "the other instance refuses for the hint",
        Duration::from_millis(1500),
        || about(refusal(&b), HINT),
    )
    .await;
    assert_eq!(b.breaker.status().round_trips, polls, "heard, not polled");
    // The first instance's next round trips keep it.
    let trips = a.breaker.status().round_trips;
    eventually("a round trip", 2 * SECOND, || {
        a.breaker.status().round_trips > trips + 1
    })
    .await;
    assert!(about(refusal(&a), HINT), "{:?}", refusal(&a));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hint_noted_while_closed_makes_the_next_trip_open_at_least_that_long() {
    let Some((url, _own)) = redis() else { return };
    let ns = namespace("closed");
    let (a, b) = two(builder(&url, &ns, SECOND), builder(&url, &ns, SECOND)).await;
    a.mirror.note_retry_after(HINT);
    let mut con = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let key = format!("failgate:{ns}:dependency:state");
    let start = Instant::now();
    loop {
        let hint: Option<u64> = redis::cmd("HGET")
            .arg(&key)
            .arg("hint")
            .query_async(&mut con)
            .await
            .unwrap();
        if hint.unwrap_or(0) > 0 {
            break;
        }
        assert!(start.elapsed() < 2 * SECOND, "the hint reached redis");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The other instance trips the fleet: it never heard of the hint but from Redis.
    trip(&b, &a).await;
    assert!(about(refusal(&b), HINT), "{:?}", refusal(&b));
    assert!(about(refusal(&a), HINT), "{:?}", refusal(&a));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_retry_after_caps_the_hint_fleet_wide() {
    let Some((url, _own)) = redis() else { return };
    let ns = namespace("cap");
    let capped = || builder(&url, &ns, SECOND).max_retry_after(5 * SECOND);
    let (a, b) = two(capped(), capped()).await;
    trip(&a, &b).await;
    a.mirror.note_retry_after(Duration::from_secs(3600));
    assert!(about(refusal(&a), 5 * SECOND), "{:?}", refusal(&a));
    eventually("the other instance refuses for the cap", 2 * SECOND, || {
        about(refusal(&b), 5 * SECOND)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_honor_retry_after_the_hint_is_ignored() {
    let Some((url, _own)) = redis() else { return };
    let ns = namespace("off");
    let off = || builder(&url, &ns, 3 * SECOND).honor_retry_after(false);
    let (a, b) = two(off(), off()).await;
    trip(&a, &b).await;
    a.mirror.note_retry_after(HINT);
    let trips = a.breaker.status().round_trips;
    eventually("round trips", 2 * SECOND, || {
        a.breaker.status().round_trips > trips + 2
    })
    .await;
    for i in [&a, &b] {
        assert!(
            refusal(i).is_some_and(|d| d <= 3 * SECOND),
            "{:?}",
            refusal(i)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_forgets_the_hint() {
    let Some((url, _own)) = redis() else { return };
    let ns = namespace("close");
    let short = Duration::from_millis(200);
    let (a, b) = two(builder(&url, &ns, short), builder(&url, &ns, short)).await;
    trip(&a, &b).await;
    // Half-open: a probe, then the hint (kept while half-open), then the probe succeeds.
    let mut probe = None;
    eventually("a probe permit", 3 * SECOND, || {
        probe = a.breaker.try_acquire().ok();
        probe.is_some()
    })
    .await;
    a.mirror.note_retry_after(HINT);
    probe.take().unwrap().record(Outcome::Success);
    eventually("both closed", 3 * SECOND, || {
        a.breaker.state() == State::Closed && b.breaker.state() == State::Closed
    })
    .await;
    // Let the hint's flush (if it came after the close) reach Redis first.
    let trips = a.breaker.status().round_trips;
    eventually("round trips", 2 * SECOND, || {
        a.breaker.status().round_trips > trips + 2
    })
    .await;
    trip(&a, &b).await;
    for i in [&a, &b] {
        assert!(refusal(i).is_some_and(|d| d <= short), "{:?}", refusal(i));
    }
}
