//! `failgate-demo fleet`: several instances of a service share one circuit breaker
//! through Redis ([`failgate_redis::FleetBreaker`]).
//!
//! The demo runs `--instances` instances in-process, each with its own `FleetBreaker`
//! (all built with the same namespace and name, so they are one breaker) and its own
//! HTTP client, against one flaky service it starts on a free loopback port. The
//! namespace is unique to the run (`demo-<pid>-<unix nanos>`), so a rerun never sees an
//! earlier run's state, and its keys expire a minute after the run.
//!
//! The story, with every figure measured during the run:
//! 1. every instance is closed and calls `/success`; the shared window adds their counts;
//! 2. instance 1 alone calls `/failure` until the shared window trips the breaker;
//! 3. every instance refuses (each by its own observation, polling its breaker), and the
//!    service's counters show that nothing reached it while the breaker was open;
//! 4. once the open wait is over, every instance calls at once, repeatedly: the service
//!    counts how many probes reached it fleet-wide (at most [`HALF_OPEN_PERMITS`]);
//! 5. the probes succeed and every instance sees the breaker closed.
//!
//! Without a reachable Redis the breakers stay in their local fallback
//! ([`Mode::Local`]); the demo waits [`CONNECT_WAIT`] for them to reach it, then stops
//! with an error naming the URL.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Args;
use failgate::{Rejected, State};
use failgate_redis::{FleetBreaker, FleetConfigError, Mode};
use reqwest::{StatusCode, Url};
use tokio::task::JoinHandle;

use crate::scenario::human_duration;
use crate::service::{self, Endpoint, Server};

/// The breaker's name (its keys are `failgate:<namespace>:flaky:*`).
pub const BREAKER_NAME: &str = "flaky";
/// Default `--instances`.
pub const DEFAULT_INSTANCES: u32 = 3;
/// The most instances `--instances` accepts.
pub const MAX_INSTANCES: u32 = 64;
/// Default `--redis`.
pub const DEFAULT_REDIS: &str = "redis://127.0.0.1:6379";
/// The breaker trips when at least this share of the shared window's calls failed...
pub const FAILURE_RATE: f64 = 0.5;
/// ...once the window holds at least this many calls, fleet-wide.
pub const MINIMUM_CALLS: u64 = 4;
/// The shared window's span (in 10 buckets): longer than the story.
pub const WINDOW: Duration = Duration::from_secs(30);
/// How long the breaker stays open.
pub const OPEN_FOR: Duration = Duration::from_secs(2);
/// Probes the whole fleet may send while half-open; that many successes close it.
pub const HALF_OPEN_PERMITS: u32 = 2;
/// How often each instance flushes its counts to Redis (and polls the shared state).
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(20);
/// How long the demo waits for every breaker to reach Redis ([`Mode::Shared`]).
pub const CONNECT_WAIT: Duration = Duration::from_secs(2);
/// Calls to `/success` each instance makes in step 1.
pub const WARM_UP_CALLS: u32 = 2;

/// The longest a breaker's background task waits on Redis before falling back to local
/// breaking: generous, so a loaded machine does not flap into fallback mid-story.
const REDIS_TIMEOUT: Duration = Duration::from_millis(500);
/// Reopen if the probes never report (an instance died holding a permit).
const HALF_OPEN_TIMEOUT: Duration = Duration::from_secs(5);
/// The shared keys expire this long after the run's last write.
const KEY_TTL: Duration = Duration::from_secs(60);
/// How often the watchers poll their breaker.
const POLL: Duration = Duration::from_millis(1);
/// The longest the demo waits for Redis to count a call, or for an instance to see a
/// transition, before it calls the story broken.
const SETTLE_WAIT: Duration = Duration::from_secs(2);
/// Attempts per instance while the breaker is open, and their spacing.
const OPEN_ATTEMPTS: u32 = 10;
const OPEN_ATTEMPT_EVERY: Duration = Duration::from_millis(50);
/// Spacing of the attempts once the open wait is over, and how long they may go on.
const PROBE_ATTEMPT_EVERY: Duration = Duration::from_millis(2);
/// In step 4 the recovering service answers this slowly (`/success?delay=`), so the
/// half-open period lasts long enough for every instance to try many times.
pub const PROBE_DELAY: Duration = Duration::from_millis(250);
const PROBE_PHASE_LIMIT: Duration = Duration::from_secs(5);
/// Timeout of each HTTP request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The flags of `failgate-demo fleet`.
#[derive(Debug, Clone, Args)]
pub struct FleetArgs {
    /// How many instances share the breaker (1 to 64); each has its own FleetBreaker
    /// and HTTP client.
    #[arg(
        long,
        value_name = "N",
        default_value_t = DEFAULT_INSTANCES,
        value_parser = clap::value_parser!(u32).range(1..=MAX_INSTANCES as i64),
    )]
    pub instances: u32,

    /// The Redis server that holds the shared state (a password goes in as
    /// redis://:PASSWORD@HOST:PORT, a database number as the path: .../2).
    #[arg(long, value_name = "URL", default_value = DEFAULT_REDIS, value_parser = parse_redis_url)]
    pub redis: Url,
}

