//! The background tasks: the sync loop (flush counts, poll the shared state, take probe
//! permits, fall back and resynchronise) and the pub/sub listener. They hold only a weak
//! reference to the breaker and stop when its last handle is dropped.

use crate::batch::Batches;
use crate::connect::connect;
use crate::mirror::Mirror;
use crate::script::{sync_script, Announcement, Flush, Reply, ScriptArgs};
use crate::telemetry;
use crate::word::Mode;
use futures_util::StreamExt;
use redis::aio::MultiplexedConnection;
use redis::AsyncConnectionConfig;
use std::future::poll_fn;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Weak;
use std::task::Poll;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

/// What the tasks need besides the core.
pub(crate) struct SyncSettings {
    pub(crate) client: redis::Client,
    pub(crate) url_for_logs: String,
    pub(crate) args: ScriptArgs,
    pub(crate) interval: Duration,
    /// The longest an idle instance goes without a round trip while subscribed.
    pub(crate) idle_poll: Duration,
    pub(crate) timeout: Duration,
    pub(crate) window: Duration,
}

/// Waits for the next tick, or for a call to ask for an early round trip. Returns
/// false when the breaker is gone.
async fn next_round(
    weak: &Weak<Mirror>,
    ticker: &mut tokio::time::Interval,
    stop: &mut watch::Receiver<()>,
) -> bool {
    let urgent = poll_fn(|cx| match weak.upgrade() {
        None => Poll::Ready(()),
        Some(core) => {
            core.waker.register(cx.waker());
            if core.is_urgent() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        }
    });
    tokio::select! {
        _ = ticker.tick() => {}
        _ = urgent => {}
        _ = stop.changed() => return false,
    }
    weak.strong_count() > 0
}

/// The sync loop's own state between rounds.
struct Loop {
    con: Option<MultiplexedConnection>,
    /// Local since when (the breaker starts local until Redis first answers).
    local_since: Option<Instant>,
    /// None until the first round trip; then whether the last one worked.
    healthy: Option<bool>,
    tokens_at_last_round: u64,
    last_round_trip: Option<Instant>,
    batches: Batches,
    /// Why Redis refuses PUBLISH to this user, while it does: kept in `last_error`.
    publish_refused: Option<String>,
}

/// The sync loop: one round trip per tick (at most `interval` apart), sooner when a
/// call asks.
pub(crate) async fn run_sync(
    weak: Weak<Mirror>,
    settings: SyncSettings,
    mut stop: watch::Receiver<()>,
) {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(settings.timeout))
        .set_response_timeout(Some(settings.timeout));
    let script = sync_script();
    let mut ticker = tokio::time::interval(settings.interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut l = Loop {
        con: None,
        local_since: Some(Instant::now()),
        healthy: None,
        tokens_at_last_round: 0,
        last_round_trip: None,
        batches: Batches::new(),
        publish_refused: None,
    };

    while next_round(&weak, &mut ticker, &mut stop).await {
        let Some(core) = weak.upgrade() else { return };
        core.beat();
        let urgent = core.take_urgent();
        // Nothing counted, nothing asked, and pub/sub carries the transitions: skip this
        // tick, polling only every `idle_poll`, so an idle fleet costs Redis little.
        if !urgent
            && core.is_idle()
            && !l.batches.is_resending()
            && l.last_round_trip
                .is_some_and(|t| t.elapsed() < settings.idle_poll)
        {
            continue;
        }
        l.last_round_trip = Some(Instant::now());
        round(&core, &settings, &config, &script, &mut l).await;
        l.tokens_at_last_round = core.held_tokens();
    }
}

/// One round trip: takes the flush (or the batch to send again), sends it, and installs
/// the answer or falls back.
async fn round(
    core: &Mirror,
    settings: &SyncSettings,
    config: &AsyncConnectionConfig,
    script: &redis::Script,
    l: &mut Loop,
) {
    let resync = core.mode() == Mode::Local;
    if resync && l.local_since.is_some_and(|t| t.elapsed() > settings.window) {
        // Counts older than the window are out of it: what is sent on reconnect
        // was counted in the last window at most.
        core.forget_pending();
        core.forget_local();
        l.batches.forget();
        l.local_since = Some(Instant::now());
    }
    let flush = l.batches.next(|| {
        // Probe permits held for a whole round without a call taking one go back.
        let held = core.held_tokens();
        let release = if held > 0 && held == l.tokens_at_last_round {
            core.drop_tokens(held)
        } else {
            0
        };
        core.take_flush(resync, release)
    });

    core.stats.round_trips.fetch_add(1, Relaxed);
    #[cfg(feature = "metrics")]
    core.gauges.round_trips.increment(1);
    let result = tokio::time::timeout(
        settings.timeout,
        round_trip(settings, config, script, &mut l.con, &flush),
    )
    .await;
    match result {
        Ok(Ok((checked, reply))) => {
            l.batches.answered();
            // The script's word is the later one.
            let refused = match &reply.publish_error {
                Some(why) => Some(Some(why.clone())),
                None => checked,
            };
            if let Some(refused) = refused {
                note_publish(core, settings, refused, &mut l.publish_refused);
            }
            answered(core, settings, l, &reply, resync);
        }
        outcome => {
            l.batches.unanswered(flush);
            let error = match outcome {
                Ok(Err(e)) => e.to_string(),
                _ => format!("no answer within {:?}", settings.timeout),
            };
            unanswered(core, settings, l, error);
        }
    }
}

