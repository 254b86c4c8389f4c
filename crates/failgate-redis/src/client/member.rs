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
    /// When the probe permits held last changed (granted, or taken by a call).
    tokens_since: Instant,
    last_round_trip: Option<Instant>,
    batches: Batches,
    /// Why Redis refuses PUBLISH to this user, while it does: kept in `last_error`.
    publish_refused: Option<String>,
    /// Check PUBLISH permission in the next round: a breaker's first. (Not again on
    /// every reconnect: with pattern subscriptions every instance hears every check,
    /// and a refusal that comes later shows in the next transition's PUBLISH.)
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
            tokens_since: Instant::now(),
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
        // Probe permits held for a whole flush interval without a call taking one go
        // back (by time, not by rounds: rounds may follow each other at once when
        // Redis is slow, and permits must live long enough for a call to take one).
        let unused = now.saturating_duration_since(self.tokens_since) >= self.timing.interval;
        let (resync, at_last_round) = (self.resync, self.tokens_at_last_round);
        let flush = self.batches.next(|| {
            let held = core.held_tokens();
            let release = if held > 0 && held == at_last_round && unused {
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
        #[cfg(feature = "metrics")]
        core.export_totals();
        let held = core.held_tokens();
        if held != self.tokens_at_last_round {
            self.tokens_since = Instant::now();
        }
        self.tokens_at_last_round = held;
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
        if let Some(before) = core.install_reply(reply, self.resync) {
            telemetry::lost_state(core.names(), redis, before, reply.epoch);
        }
        if self.resync {
            // After the install, so that observers hear the change callers see (the
            // fallback's state to the fleet's), not the fallback's reset.
            core.local.reset();
        }
        #[cfg(feature = "metrics")]
        core.gauges.shared.set(1.0);
    }

    /// The answer came after the timeout (the breaker has [fallen back](Self::fell_back)
    /// meanwhile): its batch is acknowledged and its state installed, but the breaker
    /// stays local until a round is answered in time; the next round resynchronises.
    pub(crate) fn late(&mut self, core: &Mirror, redis: &str, reply: &Reply) {
        self.batches.answered();
        if reply.published || reply.publish_error.is_some() {
            self.note_publish(core, reply.publish_error.clone());
        }
        self.check_publish = false;
        if let Some(before) = core.install_late_reply(reply, self.resync) {
            telemetry::lost_state(core.names(), redis, before, reply.epoch);
        }
    }

    /// No answer (an error, or this breaker's part failed): fall back to the local
    /// breaker. The batch is sent again, unchanged, next time.
    pub(crate) fn unanswered(&mut self, core: &Mirror, redis: &str, flush: Flush, error: String) {
        self.batches.unanswered(flush);
        self.fell_back(core, redis, error);
    }

    /// An answer that was already late failed too: the batch is sent again.
    pub(crate) fn unanswered_after_timeout(&mut self, core: &Mirror, flush: Flush, error: String) {
        self.batches.unanswered(flush);
        if let Ok(mut last) = core.stats.last_error.lock() {
            *last = Some(error);
        }
    }

    /// The round failed or is late: the breaker decides locally (logged once, counted).
    pub(crate) fn fell_back(&mut self, core: &Mirror, redis: &str, error: String) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::SharedState;
    use crate::settings::Settings;
    use crate::wake::Link;
    use std::sync::Arc;

    const INTERVAL: Duration = Duration::from_millis(100);

    fn member() -> (Arc<Mirror>, Member) {
        let mut s = Settings::new("n");
        // Never stale within a test.
        s.redis_timeout = Duration::from_secs(1800);
        let mirror = Arc::new(Mirror::new(
            s.local_breaker(None).unwrap(),
            &s,
            Link::detached(),
        ));
        let args = ScriptArgs::example();
        let timing = Timing {
            interval: INTERVAL,
            idle_poll: Duration::from_secs(1),
            window: Duration::from_secs(60),
        };
        let member = Member::new(Arc::downgrade(&mirror), args, timing);
        (mirror, member)
    }

    fn half_open(granted: u64) -> Reply {
        Reply::example(SharedState::HalfOpen, 2, 0, granted)
    }

    /// One round at `now`, answered with `reply`.
    fn round(m: &Arc<Mirror>, member: &mut Member, now: Instant, reply: &Reply) -> Flush {
        let flush = member.prepare(m, now);
        member.answered(m, "redis", reply);
        member.after_round(m);
        flush
    }

    #[test]
    fn a_granted_probe_permit_is_kept_for_a_flush_interval_however_fast_rounds_follow() {
        let (m, mut member) = member();
        round(&m, &mut member, Instant::now(), &half_open(1));
        assert_eq!(m.held_tokens(), 1, "Redis granted one permit");
        // A slow Redis: the next rounds follow at once. No call had time to take it.
        for _ in 0..3 {
            let flush = round(&m, &mut member, Instant::now(), &half_open(0));
            assert_eq!(flush.probe_releases, 0, "the permit is not given back yet");
        }
        assert_eq!(m.held_tokens(), 1);
        // A whole interval later, still unused: it goes back to the fleet.
        let flush = round(&m, &mut member, Instant::now() + INTERVAL, &half_open(0));
        assert_eq!(flush.probe_releases, 1);
        assert_eq!(m.held_tokens(), 0);
    }
}
