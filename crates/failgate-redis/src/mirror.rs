//! The local mirror of the shared state: what every call reads, and the counters it
//! writes for the next flush. Calls never touch Redis; the sync task is the only one
//! that does, and it installs what Redis answers here.
//!
//! The mirror word packs `kind (2 bits) | local (1 bit) | generation (61 bits)`:
//! - kind: closed, open or half-open, as Redis last said;
//! - local: set while Redis is unreachable (or not reached yet), when calls go through
//!   the local fallback breaker instead;
//! - generation: Redis's, bumped by every shared transition.
//!
//! The closed-state success path is one load when admitted and one load plus one
//! `fetch_add` when recorded: no clock read, no lock, no allocation.

use crate::integrity::Integrity;
use crate::script::{Announcement, Flush, Reply, SharedState};
use failgate::{Clock, Outcome, Rejected, State};
use futures_util::task::AtomicWaker;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::sync::Arc;
use std::time::Duration;

pub(crate) const CLOSED: u64 = 0;
pub(crate) const OPEN: u64 = 1;
pub(crate) const HALF_OPEN: u64 = 2;
const KIND: u64 = 0b11;
pub(crate) const LOCAL: u64 = 0b100;
const GEN_SHIFT: u32 = 3;
/// Probe tokens are tagged with the low 48 bits of their generation.
const TOKEN_BITS: u32 = 16;

#[inline(always)]
pub(crate) fn kind(w: u64) -> u64 {
    w & KIND
}

#[inline(always)]
pub(crate) fn generation(w: u64) -> u64 {
    w >> GEN_SHIFT
}

#[inline(always)]
fn word(kind: u64, local: bool, generation: u64) -> u64 {
    generation << GEN_SHIFT | if local { LOCAL } else { 0 } | kind
}

fn kind_of(state: SharedState) -> u64 {
    match state {
        SharedState::Closed => CLOSED,
        SharedState::Open => OPEN,
        SharedState::HalfOpen => HALF_OPEN,
    }
}

fn token_tag(generation: u64) -> u64 {
    generation & ((1 << (64 - TOKEN_BITS)) - 1)
}

/// Whether the fleet breaker decides with the shared state or on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Redis answers: admission follows the fleet's shared state.
    Shared,
    /// Redis is unreachable (or not reached yet): a purely local breaker with the same
    /// configuration decides, and the shared state is resynchronised on reconnect.
    Local,
}

/// How a call was admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    /// Closed fleet-wide: counted for the shared window, in this generation.
    Counted(u64),
    /// One of the fleet's half-open probes, of this generation.
    Probe(u64),
    /// Fallback: ask the local breaker.
    Local,
}

/// Counters of the sync task's work, for [`FleetStatus`](crate::FleetStatus).
#[derive(Debug, Default)]
pub(crate) struct Stats {
    /// Why the last failed round trip failed; cleared by a successful one. Only the
    /// sync task writes it and only `status()` reads it: no call path takes this lock.
    pub(crate) last_error: std::sync::Mutex<Option<String>>,
    pub(crate) round_trips: AtomicU64,
    pub(crate) sync_errors: AtomicU64,
    pub(crate) discarded: AtomicU64,
    pub(crate) announcements: AtomicU64,
}

/// Everything the handles and the background tasks share.
pub(crate) struct Core {
    pub(crate) word: AtomicU64,
    /// End of the open wait, on the local clock, in nanoseconds.
    open_until: AtomicU64,
    /// Probe permits Redis handed this instance: `tag (48 bits) | count (16 bits)`.
    tokens: AtomicU64,
    pending_calls: AtomicU64,
    pending_failures: AtomicU64,
    /// Outcomes the local fallback counted, for the shared window on reconnect.
    local_calls: AtomicU64,
    local_failures: AtomicU64,
    probe_successes: AtomicU64,
    probe_failures: AtomicU64,
    probe_releases: AtomicU64,
    /// A call was refused for want of a probe permit since the last round trip.
    demand: AtomicBool,
    /// The sync task should run now, not at its next tick.
    urgent: AtomicBool,
    /// The pub/sub listener is subscribed: transitions arrive without polling.
    subscribed: AtomicBool,
    pub(crate) waker: AtomicWaker,
    /// The shared window's counts, as of the last round trip.
    shared_calls: AtomicU64,
    shared_failures: AtomicU64,
    pub(crate) local: failgate::CircuitBreaker,
    pub(crate) clock: Arc<dyn Clock>,
    rate: f64,
    minimum_calls: u64,
    /// When the sync task last started a round, on `real_clock`.
    heartbeat: AtomicU64,
    real_clock: failgate::SystemClock,
    stale_after_nanos: u64,
    pub(crate) name: String,
    pub(crate) namespace: String,
    pub(crate) stats: Stats,
    /// The shared state's epoch, and whether PUBLISH is refused.
    pub(crate) integrity: Integrity,
    #[cfg(feature = "metrics")]
    pub(crate) gauges: crate::breaker::MetricHandles,
    /// Dropped with the core: tells the background tasks to stop.
    pub(crate) _stop: tokio::sync::watch::Sender<()>,
}

