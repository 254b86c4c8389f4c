//! Real Redis servers for the tests: Debian's `redis-server`, on a free loopback port,
//! with no persistence. `.ci/run` installs the package; without it the tests skip
//! (saying so), except on CI (`CI=true`), where a missing server fails them.

#![allow(dead_code)]

use failgate_redis::testing::{ClusterError, RedisCluster, RedisServer, ServerError};
use failgate_redis::{FleetBreaker, FleetBuilder, Mode};
use std::time::{Duration, Instant};

/// A server of the test's own (it can stop and restart it), or `None` (after saying
/// why) when the test may skip: without `redis-server`, except on CI (`CI=true`), where
/// a missing server fails the test because `.ci/run` installs it.
pub struct Redis(pub RedisServer);

impl Redis {
    pub fn start() -> Option<Redis> {
        Self::start_with(&[])
    }

    pub fn start_with(args: &[&str]) -> Option<Redis> {
        match RedisServer::start_with(args) {
            Ok(server) => Some(Redis(server)),
            Err(ServerError::NotFound) => {
                let message = "`redis-server` is not on PATH; install Debian's package \
                               (apt-get install redis-server), as .ci/run does";
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "{message} (CI=true: not skipping)"
                );
                eprintln!("skipping: {message}");
                None
            }
            Err(e) => panic!("{e}"),
        }
    }

    pub fn url(&self) -> String {
        self.0.url()
    }

    pub fn port(&self) -> u16 {
        self.0.port()
    }

    pub fn stop(&mut self) {
        self.0.stop();
    }

    pub fn restart(&mut self) {
        self.0.restart().expect("redis-server restarts");
    }
}

/// A started cluster, or `None` (after saying why) when the test may skip: without
/// `redis-server` or `redis-cli`, except on CI (`CI=true`), which installs both.
pub fn cluster_or_skip(result: Result<RedisCluster, ClusterError>) -> Option<RedisCluster> {
    match result {
        Ok(cluster) => Some(cluster),
        Err(e @ (ClusterError::ServerNotFound | ClusterError::CliNotFound)) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{e} (CI=true: not skipping)"
            );
            eprintln!("skipping: {e}");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

/// The Redis the shared tests use: `.ci/run`'s (its URL in `FAILGATE_TEST_REDIS_URL`),
/// or one started for this test binary.
pub struct Target {
    pub url: String,
    _own: Option<Redis>,
}

impl Target {
    pub fn get() -> Option<Target> {
        match std::env::var("FAILGATE_TEST_REDIS_URL") {
            Ok(url) if !url.is_empty() => Some(Target { url, _own: None }),
            _ => {
                let own = Redis::start()?;
                Some(Target {
                    url: own.url(),
                    _own: Some(own),
                })
            }
        }
    }
}

/// A builder for a breaker on `redis`, in a namespace of its own (unique per test), with
/// a small window so tests trip quickly.
pub fn fleet(url: &str, namespace: &str) -> FleetBuilder {
    FleetBreaker::builder("dependency")
        .namespace(namespace)
        .redis(url)
        .failure_rate(0.5)
        .minimum_calls(4)
        .window(failgate::Window::time(Duration::from_secs(10)).buckets(10))
        .open_for(Duration::from_millis(500))
        .flush_interval(Duration::from_millis(20))
        // Generous, so a loaded CI machine does not flap into fallback.
        .redis_timeout(Duration::from_millis(500))
}

/// Builds `n` instances of one breaker and waits until every one has reached Redis.
pub async fn instances(n: usize, b: impl Fn() -> FleetBuilder) -> Vec<FleetBreaker> {
    let fleet: Vec<_> = (0..n).map(|_| b().build().unwrap()).collect();
    eventually(
        "every instance reaches redis",
        Duration::from_secs(5),
        || fleet.iter().all(|b| b.mode() == Mode::Shared),
    )
    .await;
    fleet
}

/// Four failures on the first instance (the test policy's minimum), then waits until
/// every instance refuses.
pub async fn trip<B: std::borrow::Borrow<FleetBreaker>>(fleet: &[B]) {
    for _ in 0..4 {
        let _ = fleet[0].borrow().call(|| Err::<(), _>("down"));
    }
    eventually("open", Duration::from_secs(2), || {
        fleet
            .iter()
            .all(|b| b.borrow().state() == failgate::State::Open)
    })
    .await;
}

/// Polls `check` (every 5 ms) until it holds, or panics after `within`, naming `what`.
pub async fn eventually(what: &str, within: Duration, mut check: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < within, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    start.elapsed()
}

/// A raw connection, for reading the shared keys.
pub async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// How many connections Redis has (`CLIENT LIST`, `con`'s own included).
pub async fn connections(con: &mut redis::aio::MultiplexedConnection) -> usize {
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(con)
        .await
        .unwrap();
    list.lines().count()
}

/// A namespace no other test (or earlier run on a shared server) uses.
pub fn unique_namespace(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{test}-{}-{nanos}", std::process::id())
}
