//! A registry of named breakers (feature `registry`): one shared breaker per name,
//! built from default settings and per-name overrides, listed and controlled by name.
//!
//! ```
//! use failgate::{CircuitBreaker, Registry, State};
//! use std::time::Duration;
//!
//! let registry = Registry::builder(CircuitBreaker::builder().consecutive_failures(5))
//!     .with_override("payments", CircuitBreaker::builder().consecutive_failures(2))
//!     .build()?;
//!
//! let payments = registry.get_or_create("payments")?;
//! let same = registry.get_or_create("payments")?;
//! assert!(payments.same_breaker(&same));
//!
//! registry.force_open("payments").unwrap();
//! assert_eq!(payments.state(), State::ForcedOpen);
//! let snapshot = registry.snapshot();
//! assert_eq!(&*snapshot[0].name, "payments");
//! # Ok::<(), failgate::ConfigError>(())
//! ```

use crate::{Builder, CircuitBreaker, ConfigError, Snapshot};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

/// One shared breaker per name. Cheap to clone: clones share the breakers.
///
/// Looking up a breaker that exists takes no lock (a lock-free concurrent map); the
/// first `get_or_create` of a name builds its breaker, and concurrent first calls for
/// one name all get the same breaker.
///
/// A registry built from a configuration file (`RegistryConfig::registry`, feature
/// `serde`) can reload the file: `Registry::reload` keeps the breakers whose settings
/// did not change and replaces the others, which handles taken before keep.
#[derive(Clone)]
pub struct Registry {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    /// Every listed breaker. Read without a lock; written only under `templates`.
    pub(crate) breakers: papaya::HashMap<String, CircuitBreaker>,
    /// How breakers are made. Locked to make a breaker (the first `get_or_create` of
    /// a name) and by a reload, so that the two never interleave: a breaker built from
    /// templates a reload has just replaced could otherwise slip into the map.
    pub(crate) templates: Mutex<Templates>,
}

/// How a registry makes its breakers.
pub(crate) struct Templates {
    pub(crate) defaults: Builder,
    pub(crate) overrides: HashMap<String, Builder>,
    /// The file the registry was built from, for [`Registry::reload`].
    #[cfg(feature = "serde")]
    pub(crate) file: Option<crate::config_file::FileSource>,
}

impl Shared {
    /// The templates, also after a panic elsewhere (they are replaced whole, never
    /// left half-written).
    pub(crate) fn templates(&self) -> MutexGuard<'_, Templates> {
        self.templates
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut overrides: Vec<String> =
            self.shared.templates().overrides.keys().cloned().collect();
        overrides.sort();
        f.debug_struct("Registry")
            .field("breakers", &self.shared.breakers.len())
            .field("overrides", &overrides)
            .finish_non_exhaustive()
    }
}

/// No breaker by that name in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownBreaker(pub String);

impl fmt::Display for UnknownBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no breaker named {:?}", self.0)
    }
}

impl std::error::Error for UnknownBreaker {}

/// Configures a [`Registry`]: default settings and per-name overrides, all checked
/// by [`build`](Self::build).
#[derive(Debug)]
pub struct RegistryBuilder {
    defaults: Builder,
    overrides: HashMap<String, Builder>,
}

impl RegistryBuilder {
    /// Builds the breaker called `name` from `settings` instead of the defaults.
    pub fn with_override(mut self, name: impl Into<String>, settings: Builder) -> Self {
        self.overrides.insert(name.into(), settings);
        self
    }

    /// Checks the defaults and every override (a bad value is a `ConfigError` naming
    /// its field) and makes the registry.
    pub fn build(self) -> Result<Registry, ConfigError> {
        self.defaults.clone().build()?;
        for (name, settings) in &self.overrides {
            settings.clone().name(name.clone()).build()?;
        }
        Ok(Registry::from_templates(Templates {
            defaults: self.defaults,
            overrides: self.overrides,
            #[cfg(feature = "serde")]
            file: None,
        }))
    }
}

impl Templates {
    /// A new breaker called `name`, from its override or the defaults.
    pub(crate) fn make(&self, name: &str) -> Result<CircuitBreaker, ConfigError> {
        let template = self.overrides.get(name).unwrap_or(&self.defaults);
        template.clone().name(name).build()
    }
}

impl Registry {
    /// Starts a registry whose breakers are built from `defaults` (each named by the
    /// name it is asked for).
    pub fn builder(defaults: Builder) -> RegistryBuilder {
        RegistryBuilder {
            defaults,
            overrides: HashMap::new(),
        }
    }

    /// A registry with no overrides: `Registry::builder(defaults).build()`.
    pub fn new(defaults: Builder) -> Result<Self, ConfigError> {
        Self::builder(defaults).build()
    }