/// Checks a `--redis` value: a `redis://` URL with a host, and at most a database number
/// as its path. (`rediss://` needs TLS, which the demo is built without.)
pub fn parse_redis_url(s: &str) -> Result<Url, String> {
    const EXPECTED: &str = "expected a redis:// URL such as redis://127.0.0.1:6379";
    let url = Url::parse(s.trim()).map_err(|e| format!("{EXPECTED} ({e})"))?;
    match url.scheme() {
        "redis" => {}
        "rediss" => {
            return Err(format!(
                "rediss:// (TLS) is not supported: the demo is built without TLS; {EXPECTED}"
            ))
        }
        // `localhost:6379` parses as the scheme `localhost`.
        other if !s.contains("://") => {
            return Err(format!(
                "unsupported scheme `{other}`; {EXPECTED} (did you mean redis://{}?)",
                s.trim()
            ))
        }
        other => return Err(format!("unsupported scheme `{other}`; {EXPECTED}")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("no host in the URL; {EXPECTED}"));
    }
    let db = url.path().trim_start_matches('/');
    if !db.is_empty() && db.parse::<u32>().is_err() {
        return Err(format!(
            "the path {:?} is not a database number such as /0; {EXPECTED}",
            url.path()
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("a query or fragment is not allowed; {EXPECTED}"));
    }
    Ok(url)
}

/// The URL with any password replaced by `***`, for messages.
pub fn masked(url: &Url) -> String {
    let mut url = url.clone();
    if url.password().is_some() {
        let _ = url.set_password(Some("***"));
    }
    url.to_string()
}

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

/// The story, each line stamped with the time since the start.
struct Story<'a> {
    start: Instant,
    out: &'a mut (dyn Write + Send),
}

impl Story<'_> {
    fn say(&mut self, line: impl AsRef<str>) -> io::Result<()> {
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
fn ms(d: Duration) -> String {
    format!("{:.1}ms", d.as_secs_f64() * 1e3)
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.0}%", part as f64 * 100.0 / whole as f64)
    }
}

/// The failure rate that trips the breaker, as a percentage.
fn threshold() -> String {
    format!("{:.0}%", FAILURE_RATE * 100.0)
}

/// "the instance" or "all 3 instances".
fn every(n: usize) -> String {
    if n == 1 {
        "the instance".into()
    } else {
        format!("all {n} instances")
    }
}

/// A namespace no earlier run used: `demo-<pid>-<unix nanos>`.
pub fn unique_namespace() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("demo-{}-{nanos}", std::process::id())
}

/// Why a call through a breaker failed, as the breaker sees it.
#[derive(Debug)]
enum CallError {
    /// The server answered 5xx.
    Status(StatusCode),
    /// No answer.
    Transport(reqwest::Error),
}

