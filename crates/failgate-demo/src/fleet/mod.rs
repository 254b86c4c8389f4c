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
//! ([`Mode::Local`](failgate_redis::Mode::Local)); the demo waits [`CONNECT_WAIT`] for
//! them to reach it, then stops with an error naming the URL.

mod closed;
mod config;
mod instance;
mod open;
mod recovery;
mod report;

use std::io::Write;
use std::time::Instant;

use crate::service::{self, Server};

use self::closed::{every_instance_warms_up, reach_redis, trip_one_instance, watch_for_refusals};
pub use self::config::{
    masked, parse_redis_url, unique_namespace, FleetArgs, BREAKER_NAME, CONNECT_WAIT,
    DEFAULT_INSTANCES, DEFAULT_REDIS, FAILURE_RATE, FLUSH_INTERVAL, HALF_OPEN_PERMITS,
    MAX_INSTANCES, MINIMUM_CALLS, OPEN_FOR, PROBE_DELAY, WARM_UP_CALLS, WINDOW,
};
use self::instance::{threshold, Fleet, Story};
use self::open::{every_instance_refuses, nothing_reaches_the_service, wait_out_the_open_wait};
use self::recovery::{
    every_instance_calls_again, every_instance_closes, every_instance_probes_at_once,
};
#[doc(inline)]
pub use self::report::{FleetError, Report};
use crate::scenario::human_duration;

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

/// The story, step by step (see the module's docs); each step checks what the breaker
/// promises and stops the story with [`FleetError::Broken`] where it did not hold.
async fn tell(
    args: &FleetArgs,
    namespace: &str,
    server: &Server,
    story: &mut Story<'_>,
) -> Result<Report, FleetError> {
    let base = Fleet::base_url(server)?;
    introduce(args, namespace, &base, story)?;
    let fleet = Fleet::build(args, namespace, &base, server)?;
    reach_redis(&fleet, story).await?;

    let window = every_instance_warms_up(&fleet, story).await?;
    let watchers = watch_for_refusals(&fleet);
    let trip = trip_one_instance(&fleet, window, story).await?;

    let refused_after = every_instance_refuses(&fleet, watchers, trip, story).await?;
    let requests_while_open = nothing_reaches_the_service(&fleet, story).await?;
    wait_out_the_open_wait(&fleet, story).await?;

    let probing = every_instance_probes_at_once(&fleet, story).await?;
    let (closed_after, all_probes_ok) = every_instance_closes(&fleet, &probing, story)?;
    every_instance_calls_again(&fleet, story).await?;

    let report = Report {
        namespace: namespace.to_owned(),
        instances: args.instances,
        failures_to_trip: trip.failures_sent,
        refused_after,
        requests_while_open,
        probes_reached: probing.reached,
        half_open_permits: HALF_OPEN_PERMITS,
        closed_after,
    };
    summarize(&report, story)?;
    if report.probes_reached > u64::from(HALF_OPEN_PERMITS) {
        return Err(FleetError::Broken(format!(
            "{} probes reached the service; the fleet has {HALF_OPEN_PERMITS} permits",
            report.probes_reached
        )));
    }
    let (n, closed) = (fleet.len(), report.closed_after.len());
    if !all_probes_ok || closed < n {
        return Err(FleetError::Broken(format!(
            "only {closed} of {n} instances saw the breaker close"
        )));
    }
    Ok(report)
}

/// The story's opening lines: the breaker, its figures and the service.
fn introduce(
    args: &FleetArgs,
    namespace: &str,
    base: &reqwest::Url,
    story: &mut Story<'_>,
) -> Result<(), FleetError> {
    let n = args.instances;
    let redis = masked(&args.redis);
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
    Ok(())
}

/// The summary line.
fn summarize(report: &Report, story: &mut Story<'_>) -> Result<(), FleetError> {
    let n = report.instances;
    story.say(format!(
        "summary: {}/{n} instances refused while open; {} requests reached \
         the service while open; {} probes reached the service (half_open_permits {HALF_OPEN_PERMITS}); \
         {}/{n} instances closed",
        report.refused_after.len(),
        report.requests_while_open,
        report.probes_reached,
        report.closed_after.len(),
    ))?;
    Ok(())
}
