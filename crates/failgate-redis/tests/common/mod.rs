//! Real Redis servers for the tests: Debian's `redis-server`, on a free loopback port,
//! with no persistence. `.ci/run` installs the package; without it the tests skip
//! (saying so), except on CI (`CI=true`), where a missing server fails them.

#![allow(dead_code)]

use failgate_redis::{FleetBreaker, FleetBuilder};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `redis-server` on PATH, or `None` (after saying why) when the test may skip.
pub fn redis_server() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("redis-server"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        let message = "`redis-server` is not on PATH; install Debian's package \
                       (apt-get install redis-server), as .ci/run does";
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{message} (CI=true: not skipping)"
        );
        eprintln!("skipping: {message}");
    }
    found
}

/// A redis-server child process, killed on drop.
pub struct Redis {
    binary: PathBuf,
    pub port: u16,
    extra: Vec<String>,
    child: Option<Child>,
}

impl Redis {
    /// Starts a server on a free loopback port, or `None` if there is no redis-server
    /// (and the test may skip).
    pub fn start() -> Option<Redis> {
        Self::start_with(&[])
    }

    /// Like [`start`](Self::start), with more server arguments (`--requirepass x`).
    pub fn start_with(extra: &[&str]) -> Option<Redis> {
        let binary = redis_server()?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut redis = Redis {
            binary,
            port,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            child: None,
        };
        redis.restart();
        Some(redis)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server again on the same port (after [`stop`](Self::stop)).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new(&self.binary)
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not listen within 10 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills the server (as a crash would).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
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
        .window(Duration::from_secs(10), 10)
        .open_for(Duration::from_millis(500))
        .flush_interval(Duration::from_millis(20))
        // Generous, so a loaded CI machine does not flap into fallback.
        .redis_timeout(Duration::from_millis(500))
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

/// A namespace no other test (or earlier run on a shared server) uses.
pub fn unique_namespace(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{test}-{}-{nanos}", std::process::id())
}
