//! The sync task's side of the mirror: taking what is pending for a round trip,
//! installing what Redis answers or announces, the fallback switch and the probe
//! permits held.

use super::Mirror;
use crate::script::{Announcement, Flush, Reply, SharedState};
use crate::word::{MirrorWord, ProbeTokens};
use failgate::Reason;
use std::sync::atomic::Ordering::*;

impl Mirror {
    /// Takes what is pending for the next round trip, with what the local fallback
    /// counted (during a fallback, or before the batch that ended it was answered).
    pub(crate) fn take_flush(&self, resync: bool, tokens_to_release: u64) -> Flush {
        let w = self.word.load(Acquire);
        let demand = self.demand.swap(false, AcqRel);
        let calls = self.pending_calls.swap(0, AcqRel) + self.local_calls.swap(0, AcqRel);
        let failures = self.pending_failures.swap(0, AcqRel) + self.local_failures.swap(0, AcqRel);
        Flush {
            batch: 0,
            epoch: self.integrity.epoch(),
            generation: (!resync).then(|| w.generation()),
            calls,
            failures,
            probe_successes: self.probe_successes.swap(0, AcqRel),
            probe_failures: self.probe_failures.swap(0, AcqRel),
            probe_releases: self.probe_releases.swap(0, AcqRel) + tokens_to_release,
            want_probes: if demand && !resync { u64::MAX } else { 0 },
            retry_after_ms: self.take_hint_ms(),
            order: self.take_order(),
        }
    }

    /// Drops the counts of before a fallback that outlasted the window.
    pub(crate) fn forget_pending(&self) {
        self.pending_calls.store(0, Release);
        self.pending_failures.store(0, Release);
    }

    /// Drops what the local fallback counted (a fallback that outlasted the window).
    pub(crate) fn forget_local(&self) {
        self.local_calls.store(0, Release);
        self.local_failures.store(0, Release);
    }

    /// Installs what Redis answered, leaving local mode. Returns the epoch the mirror
    /// followed if the answer's is another: the shared state was lost and recreated.
    /// After a fallback (`resync`) or a loss the answer is taken even if its generation
    /// is older than the mirror's: the fleet starts over from what Redis holds now.
    pub(crate) fn install_reply(&self, reply: &Reply, resync: bool) -> Option<u64> {
        self.take_reply(reply, resync, true)
    }

    /// Like [`install_reply`](Self::install_reply), for an answer that came after the
    /// timeout: the breaker, fallen back meanwhile, stays local.
    pub(crate) fn install_late_reply(&self, reply: &Reply, resync: bool) -> Option<u64> {
        self.take_reply(reply, resync, false)
    }

    fn take_reply(&self, reply: &Reply, resync: bool, leave_local: bool) -> Option<u64> {
        self.shared_calls.store(reply.window_calls, Relaxed);
        self.shared_failures.store(reply.window_failures, Relaxed);
        self.stats.discarded.fetch_add(reply.discarded, Relaxed);
        let lost = self.integrity.observe(reply.epoch);
        if lost.is_some() {
            // Permits of the lost state's generations, which the new one's may reuse.
            self.tokens.store(ProbeTokens::NONE.bits(), Release);
        }
        self.install(
            reply.generation,
            reply.state,
            reply.open_left_ms,
            (leave_local, resync || lost.is_some()),
            Reason::Fleet,
        );
        // Permits of a generation that has already ended here (pub/sub announced a newer
        // one while the round trip ran) are useless, and must not overwrite the current
        // generation's.
        if reply.granted > 0 && self.word.load(Acquire).generation() == reply.generation {
            let _ = self.tokens.fetch_update(AcqRel, Acquire, |t| {
                let held = ProbeTokens::from_bits(t).held_for(reply.generation);
                Some(ProbeTokens::of(reply.generation, held + reply.granted).bits())
            });
        }
        lost
    }

    /// Installs a transition announced over pub/sub (only if it is newer). One of
    /// another epoch than the mirror's is not compared by generation: it asks for a round
    /// trip, which settles which state is Redis's.
    pub(crate) fn install_announcement(&self, a: &Announcement) -> bool {
        self.stats.announcements.fetch_add(1, Relaxed);
        if a.epoch != self.integrity.epoch() {
            self.nudge();
            return false;
        }
        self.install(
            a.generation,
            a.state,
            a.open_left_ms,
            (false, false),
            Reason::Fleet,
        )
    }

