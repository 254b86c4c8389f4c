//! The fleet breaker's settings, as the builder collects them and `build` validates
//! them: the detection policy (the same fields as a local failgate breaker's), where
//! the shared state lives, and how often it is synchronised. A leaf that the builder,
//! the start-up and the tasks read.

use failgate::{Clock, ConfigError, SystemClock, Window};
use std::sync::Arc;
use std::time::Duration;

/// A configuration value that cannot work, named.
///
/// `#[non_exhaustive]`: each new setting can bring a new way to be wrong, so a `match`
/// outside this crate needs a wildcard arm:
///
/// ```compile_fail,E0004
/// use failgate_redis::FleetConfigError as E;
///
/// #[allow(deprecated)]
/// fn field(e: &E) -> &'static str {
///     match e {
///         E::Policy(_) => "policy",
///         E::Invalid { field, .. } => field,
///         E::RedisUrl { .. } | E::NoRedisUrl | E::RedisAndCluster { .. } => "redis",
///         E::CountWindow { .. } => "window",
///         E::NoRuntime | E::Start(_) => "start",
///     }
/// }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FleetConfigError {
    /// The detection policy was refused by failgate's own validation (the same rules as a
    /// local breaker's).
    #[error(transparent)]
    Policy(#[from] ConfigError),
    /// A fleet setting is out of range.
    #[error("invalid {field} {value:?}: {problem}")]
    Invalid {
        /// The builder method's name.
        field: &'static str,
        /// The value given, printed.
        value: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The Redis URL could not be understood.
    #[error("invalid redis URL {url:?}: {source}")]
    RedisUrl {
        /// The URL, with any password masked.
        url: String,
        /// What the redis client said.
        #[source]
        source: redis::RedisError,
    },
    /// No Redis URL was given.
    #[error("no redis URL: call FleetBuilder::redis(\"redis://host:port\")")]
    NoRedisUrl,
    /// Both a Redis URL and Redis Cluster nodes were given.
    #[error("both redis({url:?}) and redis_cluster(...) were given: choose one")]
    RedisAndCluster {
        /// The URL, with any password masked.
        url: String,
    },
    /// A count window was given: a fleet breaker needs a time window, because counts
    /// from many instances only add up by time.
    #[error(
        "invalid window Window::count({size}): a fleet breaker needs a time window \
         (Window::time), because counts from many instances only add up by time"
    )]
    CountWindow {
        /// The count window's size, as given.
        size: u32,
    },
    /// Never returned: `build` used to need a tokio runtime, and works anywhere now
    /// that a fleet client runs on a thread of its own. Kept so that code naming it
    /// still compiles.
    #[deprecated(note = "never returned: FleetBuilder::build no longer needs a tokio runtime")]
    #[error("FleetBuilder::build must be called inside a tokio runtime")]
    NoRuntime,
    /// The fleet client's thread (or its runtime) could not be started.
    #[error("cannot start the fleet client's thread: {0}")]
    Start(#[source] std::io::Error),
}

/// Where a fleet breaker's shared state lives.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Endpoint<'a> {
    /// One Redis server (or a managed service's single endpoint), by URL.
    Single(&'a str),
    /// A Redis Cluster, by its seed nodes' URLs.
    Cluster(&'a [String]),
}

impl Endpoint<'_> {
    /// For logs and errors: the URL (or the nodes'), passwords masked.
    pub(crate) fn for_logs(&self) -> String {
        match self {
            Endpoint::Single(url) => mask_password(url),
            Endpoint::Cluster(nodes) => {
                let nodes: Vec<String> = nodes.iter().map(|n| mask_password(n)).collect();
                format!("cluster {}", nodes.join(","))
            }
        }
    }
}

