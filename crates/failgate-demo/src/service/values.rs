//! The values a client may set, as flags or query parameters: a failure ratio and a
//! delay, each checked with a message that names what was wrong.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The failure ratio of `/random` when `--failure-ratio` is not given.
pub const DEFAULT_FAILURE_RATIO: Ratio = Ratio(0.5);

/// The longest delay accepted from `--latency` or `?delay=`. A bound keeps a stray
/// `?delay=9999h` from pinning a connection (and graceful shutdown) for ever.
pub const MAX_DELAY: Duration = Duration::from_secs(60);

/// Why a ratio or delay value was refused. The text completes
/// "invalid value 'X' for 'parameter': ...", the form clap and the HTTP errors use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidValue {
    /// Not a decimal number at all.
    #[error("expected a number between 0 and 1, such as 0.25")]
    NotANumber,
    /// `NaN` parses as a float but is no probability.
    #[error("NaN is not a probability; expected a number between 0 and 1")]
    NaN,
    /// A number outside `[0, 1]` (infinities included).
    #[error("must be between 0 and 1 (inclusive)")]
    OutOfRange,
    /// Not a duration humantime understands.
    #[error("expected a duration such as 100ms, 2s or 1m ({0})")]
    NotADuration(String),
    /// A duration above [`MAX_DELAY`].
    #[error("must be at most {}", humantime::format_duration(MAX_DELAY))]
    TooLong,
}

/// A probability in `[0, 1]`: the share of `/random` requests that answer 500.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Ratio(f64);

impl Ratio {
    /// Checks that `value` is a finite number in `[0, 1]`.
    pub fn new(value: f64) -> Result<Self, InvalidValue> {
        if value.is_nan() {
            Err(InvalidValue::NaN)
        } else if (0.0..=1.0).contains(&value) {
            Ok(Self(value))
        } else {
            Err(InvalidValue::OutOfRange)
        }
    }

    /// The probability as a float in `[0, 1]`.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl FromStr for Ratio {
    type Err = InvalidValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let value: f64 = s.trim().parse().map_err(|_| InvalidValue::NotANumber)?;
        Self::new(value)
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Parses a delay such as `100ms`, `2s` or `0` (humantime syntax), at most [`MAX_DELAY`].
pub fn parse_delay(s: &str) -> Result<Duration, InvalidValue> {
    let delay = humantime::parse_duration(s.trim())
        .map_err(|e| InvalidValue::NotADuration(e.to_string()))?;
    if delay > MAX_DELAY {
        return Err(InvalidValue::TooLong);
    }
    Ok(delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_accepts_the_closed_unit_interval() {
        assert_eq!("0".parse::<Ratio>().map(Ratio::get), Ok(0.0));
        assert_eq!("1".parse::<Ratio>().map(Ratio::get), Ok(1.0));
        assert_eq!(" 0.25 ".parse::<Ratio>().map(Ratio::get), Ok(0.25));
    }

    #[test]
    fn ratio_refuses_everything_else() {
        assert_eq!("1.5".parse::<Ratio>(), Err(InvalidValue::OutOfRange));
        assert_eq!("-0.1".parse::<Ratio>(), Err(InvalidValue::OutOfRange));
        assert_eq!("inf".parse::<Ratio>(), Err(InvalidValue::OutOfRange));
        assert_eq!("NaN".parse::<Ratio>(), Err(InvalidValue::NaN));
        assert_eq!("nan".parse::<Ratio>(), Err(InvalidValue::NaN));
        assert_eq!("abc".parse::<Ratio>(), Err(InvalidValue::NotANumber));
        assert_eq!("".parse::<Ratio>(), Err(InvalidValue::NotANumber));
    }

    #[test]
    fn delay_parses_humantime() {
        assert_eq!(parse_delay("0"), Ok(Duration::ZERO));
        assert_eq!(parse_delay("50ms"), Ok(Duration::from_millis(50)));
        assert_eq!(parse_delay("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_delay("1m"), Ok(MAX_DELAY));
    }

    #[test]
    fn delay_refuses_garbage_and_huge_values() {
        assert!(matches!(
            parse_delay("abc"),
            Err(InvalidValue::NotADuration(_))
        ));
        assert!(matches!(
            parse_delay("50"),
            Err(InvalidValue::NotADuration(_))
        ));
        assert!(matches!(
            parse_delay("-1s"),
            Err(InvalidValue::NotADuration(_))
        ));
        assert_eq!(parse_delay("61s"), Err(InvalidValue::TooLong));
        assert_eq!(parse_delay("9999999h"), Err(InvalidValue::TooLong));
    }
}
