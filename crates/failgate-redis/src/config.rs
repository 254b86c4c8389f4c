//! The fleet breaker's configuration: the detection policy (the same fields as a local
//! failgate breaker's), where the shared state lives, and how often it is synchronised.

use crate::FleetBreaker;
use failgate::{Clock, ConfigError, DefaultClassifier, SystemClock, Window};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A configuration value that cannot work, named.
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
    /// `build` was called outside a tokio runtime, which the background sync task needs.
    #[error("FleetBuilder::build must be called inside a tokio runtime")]
    NoRuntime,
}

/// Builds a [`FleetBreaker`]. From [`FleetBreaker::builder`].
///
/// The policy is a failure rate over a time window, the one that adds up across
/// instances: every instance's calls and failures land in one shared window.
pub struct FleetBuilder<C = DefaultClassifier> {
    pub(crate) name: String,
    pub(crate) namespace: String,
    pub(crate) url: Option<String>,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    #[cfg(feature = "tls")]
    pub(crate) tls_root_certificate: Option<Vec<u8>>,
    pub(crate) failure_rate: f64,
    pub(crate) minimum_calls: u64,
    pub(crate) window: Duration,
    pub(crate) buckets: u32,
    pub(crate) open_for: Duration,
    pub(crate) half_open_permits: u32,
    pub(crate) half_open_timeout: Duration,
    pub(crate) flush_interval: Duration,
    pub(crate) idle_poll: Duration,
    pub(crate) redis_timeout: Duration,
    pub(crate) key_ttl: Duration,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) classifier: C,
}

impl<C> fmt::Debug for FleetBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetBuilder")
            .field("name", &self.name)
            .field("namespace", &self.namespace)
            .field("url", &self.url.as_deref().map(mask_password))
            .field("failure_rate", &self.failure_rate)
            .field("minimum_calls", &self.minimum_calls)
            .field("window", &self.window)
            .field("buckets", &self.buckets)
            .field("open_for", &self.open_for)
            .field("half_open_permits", &self.half_open_permits)
            .field("flush_interval", &self.flush_interval)
            .field("idle_poll", &self.idle_poll)
            .field("redis_timeout", &self.redis_timeout)
            .finish_non_exhaustive()
    }
}

impl FleetBuilder {
    pub(crate) fn new(name: &str) -> Self {
        FleetBuilder {
            name: name.to_owned(),
            namespace: "default".to_owned(),
            url: None,
            username: None,
            password: None,
            #[cfg(feature = "tls")]
            tls_root_certificate: None,
            failure_rate: 0.5,
            minimum_calls: 10,
            window: Duration::from_secs(60),
            buckets: 10,
            open_for: Duration::from_secs(60),
            half_open_permits: 1,
            half_open_timeout: Duration::from_secs(30),
            flush_interval: Duration::from_millis(100),
            idle_poll: Duration::from_secs(1),
            redis_timeout: Duration::from_millis(50),
            key_ttl: Duration::from_secs(3600),
            clock: Arc::new(SystemClock::new()),
            classifier: DefaultClassifier,
        }
    }
}

impl<C> FleetBuilder<C> {
    /// The key namespace: breakers share state when they have the same namespace and
    /// name. Keys are `failgate:{namespace}:{name}:*`. Default `"default"`.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// The Redis server: `redis://[user:password@]host:port[/db]`, or `rediss://` for
    /// TLS (feature `tls`).
    pub fn redis(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// The ACL user name, overriding the URL's.
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// The password, overriding the URL's (so it need not be written in a URL).
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Trusts this CA certificate (PEM) for `rediss://` URLs instead of the platform's
    /// root certificates: for servers with certificates of a private CA. Feature `tls`.
    #[cfg(feature = "tls")]
    pub fn tls_root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls_root_certificate = Some(pem.into());
        self
    }

    /// Trip when at least this share of the window's calls failed, in (0, 1]. Default
    /// 0.5.
    pub fn failure_rate(mut self, rate: f64) -> Self {
        self.failure_rate = rate;
        self
    }

