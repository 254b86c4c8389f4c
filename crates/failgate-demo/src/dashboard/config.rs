//! How to run a [`Watch`](super::Watch): its settings, their defaults and checks, and
//! why it could not start.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use failgate::ConfigError;

use super::guard::{AllowedHost, ControlToken};
use super::lanes::{default_lanes, Lane};
use super::traffic::Target;
use crate::service;
use crate::serving::{InvalidLimit, Limits};

/// The dashboard's address when `--addr` is not given.
pub const DEFAULT_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9000);

/// Calls per second and lane when `--rate` is not given.
pub const DEFAULT_RATE: f64 = 20.0;

/// The highest `--rate` accepted, per lane.
pub const MAX_RATE: f64 = 50.0;

/// How often the registry is sampled (for `/events`, the history and the gauges).
pub const DEFAULT_SAMPLE_EVERY: Duration = Duration::from_millis(500);

/// How often a summary of every lane is logged at INFO.
pub const DEFAULT_SUMMARY_EVERY: Duration = Duration::from_secs(5);

/// How many samples the history keeps: 3 minutes at the default interval.
pub const DEFAULT_HISTORY: usize = 360;

/// How to run a [`Watch`](super::Watch).
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the dashboard listens; port 0 picks a free port.
    pub addr: SocketAddr,
    /// Where the traffic goes; `None` starts the flaky service in-process on a free
    /// loopback port.
    pub target: Option<Target>,
    /// Seed of the in-process service's RNG (random when `None`).
    pub seed: Option<u64>,
    /// Calls per second of each lane, in `(0, MAX_RATE]`.
    pub rate: f64,
    /// The lanes: at least one, with distinct names.
    pub lanes: Vec<Lane>,
    /// A configuration file whose `breakers` give the lanes they name their settings
    /// (over the file's defaults), reloaded on SIGHUP and when it changes (see
    /// [`reload`](super::reload)). `None`: the lanes keep their own settings.
    pub config_file: Option<std::path::PathBuf>,
    /// How often to sample the registry (non-zero).
    pub sample_every: Duration,
    /// How many samples to keep for the charts (at least 1).
    pub history: usize,
    /// How often to log a summary of every lane at INFO (non-zero).
    pub summary_every: Duration,
    /// The secret `POST /control/...` must carry; `None` asks for none (fine on
    /// loopback; beyond it, [`Watch::spawn`](super::Watch::spawn) warns).
    pub control_token: Option<ControlToken>,
    /// Names the dashboard answers to besides its address, `localhost`, `127.0.0.1`
    /// and `[::1]`: every other `Host` is refused (a DNS-rebinding guard).
    pub allowed_hosts: Vec<AllowedHost>,
    /// The dashboard server's header (and idle) timeout, request timeout and
    /// connection cap.
    pub limits: Limits,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: DEFAULT_ADDR,
            target: None,
            seed: None,
            rate: DEFAULT_RATE,
            lanes: default_lanes(),
            config_file: None,
            sample_every: DEFAULT_SAMPLE_EVERY,
            history: DEFAULT_HISTORY,
            summary_every: DEFAULT_SUMMARY_EVERY,
            control_token: None,
            allowed_hosts: Vec::new(),
            limits: Limits::default(),
        }
    }
}

impl Config {
    /// The defaults with the dashboard on `127.0.0.1:0`: what tests use.
    pub fn ephemeral() -> Self {
        Self {
            addr: SocketAddr::new(DEFAULT_ADDR.ip(), 0),
            ..Self::default()
        }
    }
}

/// Why a [`Watch`](super::Watch) could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// A setting is out of range.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The flag or field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A connection limit is out of range.
    #[error(transparent)]
    Limit(#[from] InvalidLimit),
    /// A lane's breaker settings were refused.
    #[error("invalid breaker configuration: {0}")]
    Breaker(#[from] ConfigError),
    /// The dashboard's socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The requested address.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// The in-process flaky service did not start or stop cleanly.
    #[error("in-process flaky service: {0}")]
    Service(#[from] service::ServeError),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    /// The dashboard server failed.
    #[error("dashboard server error: {0}")]
    Io(#[from] io::Error),
    /// A task panicked or was cancelled.
    #[error("task ended abnormally: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Checks what [`Config`] cannot express in its types.
pub(super) fn validate(config: &Config) -> Result<(), WatchError> {
    let invalid = |field, reason: String| Err(WatchError::Invalid { field, reason });
    if !(config.rate > 0.0 && config.rate <= MAX_RATE) {
        return invalid(
            "rate",
            format!(
                "{} is not a rate in (0, {MAX_RATE}] calls per second",
                config.rate
            ),
        );
    }
    if config.lanes.is_empty() {
        return invalid("lanes", "at least one lane is needed".into());
    }
    for (i, lane) in config.lanes.iter().enumerate() {
        if config.lanes[..i].iter().any(|l| l.name == lane.name) {
            return invalid("lanes", format!("two lanes are named {:?}", lane.name));
        }
    }
    if config.sample_every.is_zero() {
        return invalid("sample_every", "must be longer than zero".into());
    }
    if config.summary_every.is_zero() {
        return invalid("summary_every", "must be longer than zero".into());
    }
    if config.history == 0 {
        return invalid("history", "must keep at least one sample".into());
    }
    Ok(())
}
