//! The story while the breaker is open (step 3): every instance refuses by its own
//! observation, nothing reaches the service, and the fleet waits out the open wait.

use std::time::Duration;

use super::closed::{Trip, Watchers};
use super::config::{OPEN_ATTEMPTS, OPEN_ATTEMPT_EVERY, POLL, SETTLE_WAIT};
use super::instance::{describe_rejection, ms, Fleet, Story};
use super::report::FleetError;
use crate::scenario::human_duration;

/// Step 3: every instance's watcher saw a refusal; returns, for each instance, how long
/// after the trip it first refused.
pub(super) async fn every_instance_refuses(
    fleet: &Fleet,
    mut watchers: Watchers,
    trip: Trip,
    story: &mut Story<'_>,
) -> Result<Vec<Duration>, FleetError> {
    story.say(format!(
        "step 3: every instance refuses, by its own observation (each polls its breaker every {}; \
         times from the 500 answer that tripped it)",
        human_duration(POLL)
    ))?;
    let mut refused_after = Vec::with_capacity(fleet.len());
    let mut never_refused = Vec::new();
    let deadline = tokio::time::Instant::from_std(trip.at + SETTLE_WAIT);
    for (instance, watcher) in fleet.instances.iter().zip(watchers.tasks.0.iter_mut()) {
        match tokio::time::timeout_at(deadline, watcher).await {
            Ok(Ok(Some((at, rejected)))) => {
                let after = at.saturating_duration_since(trip.at);
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
    watchers.stop();
    if !never_refused.is_empty() {
        return Err(FleetError::Broken(format!(
            "instance(s) {never_refused:?} never refused after the trip"
        )));
    }
    Ok(refused_after)
}

/// Still step 3: every instance tries `/success` while open; returns how many requests
/// reached the service meanwhile (the breaker promises none).
pub(super) async fn nothing_reaches_the_service(
    fleet: &Fleet,
    story: &mut Story<'_>,
) -> Result<u64, FleetError> {
    story.say(format!(
        "  while open, every instance tries GET /success every {}, {OPEN_ATTEMPTS} times:",
        human_duration(OPEN_ATTEMPT_EVERY)
    ))?;
    let open_before = fleet.stats.snapshot();
    let attempts = futures::future::join_all(fleet.instances.iter().map(|instance| {
        let url = &fleet.success;
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
    let open_after = fleet.stats.snapshot();
    let requests_while_open = open_after.total - open_before.total;
    let mut sent_while_open = 0;
    for (instance, (refused, sent)) in fleet.instances.iter().zip(&attempts) {
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
    fleet.check_shared(3)?;
    if requests_while_open > 0 || sent_while_open > 0 {
        return Err(FleetError::Broken(format!(
            "{requests_while_open} requests reached the service while the breaker was open"
        )));
    }
    Ok(requests_while_open)
}

/// Sleeps for what is left of the open wait, as instance 1's refusal tells it.
pub(super) async fn wait_out_the_open_wait(
    fleet: &Fleet,
    story: &mut Story<'_>,
) -> Result<(), FleetError> {
    let left = match fleet.first().breaker.try_acquire() {
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
    Ok(())
}
