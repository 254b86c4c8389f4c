//! The story while the breaker is closed: the fleet reaches Redis (before step 1), shares
//! one window (step 1), and instance 1 alone trips it (step 2).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use failgate::{Rejected, State};
use failgate_redis::Mode;
use reqwest::StatusCode;

use super::config::{masked, CONNECT_WAIT, MINIMUM_CALLS, POLL, SETTLE_WAIT, WARM_UP_CALLS};
use super::instance::{
    describe, every, get, ms, percent, poll_until, threshold, CallError, Fleet, Instance, Story,
    Tasks,
};
use super::report::FleetError;
use crate::scenario::{human_duration, human_state};
use crate::service::Endpoint;

/// Waits until every breaker has reached Redis ([`Mode::Shared`]).
pub(super) async fn reach_redis(fleet: &Fleet, story: &mut Story<'_>) -> Result<(), FleetError> {
    story.say(format!(
        "connecting to Redis (waiting up to {} for {} to reach it)",
        human_duration(CONNECT_WAIT),
        every(fleet.len())
    ))?;
    let connecting = Instant::now();
    let shared = poll_until(CONNECT_WAIT, || {
        fleet
            .instances
            .iter()
            .all(|i| i.breaker.mode() == Mode::Shared)
    })
    .await;
    if !shared {
        return Err(FleetError::RedisUnreachable {
            url: masked(&fleet.redis),
            waited: human_duration(CONNECT_WAIT),
            // Why the sync failed, as the breaker keeps it (a refused connection, a
            // wrong password, no answer within the timeout).
            diagnosis: fleet
                .instances
                .iter()
                .find_map(|i| i.breaker.status().last_error)
                .unwrap_or_else(|| "no round trip to Redis finished".to_owned()),
        });
    }
    story.say(format!(
        "{} reached Redis in {} (mode: shared)",
        every(fleet.len()),
        ms(connecting.elapsed())
    ))?;
    Ok(())
}

/// The shared window's counts, as instance 1 reads them back from Redis.
#[derive(Debug, Clone, Copy)]
pub(super) struct Window {
    pub(super) calls: u64,
    pub(super) failures: u64,
}

