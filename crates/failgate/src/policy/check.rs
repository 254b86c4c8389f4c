//! A refused value ([`ConfigError`]) and the range checks that name it. A leaf: the
//! builder uses it, and it knows nothing of the builder.

use crate::Backoff;
use std::fmt;
use std::time::Duration;

/// The longest duration any setting accepts (about 146 years).
pub const MAX_DURATION: Duration = Duration::from_nanos(1 << 62);

/// A configuration value that `build()` refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    field: &'static str,
    value: String,
    problem: String,
}

impl ConfigError {
    pub(crate) fn new(
        field: &'static str,
        value: impl fmt::Debug,
        problem: impl Into<String>,
    ) -> Self {
        ConfigError {
            field,
            value: format!("{value:?}"),
            problem: problem.into(),
        }
    }

    /// The builder field that was wrong, e.g. `"failure_rate"`.
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// The value it was given, as written by `Debug`.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// What the value should have been.
    pub fn problem(&self) -> &str {
        &self.problem
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}: {} {}", self.field, self.value, self.problem)
    }
}

impl std::error::Error for ConfigError {}

pub(crate) fn check_range<T: PartialOrd + fmt::Debug + fmt::Display + Copy>(
    field: &'static str,
    value: T,
    min: T,
    max: T,
) -> Result<(), ConfigError> {
    if value < min {
        Err(ConfigError::new(
            field,
            value,
            format!("must be at least {min}"),
        ))
    } else if value > max {
        Err(ConfigError::new(
            field,
            value,
            format!("must be at most {max}"),
        ))
    } else {
        Ok(())
    }
}

pub(crate) fn check_rate(field: &'static str, rate: f64) -> Result<(), ConfigError> {
    if rate.is_finite() && rate > 0.0 && rate <= 1.0 {
        Ok(())
    } else {
        Err(ConfigError::new(field, rate, "is not in (0, 1]"))
    }
}

pub(crate) fn check_duration(field: &'static str, d: Duration) -> Result<(), ConfigError> {
    if d.is_zero() {
        Err(ConfigError::new(field, d, "must be longer than zero"))
    } else if d > MAX_DURATION {
        Err(ConfigError::new(
            field,
            d,
            format!("must be at most {MAX_DURATION:?}"),
        ))
    } else {
        Ok(())
    }
}

pub(crate) fn check_backoff(b: &Backoff) -> Result<(), ConfigError> {
    if b.exponential {
        check_duration("backoff.base", b.base)?;
        check_duration("backoff.max", b.max)?;
        if b.max < b.base {
            return Err(ConfigError::new(
                "backoff.max",
                b.max,
                format!("is below the base wait {:?}", b.base),
            ));
        }
    } else {
        check_duration("open_for", b.base)?;
    }
    if !(b.jitter.is_finite() && (0.0..1.0).contains(&b.jitter)) {
        return Err(ConfigError::new(
            "backoff.jitter",
            b.jitter,
            "is not in [0, 1)",
        ));
    }
    Ok(())
}
