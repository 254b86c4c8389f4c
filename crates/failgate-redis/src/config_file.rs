//! Fleet breakers from configuration files (feature `serde`): the Redis connection,
//! its credentials and the policy, in any serde format (TOML, YAML, JSON...).
//! Durations are human-readable (`"30s"`, `"250ms"`); unknown keys are refused. The
//! password is never written in the file: `password_env` names the environment
//! variable that holds it.
//!
//! ```
//! use failgate_redis::config_file::FleetConfig;
//!
//! let config: FleetConfig = serde_json::from_str(r#"{
//!     "namespace": "checkout",
//!     "redis": { "url": "redis://cache.internal:6379", "username": "failgate",
//!                "password_env": "FAILGATE_REDIS_PASSWORD", "timeout": "50ms" },
//!     "failure_rate": 0.5,
//!     "minimum_calls": 20,
//!     "window": "30s",
//!     "buckets": 10,
//!     "open_for": "10s",
//!     "half_open_permits": 3
//! }"#).unwrap();
//! # std::env::set_var("FAILGATE_REDIS_PASSWORD", "s3cret");
//! let builder = config.builder("payments").unwrap(); // then .build() in a tokio runtime
//! ```

use crate::{FleetBreaker, FleetBuilder, FleetConfigError};

use failgate::config_file::{HumanDuration, StateName};
use serde::{Deserialize, Serialize};

/// Where the shared state lives.
///
/// `#[non_exhaustive]`: a new way to reach Redis gains a field here. Start from
/// `RedisConfig::default()` and set fields, rather than a struct literal.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RedisConfig {
    /// `redis://host:port[/db]`, or `rediss://` for TLS (feature `tls`). Empty or
    /// left out when `cluster` is given.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
    /// A Redis Cluster's seed nodes' URLs, instead of `url` (feature `cluster`; see
    /// [`FleetBuilder::redis_cluster`](crate::FleetBuilder)).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster: Vec<String>,
    /// The ACL user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The environment variable holding the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// A PEM file of the CA to trust for `rediss://` (feature `tls`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_root_certificate_file: Option<std::path::PathBuf>,
    /// See [`FleetBuilder::redis_timeout`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<HumanDuration>,
}

/// A fleet breaker's settings; every field but `redis` is optional (the builder's
/// defaults apply).
///
/// `#[non_exhaustive]`: each new [`FleetBuilder`] setting gains a field here. Start
/// from `FleetConfig::default()` (a file still has to name `redis`) and set fields,
/// rather than a struct literal:
///
/// ```
/// let mut config = failgate_redis::config_file::FleetConfig::default();
/// config.redis.url = "redis://127.0.0.1:6379".into();
/// config.failure_rate = Some(0.5);
/// assert!(config.builder("payments").is_ok());
/// ```
///
/// ```compile_fail,E0639
/// let config = failgate_redis::config_file::FleetConfig {
///     failure_rate: Some(0.5),
///     ..Default::default()
/// };
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct FleetConfig {
    /// See [`FleetBuilder::namespace`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The server.
    pub redis: RedisConfig,
    /// See [`FleetBuilder::failure_rate`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_rate: Option<f64>,
    /// See [`FleetBuilder::minimum_calls`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_calls: Option<u64>,
    /// The window's span; see [`FleetBuilder::window`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<HumanDuration>,
    /// The window's buckets; see [`FleetBuilder::window`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buckets: Option<u32>,
    /// See [`FleetBuilder::open_for`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_for: Option<HumanDuration>,
    /// See [`FleetBuilder::half_open_permits`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub half_open_permits: Option<u32>,
    /// See [`FleetBuilder::half_open_timeout`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub half_open_timeout: Option<HumanDuration>,
    /// See [`FleetBuilder::half_open_failure_rate`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub half_open_failure_rate: Option<f64>,
    /// See [`FleetBuilder::totals`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totals: Option<bool>,
    /// See [`FleetBuilder::flush_interval`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flush_interval: Option<HumanDuration>,
    /// See [`FleetBuilder::idle_poll`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_poll: Option<HumanDuration>,
    /// See [`FleetBuilder::key_ttl`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_ttl: Option<HumanDuration>,
    /// See [`FleetBuilder::honor_retry_after`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honor_retry_after: Option<bool>,
    /// See [`FleetBuilder::max_retry_after`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retry_after: Option<HumanDuration>,
    /// See [`FleetBuilder::initial_state`]: `initial_state = "forced_open"` (`closed`,
    /// `forced_open`, `disabled` or `count_only`; `open` and `half_open` parse, and
    /// `build` refuses them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_state: Option<StateName>,
}

