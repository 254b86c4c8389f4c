//! Breakers from configuration files (feature `serde`; formats `toml`, `yaml`, `json`).
//!
//! A whole registry is one file: default settings, and settings per breaker name
//! that override the defaults field by field. Durations are human-readable strings
//! (`"60s"`, `"1m 30s"`, `"250ms"`). Unknown keys are refused, and every error names
//! its path:
//!
//! Every text is held to [limits](Limit) before a parser sees it: at most
//! [`MAX_FILE_BYTES`], nesting at most [`MAX_DEPTH`] deep, so that no file, however
//! crafted, takes a parser long to accept or refuse.
//!
//! ```
//! # #[cfg(feature = "toml")] {
//! use failgate::config_file::RegistryConfig;
//!
//! let config = RegistryConfig::from_toml_str(r#"
//!     [defaults]
//!     consecutive_failures = 5
//!     open_for = "60s"
//!
//!     [breakers.payments]
//!     failure_rate = 0.5
//!     window = { time = "1m", buckets = 12 }
//!     minimum_calls = 20
//!     backoff = { base = "1s", max = "1m 30s", jitter = 0.2 }
//! "#).unwrap();
//! let payments = config.builder_for("payments").build().unwrap();
//! assert_eq!(payments.name(), "payments");
//!
//! let bad = RegistryConfig::from_toml_str("[breakers.payments]\nfailure_rate = 1.5\n");
//! assert_eq!(
//!     bad.unwrap_err().to_string(),
//!     "breakers.payments.failure_rate: 1.5 is not in (0, 1]"
//! );
//! # }
//! ```

mod limits;
mod yaml_scan;

pub use limits::{Limit, MAX_DEPTH, MAX_FILE_BYTES};

use crate::{Backoff, Builder, CircuitBreaker, Window};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerConfig {
    /// See [`Builder::consecutive_failures`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_failures: Option<u32>,
    /// See [`Builder::failure_rate`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_rate: Option<f64>,
    /// See [`Builder::slow_calls`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow_calls: Option<SlowCallsConfig>,
    /// See [`Builder::window`]: `{ count = 100 }` or `{ time = "60s", buckets = 10 }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowConfig>,
    /// See [`Builder::minimum_calls`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_calls: Option<u64>,
    /// A constant wait while open; see [`Builder::open_for`]. Not with `backoff`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_for: Option<HumanDuration>,
    /// An exponential wait while open; see [`Backoff::exponential`]. Not with `open_for`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<BackoffConfig>,
    /// See [`Builder::half_open_permits`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub half_open_permits: Option<u32>,
    /// See [`Builder::half_open_timeout`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub half_open_timeout: Option<HumanDuration>,
    /// See [`Builder::honor_retry_after`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honor_retry_after: Option<bool>,
    /// See [`Builder::max_retry_after`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retry_after: Option<HumanDuration>,
}

/// `slow_calls = { threshold = "2s", rate = 0.8 }`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlowCallsConfig {
    /// Calls at least this long are slow.
    pub threshold: HumanDuration,
    /// Trip at this slow-call rate, in (0, 1].
    pub rate: f64,
}

/// `window = { count = 100 }` or `window = { time = "60s", buckets = 10 }`.
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    /// Settings every breaker starts from.
    #[serde(default)]
    pub defaults: BreakerConfig,
    /// Settings of named breakers, over the defaults.
    #[serde(default)]
    pub breakers: BTreeMap<String, BreakerConfig>,
}

/// A configuration file that could not be used: where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    path: String,
    message: String,
    limit: Option<Limit>,
}

impl FileError {
    fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        FileError {
            path: path.into(),
            message: message.into(),
            limit: None,
        }
    }

    fn over(limit: Limit) -> Self {
        FileError {
            path: String::new(),
            message: limit.to_string(),
            limit: Some(limit),
        }
    }

    /// The limit the file went over, if that is why it was refused (before parsing).
    pub fn limit(&self) -> Option<Limit> {
        self.limit
    }

    /// Where the problem is: a dotted path such as `breakers.payments.failure_rate`
    /// (empty for the file as a whole).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for FileError {}