/// A round trip's answer arrived: install it, and say what changed.
fn answered(core: &Mirror, settings: &SyncSettings, l: &mut Loop, reply: &Reply, resync: bool) {
    if l.healthy == Some(false) {
        telemetry::reachable_again(core.names());
    }
    l.healthy = Some(true);
    l.local_since = None;
    if let Ok(mut last) = core.stats.last_error.lock() {
        last.clone_from(&l.publish_refused);
    }
    if resync {
        core.local.reset();
    }
    if let Some(before) = core.install_reply(reply, resync) {
        telemetry::lost_state(core.names(), &settings.url_for_logs, before, reply.epoch);
    }
    #[cfg(feature = "metrics")]
    core.gauges.shared.set(1.0);
}

/// A round trip failed or timed out: fall back to the local breaker.
fn unanswered(core: &Mirror, settings: &SyncSettings, l: &mut Loop, error: String) {
    l.con = None;
    core.stats.sync_errors.fetch_add(1, Relaxed);
    #[cfg(feature = "metrics")]
    {
        core.gauges.sync_errors.increment(1);
        core.gauges.shared.set(0.0);
    }
    if core.enter_local() || l.local_since.is_none() {
        l.local_since = Some(Instant::now());
    }
    if l.healthy != Some(false) {
        telemetry::unreachable(core.names(), &settings.url_for_logs, &error);
    }
    if let Ok(mut last) = core.stats.last_error.lock() {
        *last = Some(error);
    }
    l.healthy = Some(false);
}

/// Records whether Redis refuses PUBLISH on the breaker's channel (`Some(why)`),
/// logging a change once. While it does, no instance can announce a transition, so
/// this one polls every `interval` instead of waiting for pub/sub.
fn note_publish(
    core: &Mirror,
    settings: &SyncSettings,
    refused: Option<String>,
    note: &mut Option<String>,
) {
    let channel = &settings.args.channel;
    *note = refused
        .as_ref()
        .map(|why| telemetry::publish_refused_note(channel, why, settings.interval));
    if core.integrity.set_publish_denied(refused.is_some()) {
        match note {
            Some(note) => telemetry::publish_refused(core.names(), note),
            None => telemetry::publish_accepted(core.names(), channel),
        }
    }
}

/// Connects if need be (then checks that Redis lets this user PUBLISH on the channel:
/// `Some(Some(why))` if not, `Some(None)` if so, `None` if no check was made) and runs the
/// script.
async fn round_trip(
    settings: &SyncSettings,
    config: &AsyncConnectionConfig,
    script: &redis::Script,
    con: &mut Option<MultiplexedConnection>,
    flush: &Flush,
) -> redis::RedisResult<(Option<Option<String>>, Reply)> {
    let mut checked = None;
    let con = match con {
        Some(con) => con,
        None => {
            let (fresh, refused) =
                connect(&settings.client, config, &settings.args.channel).await?;
            checked = Some(refused);
            con.insert(fresh)
        }
    };
    let reply = settings.args.invoke(script, con, flush).await?;
    Ok((checked, reply))
}

/// The pub/sub listener: installs announced transitions at once. When the subscription
/// drops it resubscribes; meanwhile the sync loop's polling keeps the mirror current.
pub(crate) async fn run_pubsub(
    weak: Weak<Mirror>,
    client: redis::Client,
    channel: String,
    timeout: Duration,
    retry: Duration,
    mut stop: watch::Receiver<()>,
) {
    loop {
        let subscribed = tokio::time::timeout(timeout * 4, async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            redis::RedisResult::Ok(pubsub)
        })
        .await;
        if let Ok(Ok(pubsub)) = subscribed {
            match weak.upgrade() {
                Some(core) => core.set_subscribed(true),
                None => return,
            }
            let mut messages = pubsub.into_on_message();
            loop {
                tokio::select! {
                    message = messages.next() => {
                        let Some(message) = message else { break };
                        let Some(core) = weak.upgrade() else { return };
                        let payload: String = message.get_payload().unwrap_or_default();
                        match Announcement::parse(&payload) {
                            Some(a) => {
                                core.install_announcement(&a);
                            }
                            // The permission check an instance makes when it connects.
                            None if payload.is_empty() => {}
                            None => telemetry::malformed_announcement(&core.name, &payload),
                        }
                    }
                    _ = stop.changed() => return,
                }
            }
            // The subscription ended (Redis went away): poll every tick until it is back.
            match weak.upgrade() {
                Some(core) => core.set_subscribed(false),
                None => return,
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(retry) => {}
            _ = stop.changed() => return,
        }
        if weak.strong_count() == 0 {
            return;
        }
    }
}