impl Core {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        local: failgate::CircuitBreaker,
        clock: Arc<dyn Clock>,
        rate: f64,
        minimum_calls: u64,
        stale_after: Duration,
        name: String,
        namespace: String,
        stop: tokio::sync::watch::Sender<()>,
        #[cfg(feature = "metrics")] gauges: crate::breaker::MetricHandles,
    ) -> Self {
        Core {
            // Local until the first round trip succeeds.
            word: AtomicU64::new(word(CLOSED, true, 0)),
            open_until: AtomicU64::new(0),
            tokens: AtomicU64::new(0),
            pending_calls: AtomicU64::new(0),
            pending_failures: AtomicU64::new(0),
            local_calls: AtomicU64::new(0),
            local_failures: AtomicU64::new(0),
            probe_successes: AtomicU64::new(0),
            probe_failures: AtomicU64::new(0),
            probe_releases: AtomicU64::new(0),
            demand: AtomicBool::new(false),
            urgent: AtomicBool::new(false),
            subscribed: AtomicBool::new(false),
            waker: AtomicWaker::new(),
            shared_calls: AtomicU64::new(0),
            shared_failures: AtomicU64::new(0),
            local,
            clock,
            rate,
            minimum_calls,
            heartbeat: AtomicU64::new(0),
            real_clock: failgate::SystemClock::new(),
            stale_after_nanos: u64::try_from(stale_after.as_nanos()).unwrap_or(u64::MAX),
            name,
            namespace,
            stats: Stats::default(),
            integrity: Integrity::default(),
            #[cfg(feature = "metrics")]
            gauges,
            _stop: stop,
        }
    }

    // ---- the call path ----------------------------------------------------------------

    #[inline(always)]
    pub(crate) fn admit(&self) -> Result<Admit, Rejected> {
        let w = self.word.load(Acquire);
        if w & (KIND | LOCAL) == CLOSED {
            return Ok(Admit::Counted(generation(w)));
        }
        self.admit_slow(w)
    }

    #[inline(never)]
    fn admit_slow(&self, w: u64) -> Result<Admit, Rejected> {
        // The clock is read only where an open wait is looked at.
        let left = || self.open_left();
        if w & LOCAL != 0 {
            // A shared open state learnt before Redis went away still holds.
            // (Only an open word reads the clock: the fallback's closed path does not.)
            return match kind(w) {
                OPEN => match left() {
                    Some(left) if !left.is_zero() => Err(Rejected::new(State::Open, Some(left))),
                    _ => Ok(Admit::Local),
                },
                _ => Ok(Admit::Local),
            };
        }
        match kind(w) {
            OPEN => match left() {
                Some(left) if !left.is_zero() => Err(Rejected::new(State::Open, Some(left))),
                _ if self.sync_is_stale() => Ok(Admit::Local),
                _ => {
                    // The wait is over here: ask Redis for probe permits now.
                    self.demand.store(true, Relaxed);
                    self.nudge();
                    Err(Rejected::new(State::Open, Some(Duration::ZERO)))
                }
            },
            _ => {
                let tag = token_tag(generation(w));
                let mut t = self.tokens.load(Acquire);
                loop {
                    if t >> TOKEN_BITS != tag || t & 0xFFFF == 0 {
                        if self.sync_is_stale() {
                            return Ok(Admit::Local);
                        }
                        // The next round trip asks for permits (at most one per tick,
                        // so a crowd of refused calls never hammers Redis).
                        self.demand.store(true, Relaxed);
                        return Err(Rejected::new(State::HalfOpen, None));
                    }
                    match self.tokens.compare_exchange_weak(t, t - 1, AcqRel, Acquire) {
                        Ok(_) => return Ok(Admit::Probe(generation(w))),
                        Err(now) => t = now,
                    }
                }
            }
        }
    }

    /// Time left of the open wait, by the local clock (`None` if none was set).
    fn open_left(&self) -> Option<Duration> {
        let until = self.open_until.load(Acquire);
        (until != 0).then(|| Duration::from_nanos(until.saturating_sub(self.clock.now_nanos())))
    }

    /// Counts the outcome of a call admitted while closed in `gen`. Late outcomes (the
    /// shared state moved on) are discarded.
    #[inline(always)]
    pub(crate) fn record_counted(&self, gen: u64, outcome: Outcome) {
        let w = self.word.load(Relaxed);
        if generation(w) != gen || kind(w) != CLOSED {
            return;
        }
        match outcome {
            Outcome::Success => {
                self.pending_calls.fetch_add(1, Relaxed);
            }
            Outcome::Failure => self.count_failure(),
            Outcome::Ignore => {}
        }
    }

    /// Counts the outcome of a call the local fallback admitted, for the shared window
    /// once Redis answers again.
    #[inline]
    pub(crate) fn record_local(&self, outcome: Outcome) {
        if outcome != Outcome::Ignore {
            self.local_calls.fetch_add(1, Relaxed);
        }
        if outcome == Outcome::Failure {
            self.local_failures.fetch_add(1, Relaxed);
        }
    }

    #[inline(never)]
    fn count_failure(&self) {
        let calls = self.pending_calls.fetch_add(1, Relaxed) + 1;
        let failures = self.pending_failures.fetch_add(1, Relaxed) + 1;
        // Flush now if the window, with what is pending here, could trip.
        let calls = calls + self.shared_calls.load(Relaxed);
        let failures = failures + self.shared_failures.load(Relaxed);
        if calls >= self.minimum_calls && failures as f64 >= self.rate * calls as f64 {
            self.nudge();
            // Nobody flushes if the sync task is gone (its runtime shut down): the
            // failures must still be able to trip a breaker, the local one.
            self.sync_is_stale();
        }
    }

    /// True (and switched to local) if the sync task has not started a round for much
    /// longer than its interval: its runtime was shut down, or is starved. Checked only
    /// where a mirror nobody updates would do harm (a failure that could trip, an open
    /// wait that is over, a half-open refusal), so a breaker never stays closed through
    /// failures, or open or half-open, for ever.
    fn sync_is_stale(&self) -> bool {
        let beat = self.heartbeat.load(Acquire);
        let stale = self.real_nanos().saturating_sub(beat) > self.stale_after_nanos;
        if stale && self.enter_local() {
            tracing::warn!(
                breaker = %self.name, namespace = %self.namespace,
                "the fleet breaker's sync task has stopped (was its tokio runtime shut down?): \
                 falling back to a local breaker"
            );
        }
        stale
    }

    /// The sync task is alive: called at the start of every round.
    pub(crate) fn beat(&self) {
        self.heartbeat.store(self.real_nanos(), Release);
    }

    /// Real time (the heartbeat is about a real task, whatever clock the breaker was
    /// given), from failgate's fast system clock.
    fn real_nanos(&self) -> u64 {
        self.real_clock.now_nanos()
    }

    /// Reports a probe's outcome (`None`: abandoned or ignored, the permit goes back).
    pub(crate) fn record_probe(&self, gen: u64, outcome: Option<bool>) {
        let w = self.word.load(Acquire);
        if generation(w) != gen || kind(w) != HALF_OPEN {
            return;
        }
        let counter = match outcome {
            Some(true) => &self.probe_successes,
            Some(false) => &self.probe_failures,
            None => &self.probe_releases,
        };
        counter.fetch_add(1, Relaxed);
        self.nudge();
    }

    /// Wakes the sync task, once per round trip however many calls ask.
    #[inline]
    fn nudge(&self) {
        if !self.urgent.load(Relaxed) && !self.urgent.swap(true, AcqRel) {
            self.waker.wake();
        }
    }

    pub(crate) fn take_urgent(&self) -> bool {
        self.urgent.swap(false, AcqRel)
    }

    pub(crate) fn is_urgent(&self) -> bool {
        self.urgent.load(Acquire)
    }

    pub(crate) fn set_subscribed(&self, subscribed: bool) {
        self.subscribed.store(subscribed, Release);
    }

    /// Nothing to tell Redis, and transitions arrive by pub/sub: a round trip can wait.
    /// (Not while PUBLISH is refused: then no instance can announce a transition.)
    pub(crate) fn is_idle(&self) -> bool {
        self.subscribed.load(Acquire)
            && !self.integrity.publish_denied()
            && self.word.load(Acquire) & LOCAL == 0
            && self.pending_calls.load(Acquire) == 0
            && self.probe_successes.load(Acquire) == 0
            && self.probe_failures.load(Acquire) == 0
            && self.probe_releases.load(Acquire) == 0
            && !self.demand.load(Acquire)
            && self.held_tokens() == 0
    }

    // ---- the sync task's side ---------------------------------------------------------

    pub(crate) fn mode(&self) -> Mode {
        if self.word.load(Acquire) & LOCAL != 0 {
            Mode::Local
        } else {
            Mode::Shared
        }
    }

    /// The fleet state as callers see it.
    pub(crate) fn state(&self) -> State {
        let w = self.word.load(Acquire);
        if w & LOCAL != 0 {
            let still_open = kind(w) == OPEN && self.open_left().is_some_and(|d| !d.is_zero());
            return if still_open {
                State::Open
            } else {
                self.local.state()
            };
        }
        match kind(w) {
            OPEN => State::Open,
            HALF_OPEN => State::HalfOpen,
            _ => State::Closed,
        }
    }

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
            generation: (!resync).then(|| generation(w)),
            calls,
            failures,
            probe_successes: self.probe_successes.swap(0, AcqRel),
            probe_failures: self.probe_failures.swap(0, AcqRel),
            probe_releases: self.probe_releases.swap(0, AcqRel) + tokens_to_release,
            want_probes: if demand && !resync { u64::MAX } else { 0 },
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
        self.shared_calls.store(reply.window_calls, Relaxed);
        self.shared_failures.store(reply.window_failures, Relaxed);
        self.stats.discarded.fetch_add(reply.discarded, Relaxed);
        let lost = self.integrity.observe(reply.epoch);
        if lost.is_some() {
            // Permits of the lost state's generations, which the new one's may reuse.
            self.tokens.store(0, Release);
        }
        self.install(
            reply.generation,
            reply.state,
            reply.open_left_ms,
            true,
            resync || lost.is_some(),
        );
        // Permits of a generation that has already ended here (pub/sub announced a newer
        // one while the round trip ran) are useless, and must not overwrite the current
        // generation's.
        if reply.granted > 0 && generation(self.word.load(Acquire)) == reply.generation {
            let tag = token_tag(reply.generation);
            let _ = self.tokens.fetch_update(AcqRel, Acquire, |t| {
                let held = if t >> TOKEN_BITS == tag {
                    t & 0xFFFF
                } else {
                    0
                };
                Some(tag << TOKEN_BITS | (held + reply.granted).min(0xFFFF))
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
        self.install(a.generation, a.state, a.open_left_ms, false, false)
    }

    /// Sets the mirror to `state` of `gen` unless it already holds a newer generation.
    /// `leave_local` clears the local bit (a round trip succeeded); an announcement
    /// never does. Returns true if the generation changed.
    fn install(
        &self,
        gen: u64,
        state: SharedState,
        open_left_ms: u64,
        leave_local: bool,
        any_generation: bool,
    ) -> bool {
        let new_kind = kind_of(state);
        let mut cur = self.word.load(Acquire);
        loop {
            if generation(cur) > gen && !any_generation {
                return false;
            }
            let local = cur & LOCAL != 0 && !leave_local;
            let new = word(new_kind, local, gen);
            if new_kind == OPEN && (leave_local || generation(cur) != gen || kind(cur) != OPEN) {
                let until = self
                    .clock
                    .now_nanos()
                    .saturating_add(open_left_ms.saturating_mul(1_000_000));
                // Readers take the word first: publish the deadline before the word.
                self.open_until.store(until.max(1), Release);
            }
            if new == cur {
                return false;
            }
            match self.word.compare_exchange(cur, new, AcqRel, Acquire) {
                Ok(_) if generation(cur) != gen => {
                    // Counts not yet flushed belong to the generation that just ended.
                    self.forget_pending();
                    return true;
                }
                Ok(_) => return false,
                Err(now) => cur = now,
            }
        }
    }

    /// Switches to the local fallback. Returns true if it was shared before.
    pub(crate) fn enter_local(&self) -> bool {
        let before = self.word.fetch_or(LOCAL, AcqRel);
        if before & LOCAL == 0 {
            // The fallback starts afresh: a shared open state still holds until its
            // deadline (admission checks it), after which the local breaker decides.
            self.local.reset();
            true
        } else {
            false
        }
    }

    /// Probe permits this instance holds for the current generation.
    pub(crate) fn held_tokens(&self) -> u64 {
        let w = self.word.load(Acquire);
        let t = self.tokens.load(Acquire);
        if kind(w) == HALF_OPEN && t >> TOKEN_BITS == token_tag(generation(w)) {
            t & 0xFFFF
        } else {
            0
        }
    }

    /// Gives back up to `n` held permits (none were used for a whole tick). Returns how
    /// many were taken back, to be released in Redis.
    pub(crate) fn drop_tokens(&self, n: u64) -> u64 {
        let tag = token_tag(generation(self.word.load(Acquire)));
        let mut taken = 0;
        let _ = self.tokens.fetch_update(AcqRel, Acquire, |t| {
            if t >> TOKEN_BITS != tag {
                taken = 0;
                return None;
            }
            taken = (t & 0xFFFF).min(n);
            Some(t - taken)
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

#[cfg(test)]
#[path = "mirror_tests.rs"]
mod tests;
