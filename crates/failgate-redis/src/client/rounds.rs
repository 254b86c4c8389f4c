//! The fleet client's sync loop: one round per tick for all its breakers, sooner when a
//! call asks. Each round sends every breaker that has something to say in one
//! pipelined round trip, installs the answers, and falls back the breakers it could
//! not reach.

use super::member::Member;
use super::transport::{Part, Transport};
use super::Shared;
use crate::script::sync_script;
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
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
    let mut others = Vec::new();
    for (i, member) in members.iter_mut().enumerate() {
        let Some(core) = member.mirror.upgrade() else {
            continue;
        };
        core.beat();
        if member.wants_round(&core, now) {
            flushes.push(member.prepare(&core, now));
            chosen.push(i);
            cores.push(core);
        } else {
            others.push((i, core));
        }
    }
    if chosen.is_empty() {
        return;
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
    // A part not answered in time: its breaker decides locally from now on. On one
    // server that is every breaker's fate: the next round waits for this one, so the
    // breakers not in it could not hear from Redis either.
    let shared_fate = transport.shares_fate();
    let all_late = AtomicBool::new(false);
    let late = |k: usize| {
        cores[k].enter_local();
        if shared_fate && !all_late.swap(true, Ordering::Relaxed) {
            others.iter().for_each(|(_, core)| {
                core.enter_local();
            });
        }
    };
    let replies = transport.sync(script, &parts, shared.timeout, &late).await;
    drop(parts);
    let url = &shared.url_for_logs;
    let no_answer = || format!("no answer within {:?}", shared.timeout);
    for (((&i, core), flush), (reply, was_late)) in
        chosen.iter().zip(&cores).zip(flushes).zip(replies)
    {
        let member = &mut members[i];
        match (reply, was_late) {
            (Ok(reply), false) => member.answered(core, url, &reply),
            (Ok(reply), true) => {
                member.fell_back(core, url, no_answer());
                member.late(core, url, &reply);
            }
            (Err(why), false) => member.unanswered(core, url, flush, why),
            (Err(why), true) => {
                member.fell_back(core, url, no_answer());
                member.unanswered_after_timeout(core, flush, why);
            }
        }
        member.after_round(core);
    }
    if all_late.load(Ordering::Relaxed) {
        for (i, core) in &others {
            members[*i].fell_back(core, url, no_answer());
        }
    }
}
