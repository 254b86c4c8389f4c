//! One breaker as its fleet client syncs it: its keys and timing, and what the client
//! remembers of it between rounds (the unanswered batch, when it fell back, whether
//! Redis lets it PUBLISH). Deciding whether it goes in a round, what it sends, and
//! installing what comes back are here; the round itself is the client's.

use crate::batch::Batches;
use crate::mirror::Mirror;
use crate::script::{Flush, Reply, ScriptArgs};
use crate::telemetry;
use crate::word::Mode;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Weak;
use std::time::{Duration, Instant};

/// A breaker's timing, from its settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub(crate) interval: Duration,
    /// The longest an idle breaker goes without a round trip while subscribed.
    pub(crate) idle_poll: Duration,
    pub(crate) window: Duration,
}

pub(crate) struct Member {
    pub(crate) mirror: Weak<Mirror>,
    pub(crate) args: ScriptArgs,
    pub(crate) timing: Timing,
    /// Local since when (a breaker starts local until Redis first answers).
    local_since: Option<Instant>,
    /// None until the first round trip; then whether the last one worked.
    healthy: Option<bool>,
    tokens_at_last_round: u64,
    last_round_trip: Option<Instant>,
    batches: Batches,
    /// Why Redis refuses PUBLISH to this user, while it does: kept in `last_error`.
    publish_refused: Option<String>,
    /// Check PUBLISH permission in the next round (a new breaker, or a new connection).
    pub(crate) check_publish: bool,
    /// The round in flight was sent while local: its answer resynchronises.
    resync: bool,
}

impl Member {
    pub(crate) fn new(mirror: Weak<Mirror>, args: ScriptArgs, timing: Timing) -> Self {
        Member {
            mirror,
            args,
            timing,
            local_since: Some(Instant::now()),
            healthy: None,
            tokens_at_last_round: 0,
            last_round_trip: None,
            batches: Batches::new(),
            publish_refused: None,
            check_publish: true,
            resync: false,
        }
    }

    /// Whether this breaker goes in the round starting at `now`: something to send, a
    /// call asked, a batch to send again, or a poll due. Nothing counted, nothing asked,
    /// and pub/sub carries the transitions: it waits, polling only every `idle_poll`, so
    /// an idle fleet costs Redis little.
    pub(crate) fn wants_round(&self, core: &Mirror, now: Instant) -> bool {
        if core.take_urgent() {
            return true;
        }
        match self
            .last_round_trip
            .map(|t| now.saturating_duration_since(t))
        {
            None => true,
            Some(since) if since < self.timing.interval => false,
            Some(since) => {
                self.batches.is_resending() || !core.is_idle() || since >= self.timing.idle_poll
            }
        }
    }

    /// What this breaker sends in the round starting at `now`: the unanswered batch
    /// again, or what is pending.
    pub(crate) fn prepare(&mut self, core: &Mirror, now: Instant) -> Flush {
        self.last_round_trip = Some(now);
        self.resync = core.mode() == Mode::Local;
        if self.resync
            && self
                .local_since
                .is_some_and(|t| t.elapsed() > self.timing.window)
        {
            // Counts older than the window are out of it: what is sent on reconnect
            // was counted in the last window at most.
            core.forget_pending();
            core.forget_local();
            self.batches.forget();
            self.local_since = Some(Instant::now());
        }
        let (resync, at_last_round) = (self.resync, self.tokens_at_last_round);
        let flush = self.batches.next(|| {
            // Probe permits held for a whole round without a call taking one go back.
            let held = core.held_tokens();
            let release = if held > 0 && held == at_last_round {
                core.drop_tokens(held)
            } else {
                0
            };
            core.take_flush(resync, release)
        });
        core.stats.round_trips.fetch_add(1, Relaxed);
        #[cfg(feature = "metrics")]
        core.gauges.round_trips.increment(1);
        flush
    }

    /// The round is over (answered or not).
    pub(crate) fn after_round(&mut self, core: &Mirror) {
        self.tokens_at_last_round = core.held_tokens();
    }

    /// The answer arrived: install it, and say what changed.
    pub(crate) fn answered(&mut self, core: &Mirror, redis: &str, reply: &Reply) {
        self.batches.answered();
        if reply.published || reply.publish_error.is_some() {
            self.note_publish(core, reply.publish_error.clone());
        }
        self.check_publish = false;
        if self.healthy == Some(false) {
            telemetry::reachable_again(core.names());
        }
        self.healthy = Some(true);
        self.local_since = None;
        if let Ok(mut last) = core.stats.last_error.lock() {
            last.clone_from(&self.publish_refused);
        }
        if self.resync {
            core.local.reset();
        }
        if let Some(before) = core.install_reply(reply, self.resync) {
            telemetry::lost_state(core.names(), redis, before, reply.epoch);
        }
        #[cfg(feature = "metrics")]
        core.gauges.shared.set(1.0);
    }

    /// No answer (an error, a timeout, or this breaker's part failed): fall back to
    /// the local breaker. The batch is sent again, unchanged, next time.
    pub(crate) fn unanswered(&mut self, core: &Mirror, redis: &str, flush: Flush, error: String) {
        self.batches.unanswered(flush);
        self.check_publish = true;
        core.stats.sync_errors.fetch_add(1, Relaxed);
        #[cfg(feature = "metrics")]
        {
            core.gauges.sync_errors.increment(1);
            core.gauges.shared.set(0.0);
        }
        if core.enter_local() || self.local_since.is_none() {
            self.local_since = Some(Instant::now());
        }
        if self.healthy != Some(false) {
            telemetry::unreachable(core.names(), redis, &error);
        }
        if let Ok(mut last) = core.stats.last_error.lock() {
            *last = Some(error);
        }
        self.healthy = Some(false);
    }

    /// Records whether Redis refuses PUBLISH on the breaker's channel (`Some(why)`),
    /// logging a change once. While it does, no instance can announce a transition, so
    /// this one polls every `interval` instead of waiting for pub/sub.
    fn note_publish(&mut self, core: &Mirror, refused: Option<String>) {
        let channel = &self.args.channel;
        self.publish_refused = refused
            .as_ref()
            .map(|why| telemetry::publish_refused_note(channel, why, self.timing.interval));
        if core.integrity.set_publish_denied(refused.is_some()) {
            match &self.publish_refused {
                Some(note) => telemetry::publish_refused(core.names(), note),
                None => telemetry::publish_accepted(core.names(), channel),
            }
        }
    }
}