/// GET `url`: the status, a 5xx being an error (the breaker's failure).
async fn get(client: &reqwest::Client, url: &Url) -> Result<StatusCode, CallError> {
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
struct Instance {
    number: usize,
    breaker: FleetBreaker,
    client: reqwest::Client,
}

impl Instance {
    /// GET `url` through the breaker.
    async fn call(&self, url: &Url) -> Result<StatusCode, failgate::Error<CallError>> {
        self.breaker.call_async(|| get(&self.client, url)).await
    }

    fn request_error(&self, url: &Url, source: reqwest::Error) -> FleetError {
        FleetError::Request {
            instance: self.number,
            url: url.clone(),
            source,
        }
    }
}

/// Spawned tasks, aborted if the story ends early.
struct Tasks<T>(Vec<JoinHandle<T>>);

impl<T> Drop for Tasks<T> {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Polls `check` every [`POLL`] until it holds (true) or `within` has passed (false).
async fn poll_until(within: Duration, mut check: impl FnMut() -> bool) -> bool {
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

fn check_shared(instances: &[Instance], url: &Url, step: u32) -> Result<(), FleetError> {
    match instances.iter().find(|i| i.breaker.mode() != Mode::Shared) {
        Some(i) => Err(FleetError::RedisLost {
            instance: i.number,
            url: masked(url),
            step,
        }),
        None => Ok(()),
    }
}

fn build_breaker(args: &FleetArgs, namespace: &str) -> Result<FleetBreaker, FleetError> {
    Ok(FleetBreaker::builder(BREAKER_NAME)
        .namespace(namespace)
        .redis(args.redis.as_str())
        .failure_rate(FAILURE_RATE)
        .minimum_calls(MINIMUM_CALLS)
        .window(WINDOW, 10)
        .open_for(OPEN_FOR)
        .half_open_permits(HALF_OPEN_PERMITS)
        .half_open_timeout(HALF_OPEN_TIMEOUT)
        .flush_interval(FLUSH_INTERVAL)
        .redis_timeout(REDIS_TIMEOUT)
        .key_ttl(KEY_TTL)
        .build()?)
}

/// Runs the fleet story and writes it to `out`. Returns what it measured.
///
/// The flaky service runs in-process on `127.0.0.1:0` and is stopped at the end.
pub async fn run(args: &FleetArgs, out: &mut (dyn Write + Send)) -> Result<Report, FleetError> {
    if !(1..=MAX_INSTANCES).contains(&args.instances) {
        return Err(FleetError::Invalid {
            field: "instances",
            reason: format!("{} is not in 1..={MAX_INSTANCES}", args.instances),
        });
    }
    parse_redis_url(args.redis.as_str()).map_err(|reason| FleetError::Invalid {
        field: "redis",
        reason,
    })?;
    let mut story = Story {
        start: Instant::now(),
        out,
    };
    let namespace = unique_namespace();
    let server = Server::spawn(service::Config::ephemeral()).await?;
    let result = tell(args, &namespace, &server, &mut story).await;
    let stopped = server.shutdown().await;
    let report = result?;
    stopped?;
    Ok(report)
}

async fn tell(
    args: &FleetArgs,
    namespace: &str,
    server: &Server,
    story: &mut Story<'_>,
) -> Result<Report, FleetError> {
    let n = args.instances as usize;
    let redis = masked(&args.redis);
    let base = Url::parse(&server.url()).map_err(|e| FleetError::Invalid {
        field: "service",
        reason: e.to_string(),
    })?;
    let endpoint = |e: Endpoint| base.join(e.as_str()).expect("an endpoint joins the base");
    let success = endpoint(Endpoint::Success);
    let failure = endpoint(Endpoint::Failure);
    let stats = Arc::clone(server.stats());

    story.say(format!(
        "fleet breaker {BREAKER_NAME:?} in namespace {namespace:?} on {redis}, shared by {n} instance{}",
        if n == 1 { "" } else { "s" }
    ))?;
    story.say(format!(
        "  trips at >= {} failures of >= {MINIMUM_CALLS} calls in the shared window, stays open {}, \
         then {HALF_OPEN_PERMITS} probes for the whole fleet; each instance flushes its counts every {}",
        threshold(),
        human_duration(OPEN_FOR),
        human_duration(FLUSH_INTERVAL),
    ))?;
    story.say(format!("  flaky service in-process at {base}"))?;

    let mut instances = Vec::with_capacity(n);
    for number in 1..=n {
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

    // ---- Redis ----------------------------------------------------------------------
    story.say(format!(
        "connecting to Redis (waiting up to {} for {} to reach it)",
        human_duration(CONNECT_WAIT),
        every(n)
    ))?;
    let connecting = Instant::now();
    let shared = poll_until(CONNECT_WAIT, || {
        instances.iter().all(|i| i.breaker.mode() == Mode::Shared)
    })
    .await;
    if !shared {
        return Err(FleetError::RedisUnreachable {
            url: redis,
            waited: human_duration(CONNECT_WAIT),
            // Why the sync failed, as the breaker keeps it (a refused connection, a
            // wrong password, no answer within the timeout).
            diagnosis: instances
                .iter()
                .find_map(|i| i.breaker.status().last_error)
                .unwrap_or_else(|| "no round trip to Redis finished".to_owned()),
        });
    }
    story.say(format!(
        "{} reached Redis in {} (mode: shared)",
        every(n),
        ms(connecting.elapsed())
    ))?;

    // ---- step 1 ---------------------------------------------------------------------
    story.say(format!(
        "step 1: every instance is CLOSED and calls /success {WARM_UP_CALLS} times"
    ))?;
    let success_before = stats.count(Endpoint::Success);
    let warm_ups = futures::future::join_all(instances.iter().map(|instance| {
        let url = &success;
        async move {
            let state = instance.breaker.state();
            let mut statuses = Vec::new();
            for _ in 0..WARM_UP_CALLS {
                statuses.push(instance.call(url).await);
            }
            (state, statuses)
        }
    }))
    .await;
    for (instance, (state, statuses)) in instances.iter().zip(warm_ups) {
        let mut line = format!(
            "  instance {}: {}, GET /success ->",
            instance.number,
            crate::scenario::human_state(state)
        );
        for status in statuses {
            match status {
                Ok(status) => {
                    let _ = write!(line, " {}", status.as_u16());
                }
                Err(failgate::Error::Inner(CallError::Transport(e))) => {
                    return Err(instance.request_error(&success, e));
                }
                Err(other) => {
                    return Err(FleetError::Broken(format!(
                        "instance {}: a call to /success while closed ended with {}",
                        instance.number,
                        describe(&other)
                    )));
                }
            }
        }
        if state != State::Closed {
            return Err(FleetError::Broken(format!(
                "instance {} started {state}",
                instance.number
            )));
        }
        story.say(line)?;
    }
    let warm_up_total = n as u64 * u64::from(WARM_UP_CALLS);
    let first = &instances[0];
    if !poll_until(SETTLE_WAIT, || {
        first.breaker.status().shared_calls >= warm_up_total
    })
    .await
    {
        return Err(FleetError::Broken(format!(
            "the shared window did not reach {warm_up_total} calls within {}: {:?}",
            human_duration(SETTLE_WAIT),
            first.breaker.status()
        )));
    }
    let status = first.breaker.status();
    story.say(format!(
        "  the service counted {} requests to /success; the shared window in Redis, as instance 1 \
         reads it back: {} calls, {} failures (every instance's calls add up)",
        stats.count(Endpoint::Success) - success_before,
        status.shared_calls,
        status.shared_failures,
    ))?;
    check_shared(&instances, &args.redis, 1)?;

    // ---- step 2 ---------------------------------------------------------------------
    // Every instance watches its own breaker from now on: the first refusal and when.
    let stop = Arc::new(AtomicBool::new(false));
    let mut watchers = Tasks(
        instances
            .iter()
            .map(|instance| {
                let breaker = instance.breaker.clone();
                let stop = Arc::clone(&stop);
                tokio::spawn(async move {
                    loop {
                        match breaker.try_acquire() {
                            Err(rejected) => return Some((Instant::now(), rejected)),
                            // Admitted: dropped unreported, the permit counts nothing.
                            Ok(permit) => drop(permit),
                        }
                        if stop.load(Ordering::Relaxed) {
                            return None;
                        }
                        tokio::time::sleep(POLL).await;
                    }
                })
            })
            .collect(),
    );

    story.say(match n {
        1 => "step 2: instance 1 calls /failure until the fleet breaker trips".to_string(),
        2 => "step 2: instance 1 alone calls /failure until the fleet breaker trips (the other \
              only watches)"
            .to_string(),
        _ => "step 2: instance 1 alone calls /failure until the fleet breaker trips (the others \
              only watch)"
            .to_string(),
    })?;
    let before_failures = stats.snapshot();
    let max_failures = warm_up_total * 2 + MINIMUM_CALLS + 10;
    let mut tripped_at = None;
    let mut sent = 0u64;
    let (mut calls, mut failures) = (status.shared_calls, status.shared_failures);
    while sent < max_failures {
        // The permit is taken by hand so the trip's reference time can be read between
        // the answer and the record that reports it.
        let permit = match first.breaker.try_acquire() {
            Ok(permit) => permit,
            Err(rejected) => {
                return Err(FleetError::Broken(format!(
                    "instance 1 was refused ({rejected}) before Redis counted its failures"
                )))
            }
        };
        let result = get(&first.client, &failure).await;
        let answered = Instant::now();
        match result {
            Err(CallError::Status(_)) => permit.failure(),
            Err(CallError::Transport(e)) => {
                permit.failure();
                return Err(first.request_error(&failure, e));
            }
            Ok(status) => {
                permit.success();
                return Err(FleetError::Broken(format!(
                    "GET /failure answered {status}"
                )));
            }
        }
        sent += 1;
        // Wait for Redis to count it (instance 1 reads the window back) or to trip.
        let counted = poll_until(SETTLE_WAIT, || {
            first.breaker.state() == State::Open
                || first.breaker.status().shared_failures > failures
        })
        .await;
        if !counted {
            return Err(FleetError::Broken(format!(
                "Redis did not count instance 1's failure {sent} within {}",
                human_duration(SETTLE_WAIT)
            )));
        }
        if first.breaker.state() == State::Open {
            story.say(format!(
                "  instance 1: GET /failure -> 500 (failure {sent}): {} of {} calls failed ({} >= {}): \
                 the fleet breaker trips OPEN",
                failures + 1,
                calls + 1,
                percent(failures + 1, calls + 1),
                threshold(),
            ))?;
            tripped_at = Some(answered);
            break;
        }
        let status = first.breaker.status();
        (calls, failures) = (status.shared_calls, status.shared_failures);
        story.say(format!(
            "  instance 1: GET /failure -> 500 (failure {sent}): shared window {calls} calls, \
             {failures} failure{} ({}), still closed",
            if failures == 1 { "" } else { "s" },
            percent(failures, calls),
        ))?;
    }
    let Some(tripped_at) = tripped_at else {
        return Err(FleetError::Broken(format!(
            "{sent} failures did not trip the breaker"
        )));
    };
    let after_failures = stats.snapshot();
    story.say(format!(
        "  the service counted {} requests to /failure (all instance 1's) and {} others meanwhile",
        after_failures.failure - before_failures.failure,
        after_failures.total
            - before_failures.total
            - (after_failures.failure - before_failures.failure),
    ))?;

    // ---- step 3 ---------------------------------------------------------------------
    story.say(format!(
        "step 3: every instance refuses, by its own observation (each polls its breaker every {}; \
         times from the 500 answer that tripped it)",
        human_duration(POLL)
    ))?;
    let mut refused_after = Vec::with_capacity(n);
    let mut never_refused = Vec::new();
    let deadline = tokio::time::Instant::from_std(tripped_at + SETTLE_WAIT);
    for (instance, watcher) in instances.iter().zip(watchers.0.iter_mut()) {
        match tokio::time::timeout_at(deadline, watcher).await {
            Ok(Ok(Some((at, rejected)))) => {
                let after = at.saturating_duration_since(tripped_at);
                refused_after.push(after);
                story.say(format!(
                    "  instance {}: refused {} after the trip ({})",
                    instance.number,
                    ms(after),
                    describe_rejection(&rejected)
                ))?;
            }
            _ => {
                never_refused.push(instance.number);
                story.say(format!(
                    "  instance {}: still admitting calls {} after the trip",
                    instance.number,
                    human_duration(SETTLE_WAIT)
                ))?;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    drop(watchers);
    if !never_refused.is_empty() {
        return Err(FleetError::Broken(format!(
            "instance(s) {never_refused:?} never refused after the trip"
        )));
    }

    story.say(format!(
        "  while open, every instance tries GET /success every {}, {OPEN_ATTEMPTS} times:",
        human_duration(OPEN_ATTEMPT_EVERY)
    ))?;
    let open_before = stats.snapshot();
    let attempts = futures::future::join_all(instances.iter().map(|instance| {
        let url = &success;
        async move {
            let (mut refused, mut sent) = (0u32, 0u32);
            for attempt in 0..OPEN_ATTEMPTS {
                if attempt > 0 {
                    tokio::time::sleep(OPEN_ATTEMPT_EVERY).await;
                }
                match instance.call(url).await {
                    Err(failgate::Error::Rejected(_)) => refused += 1,
                    _ => sent += 1,
                }
            }
            (refused, sent)
        }
    }))
    .await;
    let open_after = stats.snapshot();
    let requests_while_open = open_after.total - open_before.total;
    let mut sent_while_open = 0;
    for (instance, (refused, sent)) in instances.iter().zip(&attempts) {
        sent_while_open += sent;
        story.say(format!(
            "    instance {}: {OPEN_ATTEMPTS} attempts, {refused} refused, {sent} sent",
            instance.number
        ))?;
    }
    story.say(format!(
        "  the service received {requests_while_open} requests while the breaker was open \
         (its request counter: {} before, {} after)",
        open_before.total, open_after.total
    ))?;
    check_shared(&instances, &args.redis, 3)?;
    if requests_while_open > 0 || sent_while_open > 0 {
        return Err(FleetError::Broken(format!(
            "{requests_while_open} requests reached the service while the breaker was open"
        )));
    }

    let left = match first.breaker.try_acquire() {
        Err(rejected) => rejected.retry_after().unwrap_or_default(),
        Ok(permit) => {
            drop(permit);
            Duration::ZERO
        }
    };
    story.say(format!(
        "waiting out the open wait: {:.3}s left",
        left.as_secs_f64()
    ))?;
    tokio::time::sleep(left).await;

    // ---- step 4 ---------------------------------------------------------------------
    let mut slow_success = success.clone();
    slow_success.set_query(Some(&format!("delay={}ms", PROBE_DELAY.as_millis())));
    story.say(format!(
        "step 4: the open wait is over; {} call{} /success at once, every {}, \
         until they see the breaker close (the recovering service answers in {}: \
         GET /success?delay={}ms)",
        every(n),
        if n == 1 { "s" } else { "" },
        human_duration(PROBE_ATTEMPT_EVERY),
        human_duration(PROBE_DELAY),
        PROBE_DELAY.as_millis(),
    ))?;
    let probes_before = stats.snapshot();
    let wait_over = Instant::now();
    let mut probing = Tasks(
        instances
            .iter()
            .map(|instance| {
                let instance = instance.clone();
                let url = slow_success.clone();
                tokio::spawn(async move { probe(&instance, &url, wait_over).await })
            })
            .collect(),
    );
    let mut logs = Vec::with_capacity(n);
    for task in probing.0.iter_mut() {
        logs.push(task.await.map_err(|e| {
            FleetError::Broken(format!("an instance's task ended abnormally: {e}"))
        })?);
    }
    drop(probing);
    let probes_after = stats.snapshot();
    let probes_reached = probes_after.total - probes_before.total;
    let mut total_attempts = 0;
    for (instance, log) in instances.iter().zip(logs.iter_mut()) {
        if let Some(error) = log.error.take() {
            return Err(instance.request_error(&success, error));
        }
        total_attempts += log.attempts;
        let mut line = format!(
            "  instance {}: {} attempts: {} admitted as probe{}",
            instance.number,
            log.attempts,
            log.probes.len(),
            if log.probes.len() == 1 { "" } else { "s" },
        );
        if !log.probes.is_empty() {
            let _ = write!(line, " (GET /success ->");
            for status in &log.probes {
                let _ = write!(line, " {}", status.as_u16());
            }
            line.push(')');
        }
        let _ = write!(
            line,
            ", {} refused ({} open, asking Redis for permits; {} half-open, no permit left)",
            log.refused_open + log.refused_half_open,
            log.refused_open,
            log.refused_half_open,
        );
        story.say(line)?;
    }
    story.say(format!(
        "  probes that reached the service, fleet-wide: {probes_reached} of {total_attempts} attempts \
         (its request counter: {} before, {} after; half_open_permits = {HALF_OPEN_PERMITS})",
        probes_before.total, probes_after.total
    ))?;

    // ---- step 5 ---------------------------------------------------------------------
    let all_probes_ok = logs
        .iter()
        .flat_map(|log| &log.probes)
        .all(|status| status.is_success());
    story.say(if all_probes_ok {
        "step 5: the probes succeeded: every instance sees the fleet breaker CLOSED"
    } else {
        "step 5: a probe failed"
    })?;
    let last_probe = logs.iter().filter_map(|log| log.last_probe).max();
    let mut closed_after = Vec::with_capacity(n);
    for (instance, log) in instances.iter().zip(&logs) {
        let state = instance.breaker.state();
        match log.closed_at {
            Some(at) => {
                let after = at.saturating_duration_since(wait_over);
                closed_after.push(after);
                let mut line = format!(
                    "  instance {}: {}, saw CLOSED {} after the open wait ended",
                    instance.number,
                    crate::scenario::human_state(state),
                    ms(after)
                );
                if let Some(last) = last_probe {
                    let _ = write!(
                        line,
                        " ({} after the last probe answered)",
                        ms(at.saturating_duration_since(last))
                    );
                }
                story.say(line)?;
            }
            None => story.say(format!(
                "  instance {}: {}, never saw CLOSED within {}",
                instance.number,
                crate::scenario::human_state(state),
                human_duration(PROBE_PHASE_LIMIT)
            ))?,
        }
    }
    let seen: Vec<Instant> = logs.iter().filter_map(|log| log.closed_at).collect();
    if let (Some(first_seen), Some(last_seen)) = (seen.iter().min(), seen.iter().max()) {
        story.say(format!(
            "  {} of {n} instances saw CLOSED, within {} of each other",
            seen.len(),
            ms(last_seen.saturating_duration_since(*first_seen))
        ))?;
    }
    check_shared(&instances, &args.redis, 5)?;

    // And they call again, through the closed breaker.
    let again_before = stats.count(Endpoint::Success);
    let again = futures::future::join_all(instances.iter().map(|i| i.call(&success))).await;
    let mut line = String::from("  every instance calls /success again:");
    for (instance, result) in instances.iter().zip(again) {
        match result {
            Ok(status) => {
                let _ = write!(line, " {}", status.as_u16());
            }
            Err(failgate::Error::Inner(CallError::Transport(e))) => {
                return Err(instance.request_error(&success, e))
            }
            Err(other) => {
                let _ = write!(line, " {}", describe(&other));
            }
        }
    }
    let _ = write!(
        line,
        " (the service counted {})",
        stats.count(Endpoint::Success) - again_before
    );
    story.say(line)?;

    let refused = refused_after.len();
    let closed = closed_after.len();
    story.say(format!(
        "summary: {refused}/{n} instances refused while open; {requests_while_open} requests reached \
         the service while open; {probes_reached} probes reached the service (half_open_permits {HALF_OPEN_PERMITS}); \
         {closed}/{n} instances closed"
    ))?;

    if probes_reached > u64::from(HALF_OPEN_PERMITS) {
        return Err(FleetError::Broken(format!(
            "{probes_reached} probes reached the service; the fleet has {HALF_OPEN_PERMITS} permits"
        )));
    }
    if !all_probes_ok || closed < n {
        return Err(FleetError::Broken(format!(
            "only {closed} of {n} instances saw the breaker close"
        )));
    }
    Ok(Report {
        namespace: namespace.to_owned(),
        instances: args.instances,
        failures_to_trip: sent,
        refused_after,
        requests_while_open,
        probes_reached,
        half_open_permits: HALF_OPEN_PERMITS,
        closed_after,
    })
}

/// One instance's attempts once the open wait is over.
#[derive(Debug, Default)]
struct ProbeLog {
    attempts: u32,
    refused_open: u32,
    refused_half_open: u32,
    /// The answers to the probes it was allowed to send.
    probes: Vec<StatusCode>,
    last_probe: Option<Instant>,
    closed_at: Option<Instant>,
    /// A probe got no answer.
    error: Option<reqwest::Error>,
}

/// Calls through the breaker every [`PROBE_ATTEMPT_EVERY`] until the instance sees it
/// closed, as an instance serving concurrent requests would: a probe's request runs on
/// its own task while the instance goes on calling. Only probe permits send a request;
/// a call admitted as closed is abandoned unsent (it marks the moment the instance saw
/// the breaker close), so everything that reaches the service in this phase is a probe.
async fn probe(instance: &Instance, url: &Url, start: Instant) -> ProbeLog {
    let mut log = ProbeLog::default();
    let mut in_flight = tokio::task::JoinSet::new();
    let deadline = start + PROBE_PHASE_LIMIT;
    while Instant::now() < deadline {
        if instance.breaker.state() == State::Closed {
            log.closed_at = Some(Instant::now());
            break;
        }
        match instance.breaker.try_acquire_owned() {
            Err(rejected) => {
                log.attempts += 1;
                if rejected.state() == State::HalfOpen {
                    log.refused_half_open += 1;
                } else {
                    log.refused_open += 1;
                }
                tokio::time::sleep(PROBE_ATTEMPT_EVERY).await;
            }
            Ok(permit) if permit.is_probe() => {
                log.attempts += 1;
                let client = instance.client.clone();
                let url = url.clone();
                in_flight.spawn(async move {
                    let result = get(&client, &url).await;
                    match &result {
                        Ok(_) => permit.success(),
                        Err(_) => permit.failure(),
                    }
                    (result, Instant::now())
                });
            }
            Ok(permit) => {
                // Closed between the state read and the admission: abandoned, unsent.
                drop(permit);
                log.closed_at = Some(Instant::now());
                break;
            }
        }
    }
    while let Some(done) = in_flight.join_next().await {
        let Ok((result, answered)) = done else {
            continue;
        };
        log.last_probe = log.last_probe.max(Some(answered));
        match result {
            Ok(status) | Err(CallError::Status(status)) => log.probes.push(status),
            Err(CallError::Transport(e)) => log.error = Some(e),
        }
    }
    log
}

fn describe(error: &failgate::Error<CallError>) -> String {
    match error {
        failgate::Error::Rejected(rejected) => {
            format!("a refusal ({})", describe_rejection(rejected))
        }
        failgate::Error::Inner(CallError::Status(status)) => format!("{}", status.as_u16()),
        failgate::Error::Inner(CallError::Transport(e)) => format!("no answer ({e})"),
    }
}

fn describe_rejection(rejected: &Rejected) -> String {
    let state = crate::scenario::human_state(rejected.state());
    match rejected.retry_after() {
        Some(d) => format!("circuit {state}, retry after {:.3}s", d.as_secs_f64()),
        None => format!("circuit {state}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_urls_must_be_redis_urls_with_a_host() {
        assert!(parse_redis_url("redis://127.0.0.1:6379").is_ok());
        assert!(parse_redis_url("redis://:secret@cache.internal:6380/2").is_ok());
        assert!(parse_redis_url(" redis://localhost ").is_ok());
        let err = parse_redis_url("rediss://cache:6379").unwrap_err();
        assert!(err.contains("TLS"), "{err}");
        let err = parse_redis_url("http://127.0.0.1:6379").unwrap_err();
        assert!(err.contains("unsupported scheme `http`"), "{err}");
        assert!(!err.contains("did you mean"), "{err}");
        let err = parse_redis_url("localhost:6379").unwrap_err();
        assert!(err.contains("did you mean redis://localhost:6379"), "{err}");
        assert!(parse_redis_url("nonsense")
            .unwrap_err()
            .contains("expected a redis://"));
        assert!(parse_redis_url("redis://").is_err());
        let err = parse_redis_url("redis://h/cache").unwrap_err();
        assert!(err.contains("database number"), "{err}");
        assert!(parse_redis_url("redis://h:99999").is_err());
    }

    #[test]
    fn passwords_are_masked() {
        let url = parse_redis_url("redis://user:secret@h:6379/0").unwrap();
        assert_eq!(masked(&url), "redis://user:***@h:6379/0");
        let url = parse_redis_url("redis://127.0.0.1:6379").unwrap();
        assert_eq!(masked(&url), "redis://127.0.0.1:6379");
    }

    #[test]
    fn namespaces_differ_between_runs() {
        let a = unique_namespace();
        let b = unique_namespace();
        assert!(
            a.starts_with(&format!("demo-{}-", std::process::id())),
            "{a}"
        );
        assert_ne!(a, b);
    }
}
