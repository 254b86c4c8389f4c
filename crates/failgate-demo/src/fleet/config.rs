//! The fleet demo's settings: the breaker's figures, the story's pacing, and the flags.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Args;
use failgate_redis::FleetBreaker;
use reqwest::Url;

use super::report::FleetError;

/// The breaker's name (its keys are `failgate:<namespace>:flaky:*`).
pub const BREAKER_NAME: &str = "flaky";
/// Default `--instances`.
pub const DEFAULT_INSTANCES: u32 = 3;
/// The most instances `--instances` accepts.
pub const MAX_INSTANCES: u32 = 64;
/// Default `--redis`.
pub const DEFAULT_REDIS: &str = "redis://127.0.0.1:6379";
/// The breaker trips when at least this share of the shared window's calls failed...
pub const FAILURE_RATE: f64 = 0.5;
/// ...once the window holds at least this many calls, fleet-wide.
pub const MINIMUM_CALLS: u64 = 4;
/// The shared window's span (in 10 buckets): longer than the story.
pub const WINDOW: Duration = Duration::from_secs(30);
/// How long the breaker stays open.
pub const OPEN_FOR: Duration = Duration::from_secs(2);
/// Probes the whole fleet may send while half-open; that many successes close it.
pub const HALF_OPEN_PERMITS: u32 = 2;
/// How often each instance flushes its counts to Redis (and polls the shared state).
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(20);
/// How long the demo waits for every breaker to reach Redis
/// ([`Mode::Shared`](failgate_redis::Mode::Shared)).
pub const CONNECT_WAIT: Duration = Duration::from_secs(2);
/// Calls to `/success` each instance makes in step 1.
pub const WARM_UP_CALLS: u32 = 2;

/// The longest a breaker's background task waits on Redis before falling back to local
/// breaking: generous, so a loaded machine does not flap into fallback mid-story.
pub(super) const REDIS_TIMEOUT: Duration = Duration::from_millis(500);
/// Reopen if the probes never report (an instance died holding a permit).
pub(super) const HALF_OPEN_TIMEOUT: Duration = Duration::from_secs(5);
/// The shared keys expire this long after the run's last write.
pub(super) const KEY_TTL: Duration = Duration::from_secs(60);
/// How often the watchers poll their breaker.
pub(super) const POLL: Duration = Duration::from_millis(1);
/// The longest the demo waits for Redis to count a call, or for an instance to see a
/// transition, before it calls the story broken.
pub(super) const SETTLE_WAIT: Duration = Duration::from_secs(2);
/// Attempts per instance while the breaker is open, and their spacing.
pub(super) const OPEN_ATTEMPTS: u32 = 10;
pub(super) const OPEN_ATTEMPT_EVERY: Duration = Duration::from_millis(50);
/// Spacing of the attempts once the open wait is over, and how long they may go on.
pub(super) const PROBE_ATTEMPT_EVERY: Duration = Duration::from_millis(2);
/// In step 4 the recovering service answers this slowly (`/success?delay=`), so the
/// half-open period lasts long enough for every instance to try many times.
pub const PROBE_DELAY: Duration = Duration::from_millis(250);
pub(super) const PROBE_PHASE_LIMIT: Duration = Duration::from_secs(5);
/// Timeout of each HTTP request.
pub(super) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The flags of `failgate-demo fleet`.
#[derive(Debug, Clone, Args)]
pub struct FleetArgs {
    /// How many instances share the breaker (1 to 64); each has its own FleetBreaker
    /// and HTTP client.
    #[arg(
        long,
        value_name = "N",
        default_value_t = DEFAULT_INSTANCES,
        value_parser = clap::value_parser!(u32).range(1..=MAX_INSTANCES as i64),
    )]
    pub instances: u32,

    /// The Redis server that holds the shared state (a password goes in as
    /// redis://:PASSWORD@HOST:PORT, a database number as the path: .../2).
    #[arg(long, value_name = "URL", default_value = DEFAULT_REDIS, value_parser = parse_redis_url)]
    pub redis: Url,
}

