//! What a configuration file says, as serde reads and writes it: plain data, checked
//! later by the builder.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// A duration written for people: `"60s"`, `"1m 30s"`, `"250ms"` (humantime).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"60s\", \"1m 30s\" or \"250ms\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<HumanDuration, E> {
                humantime::parse_duration(v)
                    .map(HumanDuration)
                    .map_err(|e| E::custom(format_args!("{v:?} is not a duration: {e}")))
            }
        }
        d.deserialize_str(Visitor)
    }
}

/// The settings of one breaker; every field is optional, and a breaker's own
/// settings override the defaults field by field.
///
/// `#[non_exhaustive]`: each new builder setting gains a field here. Start from
/// `BreakerConfig::default()` and set fields, rather than a struct literal:
///
/// ```
/// let mut config = failgate::config_file::BreakerConfig::default();
/// config.consecutive_failures = Some(3);
/// ```
///
/// ```compile_fail,E0639
/// let config = failgate::config_file::BreakerConfig {
///     consecutive_failures: Some(3),
///     ..Default::default()
/// };
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct BreakerConfig {
    /// See [`Builder::consecutive_failures`](crate::Builder::consecutive_failures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_failures: Option<u32>,
    /// See [`Builder::failure_rate`](crate::Builder::failure_rate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_rate: Option<f64>,
    /// See [`Builder::slow_calls`](crate::Builder::slow_calls).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow_calls: Option<SlowCallsConfig>,
    /// See [`Builder::window`](crate::Builder::window): `{ count = 100 }` or `{ time = "60s", buckets = 10 }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowConfig>,
    /// See [`Builder::minimum_calls`](crate::Builder::minimum_calls).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_calls: Option<u64>,
    /// A constant wait while open; see [`Builder::open_for`](crate::Builder::open_for). Not with `backoff`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_for: Option<HumanDuration>,
    /// An exponential wait while open; see [`Backoff::exponential`](crate::Backoff::exponential). Not with `open_for`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<BackoffConfig>,
    /// See [`Builder::half_open_permits`](crate::Builder::half_open_permits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub half_open_permits: Option<u32>,
    /// See [`Builder::half_open_timeout`](crate::Builder::half_open_timeout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub half_open_timeout: Option<HumanDuration>,
    /// See [`Builder::honor_retry_after`](crate::Builder::honor_retry_after).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honor_retry_after: Option<bool>,
    /// See [`Builder::max_retry_after`](crate::Builder::max_retry_after).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retry_after: Option<HumanDuration>,
    /// See [`Builder::initial_state`](crate::Builder::initial_state):
    /// `initial_state = "forced_open"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_state: Option<StateName>,
    /// See [`Builder::half_open_failure_rate`](crate::Builder::half_open_failure_rate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub half_open_failure_rate: Option<f64>,
    /// See [`Builder::forget_failures_after`](crate::Builder::forget_failures_after).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forget_failures_after: Option<HumanDuration>,
    /// See [`Builder::totals`](crate::Builder::totals): `totals = true` keeps totals
    /// without an observer, `false` never keeps them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totals: Option<bool>,
    /// See [`Builder::sample_errors`](crate::Builder::sample_errors): one described
    /// outcome's error in every `sample_errors` (0 none, 1 every one), from 0 to
    /// 4294967295.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "every_n"
    )]
    pub sample_errors: Option<u32>,
}

/// `sample_errors`: a whole number a `u32` holds, refused with the range it must be in.
fn every_n<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    struct Visitor;
    impl serde::de::Visitor<'_> for Visitor {
        type Value = u32;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a whole number from 0 to {}", u32::MAX)
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<u32, E> {
            u32::try_from(v).map_err(|_| E::custom(format_args!("{v} is not in 0..={}", u32::MAX)))
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<u32, E> {
            u32::try_from(v).map_err(|_| E::custom(format_args!("{v} is not in 0..={}", u32::MAX)))
        }
    }
    d.deserialize_any(Visitor).map(Some)
}

/// A [`State`](crate::State) written by its name, as
/// [`State::as_str`](crate::State::as_str) writes it: `"closed"`, `"forced_open"`,
/// `"disabled"`, `"count_only"` (the states a breaker may start in; `"open"` and
/// `"half_open"` parse, and the builder refuses them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateName(pub crate::State);

impl Serialize for StateName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.as_str())
    }
}

impl<'de> Deserialize<'de> for StateName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = StateName;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a state: \"closed\", \"forced_open\", \"disabled\" or \"count_only\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<StateName, E> {
                crate::State::from_name(v).map(StateName).ok_or_else(|| {
                    E::custom(format_args!(
                        "{v:?} is not a state: expected \"closed\", \"forced_open\", \"disabled\" or \"count_only\""
                    ))
                })
            }
        }
        d.deserialize_str(Visitor)
    }
}

/// `slow_calls = { threshold = "2s", rate = 0.8 }`.
///
/// Exhaustive on purpose: the two arguments of
/// [`Builder::slow_calls`](crate::Builder::slow_calls); a new setting would be a new
/// builder method, with its own field in [`BreakerConfig`], so a struct literal keeps
/// compiling.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlowCallsConfig {
    /// Calls at least this long are slow.
    pub threshold: HumanDuration,
    /// Trip at this slow-call rate, in (0, 1].
    pub rate: f64,
}

/// `window = { count = 100 }` or `window = { time = "60s", buckets = 10 }`.
///
/// Exhaustive on purpose: a window is a count or a span with its buckets (see
/// [`Window`](crate::Window)), so a struct literal keeps compiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowConfig {
    /// The last `count` outcomes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// The outcomes of the last `time`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<HumanDuration>,
    /// Buckets of a time window (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buckets: Option<u32>,
}

/// `backoff = { base = "1s", max = "60s", jitter = 0.2 }`: exponential.
///
/// Exhaustive on purpose: an exponential backoff is its base, its cap and its jitter
/// (see [`Backoff`](crate::Backoff)), so a struct literal keeps compiling.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackoffConfig {
    /// The first wait.
    pub base: HumanDuration,
    /// The longest wait.
    pub max: HumanDuration,
    /// A random fraction in [0, 1) taken off each wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<f64>,
}

/// A registry's configuration: defaults, and settings per breaker name.
///
/// `#[non_exhaustive]`: a file may gain sections. Start from `RegistryConfig::default()`
/// (or a parsed file) and set fields, rather than a struct literal.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RegistryConfig {
    /// Settings every breaker starts from.
    #[serde(default)]
    pub defaults: BreakerConfig,
    /// Settings of named breakers, over the defaults.
    #[serde(default)]
    pub breakers: BTreeMap<String, BreakerConfig>,
}
