//! The background tasks: the sync loop (flush counts, poll the shared state, take probe
//! permits, fall back and resynchronise) and the pub/sub listener. They hold only a weak
//! reference to the breaker and stop when its last handle is dropped.

use crate::mirror::{Core, Mode};
use crate::script::{sync_script, Announcement, Flush, ScriptArgs};
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
    weak: &Weak<Core>,
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

/// The sync loop: one round trip per tick (at most `interval` apart), sooner when a
/// call asks.
pub(crate) async fn run_sync(
    weak: Weak<Core>,
    settings: SyncSettings,
    mut stop: watch::Receiver<()>,
) {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(settings.timeout))
        .set_response_timeout(Some(settings.timeout));
    let script = sync_script();
    let mut con: Option<MultiplexedConnection> = None;
    let mut ticker = tokio::time::interval(settings.interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // Local since when (the breaker starts local until Redis first answers).
    let mut local_since = Some(Instant::now());
    // None until the first round trip; then whether the last one worked.
    let mut healthy: Option<bool> = None;
    let mut tokens_at_last_round = 0;
    let mut last_round_trip: Option<Instant> = None;

    while next_round(&weak, &mut ticker, &mut stop).await {
        let Some(core) = weak.upgrade() else { return };
        core.beat();
        let urgent = core.take_urgent();
        // Nothing counted, nothing asked, and pub/sub carries the transitions: skip this
        // tick, polling only every `idle_poll`, so an idle fleet costs Redis little.
        if !urgent
            && core.is_idle()
            && last_round_trip.is_some_and(|t| t.elapsed() < settings.idle_poll)
        {
            continue;
        }
        last_round_trip = Some(Instant::now());

        // Probe permits held for a whole round without a call taking one go back.
        let held = core.held_tokens();
        let release = if held > 0 && held == tokens_at_last_round {
            core.drop_tokens(held)
        } else {
            0
        };

        let resync = core.mode() == Mode::Local;
        if resync && local_since.is_some_and(|t| t.elapsed() > settings.window) {
            // Counts from before a fallback longer than the window are out of it.
            core.forget_pending();
        }
        let pending = core.take_flush(resync, release);
        let mut flush = pending;
        if resync {
            // What the local breaker counted meanwhile joins the shared window.
            let m = core.local.metrics();
            flush.calls += m.calls;
            flush.failures += m.failures;
        }

        core.stats.round_trips.fetch_add(1, Relaxed);
        #[cfg(feature = "metrics")]
        core.gauges.round_trips.increment(1);
        let result = tokio::time::timeout(
            settings.timeout,
            round_trip(&settings, &config, &script, &mut con, &flush),
        )
        .await;
        match result {
            Ok(Ok(reply)) => {
                if healthy == Some(false) {
                    tracing::info!(
                        breaker = %core.name, namespace = %core.namespace,
                        "redis reachable again: fleet-wide breaking resumes"
                    );
                }
                healthy = Some(true);
                local_since = None;
                if let Ok(mut last) = core.stats.last_error.lock() {
                    *last = None;
                }
                if resync {
                    core.local.reset();
                }
                core.install_reply(&reply, resync);
                #[cfg(feature = "metrics")]
                core.gauges.shared.set(1.0);
            }
            outcome => {
                con = None;
                core.restore(&pending);
                core.stats.sync_errors.fetch_add(1, Relaxed);
                #[cfg(feature = "metrics")]
                {
                    core.gauges.sync_errors.increment(1);
                    core.gauges.shared.set(0.0);
                }
                if core.enter_local() || local_since.is_none() {
                    local_since = Some(Instant::now());
                }
                let error = match outcome {
                    Ok(Err(e)) => e.to_string(),
                    _ => format!("no answer within {:?}", settings.timeout),
                };
                if healthy != Some(false) {
                    tracing::warn!(
                        breaker = %core.name, namespace = %core.namespace,
                        redis = %settings.url_for_logs, %error,
                        "redis unreachable: falling back to a local breaker with the same configuration"
                    );
                }
                if let Ok(mut last) = core.stats.last_error.lock() {
                    *last = Some(error);
                }
                healthy = Some(false);
            }
        }
        tokens_at_last_round = core.held_tokens();
    }
}

async fn round_trip(
    settings: &SyncSettings,
    config: &AsyncConnectionConfig,
    script: &redis::Script,
    con: &mut Option<MultiplexedConnection>,
    flush: &Flush,
) -> redis::RedisResult<crate::script::Reply> {
    if con.is_none() {
        *con = Some(
            settings
                .client
                .get_multiplexed_async_connection_with_config(config)
                .await?,
        );
    }
    let Some(con) = con.as_mut() else {
        unreachable!("connected just above")
    };
    settings.args.invoke(script, con, flush).await
}

/// The pub/sub listener: installs announced transitions at once. When the subscription
/// drops it resubscribes; meanwhile the sync loop's polling keeps the mirror current.
pub(crate) async fn run_pubsub(
    weak: Weak<Core>,
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
                            None => tracing::debug!(breaker = %core.name, %payload, "ignored a malformed announcement"),
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
