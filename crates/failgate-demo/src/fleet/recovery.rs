//! The story once the open wait is over: the whole fleet probes at once (step 4), the
//! probes close the breaker for every instance (step 5), and they call through it again.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use failgate::State;
use reqwest::{StatusCode, Url};

use super::config::{HALF_OPEN_PERMITS, PROBE_ATTEMPT_EVERY, PROBE_DELAY, PROBE_PHASE_LIMIT};
use super::instance::{describe, every, get, ms, CallError, Fleet, Instance, Story, Tasks};
use super::report::FleetError;
use crate::scenario::{human_duration, human_state};
use crate::service::Endpoint;

/// What step 4 saw.
#[derive(Debug)]
pub(super) struct Probing {
    /// Each instance's attempts, in instance order.
    logs: Vec<ProbeLog>,
    /// When the open wait was over.
    wait_over: Instant,
    /// Probe requests that reached the service.
    pub(super) reached: u64,
}

/// Step 4: once the open wait is over, every instance calls at once, repeatedly; the
/// service counts how many probes reached it fleet-wide.
pub(super) async fn every_instance_probes_at_once(
    fleet: &Fleet,
    story: &mut Story<'_>,
) -> Result<Probing, FleetError> {
    let n = fleet.len();
    let mut slow_success = fleet.success.clone();
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
    let probes_before = fleet.stats.snapshot();
    let wait_over = Instant::now();
    let mut probing = Tasks(
        fleet
            .instances
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
    let probes_after = fleet.stats.snapshot();
    let reached = probes_after.total - probes_before.total;
    let mut total_attempts = 0;
    for (instance, log) in fleet.instances.iter().zip(logs.iter_mut()) {
        if let Some(error) = log.error.take() {
            return Err(instance.request_error(&fleet.success, error));
        }
        total_attempts += log.attempts;
        story.say(log.line(instance.number))?;
    }
    story.say(format!(
        "  probes that reached the service, fleet-wide: {reached} of {total_attempts} attempts \
         (its request counter: {} before, {} after; half_open_permits = {HALF_OPEN_PERMITS})",
        probes_before.total, probes_after.total
    ))?;
    Ok(Probing {
        logs,
        wait_over,
        reached,
    })
}

/// Step 5: the probes succeeded and every instance sees the breaker closed. Returns, for
/// each instance that saw it, how long after the open wait ended; and whether every probe
/// succeeded.
pub(super) fn every_instance_closes(
    fleet: &Fleet,
    probing: &Probing,
    story: &mut Story<'_>,
) -> Result<(Vec<Duration>, bool), FleetError> {
    let logs = &probing.logs;
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
    let mut closed_after = Vec::with_capacity(fleet.len());
    for (instance, log) in fleet.instances.iter().zip(logs) {
        let state = human_state(instance.breaker.state());
        match log.closed_at {
            Some(at) => {
                let after = at.saturating_duration_since(probing.wait_over);
                closed_after.push(after);
                let mut line = format!(
                    "  instance {}: {state}, saw CLOSED {} after the open wait ended",
                    instance.number,
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
                "  instance {}: {state}, never saw CLOSED within {}",
                instance.number,
                human_duration(PROBE_PHASE_LIMIT)
            ))?,
        }
    }
    let seen: Vec<Instant> = logs.iter().filter_map(|log| log.closed_at).collect();
    if let (Some(first_seen), Some(last_seen)) = (seen.iter().min(), seen.iter().max()) {
        story.say(format!(
            "  {} of {} instances saw CLOSED, within {} of each other",
            seen.len(),
            fleet.len(),
            ms(last_seen.saturating_duration_since(*first_seen))
        ))?;
    }
    fleet.check_shared(5)?;
    Ok((closed_after, all_probes_ok))
}

/// And they call again, through the closed breaker.
pub(super) async fn every_instance_calls_again(
    fleet: &Fleet,
    story: &mut Story<'_>,
) -> Result<(), FleetError> {
    let again_before = fleet.stats.count(Endpoint::Success);
    let again =
        futures::future::join_all(fleet.instances.iter().map(|i| i.call(&fleet.success))).await;
    let mut line = String::from("  every instance calls /success again:");
    for (instance, result) in fleet.instances.iter().zip(again) {
        match result {
            Ok(status) => {
                let _ = write!(line, " {}", status.as_u16());
            }
            Err(failgate::Error::Inner(CallError::Transport(e))) => {
                return Err(instance.request_error(&fleet.success, e))
            }
            Err(other) => {
                let _ = write!(line, " {}", describe(&other));
            }
        }
    }
    let _ = write!(
        line,
        " (the service counted {})",
        fleet.stats.count(Endpoint::Success) - again_before
    );
    story.say(line)?;
    Ok(())
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

impl ProbeLog {
    /// The story's line for instance `number`.
    fn line(&self, number: usize) -> String {
        let mut line = format!(
            "  instance {number}: {} attempts: {} admitted as probe{}",
            self.attempts,
            self.probes.len(),
            if self.probes.len() == 1 { "" } else { "s" },
        );
        if !self.probes.is_empty() {
            let _ = write!(line, " (GET /success ->");
            for status in &self.probes {
                let _ = write!(line, " {}", status.as_u16());
            }
            line.push(')');
        }
        let _ = write!(
            line,
            ", {} refused ({} open, asking Redis for permits; {} half-open, no permit left)",
            self.refused_open + self.refused_half_open,
            self.refused_open,
            self.refused_half_open,
        );
        line
    }
}
