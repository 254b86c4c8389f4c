//! A [`Registry`] built from a file, and reloading it: the file is checked whole
//! first, then each breaker whose settings changed is swapped for a new one.
//!
//! The registry remembers the file ([`FileSource`]): a breaker's settings are
//! [`RegistryConfig::settings_for`] its name, before and after, so a breaker that
//! `get_or_create` made from the defaults follows a change of the defaults.

use super::error::{config_error, FileError};
use super::schema::{BreakerConfig, RegistryConfig};
use crate::breaker::CircuitBreaker;
use crate::config::Builder;
use crate::registry::Registry;
use std::collections::HashMap;
use std::fmt;
use std::path::Path;

/// What a file-built registry remembers: the builder its breakers start from (clock,
/// observers) and the file's settings.
pub(crate) struct FileSource {
    base: Builder,
    config: RegistryConfig,
}

/// What a [`Registry::reload`] did, by breaker name (each list sorted).
///
/// `#[non_exhaustive]`: read its fields; a later release may report more.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReloadReport {
    /// Breakers the new file names that did not exist: made now.
    pub added: Vec<String>,
    /// Breakers whose settings changed: each is a new breaker, in its settings'
    /// initial state (closed unless they set `initial_state`), with empty counts; it
    /// emitted [`EventKind::Reconfigured`](crate::EventKind::Reconfigured).
    pub rebuilt: Vec<String>,
    /// Breakers the old file named and the new one does not: no longer listed.
    pub removed: Vec<String>,
    /// Breakers whose settings did not change: the same breakers, state and all.
    pub unchanged: Vec<String>,
}

impl ReloadReport {
    /// True if the reload added, rebuilt or removed nothing.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.rebuilt.is_empty() && self.removed.is_empty()
    }
}

impl fmt::Display for ReloadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return write!(f, "nothing changed ({} unchanged)", self.unchanged.len());
        }
        let mut parts = Vec::new();
        for (verb, names) in [
            ("added", &self.added),
            ("rebuilt", &self.rebuilt),
            ("removed", &self.removed),
        ] {
            if !names.is_empty() {
                parts.push(format!("{verb} {}", names.join(", ")));
            }
        }
        write!(
            f,
            "{}; {} unchanged",
            parts.join("; "),
            self.unchanged.len()
        )
    }
}

/// The breakers' templates a file describes over `base`, each checked by building it.
type Templates = (Builder, HashMap<String, Builder>);

impl RegistryConfig {
    fn templates(&self, base: &Builder) -> Result<Templates, FileError> {
        self.validate()?;
        let defaults = self.defaults.apply(base.clone());
        defaults
            .clone()
            .build()
            .map_err(|e| config_error("defaults", &e))?;
        let mut overrides = HashMap::with_capacity(self.breakers.len());
        for name in self.breakers.keys() {
            let template = self.settings_for(name).apply(base.clone().name(name));
            template
                .clone()
                .build()
                .map_err(|e| config_error(&format!("breakers.{name}"), &e))?;
            overrides.insert(name.clone(), template);
        }
        Ok((defaults, overrides))
    }

    /// Like [`registry`](Self::registry), with every breaker built over `base`: its
    /// clock, its observers and classifier-free settings the file does not set (the
    /// file's values win). The registry can then [`reload`](Registry::reload) a file.
    ///
    /// ```
    /// # #[cfg(feature = "toml")] {
    /// use failgate::config_file::RegistryConfig;
    /// use failgate::{CircuitBreaker, ManualClock};
    ///
    /// let config = RegistryConfig::from_toml_str("[breakers.db]\nconsecutive_failures = 3\n").unwrap();
    /// let registry = config.registry_with(CircuitBreaker::builder().clock(ManualClock::new())).unwrap();
    /// assert_eq!(registry.names(), ["db"]);
    /// # }
    /// ```
    pub fn registry_with(&self, base: Builder) -> Result<Registry, FileError> {
        let (defaults, overrides) = self.templates(&base)?;
        let source = FileSource {
            base,
            config: self.clone(),
        };
        let registry = Registry::from_file(defaults, overrides, source);
        for name in self.breakers.keys() {
            registry
                .get_or_create(name)
                .map_err(|e| config_error(&format!("breakers.{name}"), &e))?;
        }
        Ok(registry)
    }
}

/// What a reload does to one listed breaker.
enum Step {
    Keep,
    Rebuild(CircuitBreaker),
    Remove,
}