impl BreakerConfig {
    /// These settings over `base`, field by field.
    pub fn over(&self, base: &BreakerConfig) -> BreakerConfig {
        BreakerConfig {
            consecutive_failures: self.consecutive_failures.or(base.consecutive_failures),
            failure_rate: self.failure_rate.or(base.failure_rate),
            slow_calls: self.slow_calls.or(base.slow_calls),
            window: self.window.or(base.window),
            minimum_calls: self.minimum_calls.or(base.minimum_calls),
            // The two ways of waiting replace each other.
            open_for: if self.backoff.is_some() {
                self.open_for
            } else {
                self.open_for.or(base.open_for)
            },
            backoff: if self.open_for.is_some() {
                self.backoff
            } else {
                self.backoff.or(base.backoff)
            },
            half_open_permits: self.half_open_permits.or(base.half_open_permits),
            half_open_timeout: self.half_open_timeout.or(base.half_open_timeout),
            honor_retry_after: self.honor_retry_after.or(base.honor_retry_after),
            max_retry_after: self.max_retry_after.or(base.max_retry_after),
        }
    }

    /// Applies the settings to `builder`. Values are checked later, by `build()`;
    /// [`RegistryConfig::validate`] checks them all with their paths.
    pub fn apply(&self, mut b: Builder) -> Builder {
        if let Some(n) = self.consecutive_failures {
            b = b.consecutive_failures(n);
        }
        if let Some(r) = self.failure_rate {
            b = b.failure_rate(r);
        }
        if let Some(s) = self.slow_calls {
            b = b.slow_calls(s.threshold.0, s.rate);
        }
        if let Some(w) = self.window {
            let window = match (w.count, w.time) {
                (Some(n), _) => Window::count(n),
                (None, Some(t)) => Window::time(t.0).buckets(w.buckets.unwrap_or(10)),
                // Refused by `check_shape`; a zero count is refused by `build()`.
                (None, None) => Window::count(0),
            };
            b = b.window(window);
        }
        if let Some(n) = self.minimum_calls {
            b = b.minimum_calls(n);
        }
        if let Some(d) = self.open_for {
            b = b.open_for(d.0);
        }
        if let Some(x) = self.backoff {
            b = b.backoff(
                Backoff::exponential(x.base.0, x.max.0).with_jitter(x.jitter.unwrap_or(0.0)),
            );
        }
        if let Some(n) = self.half_open_permits {
            b = b.half_open_permits(n);
        }
        if let Some(t) = self.half_open_timeout {
            b = b.half_open_timeout(t.0);
        }
        if let Some(h) = self.honor_retry_after {
            b = b.honor_retry_after(h);
        }
        if let Some(d) = self.max_retry_after {
            b = b.max_retry_after(d.0);
        }
        b
    }

    /// Checks what serde cannot: the shape of the window and of the wait.
    fn check_shape(&self, path: &str) -> Result<(), FileError> {
        if let Some(w) = self.window {
            match (w.count, w.time) {
                (Some(_), Some(_)) => {
                    return Err(FileError::new(
                        format!("{path}.window"),
                        "has both `count` and `time`: pick one",
                    ))
                }
                (None, None) => {
                    return Err(FileError::new(
                        format!("{path}.window"),
                        "needs `count` or `time`",
                    ))
                }
                (Some(_), None) if w.buckets.is_some() => {
                    return Err(FileError::new(
                        format!("{path}.window.buckets"),
                        "only applies to a time window",
                    ))
                }
                _ => {}
            }
        }
        if self.open_for.is_some() && self.backoff.is_some() {
            return Err(FileError::new(
                path,
                "has both `open_for` and `backoff`: pick one",
            ));
        }
        Ok(())
    }
}

impl RegistryConfig {
    /// The settings of the breaker called `name`: its own over the defaults.
    pub fn settings_for(&self, name: &str) -> BreakerConfig {
        match self.breakers.get(name) {
            Some(own) => own.over(&self.defaults),
            None => self.defaults.clone(),
        }
    }

    /// A builder for the breaker called `name`, named `name`.
    pub fn builder_for(&self, name: &str) -> Builder {
        self.settings_for(name)
            .apply(CircuitBreaker::builder().name(name))
    }

    /// Checks every value, reporting the first problem with its path.
    pub fn validate(&self) -> Result<(), FileError> {
        self.defaults.check_shape("defaults")?;
        self.defaults
            .apply(CircuitBreaker::builder())
            .build()
            .map_err(|e| config_error("defaults", &e))?;
        for (name, own) in &self.breakers {
            let path = format!("breakers.{name}");
            own.check_shape(&path)?;
            self.builder_for(name)
                .build()
                .map_err(|e| config_error(&path, &e))?;
        }
        Ok(())
    }

    /// A [`Registry`](crate::Registry) of these breakers (feature `registry`).
    #[cfg(feature = "registry")]
    pub fn registry(&self) -> Result<crate::Registry, FileError> {
        self.validate()?;
        let defaults = self.defaults.apply(CircuitBreaker::builder());
        let mut registry = crate::Registry::builder(defaults);
        for name in self.breakers.keys() {
            registry = registry.with_override(name.clone(), self.builder_for(name));
        }
        registry.build().map_err(|e| config_error("", &e))
    }

