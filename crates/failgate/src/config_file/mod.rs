//! Breakers from configuration files (feature `serde`; formats `toml`, `yaml`, `json`).
//!
//! A whole registry is one file: default settings, and settings per breaker name
//! that override the defaults field by field. Durations are human-readable strings
//! (`"60s"`, `"1m 30s"`, `"250ms"`). Unknown keys are refused, and every error names
//! its path:
//!
//! A registry built from a file ([`RegistryConfig::registry`], or
//! [`registry_with`](RegistryConfig::registry_with) for a clock and observers) can
//! reload another version of it (feature `registry`):
//! [`Registry::reload`](crate::Registry::reload) keeps the breakers whose settings did
//! not change, rebuilds the others, and refuses an invalid file whole.
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

mod apply;
mod error;
mod limits;
#[cfg(feature = "registry")]
mod reload;
mod schema;
mod yaml_scan;

pub use error::{FileError, Limit};
pub use limits::{MAX_DEPTH, MAX_FILE_BYTES};
#[cfg(feature = "registry")]
pub(crate) use reload::FileSource;
#[cfg(feature = "registry")]
pub use reload::ReloadReport;
pub use schema::{
    BackoffConfig, BreakerConfig, HumanDuration, RegistryConfig, SlowCallsConfig, StateName,
    WindowConfig,
};

use crate::breaker::CircuitBreaker;
use crate::config::Builder;
use error::config_error;
use std::fmt;
use std::path::Path;

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
    ///
    /// Every breaker the file names exists once this returns: `get`, `names`,
    /// `snapshot` and `force_open` see it before its first call. Other names are
    /// built from the defaults on first use ([`Registry::get_or_create`](crate::Registry::get_or_create)).
    /// The registry remembers the file, to [`reload`](crate::Registry::reload) another;
    /// [`registry_with`](Self::registry_with) sets a clock and observers.
    #[cfg(feature = "registry")]
    pub fn registry(&self) -> Result<crate::Registry, FileError> {
        self.registry_with(CircuitBreaker::builder())
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
