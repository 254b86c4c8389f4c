//! What a fleet run yields: the figures it measured, or why it stopped.

use std::io;
use std::time::Duration;

use failgate_redis::FleetConfigError;
use reqwest::Url;

use crate::service;

/// What the run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The run's key namespace.
    pub namespace: String,
    /// How many instances shared the breaker.
    pub instances: u32,
    /// Requests to `/failure` instance 1 sent before the breaker tripped.
    pub failures_to_trip: u64,
    /// For each instance, how long after the trip it first refused a call.
    pub refused_after: Vec<Duration>,
    /// Requests the service received while the breaker was open.
    pub requests_while_open: u64,
    /// Probe requests that reached the service once the open wait was over.
    pub probes_reached: u64,
    /// The fleet's probe permits.
    pub half_open_permits: u32,
    /// For each instance, when it saw the breaker closed, after the open wait ended.
    pub closed_after: Vec<Duration>,
}

/// Why the fleet demo could not run, or did not go as the breaker promises.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// A setting is out of range.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The flag.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The fleet breaker refused its configuration (a bad Redis URL, say).
    #[error("cannot build the fleet breaker: {0}")]
    Breaker(#[from] FleetConfigError),
    /// Redis did not answer the breakers' first round trips in time.
    #[error(
        "cannot reach Redis at {url}: after {waited} the fleet breakers still decide \
         locally (FleetBreaker::mode() is Local); {diagnosis}. Start a Redis server there \
         (e.g. `redis-server --port 6379`) or pass --redis redis://HOST:PORT"
    )]
    RedisUnreachable {
        /// The URL, password masked.
        url: String,
        /// How long the demo waited.
        waited: String,
        /// Why the breakers' last round trip to Redis failed.
        diagnosis: String,
    },
    /// A breaker fell back to local mode during the story.
    #[error(
        "instance {instance} lost Redis at {url} during step {step} \
         (FleetBreaker::mode() is Local); the story needs Redis throughout"
    )]
    RedisLost {
        /// The instance, from 1.
        instance: usize,
        /// The URL, password masked.
        url: String,
        /// The step it was in.
        step: u32,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    /// The in-process service did not start or stop cleanly.
    #[error("in-process flaky service: {0}")]
    Service(#[from] service::ServeError),
    /// A request to the in-process service got no answer.
    #[error("instance {instance}: GET {url} failed")]
    Request {
        /// The instance, from 1.
        instance: usize,
        /// The URL called.
        url: Url,
        /// reqwest's error.
        #[source]
        source: reqwest::Error,
    },
    /// Something the fleet breaker promises did not happen.
    #[error("the fleet breaker did not keep its promise: {0}")]
    Broken(String),
    /// Writing the story failed (e.g. a closed pipe).
    #[error("cannot write the report: {0}")]
    Output(#[from] io::Error),
}