impl FleetConfig {
    /// A builder for the breaker `name` with these settings. Reads the password's
    /// environment variable and the CA file now, and names what is missing.
    pub fn builder(&self, name: &str) -> Result<FleetBuilder, FleetConfigError> {
        let mut b = FleetBreaker::builder(name);
        if !self.redis.url.is_empty() {
            b = b.redis(self.redis.url.clone());
        }
        if !self.redis.cluster.is_empty() {
            b = with_cluster(b, &self.redis.cluster)?;
        }
        if let Some(ns) = &self.namespace {
            b = b.namespace(ns.clone());
        }
        if let Some(user) = &self.redis.username {
            b = b.username(user.clone());
        }
        if let Some(var) = &self.redis.password_env {
            let password = std::env::var(var).map_err(|_| FleetConfigError::Invalid {
                field: "redis.password_env",
                value: var.clone(),
                problem: "the environment variable is not set (or not UTF-8)",
            })?;
            b = b.password(password);
        }
        if let Some(path) = &self.redis.tls_root_certificate_file {
            b = with_root_certificate(b, path)?;
        }
        let d = |d: &Option<HumanDuration>| d.map(|d| d.0);
        if let Some(t) = d(&self.redis.timeout) {
            b = b.redis_timeout(t);
        }
        if let Some(rate) = self.failure_rate {
            b = b.failure_rate(rate);
        }
        if let Some(n) = self.minimum_calls {
            b = b.minimum_calls(n);
        }
        if self.window.is_some() || self.buckets.is_some() {
            let span = d(&self.window).unwrap_or(b.settings.window);
            let buckets = self.buckets.unwrap_or(b.settings.buckets);
            b = b.window(failgate::Window::time(span).buckets(buckets));
        }
        if let Some(t) = d(&self.open_for) {
            b = b.open_for(t);
        }
        if let Some(n) = self.half_open_permits {
            b = b.half_open_permits(n);
        }
        if let Some(t) = d(&self.half_open_timeout) {
            b = b.half_open_timeout(t);
        }
        if let Some(rate) = self.half_open_failure_rate {
            b = b.half_open_failure_rate(rate);
        }
        if let Some(keep) = self.totals {
            b = b.totals(keep);
        }
        if let Some(t) = d(&self.flush_interval) {
            b = b.flush_interval(t);
        }
        if let Some(t) = d(&self.idle_poll) {
            b = b.idle_poll(t);
        }
        if let Some(t) = d(&self.key_ttl) {
            b = b.key_ttl(t);
        }
        if let Some(honor) = self.honor_retry_after {
            b = b.honor_retry_after(honor);
        }
        if let Some(t) = d(&self.max_retry_after) {
            b = b.max_retry_after(t);
        }
        if let Some(s) = self.initial_state {
            b = b.initial_state(s.0);
        }
        Ok(b)
    }
}

#[cfg(feature = "tls")]
fn with_root_certificate(
    b: FleetBuilder,
    path: &std::path::Path,
) -> Result<FleetBuilder, FleetConfigError> {
    let pem = std::fs::read(path).map_err(|_| FleetConfigError::Invalid {
        field: "redis.tls_root_certificate_file",
        value: path.display().to_string(),
        problem: "cannot be read",
    })?;
    Ok(b.tls_root_certificate(pem))
}

#[cfg(not(feature = "tls"))]
fn with_root_certificate(
    _: FleetBuilder,
    path: &std::path::Path,
) -> Result<FleetBuilder, FleetConfigError> {
    Err(FleetConfigError::Invalid {
        field: "redis.tls_root_certificate_file",
        value: path.display().to_string(),
        problem: "needs failgate-redis's `tls` feature",
    })
}

/// `redis.cluster`'s nodes, for the builder.
#[cfg(feature = "cluster")]
fn with_cluster(b: FleetBuilder, nodes: &[String]) -> Result<FleetBuilder, FleetConfigError> {
    Ok(b.redis_cluster(nodes.iter().cloned()))
}

