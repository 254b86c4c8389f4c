//! [`Template`]: what a [`BreakerMap`](super::BreakerMap) builds each key's breaker
//! from, so that one map serves every kind of breaker.

use crate::contract::Breaker;
use crate::policy::WindowKind;
use crate::{Builder, CircuitBreaker, ConfigError};
use std::time::Duration;

/// A recipe for breakers, one per key: the local [`Builder`], or a fleet-wide
/// breaker's builder (in `failgate-redis`). The map checks it once, then builds a
/// breaker for each new key (the local builder names it `"{name}:{key}"`).
pub trait Template: Send + Sync + 'static {
    /// The breakers it builds.
    type Breaker: Breaker + Clone + Send + Sync + 'static;
    /// What a bad template is.
    type Error: From<ConfigError>;

    /// Checks the template once, before the map is made, so that
    /// [`build_for`](Self::build_for) cannot fail afterwards. Returns how long a closed
    /// breaker's failures count once its key goes idle, by default.
    fn check(&mut self) -> Result<Duration, Self::Error>;

    /// The breaker of `key` (the key as text), from a checked template. Breakers of
    /// different keys share nothing.
    fn build_for(&self, key: &str) -> Self::Breaker;

    /// Now, in nanoseconds, on the clock the breakers read.
    fn now(&self) -> u64;

    /// How many handles on `breaker` exist (the map's own included): a breaker with
    /// others is in use, and never evicted.
    fn handles(breaker: &Self::Breaker) -> usize;

    /// `None` unless `breaker` is closed; then whether it counts a failure (or a slow
    /// call) that an eviction would forget.
    fn closed_failing(breaker: &Self::Breaker) -> Option<bool>;
}

impl Template for Builder {
    type Breaker = CircuitBreaker;
    type Error = ConfigError;

    fn check(&mut self) -> Result<Duration, ConfigError> {
        let settings = self.settings()?;
        // Every breaker of the map, and the map's sweep, read this one clock.
        self.fixed_clock();
        let name = format!("{}:check", self.current_name());
        self.clone().name(name).build()?;
        let span = match settings.window {
            Some(WindowKind::Time { span, .. }) => span,
            _ => Duration::ZERO,
        };
        Ok(settings.backoff.wait(0).max(span))
    }

    fn build_for(&self, key: &str) -> CircuitBreaker {
        let name = format!("{}:{key}", self.current_name());
        match self.clone().name(name).build() {
            Ok(breaker) => breaker,
            // Unreachable: `check` built this template, and the name is not empty.
            Err(e) => unreachable!("a checked template failed to build: {e}"),
        }
    }

    fn now(&self) -> u64 {
        self.clock_now()
    }

    fn handles(breaker: &CircuitBreaker) -> usize {
        breaker.handles()
    }

    fn closed_failing(breaker: &CircuitBreaker) -> Option<bool> {
        breaker.closed_failing()
    }
}
