//! The one Lua script every round trip runs (`script.lua`), for one breaker or many
//! in one call: for each, it adds an instance's counts to the shared window, keeps the dependency's "retry after", makes any
//! transition that is due (once, fleet-wide, with a new generation), hands out
//! half-open probe permits, and answers with the shared state.
//!
//! Keys, for namespace `ns` and breaker `name`:
//! - `failgate:{ns}:{name}:state`, a hash: `state` (closed, open, half_open, and the
//!   operator's forced_open, disabled, count_only: see [`order`](crate::order_docs)), `gen`,
//!   `until` (end of the open wait, in the server's milliseconds), `entered`, `taken`
//!   (probe permits handed out), `ok` (probe successes), `epoch` (the server's time in
//!   microseconds when the state was created), `hint` (until when the dependency
//!   asked not to be called, in the server's milliseconds; 0: never), `bad` (probe
//!   failures of the current generation, for the failure-rate rule; 0 on every
//!   transition);
//! - `failgate:{ns}:{name}:window`, a hash of buckets: `c<n>` calls and `f<n>` failures of
//!   bucket `n` (the server's time in milliseconds divided by the bucket's span);
//! - `failgate:{ns}:{name}:batch:<instance>`, the last batch one instance sent: `"<batch
//!   id> <epoch> <gen> <permits granted>"`, kept three windows;
//! - `failgate:{ns}:{name}:events`, the pub/sub channel, carrying `"<gen> <state> <ms
//!   left open> <epoch>"` on every transition, and again (same generation, a longer
//!   wait) when a "retry after" lengthens an open wait.
//!
//! The state and window expire after the configured time without writes. Time is the
//! Redis server's (`TIME`), so instances' clocks need not agree.
//!
//! # Retry-After
//! A flush carries the milliseconds, from now, that the dependency asked not to be
//! called for (0: no such request since the instance's last flush; capped by the
//! instance's `max_retry_after`). The rule is the local breaker's
//! (`Builder::honor_retry_after`), fleet-wide, in server time:
//! - `hint = max(hint, now + ms)`, whatever the generation the batch names (the request
//!   is about the dependency, not about one state) and whatever the state.
//! - Entering open (a trip, a failed probe, the half-open timeout) sets
//!   `until = max(now + open_for, hint)`.
//! - A hint that arrives while open lengthens `until` to it; the answer's "ms left open"
//!   shows it, and the same announcement a transition makes (its generation and state
//!   unchanged, the new ms left) tells the other instances at once.
//! - Entering closed forgets it (`hint = 0`); half-open keeps it, for a failed probe.
//! - A batch sent again changes nothing, its hint included. Taking the later of two
//!   deadlines is idempotent, so a repeat could only move the hint by the delay between
//!   the two sends; but it could also bring back a hint that a close in between forgot,
//!   which is why a repeat's hint is dropped like its counts.
//!
//! # Lost state, lost answers, refused commands
//! - **Epoch.** A missing state hash is created afresh (in the batch's initial state,
//!   closed unless the instance was built with another, generation 0, an empty
//!   window) with a new epoch, and every answer carries the epoch. A flush that names
//!   another epoch comes from an instance that mirrors a state Redis lost (FLUSHALL, an
//!   eviction, an expiry, a failover to an empty replica): its counts are taken as a
//!   resynchronisation's (added to the window if it is closed), and the instance adopts
//!   the new state whatever its generation.
//! - **Lost writes.** A flush that names the state's epoch but a generation newer than
//!   the state's comes from an instance that saw writes Redis no longer has (a failover
//!   to a replica that lagged behind its master). The state takes a new epoch, so every
//!   instance adopts it as a lost state, and the flush's counts are a
//!   resynchronisation's. Without this, the counts of a generation Redis never reaches
//!   again would be discarded for ever, and the breaker could never trip.
//! - **Batch ids.** Each flush carries a batch id, new for every batch and the same when a
//!   batch whose answer never arrived is sent again. A batch whose id is the instance's
//!   last one changes nothing (no counts, probe results, releases or requests) and is
//!   answered with the state now and the permits it was granted the first time, if they
//!   still belong to the current generation (else none). Its order is not applied
//!   again either.
//! - **PUBLISH last, caught.** Every write comes before the PUBLISH, which is the only
//!   command a correctly set up server can refuse once the script has begun writing (a
//!   user without channel permissions); its error is caught and returned in the answer
//!   instead of failing the script after its writes. (A server out of memory under
//!   `noeviction` refuses a script at its first write, before anything is written; a
//!   key of the wrong type or a key permission missing fails every run alike.)
//!
#![doc = include_str!("script_half_open.md")]
#![doc = include_str!("script_orders.md")]

use redis::{FromRedisValue, Script, Value};

use crate::order::Order;

/// The script's source (public for the crate's tests, which run it directly).
#[doc(hidden)]
pub const SYNC_LUA: &str = include_str!("script.lua");