#[cfg(not(feature = "cluster"))]
fn with_cluster(_: FleetBuilder, nodes: &[String]) -> Result<FleetBuilder, FleetConfigError> {
    Err(FleetConfigError::Invalid {
        field: "redis.cluster",
        value: nodes.join(","),
        problem: "needs failgate-redis's `cluster` feature",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<FleetConfig, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn a_cluster_or_a_url_and_never_both() {
        let none = parse(r#"{"redis": {}}"#).unwrap().builder("x").unwrap();
        assert!(matches!(none.build(), Err(FleetConfigError::NoRedisUrl)));
        let both =
            parse(r#"{"redis": {"url": "redis://h:1", "cluster": ["redis://a:1"]}}"#).unwrap();
        #[cfg(feature = "cluster")]
        {
            let e = both.builder("x").unwrap().build().unwrap_err();
            assert!(matches!(e, FleetConfigError::RedisAndCluster { .. }), "{e}");
            let nodes = r#"{"redis": {"cluster": ["redis://a:1", "redis://b:2"]}}"#;
            let b = parse(nodes).unwrap().builder("x").unwrap();
            assert_eq!(b.settings.cluster.as_deref().map(<[String]>::len), Some(2));
        }
        #[cfg(not(feature = "cluster"))]
        {
            let e = both.builder("x").unwrap_err();
            assert!(e.to_string().contains("redis.cluster"), "{e}");
        }
    }

    #[test]
    fn unknown_keys_and_bad_durations_are_refused() {
        let e = parse(r#"{"redis": {"url": "redis://h"}, "failure_rat": 0.5}"#).unwrap_err();
        assert!(e.to_string().contains("failure_rat"), "{e}");
        let e = parse(r#"{"redis": {"url": "redis://h", "timeout": "soon"}}"#).unwrap_err();
        assert!(e.to_string().contains("soon"), "{e}");
        let e = parse(r#"{"redis": {"url": "redis://h", "password": "x"}}"#).unwrap_err();
        assert!(e.to_string().contains("password"), "{e}");
    }

    #[test]
    fn a_missing_password_variable_is_named() {
        let c =
            parse(r#"{"redis": {"url": "redis://h", "password_env": "FAILGATE_TEST_UNSET_VAR"}}"#)
                .unwrap();
        match c.builder("x") {
            Err(FleetConfigError::Invalid { field, value, .. }) => {
                assert_eq!(
                    (field, value.as_str()),
                    ("redis.password_env", "FAILGATE_TEST_UNSET_VAR")
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn settings_reach_the_builder() {
        let c = parse(
            r#"{"namespace": "shop", "redis": {"url": "redis://h:1", "username": "u", "timeout": "20ms"},
                "failure_rate": 0.25, "minimum_calls": 7, "buckets": 5, "open_for": "3s",
                "half_open_permits": 4, "half_open_timeout": "9s", "flush_interval": "40ms",
                "idle_poll": "5s", "key_ttl": "2h", "honor_retry_after": true,
                "max_retry_after": "10m"}"#,
        )
        .unwrap();
        let builder = c.builder("pay").unwrap();
        let b = &builder.settings;
        let ms = std::time::Duration::from_millis;
        assert_eq!(b.namespace, "shop");
        assert_eq!(b.username.as_deref(), Some("u"));
        assert_eq!((b.redis_timeout, b.flush_interval), (ms(20), ms(40)));
        assert_eq!((b.failure_rate, b.minimum_calls, b.buckets), (0.25, 7, 5));
        assert_eq!(b.window, ms(60_000), "the default span, with 5 buckets");
        assert_eq!(
            (b.open_for, b.half_open_timeout, b.half_open_permits),
            (ms(3_000), ms(9_000), 4)
        );
        assert_eq!((b.key_ttl, b.idle_poll), (ms(7_200_000), ms(5_000)));
        assert_eq!(
            (b.honor_retry_after, b.max_retry_after),
            (true, ms(600_000))
        );
    }

    #[test]
    fn initial_state_is_read_and_a_bad_one_is_named() {
        let c =
            parse(r#"{"redis": {"url": "redis://h"}, "initial_state": "forced_open"}"#).unwrap();
        let b = c.builder("x").unwrap();
        assert_eq!(b.settings.initial_state, failgate::State::ForcedOpen);
        let e = parse(r#"{"redis": {"url": "redis://h"}, "initial_state": "ajar"}"#).unwrap_err();
        assert!(e.to_string().contains("ajar"), "{e}");
        assert!(e.to_string().contains("forced_open"), "{e}");
        let c = parse(r#"{"redis": {"url": "redis://h"}, "initial_state": "open"}"#).unwrap();
        match c.builder("x").unwrap().build() {
            Err(FleetConfigError::Policy(e)) => assert_eq!(e.field(), "initial_state"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn retry_after_fields_name_their_path_when_wrong() {
        let e = parse(r#"{"redis": {"url": "redis://h"}, "max_retry_after": "soon"}"#).unwrap_err();
        assert!(e.to_string().contains("soon"), "{e}");
        let e =
            parse(r#"{"redis": {"url": "redis://h"}, "honor_retry_after": "yes"}"#).unwrap_err();
        assert!(e.to_string().contains("bool"), "{e}");
        let c = parse(r#"{"redis": {"url": "redis://h"}, "max_retry_after": "0s"}"#).unwrap();
        let e = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async { c.builder("x").unwrap().build().unwrap_err() });
        assert!(
            matches!(
                e,
                FleetConfigError::Invalid {
                    field: "max_retry_after",
                    ..
                }
            ),
            "{e:?}"
        );
    }
}
