//! From a file's settings to a builder: merging a breaker's settings over the
//! defaults, applying them, and the checks serde cannot make.

use super::error::FileError;
use super::schema::BreakerConfig;
use crate::backoff::Backoff;
use crate::config::Builder;
use crate::policy::Window;

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
            initial_state: self.initial_state.or(base.initial_state),
            half_open_failure_rate: self.half_open_failure_rate.or(base.half_open_failure_rate),
            forget_failures_after: self.forget_failures_after.or(base.forget_failures_after),
            totals: self.totals.or(base.totals),
            sample_errors: self.sample_errors.or(base.sample_errors),
        }
    }

    /// Applies the settings to `builder`. Values are checked later, by `build()`;
    /// [`RegistryConfig::validate`](super::RegistryConfig::validate) checks them all with their paths.
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
        if let Some(s) = self.initial_state {
            b = b.initial_state(s.0);
        }
        if let Some(r) = self.half_open_failure_rate {
            b = b.half_open_failure_rate(r);
        }
        if let Some(d) = self.forget_failures_after {
            b = b.forget_failures_after(d.0);
        }
        if let Some(keep) = self.totals {
            b = b.totals(keep);
        }
        if let Some(n) = self.sample_errors {
            b = b.sample_errors(n);
        }
        b
    }

    /// Checks what serde cannot: the shape of the window and of the wait.
    pub(super) fn check_shape(&self, path: &str) -> Result<(), FileError> {
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
