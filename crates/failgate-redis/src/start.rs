//! Start-up: from validated settings to a breaker mirror attached to its fleet client
//! (the process's shared one for its Redis, or one on the runtime given to the builder).

use crate::client::{self, Timing};
use crate::mirror::Mirror;
use crate::observe::Relay;
use crate::script::ScriptArgs;
use crate::settings::{Endpoint, FleetConfigError, Settings};
use std::sync::Arc;
use std::time::Duration;

/// Validates `s`, makes the mirror and hands it to its client. Returns at once.
pub(crate) fn start(s: &Settings) -> Result<Arc<Mirror>, FleetConfigError> {
    s.validate()?;
    // The fallback's state changes reach the observers through the mirror, which
    // passes on only those callers see. Without observers the fallback has none, and
    // its calls keep the local breaker's short path.
    let relay = (!s.observers.is_empty()).then(|| Arc::new(Relay::default()));
    let local = s.local_breaker(relay.clone().map(|r| r as Arc<dyn failgate::Observer>))?;
    let client = client::client_for(s)?;
    let core = Arc::new(Mirror::new(local, s, client.link()));
    if let Some(relay) = relay {
        relay.attach(&core);
    }
    let timing = Timing {
        interval: s.flush_interval,
        idle_poll: s.idle_poll,
        window: s.window,
    };
    client.attach(&core, script_args(s), timing);
    Ok(core)
}

/// The keys, channel and policy the sync script is called with.
fn script_args(s: &Settings) -> ScriptArgs {
    // On a cluster one hash tag holds each breaker's keys in one slot. A single server
    // keeps the untagged keys, so instances of earlier versions still share them.
    let prefix = match s.endpoint() {
        Ok(Endpoint::Cluster(_)) => format!("failgate:{{{}:{}}}", s.namespace, s.name),
        _ => format!("failgate:{}:{}", s.namespace, s.name),
    };
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    ScriptArgs {
        state_key: format!("{prefix}:state"),
        window_key: format!("{prefix}:window"),
        batch_key: format!("{prefix}:batch:{}", crate::batch::instance_id()),
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
        probe_failure_rate: s.half_open_failure_rate,
        // `build` refused the other states (the local builder's rule).
        initial_state: match s.initial_state {
            failgate::State::ForcedOpen => "forced_open",
            failgate::State::Disabled => "disabled",
            failgate::State::CountOnly => "count_only",
            _ => "closed",
        },
    }
}