    /// Reads and checks a file, by its extension: `.toml`, `.yaml`/`.yml` or `.json`
    /// (each with its feature). A file over [`MAX_FILE_BYTES`] is refused without
    /// being read whole.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self, FileError> {
        let path = path.as_ref();
        let text = read_bounded(path)?;
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            #[cfg(feature = "toml")]
            Some("toml") => Self::from_toml_str(&text),
            #[cfg(feature = "yaml")]
            Some("yaml" | "yml") => Self::from_yaml_str(&text),
            #[cfg(feature = "json")]
            Some("json") => Self::from_json_str(&text),
            _ => Err(FileError::new(
                "",
                format!(
                    "{}: unsupported format ({} bytes read; expected {})",
                    path.display(),
                    text.len(),
                    supported_formats()
                ),
            )),
        }
    }

    /// Parses and checks TOML, after the [limits](Limit).
    #[cfg(feature = "toml")]
    pub fn from_toml_str(text: &str) -> Result<Self, FileError> {
        limits::check(text, limits::Format::Toml).map_err(FileError::over)?;
        let de = toml::de::Deserializer::parse(text).map_err(|e| FileError::new("", syntax(&e)))?;
        checked(serde_path_to_error::deserialize(de))
    }

    /// Parses and checks YAML, after the [limits](Limit).
    #[cfg(feature = "yaml")]
    pub fn from_yaml_str(text: &str) -> Result<Self, FileError> {
        limits::check(text, limits::Format::Yaml).map_err(FileError::over)?;
        checked(serde_path_to_error::deserialize(
            serde_yaml_ng::Deserializer::from_str(text),
        ))
    }

    /// Parses and checks JSON, after the [limits](Limit).
    #[cfg(feature = "json")]
    pub fn from_json_str(text: &str) -> Result<Self, FileError> {
        limits::check(text, limits::Format::Json).map_err(FileError::over)?;
        let mut de = serde_json::Deserializer::from_str(text);
        let config = checked(serde_path_to_error::deserialize(&mut de))?;
        de.end().map_err(|e| FileError::new("", e.to_string()))?;
        Ok(config)
    }

    /// Writes TOML that [`from_toml_str`](Self::from_toml_str) reads back.
    #[cfg(feature = "toml")]
    pub fn to_toml_string(&self) -> Result<String, FileError> {
        toml::to_string(self).map_err(|e| FileError::new("", e.to_string()))
    }
}

/// The file's text, refused if it is over [`MAX_FILE_BYTES`] (read no further).
fn read_bounded(path: &Path) -> Result<String, FileError> {
    use std::io::Read;
    let cannot =
        |e: &dyn fmt::Display| FileError::new("", format!("cannot read {}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(|e| cannot(&e))?;
    let mut bytes = Vec::new();
    let cap = MAX_FILE_BYTES as u64 + 1;
    file.take(cap)
        .read_to_end(&mut bytes)
        .map_err(|e| cannot(&e))?;
    if bytes.len() > MAX_FILE_BYTES {
        let found = std::fs::metadata(path).map_or(bytes.len(), |m| m.len() as usize);
        return Err(FileError::over(Limit::Size {
            limit: MAX_FILE_BYTES,
            found,
        }));
    }
    String::from_utf8(bytes).map_err(|e| cannot(&e))
}

#[allow(dead_code)] // unused when no format feature is on
fn checked<E: fmt::Display>(
    parsed: Result<RegistryConfig, serde_path_to_error::Error<E>>,
) -> Result<RegistryConfig, FileError> {
    let config = parsed.map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        FileError::new(path, syntax(e.inner()))
    })?;
    config.validate()?;
    Ok(config)
}

/// A parser's message, on one line.
fn syntax(e: &dyn fmt::Display) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn config_error(path: &str, e: &crate::ConfigError) -> FileError {
    let full = if path.is_empty() {
        e.field().to_string()
    } else {
        format!("{path}.{}", e.field())
    };
    FileError::new(full, format!("{} {}", e.value(), e.problem()))
}

fn supported_formats() -> &'static str {
    match (
        cfg!(feature = "toml"),
        cfg!(feature = "yaml"),
        cfg!(feature = "json"),
    ) {
        (true, true, true) => ".toml, .yaml or .json",
        (true, true, false) => ".toml or .yaml",
        (true, false, true) => ".toml or .json",
        (false, true, true) => ".yaml or .json",
        (true, false, false) => ".toml",
        (false, true, false) => ".yaml",
        (false, false, true) => ".json",
        (false, false, false) => "no format: enable failgate's toml, yaml or json feature",
    }
}
