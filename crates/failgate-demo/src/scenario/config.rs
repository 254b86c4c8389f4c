//! How to run the scenario: the steps, the flags, their defaults and checks.

use std::str::FromStr;
use std::time::Duration;

use reqwest::Url;

use super::report::ScenarioError;
use crate::service::Endpoint;

/// The nine calls of the seed, in order.
pub const STEPS: [Endpoint; 9] = [
    Endpoint::Failure,
    Endpoint::Failure,
    Endpoint::Failure,
    Endpoint::Success,
    Endpoint::Success,
    Endpoint::Success,
    Endpoint::Failure,
    Endpoint::Failure,
    Endpoint::Success,
];

/// The pause comes after this many steps.
pub const PAUSE_AFTER: usize = 4;

/// The breaker's name in logs and events.
pub const BREAKER_NAME: &str = "flaky";

/// Defaults of the `scenario` flags.
pub const DEFAULT_THRESHOLD: u32 = 2;
/// Default `--open-for`.
pub const DEFAULT_OPEN_FOR: Duration = Duration::from_secs(2);
/// Default `--pause`.
pub const DEFAULT_PAUSE: Duration = Duration::from_secs(3);
/// Default `--timeout` of each HTTP request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How the scenario reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// A timestamped log that tells the story.
    #[default]
    Human,
    /// One JSON object ([`StepReport`](super::StepReport)) per line and step, nothing else
    /// on stdout.
    Json,
}

/// Which HTTP client makes the scenario's calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientKind {
    /// reqwest, each call wrapped in
    /// [`CircuitBreaker::call_async`](failgate::CircuitBreaker::call_async) by hand.
    #[default]
    Direct,
    /// hyper-util's legacy client behind [`CircuitBreakerLayer`] with an [`HttpClassifier`].
    ///
    /// [`CircuitBreakerLayer`]: failgate::tower::CircuitBreakerLayer
    /// [`HttpClassifier`]: failgate::http::HttpClassifier
    Tower,
}

impl ClientKind {
    /// Every kind, as `--client` spells them.
    pub const ALL: [ClientKind; 2] = [ClientKind::Direct, ClientKind::Tower];

    /// The name `--client` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientKind::Direct => "direct",
            ClientKind::Tower => "tower",
        }
    }
}

impl std::fmt::Display for ClientKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ClientKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s.trim())
            .ok_or_else(|| format!("expected `direct` or `tower`, not {s:?}"))
    }
}

/// How to run the scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// A running `failgate-demo serve`; `None` starts the service in-process.
    pub target: Option<Url>,
    /// Consecutive failures that open the circuit (at least 1).
    pub threshold: u32,
    /// How long the circuit stays open before a probe (non-zero).
    pub open_for: Duration,
    /// The pause between steps 4 and 5 (non-zero).
    pub pause: Duration,
    /// Timeout of each HTTP request (non-zero).
    pub timeout: Duration,
    /// Output format.
    pub format: Format,
    /// The HTTP client.
    pub client: ClientKind,
    /// More settings of the breaker, from a configuration file (`--config`): applied
    /// over `threshold` and `open_for`.
    pub settings: Option<failgate::config_file::BreakerConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            target: None,
            threshold: DEFAULT_THRESHOLD,
            open_for: DEFAULT_OPEN_FOR,
            pause: DEFAULT_PAUSE,
            timeout: DEFAULT_TIMEOUT,
            format: Format::Human,
            client: ClientKind::Direct,
            settings: None,
        }
    }
}

/// Checks a `--target` value: an absolute `http` URL with a host. (The flaky service
/// speaks plain HTTP, so the demo's client is built without TLS, which keeps the build
/// small.)
pub fn parse_target(s: &str) -> Result<Url, String> {
    const EXPECTED: &str = "expected an http:// URL such as http://127.0.0.1:5000";
    let url = Url::parse(s.trim()).map_err(|e| format!("{EXPECTED} ({e})"))?;
    match url.scheme() {
        "http" => {}
        "https" => {
            return Err(format!(
                "https is not supported: the demo client speaks plain HTTP, like `failgate-demo serve`; {EXPECTED}"
            ))
        }
        other => {
            return Err(format!(
                "unsupported scheme `{other}`; {EXPECTED} (did you mean http://{s}?)"
            ))
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("no host in the URL; {EXPECTED}"));
    }
    Ok(url)
}

/// Checks a `--threshold` value (at least 1).
pub fn parse_threshold(s: &str) -> Result<u32, String> {
    let n: u32 = s
        .trim()
        .parse()
        .map_err(|_| format!("expected a whole number from 1 to {}", u32::MAX))?;
    if n == 0 {
        return Err(
            "must be at least 1 (the circuit opens after this many consecutive failures)".into(),
        );
    }
    Ok(n)
}

/// Checks a duration flag: humantime syntax (`100ms`, `2s`, `1m`), greater than zero.
pub fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|e| format!("expected a duration such as 100ms, 2s or 1m ({e})"))?;
    if d.is_zero() {
        return Err("must be greater than zero".into());
    }
    Ok(d)
}

/// Checks what [`Config`] cannot express in its types.
pub(super) fn validate(config: &Config) -> Result<(), ScenarioError> {
    let invalid = |field, reason: &str| {
        Err(ScenarioError::Invalid {
            field,
            reason: reason.to_string(),
        })
    };
    if config.threshold == 0 {
        return invalid("threshold", "must be at least 1");
    }
    if config.open_for.is_zero() {
        return invalid("open-for", "must be greater than zero");
    }
    if config.pause.is_zero() {
        return invalid("pause", "must be greater than zero");
    }
    if config.timeout.is_zero() {
        return invalid("timeout", "must be greater than zero");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_must_be_absolute_http_urls() {
        assert!(parse_target("http://127.0.0.1:5000").is_ok());
        assert!(parse_target("http://example.invalid/prefix").is_ok());
        let err = parse_target("https://example.invalid/").unwrap_err();
        assert!(err.contains("https is not supported"), "{err}");
        let err = parse_target("nonsense").unwrap_err();
        assert!(err.contains("expected an http://"), "{err}");
        let err = parse_target("localhost:5000").unwrap_err();
        assert!(err.contains("did you mean http://localhost:5000"), "{err}");
        assert!(parse_target("ftp://host/").is_err());
        assert!(parse_target("http://").is_err());
    }

    #[test]
    fn clients_are_named_as_the_flag_spells_them() {
        for kind in ClientKind::ALL {
            assert_eq!(kind.to_string().parse::<ClientKind>(), Ok(kind));
        }
        assert_eq!(" tower ".parse::<ClientKind>(), Ok(ClientKind::Tower));
        assert_eq!(Config::default().client, ClientKind::Direct);
        assert!("reqwest".parse::<ClientKind>().is_err());
    }

    #[test]
    fn threshold_must_be_positive() {
        assert_eq!(parse_threshold("2"), Ok(2));
        assert!(parse_threshold("0").unwrap_err().contains("at least 1"));
        assert!(parse_threshold("-1").is_err());
        assert!(parse_threshold("two").is_err());
    }

    #[test]
    fn durations_must_be_positive() {
        assert_eq!(
            parse_positive_duration("100ms"),
            Ok(Duration::from_millis(100))
        );
        assert_eq!(parse_positive_duration("60s"), Ok(Duration::from_secs(60)));
        assert!(parse_positive_duration("0s")
            .unwrap_err()
            .contains("greater than zero"));
        assert!(parse_positive_duration("soon").is_err());
    }
}
