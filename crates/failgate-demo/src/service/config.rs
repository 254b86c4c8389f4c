//! How to run the service, and the endpoints it answers.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::values::{Ratio, DEFAULT_FAILURE_RATIO};
use crate::serving::Limits;

/// The address `serve` listens on when `--addr` is not given.
pub const DEFAULT_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 5000);

/// How to run the service.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where to listen; port 0 picks a free port.
    pub addr: SocketAddr,
    /// Share of `/random` requests answered with 500.
    pub failure_ratio: Ratio,
    /// Delay before every endpoint answer (not 400/404 errors or `/stats`).
    pub latency: Duration,
    /// Seed of the `/random` RNG; `None` draws one (and logs it, so a run can be replayed).
    pub seed: Option<u64>,
    /// The header (and idle) timeout, request timeout and connection cap.
    pub limits: Limits,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: DEFAULT_ADDR,
            failure_ratio: DEFAULT_FAILURE_RATIO,
            latency: Duration::ZERO,
            seed: None,
            limits: Limits::default(),
        }
    }
}

impl Config {
    /// The default configuration on `127.0.0.1:0`: what tests and the in-process
    /// scenario use.
    pub fn ephemeral() -> Self {
        Self {
            addr: SocketAddr::new(DEFAULT_ADDR.ip(), 0),
            ..Self::default()
        }
    }
}

/// The four endpoints of the flaky service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Endpoint {
    /// `GET /success`: always 200.
    Success,
    /// `GET /failure`: always 500.
    Failure,
    /// `GET /random`: 500 with the failure ratio, else 200.
    Random,
    /// `GET /health`: always 200.
    Health,
}

impl Endpoint {
    /// The endpoint's name, which is also its path without the leading slash.
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Success => "success",
            Endpoint::Failure => "failure",
            Endpoint::Random => "random",
            Endpoint::Health => "health",
        }
    }

    /// The endpoint's path, e.g. `/success`.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Success => "/success",
            Endpoint::Failure => "/failure",
            Endpoint::Random => "/random",
            Endpoint::Health => "/health",
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