/// Checks a `--redis` value: a `redis://` URL with a host, and at most a database number
/// as its path. (`rediss://` needs TLS, which the demo is built without.)
pub fn parse_redis_url(s: &str) -> Result<Url, String> {
    const EXPECTED: &str = "expected a redis:// URL such as redis://127.0.0.1:6379";
    let url = Url::parse(s.trim()).map_err(|e| format!("{EXPECTED} ({e})"))?;
    match url.scheme() {
        "redis" => {}
        "rediss" => {
            return Err(format!(
                "rediss:// (TLS) is not supported: the demo is built without TLS; {EXPECTED}"
            ))
        }
        // `localhost:6379` parses as the scheme `localhost`.
        other if !s.contains("://") => {
            return Err(format!(
                "unsupported scheme `{other}`; {EXPECTED} (did you mean redis://{}?)",
                s.trim()
            ))
        }
        other => return Err(format!("unsupported scheme `{other}`; {EXPECTED}")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("no host in the URL; {EXPECTED}"));
    }
    let db = url.path().trim_start_matches('/');
    if !db.is_empty() && db.parse::<u32>().is_err() {
        return Err(format!(
            "the path {:?} is not a database number such as /0; {EXPECTED}",
            url.path()
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("a query or fragment is not allowed; {EXPECTED}"));
    }
    Ok(url)
}

/// The URL with any password replaced by `***`, for messages.
pub fn masked(url: &Url) -> String {
    let mut url = url.clone();
    if url.password().is_some() {
        let _ = url.set_password(Some("***"));
    }
    url.to_string()
}

/// A namespace no earlier run used: `demo-<pid>-<unix nanos>`.
pub fn unique_namespace() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("demo-{}-{nanos}", std::process::id())
}

pub(super) fn build_breaker(args: &FleetArgs, namespace: &str) -> Result<FleetBreaker, FleetError> {
    Ok(FleetBreaker::builder(BREAKER_NAME)
        .namespace(namespace)
        .redis(args.redis.as_str())
        .failure_rate(FAILURE_RATE)
        .minimum_calls(MINIMUM_CALLS)
        .window(failgate::Window::time(WINDOW).buckets(10))
        .open_for(OPEN_FOR)
        .half_open_permits(HALF_OPEN_PERMITS)
        .half_open_timeout(HALF_OPEN_TIMEOUT)
        .flush_interval(FLUSH_INTERVAL)
        .redis_timeout(REDIS_TIMEOUT)
        .key_ttl(KEY_TTL)
        .build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_urls_must_be_redis_urls_with_a_host() {
        assert!(parse_redis_url("redis://127.0.0.1:6379").is_ok());
        assert!(parse_redis_url("redis://:secret@cache.internal:6380/2").is_ok());
        assert!(parse_redis_url(" redis://localhost ").is_ok());
        let err = parse_redis_url("rediss://cache:6379").unwrap_err();
        assert!(err.contains("TLS"), "{err}");
        let err = parse_redis_url("http://127.0.0.1:6379").unwrap_err();
        assert!(err.contains("unsupported scheme `http`"), "{err}");
        assert!(!err.contains("did you mean"), "{err}");
        let err = parse_redis_url("localhost:6379").unwrap_err();
        assert!(err.contains("did you mean redis://localhost:6379"), "{err}");
        assert!(parse_redis_url("nonsense")
            .unwrap_err()
            .contains("expected a redis://"));
        assert!(parse_redis_url("redis://").is_err());
        let err = parse_redis_url("redis://h/cache").unwrap_err();
        assert!(err.contains("database number"), "{err}");
        assert!(parse_redis_url("redis://h:99999").is_err());
    }

    #[test]
    fn passwords_are_masked() {
        let url = parse_redis_url("redis://user:secret@h:6379/0").unwrap();
        assert_eq!(masked(&url), "redis://user:***@h:6379/0");
        let url = parse_redis_url("redis://127.0.0.1:6379").unwrap();
        assert_eq!(masked(&url), "redis://127.0.0.1:6379");
    }

    #[test]
    fn namespaces_differ_between_runs() {
        let a = unique_namespace();
        let b = unique_namespace();
        assert!(
            a.starts_with(&format!("demo-{}-", std::process::id())),
            "{a}"
        );
        assert_ne!(a, b);
    }
}
