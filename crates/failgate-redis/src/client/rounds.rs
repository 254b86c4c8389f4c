//! The fleet client's sync loop: one round per tick for all its breakers, sooner when a
//! call asks. Each round sends every breaker that has something to say in one
//! pipelined round trip, installs the answers, and falls back the breakers it could
//! not reach.

use super::member::Member;
use super::transport::{Part, Transport};
use super::Shared;
use crate::script::sync_script;
use std::future::poll_fn;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The tick when no breaker is attached yet.
const DEFAULT_TICK: Duration = Duration::from_millis(100);

/// Runs until `stop` fires (the client's last breaker is gone).
pub(crate) async fn run(
    shared: Arc<Shared>,
    mut transport: Transport,
    mut stop: watch::Receiver<()>,
) {
    let script = sync_script();
    let mut members: Vec<Member> = Vec::new();
    let mut next_tick = tokio::time::Instant::now();
    loop {
        let urgent = poll_fn(|cx| {
            if shared.wake.poll_urgent(cx) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        });
        tokio::select! {
            _ = tokio::time::sleep_until(next_tick) => {}
            _ = urgent => {}
            _ = stop.changed() => return,
        }
        shared.wake.take();
        members.extend(shared.take_new());
        members.retain(|m| m.mirror.strong_count() > 0);
        shared.channels.prune();
        let tick = members
            .iter()
            .map(|m| m.timing.interval)
            .min()
            .unwrap_or(DEFAULT_TICK);
        let now = Instant::now();
        if next_tick <= tokio::time::Instant::now() {
            next_tick = tokio::time::Instant::now() + tick;
        }
        round(&shared, &mut transport, &script, &mut members, now).await;
    }
}

/// One round at `now`: every breaker that wants one, in one round trip.
async fn round(
    shared: &Shared,
    transport: &mut Transport,
    script: &redis::Script,
    members: &mut [Member],
    now: Instant,
) {
    let mut cores = Vec::new();
    let mut chosen = Vec::new();
    let mut flushes = Vec::new();
    for (i, member) in members.iter_mut().enumerate() {
        let Some(core) = member.mirror.upgrade() else {
            continue;
        };
        core.beat();
        if member.wants_round(&core, now) {
            flushes.push(member.prepare(&core, now));
            chosen.push(i);
            cores.push(core);
        }
    }
    if chosen.is_empty() {
        return;
    }
    if !transport.is_connected() {
        for &i in &chosen {
            members[i].check_publish = true;
        }
    }
    let parts: Vec<Part<'_>> = chosen
        .iter()
        .zip(&flushes)
        .map(|(&i, flush)| Part {
            args: &members[i].args,
            flush: *flush,
            check: members[i].check_publish,
        })
        .collect();
    let replies = transport.sync(script, &parts, shared.timeout).await;
    drop(parts);
    for (((&i, core), flush), reply) in chosen.iter().zip(&cores).zip(flushes).zip(replies) {
        let member = &mut members[i];
        match reply {
            Ok(reply) => member.answered(core, &shared.url_for_logs, &reply),
            Err(why) => member.unanswered(core, &shared.url_for_logs, flush, why),
        }
        member.after_round(core);
    }
}
