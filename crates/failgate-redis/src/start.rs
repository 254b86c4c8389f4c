//! Start-up: from validated settings to a running breaker mirror, with its sync task and
//! pub/sub listener spawned on the runtime given to the builder, or else the current one.

use crate::mirror::Mirror;
use crate::script::ScriptArgs;
use crate::settings::{mask_password, FleetConfigError, Settings};
use crate::sync::{run_pubsub, run_sync, SyncSettings};
use crate::{batch, connect};
use std::sync::Arc;
use std::time::Duration;

/// Validates `s`, makes the mirror and starts its background tasks. Returns at once.
pub(crate) fn start(s: &Settings) -> Result<Arc<Mirror>, FleetConfigError> {
    s.validate()?;
    let local = s.local_breaker()?;
    let url = s.url.as_deref().ok_or(FleetConfigError::NoRedisUrl)?;
    let runtime = match &s.runtime {
        Some(given) => given.clone(),
        None => tokio::runtime::Handle::try_current().map_err(|_| FleetConfigError::NoRuntime)?,
    };
    let client = connect::client(s, url)?;
    let args = script_args(s);
    let channel = args.channel.clone();
    let (stop, stopped) = tokio::sync::watch::channel(());
    let core = Arc::new(Mirror::new(local, s, stop));
    let settings = SyncSettings {
        client: client.clone(),
        url_for_logs: mask_password(url),
        args,
        interval: s.flush_interval,
        idle_poll: s.idle_poll,
        timeout: s.redis_timeout,
        window: s.window,
    };
    let weak = Arc::downgrade(&core);
    runtime.spawn(run_sync(weak.clone(), settings, stopped.clone()));
    runtime.spawn(run_pubsub(
        weak,
        client,
        channel,
        s.redis_timeout,
        Duration::from_millis(500),
        stopped,
    ));
    Ok(core)
}

/// The keys, channel and policy the sync script is called with.
fn script_args(s: &Settings) -> ScriptArgs {
    let prefix = format!("failgate:{}:{}", s.namespace, s.name);
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    ScriptArgs {
        state_key: format!("{prefix}:state"),
        window_key: format!("{prefix}:window"),
        batch_key: format!("{prefix}:batch:{}", batch::instance_id()),
        channel: format!("{prefix}:events"),
        rate: s.failure_rate,
        minimum_calls: s.minimum_calls,
        window_ms: ms(s.window),
        buckets: s.buckets,
        open_ms: ms(s.open_for),
        permits: s.half_open_permits,
        half_open_timeout_ms: ms(s.half_open_timeout).max(1),
        ttl_ms: ms(s.key_ttl),
        // A batch is sent again until answered, and dropped once a fallback outlasts the
        // window: three windows cover every repeat.
        batch_ttl_ms: ms(s.window).saturating_mul(3).max(1),
    }
}