    /// The breaker called `name`, built on first use from its override or the
    /// defaults. Concurrent first calls for one name all get the same breaker. The only
    /// error is an empty name.
    ///
    /// Finding a breaker that exists takes no lock; making one takes the registry's
    /// lock (the one a [reload](Self::reload) holds).
    pub fn get_or_create(&self, name: &str) -> Result<CircuitBreaker, ConfigError> {
        if let Some(b) = self.shared.breakers.pin().get(name) {
            return Ok(b.clone());
        }
        let templates = self.shared.templates();
        let breakers = self.shared.breakers.pin();
        if let Some(b) = breakers.get(name) {
            return Ok(b.clone());
        }
        let built = templates.make(name)?;
        Ok(breakers.get_or_insert(name.to_owned(), built).clone())
    }

    fn from_templates(templates: Templates) -> Self {
        Registry {
            shared: Arc::new(Shared {
                breakers: papaya::HashMap::new(),
                templates: Mutex::new(templates),
            }),
        }
    }

    /// A registry that remembers the file it was built from (see `config_file`).
    #[cfg(feature = "serde")]
    pub(crate) fn from_file(
        defaults: Builder,
        overrides: HashMap<String, Builder>,
        file: crate::config_file::FileSource,
    ) -> Self {
        Registry::from_templates(Templates {
            defaults,
            overrides,
            file: Some(file),
        })
    }

    #[cfg(feature = "serde")]
    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// The breaker called `name`, if it exists.
    pub fn get(&self, name: &str) -> Option<CircuitBreaker> {
        self.shared.breakers.pin().get(name).cloned()
    }

    /// Every breaker's snapshot, sorted by name: state, counts, rates (`None` until
    /// judged) and time in the current state.
    pub fn snapshot(&self) -> Vec<Snapshot> {
        let mut all: Vec<Snapshot> = self
            .shared
            .breakers
            .pin()
            .iter()
            .map(|(_, b)| b.snapshot())
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// The names of every breaker, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.shared.breakers.pin().keys().cloned().collect();
        names.sort();
        names
    }

    fn control<R>(
        &self,
        name: &str,
        f: impl FnOnce(&CircuitBreaker) -> R,
    ) -> Result<R, UnknownBreaker> {
        match self.shared.breakers.pin().get(name) {
            Some(b) => Ok(f(b)),
            None => Err(UnknownBreaker(name.to_owned())),
        }
    }

    /// [`CircuitBreaker::force_open`] by name.
    pub fn force_open(&self, name: &str) -> Result<(), UnknownBreaker> {
        self.control(name, CircuitBreaker::force_open)
    }

    /// [`CircuitBreaker::disable`] by name.
    pub fn disable(&self, name: &str) -> Result<(), UnknownBreaker> {
        self.control(name, CircuitBreaker::disable)
    }

    /// [`CircuitBreaker::count_only`] by name.
    pub fn count_only(&self, name: &str) -> Result<(), UnknownBreaker> {
        self.control(name, CircuitBreaker::count_only)
    }

    /// [`CircuitBreaker::reset`] by name.
    pub fn reset(&self, name: &str) -> Result<(), UnknownBreaker> {
        self.control(name, CircuitBreaker::reset)
    }

    /// [`CircuitBreaker::open_for`] by name: an unknown name or a wait above
    /// [`MAX_DURATION`](crate::MAX_DURATION) is an error, and changes nothing.
    pub fn open_for(&self, name: &str, wait: Duration) -> Result<(), ControlError> {
        Ok(self.control(name, |b| b.open_for(wait))??)
    }

    /// [`CircuitBreaker::open_until`] by name: an unknown name or a deadline more than
    /// [`MAX_DURATION`](crate::MAX_DURATION) away is an error, and changes nothing.
    pub fn open_until(&self, name: &str, deadline: SystemTime) -> Result<(), ControlError> {
        Ok(self.control(name, |b| b.open_until(deadline))??)
    }

    /// [`CircuitBreaker::half_open`] by name.
    pub fn half_open(&self, name: &str) -> Result<(), UnknownBreaker> {
        self.control(name, CircuitBreaker::half_open)
    }

    /// [`CircuitBreaker::close`] by name.
    pub fn close(&self, name: &str) -> Result<(), UnknownBreaker> {
        self.control(name, CircuitBreaker::close)
    }
}

/// Why an operator's order by name was refused: no such breaker, or a bad value.
///
/// `#[non_exhaustive]`: an order with a new kind of value may bring a new refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ControlError {
    /// No breaker by that name.
    Unknown(UnknownBreaker),
    /// The order's value was refused (a wait too long, say), naming it.
    Invalid(ConfigError),
}

impl fmt::Display for ControlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControlError::Unknown(e) => e.fmt(f),
            ControlError::Invalid(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ControlError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ControlError::Unknown(e) => Some(e),
            ControlError::Invalid(e) => Some(e),
        }
    }
}

impl From<UnknownBreaker> for ControlError {
    fn from(e: UnknownBreaker) -> Self {
        ControlError::Unknown(e)
    }
}

impl From<ConfigError> for ControlError {
    fn from(e: ConfigError) -> Self {
        ControlError::Invalid(e)
    }
}