/// Every setting but the classifier, with the defaults the builder documents.
#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) name: String,
    pub(crate) namespace: String,
    pub(crate) url: Option<String>,
    /// Seed nodes of a Redis Cluster, instead of `url`.
    pub(crate) cluster: Option<Vec<String>>,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    #[cfg(feature = "tls")]
    pub(crate) tls_root_certificate: Option<Vec<u8>>,
    pub(crate) failure_rate: f64,
    pub(crate) minimum_calls: u64,
    pub(crate) window: Duration,
    pub(crate) buckets: u32,
    /// A count window was asked for (refused by `validate`).
    pub(crate) count_window: Option<u32>,
    pub(crate) open_for: Duration,
    pub(crate) half_open_permits: u32,
    pub(crate) half_open_timeout: Duration,
    /// The half-open rule as a failure rate over the probes; `None`: every probe
    /// succeeds (see [`FleetBuilder::half_open_failure_rate`](crate::FleetBuilder::half_open_failure_rate)).
    pub(crate) half_open_failure_rate: Option<f64>,
    /// Keep this instance's totals since creation.
    pub(crate) totals: bool,
    pub(crate) flush_interval: Duration,
    pub(crate) idle_poll: Duration,
    pub(crate) redis_timeout: Duration,
    pub(crate) key_ttl: Duration,
    pub(crate) honor_retry_after: bool,
    pub(crate) max_retry_after: Duration,
    /// The state a missing shared state is created in, and the fallback's first.
    pub(crate) initial_state: failgate::State,
    pub(crate) clock: Arc<dyn Clock>,
    /// Where the fleet client's tasks run; `None`: the process's shared client, on a
    /// thread of its own.
    pub(crate) runtime: Option<tokio::runtime::Handle>,
    /// Told of this instance's changes of state: [`crate::observe`].
    pub(crate) observers: Vec<Arc<dyn failgate::Observer>>,
}

impl Settings {
    pub(crate) fn new(name: &str) -> Self {
        Settings {
            name: name.to_owned(),
            namespace: "default".to_owned(),
            url: None,
            cluster: None,
            username: None,
            password: None,
            #[cfg(feature = "tls")]
            tls_root_certificate: None,
            failure_rate: 0.5,
            minimum_calls: 10,
            window: Duration::from_secs(60),
            buckets: 10,
            count_window: None,
            open_for: Duration::from_secs(60),
            half_open_permits: 1,
            half_open_timeout: Duration::from_secs(30),
            half_open_failure_rate: None,
            totals: false,
            flush_interval: Duration::from_millis(100),
            idle_poll: Duration::from_secs(1),
            redis_timeout: Duration::from_millis(50),
            key_ttl: Duration::from_secs(3600),
            honor_retry_after: false,
            max_retry_after: failgate::DEFAULT_MAX_RETRY_AFTER,
            initial_state: failgate::State::Closed,
            clock: Arc::new(SystemClock::new()),
            runtime: None,
            observers: Vec::new(),
        }
    }