/// The script, hashed once (redis-rs sends `EVALSHA` and falls back to `EVAL`).
pub(crate) fn sync_script() -> Script {
    Script::new(SYNC_LUA)
}

/// The shared state's kinds, as the mirror stores them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SharedState {
    Closed,
    Open,
    HalfOpen,
    /// An operator's: refuses every call until another order.
    ForcedOpen,
    /// An operator's: admits every call and counts nothing.
    Disabled,
    /// An operator's: admits every call, counts, never trips.
    CountOnly,
}

impl SharedState {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "closed" => Some(SharedState::Closed),
            "open" => Some(SharedState::Open),
            "half_open" => Some(SharedState::HalfOpen),
            "forced_open" => Some(SharedState::ForcedOpen),
            "disabled" => Some(SharedState::Disabled),
            "count_only" => Some(SharedState::CountOnly),
            _ => None,
        }
    }
}

/// What one round trip sends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Flush {
    /// The batch's id (0: none): new for every batch, the same when one is sent again.
    pub(crate) batch: u64,
    /// The epoch of the state the instance mirrors (0: none known yet).
    pub(crate) epoch: u64,
    /// The generation the counts belong to; `None` to add them to whatever closed
    /// window is current (resynchronising after a fallback).
    pub(crate) generation: Option<u64>,
    pub(crate) calls: u64,
    pub(crate) failures: u64,
    pub(crate) probe_successes: u64,
    pub(crate) probe_failures: u64,
    pub(crate) probe_releases: u64,
    pub(crate) want_probes: u64,
    /// Milliseconds the dependency asked not to be called for, from now (0: no such
    /// request since the last flush).
    pub(crate) retry_after_ms: u64,
    /// The operator's order this batch carries, if any.
    pub(crate) order: Option<Order>,
}

/// What the script answers for one breaker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub(crate) state: SharedState,
    pub(crate) generation: u64,
    /// Milliseconds left of the open wait (0 unless open).
    pub(crate) open_left_ms: u64,
    pub(crate) window_calls: u64,
    pub(crate) window_failures: u64,
    pub(crate) granted: u64,
    pub(crate) discarded: u64,
    /// The shared state's epoch: a new one means the state was lost and recreated.
    pub(crate) epoch: u64,
    /// Why the PUBLISH was refused (`None`: published, or nothing was published).
    pub(crate) publish_error: Option<String>,
    /// Whether the script published (a transition, or the permission check), so that
    /// `publish_error: None` means this user may PUBLISH.
    pub(crate) published: bool,
}

impl FromRedisValue for Reply {
    fn from_redis_value(v: Value) -> Result<Self, redis::ParsingError> {
        #[allow(clippy::type_complexity)]
        let (
            state,
            generation,
            open_left_ms,
            window_calls,
            window_failures,
            granted,
            discarded,
            epoch,
            refused,
            published,
        ): (String, u64, u64, u64, u64, u64, u64, u64, String, u8) =
            FromRedisValue::from_redis_value(v)?;
        let state = SharedState::parse(&state)
            .ok_or_else(|| redis::ParsingError::from(format!("unknown state {state:?}")))?;
        Ok(Reply {
            state,
            generation,
            open_left_ms,
            window_calls,
            window_failures,
            granted,
            discarded,
            epoch,
            publish_error: (!refused.is_empty()).then_some(refused),
            published: published == 1,
        })
    }
}

/// One breaker's part of a script call's answer: its reply, or why its part failed
/// (a key of the wrong type, say), which fails that breaker's round and no other's.
pub(crate) fn parse_part(v: Value) -> Result<Reply, String> {
    if let Ok((tag, why)) = <(String, String)>::from_redis_value(v.clone()) {
        if tag == "error" {
            return Err(why);
        }
    }
    Reply::from_redis_value(v).map_err(|e| format!("unexpected answer from the script: {e}"))
}

/// A transition as pub/sub announces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Announcement {
    pub(crate) generation: u64,
    pub(crate) state: SharedState,
    pub(crate) open_left_ms: u64,
    pub(crate) epoch: u64,
}

impl Announcement {
    /// Parses `"<gen> <state> <ms left> <epoch>"`; `None` for anything else.
    pub(crate) fn parse(payload: &str) -> Option<Self> {
        let mut parts = payload.split(' ');
        let generation = parts.next()?.parse().ok()?;
        let state = SharedState::parse(parts.next()?)?;
        let open_left_ms = parts.next()?.parse().ok()?;
        let epoch = parts.next()?.parse().ok()?;
        parts.next().is_none().then_some(Announcement {
            generation,
            state,
            open_left_ms,
            epoch,
        })
    }
}