    /// Sets the mirror to `state` of `gen` unless it already holds a newer generation.
    /// `leave_local` clears the local bit (a round trip succeeded); an announcement
    /// never does. A change callers see is reported with `reason`. Returns true if the
    /// generation changed.
    pub(super) fn install(
        &self,
        gen: u64,
        state: SharedState,
        open_left_ms: u64,
        (leave_local, any_generation): (bool, bool),
        reason: Reason,
    ) -> bool {
        let mut cur = self.word.load(Acquire);
        loop {
            if cur.generation() > gen && !any_generation {
                return false;
            }
            let local = cur.is_local() && !leave_local;
            let new = MirrorWord::new(state, local, gen);
            let open = SharedState::Open;
            if state == open {
                let until = self
                    .clock
                    .now_nanos()
                    .saturating_add(open_left_ms.saturating_mul(1_000_000));
                if any_generation || cur.generation() != gen || cur.kind() != open {
                    // A new open state: its wait, and at least the local hint, which
                    // holds while Redis is slow. Readers take the word first: publish
                    // the deadline before the word.
                    self.open_until
                        .store(until.max(self.hint_until()).max(1), Release);
                } else {
                    // The same open state: Redis only ever lengthens its wait (a
                    // dependency's "retry after"), and a local hint may already have.
                    self.open_until.fetch_max(until, AcqRel);
                }
            }
            if new == cur {
                return false;
            }
            // SeqCst: pairs with `note_retry_after` (see there).
            match self.word.compare_exchange(cur, new, SeqCst, Acquire) {
                Ok(_) => {
                    if state == open {
                        // A hint noted while the word was being replaced.
                        self.open_until.fetch_max(self.hint_until(), AcqRel);
                    }
                    self.report(cur, new, reason);
                    if cur.generation() == gen {
                        return false;
                    }
                    if state == SharedState::Closed {
                        self.forget_hint();
                    }
                    // Counts not yet flushed belong to the generation that just ended.
                    self.forget_pending();
                    return true;
                }
                Err(now) => cur = now,
            }
        }
    }

    /// Switches to the local fallback. Returns true if it was shared before.
    pub(crate) fn enter_local(&self) -> bool {
        if self.word.load(Acquire).is_local() {
            return false;
        }
        // The fallback starts afresh: a shared open state still holds until its
        // deadline (admission checks it), after which the local breaker decides. The
        // reset comes before the word says local, so that no outcome a caller records
        // once it sees the local mode is discarded by the reset. (A caller that finds
        // the sync task stale may switch at the same moment as the client: both
        // reset, and exactly one of them reports the switch.)
        self.local.reset();
        // An operator's state the fleet is in holds in the fallback too.
        self.local_follows(self.word.load(Acquire).kind());
        let before = self.word.set_local(AcqRel);
        if before.is_local() {
            return false;
        }
        self.report(before, self.word.load(Acquire), Reason::Fleet);
        true
    }

    /// Probe permits this instance holds for the current generation.
    pub(crate) fn held_tokens(&self) -> u64 {
        let w = self.word.load(Acquire);
        if w.kind() == SharedState::HalfOpen {
            ProbeTokens::from_bits(self.tokens.load(Acquire)).held_for(w.generation())
        } else {
            0
        }
    }

    /// Gives back up to `n` held permits (none were used for a whole tick). Returns how
    /// many were taken back, to be released in Redis.
    pub(crate) fn drop_tokens(&self, n: u64) -> u64 {
        let generation = self.word.load(Acquire).generation();
        let mut taken = 0;
        let _ = self.tokens.fetch_update(AcqRel, Acquire, |t| {
            let t = ProbeTokens::from_bits(t);
            taken = t.held_for(generation).min(n);
            (taken > 0).then(|| t.minus(taken).bits())
        });
        taken
    }

    /// The shared window's counts as of the last round trip.
    pub(crate) fn shared_counts(&self) -> (u64, u64) {
        (
            self.shared_calls.load(Relaxed),
            self.shared_failures.load(Relaxed),
        )
    }
}