impl Registry {
    /// Applies `config` to a registry built from a file
    /// ([`RegistryConfig::registry`] or [`registry_with`](RegistryConfig::registry_with)),
    /// as Polly's options monitor does:
    ///
    /// - a breaker whose settings ([`RegistryConfig::settings_for`] its name) did not
    ///   change is kept, state and counts and all: `get` returns the same breaker;
    /// - one whose settings changed is replaced by a new breaker (in its settings'
    ///   initial state, closed unless they set `initial_state`; empty counts), which emits [`EventKind::Reconfigured`](crate::EventKind::Reconfigured)
    ///   to its observers (rebuilt breakers emit theirs in name order). This includes
    ///   breakers `get_or_create` made from the defaults, when the defaults change;
    /// - one the old file named and the new one does not is no longer listed (`get`,
    ///   `names`, `snapshot` and control by name do not see it; `get_or_create` makes
    ///   a new one from the defaults);
    /// - breakers the new file names are made.
    ///
    /// Handles taken before the reload (clones, tower layers, per-key maps) keep the
    /// breaker they hold, which goes on working on its own with its old settings: a
    /// caller that wants the new settings asks the registry again. Nothing is added
    /// to the call path for this.
    ///
    /// The whole file is checked first: an invalid one changes nothing and returns its
    /// error, with the path of the key. Reloads, and first `get_or_create`s, take the
    /// registry's lock, so they never interleave; lookups of existing breakers take no
    /// lock and see each name switch at once, though not all names at the same moment.
    /// A registry not built from a file refuses to reload.
    pub fn reload(&self, config: &RegistryConfig) -> Result<ReloadReport, FileError> {
        let shared = self.shared();
        let mut templates = shared.templates();
        let Some(source) = templates.file.as_ref() else {
            return Err(FileError::new(
                "",
                "this registry was not built from a configuration file: nothing to reload",
            ));
        };
        let (defaults, overrides) = config.templates(&source.base)?;
        let old = &source.config;
        let make = |name: &str| {
            let template = overrides.get(name).unwrap_or(&defaults);
            template
                .clone()
                .name(name)
                .build()
                .map_err(|e| config_error(&format!("breakers.{name}"), &e))
        };
        // Every new breaker is built before the first is swapped in.
        let breakers = shared.breakers.pin();
        let mut steps: Vec<(String, Step)> = Vec::new();
        for (name, _) in breakers.iter() {
            let step = if old.breakers.contains_key(name) && !config.breakers.contains_key(name) {
                Step::Remove
            } else if old.settings_for(name) == config.settings_for(name) {
                Step::Keep
            } else {
                Step::Rebuild(make(name)?)
            };
            steps.push((name.clone(), step));
        }
        // The map's order is arbitrary: apply (and emit events) in name order.
        steps.sort_by(|a, b| a.0.cmp(&b.0));
        let mut added = Vec::new();
        for name in config.breakers.keys() {
            if breakers.get(name).is_none() {
                added.push((name.clone(), make(name)?));
            }
        }

        let mut report = ReloadReport::default();
        for (name, step) in steps {
            match step {
                Step::Keep => report.unchanged.push(name),
                Step::Remove => {
                    breakers.remove(&name);
                    report.removed.push(name);
                }
                Step::Rebuild(new) => {
                    let previous = breakers.insert(name.clone(), new.clone());
                    let previous = previous.map_or(crate::State::Closed, CircuitBreaker::state);
                    new.reconfigured(previous);
                    report.rebuilt.push(name);
                }
            }
        }
        for (name, new) in added {
            breakers.insert(name.clone(), new);
            report.added.push(name);
        }
        templates.defaults = defaults;
        templates.overrides = overrides;
        if let Some(source) = templates.file.as_mut() {
            source.config = config.clone();
        }
        for list in [
            &mut report.added,
            &mut report.rebuilt,
            &mut report.removed,
            &mut report.unchanged,
        ] {
            list.sort();
        }
        Ok(report)
    }

    /// Reads the file at `path` ([`RegistryConfig::from_path`]) and
    /// [`reload`](Self::reload)s it. An error names the file
    /// ([`FileError::file`]) and the key.
    pub fn reload_file(&self, path: impl AsRef<Path>) -> Result<ReloadReport, FileError> {
        let path = path.as_ref();
        RegistryConfig::from_path(path)
            .and_then(|config| self.reload(&config))
            .map_err(|e| e.in_file(path))
    }

    /// The settings of the listed breaker `name`, as the file the registry was built
    /// from (or last reloaded) gives them; `None` if it is not listed or the registry
    /// was not built from a file.
    pub fn settings_of(&self, name: &str) -> Option<BreakerConfig> {
        let templates = self.shared().templates();
        let source = templates.file.as_ref()?;
        self.shared().breakers.pin().get(name)?;
        Some(source.config.settings_for(name))
    }
}