/// The settings the script needs besides the counts, formatted once.
#[derive(Debug, Clone)]
pub(crate) struct ScriptArgs {
    pub(crate) state_key: String,
    pub(crate) window_key: String,
    /// This instance's batch key.
    pub(crate) batch_key: String,
    pub(crate) channel: String,
    pub(crate) rate: f64,
    pub(crate) minimum_calls: u64,
    pub(crate) window_ms: u64,
    pub(crate) buckets: u32,
    pub(crate) open_ms: u64,
    pub(crate) permits: u32,
    pub(crate) half_open_timeout_ms: u64,
    pub(crate) ttl_ms: u64,
    /// How long Redis remembers this instance's last batch id.
    pub(crate) batch_ttl_ms: u64,
    /// The half-open rule's failure-rate threshold (`None`: every probe succeeds).
    pub(crate) probe_failure_rate: Option<f64>,
    /// The state a missing shared state is created in (`closed`, `forced_open`,
    /// `disabled`, `count_only`).
    pub(crate) initial_state: &'static str,
}

/// Arguments per breaker in a script call (`ARGS_PER` in `script.lua`).
#[cfg(test)]
const ARGS_PER: usize = 24;

impl ScriptArgs {
    /// Adds this breaker's keys to a script call (`EVALSHA` takes every key of the
    /// call before the first argument).
    pub(crate) fn push_keys(&self, cmd: &mut redis::Cmd) {
        cmd.arg(&self.state_key)
            .arg(&self.window_key)
            .arg(&self.batch_key);
    }

    /// Adds this breaker's [`ARGS_PER`] arguments, for `flush`, to a script call.
    /// `check`: test that this user may PUBLISH on the channel.
    pub(crate) fn push_args(&self, cmd: &mut redis::Cmd, flush: &Flush, check: bool) {
        cmd.arg(flush.generation.map_or(-1, |g| g as i64))
            .arg(flush.calls)
            .arg(flush.failures)
            .arg(flush.probe_successes)
            .arg(flush.probe_failures)
            .arg(flush.probe_releases)
            .arg(flush.want_probes)
            .arg(self.rate)
            .arg(self.minimum_calls)
            .arg(self.window_ms)
            .arg(self.buckets)
            .arg(self.open_ms)
            .arg(self.permits)
            .arg(self.half_open_timeout_ms)
            .arg(self.ttl_ms)
            .arg(&self.channel)
            .arg(flush.epoch)
            .arg(flush.batch)
            .arg(self.batch_ttl_ms)
            .arg(flush.retry_after_ms)
            .arg(u8::from(check));
        match flush.order {
            Some(order) => cmd.arg(order.encode()),
            None => cmd.arg("none"),
        };
        cmd.arg(self.probe_failure_rate.unwrap_or(-1.0))
            .arg(self.initial_state);
    }
}

/// Fixtures for the crate's unit tests.
#[cfg(test)]
impl ScriptArgs {
    pub(crate) fn example() -> Self {
        ScriptArgs {
            state_key: "s".into(),
            window_key: "w".into(),
            batch_key: "b".into(),
            channel: "c".into(),
            rate: 0.5,
            minimum_calls: 10,
            window_ms: 60_000,
            buckets: 10,
            open_ms: 1_000,
            permits: 1,
            half_open_timeout_ms: 30_000,
            ttl_ms: 3_600_000,
            batch_ttl_ms: 180_000,
            probe_failure_rate: None,
            initial_state: "closed",
        }
    }
}

#[cfg(test)]
impl Reply {
    /// An answer of epoch 1 with an empty window, nothing discarded or published.
    pub(crate) fn example(
        state: SharedState,
        generation: u64,
        open_left_ms: u64,
        granted: u64,
    ) -> Self {
        Reply {
            state,
            generation,
            open_left_ms,
            window_calls: 0,
            window_failures: 0,
            granted,
            discarded: 0,
            epoch: 1,
            publish_error: None,
            published: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_breaker_sends_the_arguments_the_script_reads() {
        let lua = format!("local ARGS_PER = {ARGS_PER}\n");
        assert!(
            SYNC_LUA.contains(&lua),
            "script.lua reads {ARGS_PER} per breaker"
        );
        let args = ScriptArgs::example();
        let mut cmd = redis::Cmd::new();
        args.push_keys(&mut cmd);
        assert_eq!(cmd.args_iter().count(), 3);
        let mut cmd = redis::Cmd::new();
        args.push_args(&mut cmd, &Flush::default(), true);
        assert_eq!(cmd.args_iter().count(), ARGS_PER);
    }

    #[test]
    fn announcements_parse_and_refuse_junk() {
        assert_eq!(
            Announcement::parse("7 open 1500 1733000000123456"),
            Some(Announcement {
                generation: 7,
                state: SharedState::Open,
                open_left_ms: 1500,
                epoch: 1_733_000_000_123_456,
            })
        );
        assert_eq!(
            Announcement::parse("8 half_open 0 1").map(|a| a.state),
            Some(SharedState::HalfOpen)
        );
        for junk in [
            "",
            "7",
            "7 open",
            "7 open 1",
            "x open 1 1",
            "7 ajar 1 1",
            "7 open 1 x",
            "7 open 1 1 extra",
            "-1 open 1 1",
        ] {
            assert_eq!(Announcement::parse(junk), None, "{junk:?}");
        }
    }
}