    /// Where the shared state lives: one server, or a cluster's seed nodes.
    pub(crate) fn endpoint(&self) -> Result<Endpoint<'_>, FleetConfigError> {
        match (&self.url, &self.cluster) {
            (Some(url), None) => Ok(Endpoint::Single(url)),
            (None, Some(nodes)) => Ok(Endpoint::Cluster(nodes)),
            (Some(url), Some(_)) => Err(FleetConfigError::RedisAndCluster {
                url: mask_password(url),
            }),
            (None, None) => Err(FleetConfigError::NoRedisUrl),
        }
    }

    /// The local breaker with the same policy, for fallback; validates the policy. With
    /// `relay`, it tells it of its events (its own totals stay off: an observer would
    /// turn them on, and the fleet breaker keeps its totals itself).
    pub(crate) fn local_breaker(
        &self,
        relay: Option<Arc<dyn failgate::Observer>>,
    ) -> Result<failgate::CircuitBreaker, FleetConfigError> {
        let mut b = failgate::CircuitBreaker::builder();
        if let Some(relay) = relay {
            b = b.shared_observer(relay).totals(false);
        }
        if let Some(rate) = self.half_open_failure_rate {
            // Validated by the local builder's own rule, so both refuse the same rates.
            b = b.half_open_failure_rate(rate);
        }
        Ok(b.name(self.name.clone())
            .failure_rate(self.failure_rate)
            .minimum_calls(self.minimum_calls)
            .window(Window::time(self.window).buckets(self.buckets))
            .open_for(self.open_for)
            .half_open_permits(self.half_open_permits)
            .half_open_timeout(self.half_open_timeout)
            .honor_retry_after(self.honor_retry_after)
            .max_retry_after(self.max_retry_after)
            .initial_state(self.initial_state)
            .clock(self.clock.clone())
            .build()?)
    }

    /// Checks the fleet-only settings.
    pub(crate) fn validate(&self) -> Result<(), FleetConfigError> {
        let invalid = |field, value: String, problem| {
            Err(FleetConfigError::Invalid {
                field,
                value,
                problem,
            })
        };
        for (field, value) in [("name", &self.name), ("namespace", &self.namespace)] {
            if value.is_empty() || value.len() > 200 {
                return invalid(field, value.clone(), "must be 1 to 200 characters");
            }
            if value
                .chars()
                .any(|c| c == ':' || c == '{' || c == '}' || c.is_whitespace() || c.is_control())
            {
                return invalid(
                    field,
                    value.clone(),
                    "must not contain ':', braces, spaces or control characters (it is part of a Redis key)",
                );
            }
        }
        if let Some(nodes) = &self.cluster {
            if nodes.is_empty() {
                return invalid(
                    "redis_cluster",
                    "[]".to_owned(),
                    "needs at least one node's URL",
                );
            }
        }
        if let Some(size) = self.count_window {
            return Err(FleetConfigError::CountWindow { size });
        }
        let ms = |d: Duration| format!("{d:?}");
        if self.flush_interval.is_zero() || self.flush_interval > Duration::from_millis(100) {
            return invalid(
                "flush_interval",
                ms(self.flush_interval),
                "must be more than zero and at most 100 ms",
            );
        }
        if self.idle_poll < self.flush_interval || self.idle_poll > Duration::from_secs(3600) {
            return invalid(
                "idle_poll",
                ms(self.idle_poll),
                "must be between the flush interval and 1 hour",
            );
        }
        if self.redis_timeout < Duration::from_millis(1)
            || self.redis_timeout > Duration::from_secs(10)
        {
            return invalid(
                "redis_timeout",
                ms(self.redis_timeout),
                "must be between 1 ms and 10 s",
            );
        }
        if self.window.as_millis() < u128::from(self.buckets) {
            return invalid(
                "window",
                ms(self.window),
                "must give every bucket at least 1 ms (Redis keeps time in milliseconds)",
            );
        }
        if self.open_for < Duration::from_millis(1) {
            return invalid("open_for", ms(self.open_for), "must be at least 1 ms");
        }
        if self.key_ttl < self.window.max(self.open_for)
            || self.key_ttl.as_millis() > i64::MAX as u128
        {
            return invalid(
                "key_ttl",
                ms(self.key_ttl),
                "must be at least the window and the open wait",
            );
        }
        if self.max_retry_after.is_zero() || self.max_retry_after > failgate::MAX_DURATION {
            return invalid(
                "max_retry_after",
                ms(self.max_retry_after),
                "must be longer than zero and at most failgate::MAX_DURATION",
            );
        }
        Ok(())
    }
}

/// `url` with its password replaced by `***`, for logs and errors.
pub(crate) fn mask_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &userinfo[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The local fallback's refusal after one failure answered with a 30 s "retry
    /// after", with hints obeyed or not.
    fn local_refusal(honor: bool) -> Option<Duration> {
        let mut s = Settings::new("n");
        (s.minimum_calls, s.open_for) = (1, Duration::from_secs(1));
        s.honor_retry_after = honor;
        s.max_retry_after = Duration::from_secs(20);
        let local = s.local_breaker(None).unwrap();
        let permit = local.try_acquire().unwrap();
        permit.record_with_retry_after(failgate::Outcome::Failure, Some(Duration::from_secs(30)));
        local.try_acquire().unwrap_err().retry_after()
    }

    #[test]
    fn the_local_fallback_obeys_retry_after_with_the_same_settings() {
        let secs = |d: Option<Duration>| d.map(|d| d.as_secs_f64().round() as u64);
        assert_eq!(
            secs(local_refusal(true)),
            Some(20),
            "capped at max_retry_after"
        );
        assert_eq!(secs(local_refusal(false)), Some(1), "open_for alone");
    }

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            mask_password("redis://user:secret@host:6379/0"),
            "redis://user:***@host:6379/0"
        );
        assert_eq!(mask_password("redis://:secret@host"), "redis://:***@host");
        assert_eq!(mask_password("redis://host:6379"), "redis://host:6379");
    }
}
