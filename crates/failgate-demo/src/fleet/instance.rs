//! The pieces every step of the story uses: the story's output, the instances and their
//! calls, and how the steps wait for the fleet.

use std::io::{self, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use failgate::Rejected;
use failgate_redis::{FleetBreaker, Mode};
use reqwest::{StatusCode, Url};
use tokio::task::JoinHandle;

use super::config::{build_breaker, masked, FleetArgs, FAILURE_RATE, POLL, REQUEST_TIMEOUT};
use super::report::FleetError;
use crate::scenario::human_state;
use crate::service::{Endpoint, Server, Stats};

/// The story, each line stamped with the time since the start.
pub(super) struct Story<'a> {
    pub(super) start: Instant,
    pub(super) out: &'a mut (dyn Write + Send),
}

impl Story<'_> {
    pub(super) fn say(&mut self, line: impl AsRef<str>) -> io::Result<()> {
        writeln!(
            self.out,
            "[{:>8.3}s] {}",
            self.start.elapsed().as_secs_f64(),
            line.as_ref()
        )?;
        self.out.flush()
    }
}

/// Milliseconds with one decimal: the scale of what the fleet does.
pub(super) fn ms(d: Duration) -> String {
    format!("{:.1}ms", d.as_secs_f64() * 1e3)
}

pub(super) fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.0}%", part as f64 * 100.0 / whole as f64)
    }
}

/// The failure rate that trips the breaker, as a percentage.
pub(super) fn threshold() -> String {
    format!("{:.0}%", FAILURE_RATE * 100.0)
}

/// "the instance" or "all 3 instances".
pub(super) fn every(n: usize) -> String {
    if n == 1 {
        "the instance".into()
    } else {
        format!("all {n} instances")
    }
}

/// Why a call through a breaker failed, as the breaker sees it.
#[derive(Debug)]
pub(super) enum CallError {
    /// The server answered 5xx.
    Status(StatusCode),
    /// No answer.
    Transport(reqwest::Error),
}

/// GET `url`: the status, a 5xx being an error (the breaker's failure).
pub(super) async fn get(client: &reqwest::Client, url: &Url) -> Result<StatusCode, CallError> {
    let response = client
        .get(url.clone())
        .send()
        .await
        .map_err(CallError::Transport)?;
    let status = response.status();
    // Read the body so the connection can be reused.
    let _ = response.bytes().await;
    if status.is_server_error() {
        Err(CallError::Status(status))
    } else {
        Ok(status)
    }
}

/// One instance of the service: its breaker and its HTTP client.
#[derive(Clone)]
pub(super) struct Instance {
    pub(super) number: usize,
    pub(super) breaker: FleetBreaker,
    pub(super) client: reqwest::Client,
}

impl Instance {
    /// GET `url` through the breaker.
    pub(super) async fn call(&self, url: &Url) -> Result<StatusCode, failgate::Error<CallError>> {
        self.breaker.call_async(|| get(&self.client, url)).await
    }

    pub(super) fn request_error(&self, url: &Url, source: reqwest::Error) -> FleetError {
        FleetError::Request {
            instance: self.number,
            url: url.clone(),
            source,
        }
    }
}

/// Spawned tasks, aborted if the story ends early.
pub(super) struct Tasks<T>(pub(super) Vec<JoinHandle<T>>);

impl<T> Drop for Tasks<T> {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Polls `check` every [`POLL`] until it holds (true) or `within` has passed (false).
pub(super) async fn poll_until(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

pub(super) fn describe(error: &failgate::Error<CallError>) -> String {
    match error {
        failgate::Error::Rejected(rejected) => {
            format!("a refusal ({})", describe_rejection(rejected))
        }
        failgate::Error::Inner(CallError::Status(status)) => format!("{}", status.as_u16()),
        failgate::Error::Inner(CallError::Transport(e)) => format!("no answer ({e})"),
    }
}

pub(super) fn describe_rejection(rejected: &Rejected) -> String {
    let state = human_state(rejected.state());
    match rejected.retry_after() {
        Some(d) => format!("circuit {state}, retry after {:.3}s", d.as_secs_f64()),
        None => format!("circuit {state}"),
    }
}

/// The fleet in the story: its instances and the one service they all call.
pub(super) struct Fleet {
    pub(super) instances: Vec<Instance>,
    /// The Redis URL, for messages (masked when shown).
    pub(super) redis: Url,
    pub(super) success: Url,
    pub(super) failure: Url,
    /// The service's counters: what reached it, whatever the instances think.
    pub(super) stats: Arc<Stats>,
}

impl Fleet {
    /// The in-process service's base URL.
    pub(super) fn base_url(server: &Server) -> Result<Url, FleetError> {
        Url::parse(&server.url()).map_err(|e| FleetError::Invalid {
            field: "service",
            reason: e.to_string(),
        })
    }

    /// `--instances` instances calling the service at `base`, each with its own breaker
    /// (one breaker through the shared `namespace`) and its own HTTP client.
    pub(super) fn build(
        args: &FleetArgs,
        namespace: &str,
        base: &Url,
        server: &Server,
    ) -> Result<Self, FleetError> {
        let endpoint = |e: Endpoint| base.join(e.as_str()).expect("an endpoint joins the base");
        let mut instances = Vec::with_capacity(args.instances as usize);
        for number in 1..=args.instances as usize {
            let client = reqwest::Client::builder()
                .no_proxy()
                .timeout(REQUEST_TIMEOUT)
                .build()
                .map_err(FleetError::Client)?;
            instances.push(Instance {
                number,
                breaker: build_breaker(args, namespace)?,
                client,
            });
        }
        Ok(Self {
            instances,
            redis: args.redis.clone(),
            success: endpoint(Endpoint::Success),
            failure: endpoint(Endpoint::Failure),
            stats: Arc::clone(server.stats()),
        })
    }

    /// How many instances there are.
    pub(super) fn len(&self) -> usize {
        self.instances.len()
    }

    /// Instance 1, the one that trips the breaker and reads the shared window back.
    pub(super) fn first(&self) -> &Instance {
        &self.instances[0]
    }

    /// Every instance still shares the breaker through Redis (`step` names where not).
    pub(super) fn check_shared(&self, step: u32) -> Result<(), FleetError> {
        match self
            .instances
            .iter()
            .find(|i| i.breaker.mode() != Mode::Shared)
        {
            Some(i) => Err(FleetError::RedisLost {
                instance: i.number,
                url: masked(&self.redis),
                step,
            }),
            None => Ok(()),
        }
    }
}