/// Step 1: every instance is closed and calls `/success`; the shared window adds up
/// every instance's calls.
pub(super) async fn every_instance_warms_up(
    fleet: &Fleet,
    story: &mut Story<'_>,
) -> Result<Window, FleetError> {
    story.say(format!(
        "step 1: every instance is CLOSED and calls /success {WARM_UP_CALLS} times"
    ))?;
    let success_before = fleet.stats.count(Endpoint::Success);
    let warm_ups = futures::future::join_all(fleet.instances.iter().map(|instance| {
        let url = &fleet.success;
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
    for (instance, (state, statuses)) in fleet.instances.iter().zip(warm_ups) {
        story.say(warm_up_line(fleet, instance, state, statuses)?)?;
    }
    let window = the_window_adds_up(fleet).await?;
    story.say(format!(
        "  the service counted {} requests to /success; the shared window in Redis, as instance 1 \
         reads it back: {} calls, {} failures (every instance's calls add up)",
        fleet.stats.count(Endpoint::Success) - success_before,
        window.calls,
        window.failures,
    ))?;
    fleet.check_shared(1)?;
    Ok(window)
}

/// An instance's line of step 1: its state and the statuses of its calls; or why they
/// broke the story (no answer, a refusal or a 5xx while closed, or not closed at all).
fn warm_up_line(
    fleet: &Fleet,
    instance: &Instance,
    state: State,
    statuses: Vec<Result<StatusCode, failgate::Error<CallError>>>,
) -> Result<String, FleetError> {
    let mut line = format!(
        "  instance {}: {}, GET /success ->",
        instance.number,
        human_state(state)
    );
    for status in statuses {
        match status {
            Ok(status) => {
                let _ = write!(line, " {}", status.as_u16());
            }
            Err(failgate::Error::Inner(CallError::Transport(e))) => {
                return Err(instance.request_error(&fleet.success, e));
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
    Ok(line)
}

/// Calls every instance makes in step 1, fleet-wide.
pub(super) fn warm_up_total(fleet: &Fleet) -> u64 {
    fleet.len() as u64 * u64::from(WARM_UP_CALLS)
}

/// Waits until the shared window, read back by instance 1, holds every warm-up call.
async fn the_window_adds_up(fleet: &Fleet) -> Result<Window, FleetError> {
    let total = warm_up_total(fleet);
    let first = fleet.first();
    if !poll_until(SETTLE_WAIT, || first.breaker.status().shared_calls >= total).await {
        return Err(FleetError::Broken(format!(
            "the shared window did not reach {total} calls within {}: {:?}",
            human_duration(SETTLE_WAIT),
            first.breaker.status()
        )));
    }
    let status = first.breaker.status();
    Ok(Window {
        calls: status.shared_calls,
        failures: status.shared_failures,
    })
}

/// Every instance's watcher: polls its own breaker until the first refusal, and when.
pub(super) struct Watchers {
    pub(super) tasks: Tasks<Option<(Instant, Rejected)>>,
    stop: Arc<AtomicBool>,
}

impl Watchers {
    /// Stops the watchers that are still polling.
    pub(super) fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Every instance watches its own breaker from now on: the first refusal and when.
pub(super) fn watch_for_refusals(fleet: &Fleet) -> Watchers {
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = fleet
        .instances
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
        .collect();
    Watchers {
        tasks: Tasks(tasks),
        stop,
    }
}

/// How the breaker tripped in step 2.
#[derive(Debug, Clone, Copy)]
pub(super) struct Trip {
    /// Requests to `/failure` instance 1 sent.
    pub(super) failures_sent: u64,
    /// When the answer that tripped it arrived.
    pub(super) at: Instant,
}

/// Step 2: instance 1 alone calls `/failure` until the shared window trips the breaker.
pub(super) async fn trip_one_instance(
    fleet: &Fleet,
    mut window: Window,
    story: &mut Story<'_>,
) -> Result<Trip, FleetError> {
    story.say(match fleet.len() {
        1 => "step 2: instance 1 calls /failure until the fleet breaker trips".to_string(),
        2 => "step 2: instance 1 alone calls /failure until the fleet breaker trips (the other \
              only watches)"
            .to_string(),
        _ => "step 2: instance 1 alone calls /failure until the fleet breaker trips (the others \
              only watch)"
            .to_string(),
    })?;
    let before = fleet.stats.snapshot();
    let max_failures = warm_up_total(fleet) * 2 + MINIMUM_CALLS + 10;
    let mut sent = 0u64;
    while sent < max_failures {
        let answered = fail_once(fleet).await?;
        sent += 1;
        wait_for_the_count(fleet, window, sent).await?;
        if fleet.first().breaker.state() == State::Open {
            story.say(format!(
                "  instance 1: GET /failure -> 500 (failure {sent}): {} of {} calls failed ({} >= {}): \
                 the fleet breaker trips OPEN",
                window.failures + 1,
                window.calls + 1,
                percent(window.failures + 1, window.calls + 1),
                threshold(),
            ))?;
            let after = fleet.stats.snapshot();
            let to_failure = after.failure - before.failure;
            story.say(format!(
                "  the service counted {to_failure} requests to /failure (all instance 1's) and {} others meanwhile",
                after.total - before.total - to_failure,
            ))?;
            return Ok(Trip {
                failures_sent: sent,
                at: answered,
            });
        }
        let status = fleet.first().breaker.status();
        window = Window {
            calls: status.shared_calls,
            failures: status.shared_failures,
        };
        story.say(format!(
            "  instance 1: GET /failure -> 500 (failure {sent}): shared window {} calls, \
             {} failure{} ({}), still closed",
            window.calls,
            window.failures,
            if window.failures == 1 { "" } else { "s" },
            percent(window.failures, window.calls),
        ))?;
    }
    Err(FleetError::Broken(format!(
        "{sent} failures did not trip the breaker"
    )))
}

/// Instance 1 calls `/failure` once and reports the failure; returns when the answer
/// arrived.
async fn fail_once(fleet: &Fleet) -> Result<Instant, FleetError> {
    let first = fleet.first();
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
    let result = get(&first.client, &fleet.failure).await;
    let answered = Instant::now();
    match result {
        Err(CallError::Status(_)) => permit.failure(),
        Err(CallError::Transport(e)) => {
            permit.failure();
            return Err(first.request_error(&fleet.failure, e));
        }
        Ok(status) => {
            permit.success();
            return Err(FleetError::Broken(format!(
                "GET /failure answered {status}"
            )));
        }
    }
    Ok(answered)
}

/// Waits for Redis to count failure `sent` (instance 1 reads the window back) or to trip.
async fn wait_for_the_count(fleet: &Fleet, window: Window, sent: u64) -> Result<(), FleetError> {
    let first = fleet.first();
    let counted = poll_until(SETTLE_WAIT, || {
        first.breaker.state() == State::Open
            || first.breaker.status().shared_failures > window.failures
    })
    .await;
    if counted {
        Ok(())
    } else {
        Err(FleetError::Broken(format!(
            "Redis did not count instance 1's failure {sent} within {}",
            human_duration(SETTLE_WAIT)
        )))
    }
}