    /// The fewest calls, fleet-wide, in the window before the rate is judged. Default
    /// 10.
    pub fn minimum_calls(mut self, n: u64) -> Self {
        self.minimum_calls = n;
        self
    }

    /// The window's span and its number of buckets. Default 60 s in 10 buckets.
    pub fn window(mut self, span: Duration, buckets: u32) -> Self {
        self.window = span;
        self.buckets = buckets;
        self
    }

    /// How long the breaker stays open before it lets probes through. Default 60 s.
    pub fn open_for(mut self, wait: Duration) -> Self {
        self.open_for = wait;
        self
    }

    /// How many probes the whole fleet sends while half-open; that many successes close
    /// it. Default 1.
    pub fn half_open_permits(mut self, n: u32) -> Self {
        self.half_open_permits = n;
        self
    }

    /// Reopen if the probes have not all reported within this time (an instance that
    /// took a probe permit and died). Default 30 s.
    pub fn half_open_timeout(mut self, timeout: Duration) -> Self {
        self.half_open_timeout = timeout;
        self
    }

    /// How often local counts are flushed to Redis (and the shared state polled, as a
    /// fallback for pub/sub). At most 100 ms, the default.
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval;
        self
    }

    /// How often an idle instance (nothing counted, no probe in hand, pub/sub
    /// subscribed) still polls the shared state. Default 1 s; at least the flush
    /// interval. Transitions reach it at once over pub/sub either way; while pub/sub is
    /// down every instance polls every `flush_interval`.
    pub fn idle_poll(mut self, interval: Duration) -> Self {
        self.idle_poll = interval;
        self
    }

    /// The longest the background task waits on Redis for one round trip before it
    /// falls back to local breaking. Default 50 ms. Calls never wait on Redis at all.
    pub fn redis_timeout(mut self, timeout: Duration) -> Self {
        self.redis_timeout = timeout;
        self
    }

    /// The shared keys expire after this long without any instance writing them.
    /// Default 1 hour; at least the window and the open wait.
    pub fn key_ttl(mut self, ttl: Duration) -> Self {
        self.key_ttl = ttl;
        self
    }

    /// The local clock, for open-state deadlines (tests pass a
    /// [`ManualClock`](failgate::ManualClock)). Shared deadlines run on the Redis
    /// server's clock, so instances' clocks need not agree.
    pub fn clock<K: Clock>(mut self, clock: K) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The classifier `call` and `call_async` use (as with failgate's breakers).
    pub fn classifier<K>(self, classifier: K) -> FleetBuilder<K> {
        FleetBuilder {
            name: self.name,
            namespace: self.namespace,
            url: self.url,
            username: self.username,
            password: self.password,
            #[cfg(feature = "tls")]
            tls_root_certificate: self.tls_root_certificate,
            failure_rate: self.failure_rate,
            minimum_calls: self.minimum_calls,
            window: self.window,
            buckets: self.buckets,
            open_for: self.open_for,
            half_open_permits: self.half_open_permits,
            half_open_timeout: self.half_open_timeout,
            flush_interval: self.flush_interval,
            idle_poll: self.idle_poll,
            redis_timeout: self.redis_timeout,
            key_ttl: self.key_ttl,
            clock: self.clock,
            classifier,
        }
    }

    /// Validates the configuration, builds the local breaker and starts the background
    /// sync task on the current tokio runtime. Returns at once: the breaker decides
    /// locally until its first round trip to Redis succeeds.
    pub fn build(self) -> Result<FleetBreaker<C>, FleetConfigError> {
        crate::breaker::build(self)
    }

    /// The local breaker with the same policy, for fallback; validates the policy.
    pub(crate) fn local_breaker(&self) -> Result<failgate::CircuitBreaker, FleetConfigError> {
        Ok(failgate::CircuitBreaker::builder()
            .name(self.name.clone())
            .failure_rate(self.failure_rate)
            .minimum_calls(self.minimum_calls)
            .window(Window::time(self.window).buckets(self.buckets))
            .open_for(self.open_for)
            .half_open_permits(self.half_open_permits)
            .half_open_timeout(self.half_open_timeout)
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
