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
    pub(crate) fn is_idle(&self) -> bool {
        self.subscribed.load(Acquire)
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

    /// Takes what is pending for the next round trip.
    pub(crate) fn take_flush(&self, resync: bool, tokens_to_release: u64) -> Flush {
        let w = self.word.load(Acquire);
        let demand = self.demand.swap(false, AcqRel);
        Flush {
            generation: (!resync).then(|| generation(w)),
            calls: self.pending_calls.swap(0, AcqRel),
            failures: self.pending_failures.swap(0, AcqRel),
            probe_successes: self.probe_successes.swap(0, AcqRel),
            probe_failures: self.probe_failures.swap(0, AcqRel),
            probe_releases: self.probe_releases.swap(0, AcqRel) + tokens_to_release,
            want_probes: if demand && !resync { u64::MAX } else { 0 },
        }
    }

    /// Puts back the counts of a round trip that failed, so nothing is lost.
    pub(crate) fn restore(&self, flush: &Flush) {
        self.pending_calls.fetch_add(flush.calls, AcqRel);
        self.pending_failures.fetch_add(flush.failures, AcqRel);
        if flush.want_probes > 0 {
            self.demand.store(true, Relaxed);
        }
        // Probe results and releases of a generation Redis never heard back from are
        // settled by its half-open timeout.
    }

    /// Drops the counts of before a fallback that outlasted the window.
    pub(crate) fn forget_pending(&self) {
        self.pending_calls.store(0, Release);
        self.pending_failures.store(0, Release);
    }

    /// Installs what Redis answered, leaving local mode. Returns true if the generation
    /// changed. After a fallback (`resync`) the answer is taken even if its generation
    /// is older than the mirror's: Redis lost its data (a restart without persistence)
    /// and the fleet starts over from what it holds now.
    pub(crate) fn install_reply(&self, reply: &Reply, resync: bool) -> bool {
        self.shared_calls.store(reply.window_calls, Relaxed);
        self.shared_failures.store(reply.window_failures, Relaxed);
        self.stats.discarded.fetch_add(reply.discarded, Relaxed);
        let changed = self.install(
            reply.generation,
            reply.state,
            reply.open_left_ms,
            true,
            resync,
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
        changed
    }

    /// Installs a transition announced over pub/sub (only if it is newer).
    pub(crate) fn install_announcement(&self, a: &Announcement) -> bool {
        self.stats.announcements.fetch_add(1, Relaxed);
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
mod tests {
    use super::*;
    use failgate::ManualClock;

    fn core(clock: &ManualClock) -> Core {
        let local = failgate::CircuitBreaker::builder()
            .failure_rate(0.5)
            .minimum_calls(4)
            .window(failgate::Window::time(Duration::from_secs(10)))
            .clock(clock.clone())
            .build()
            .unwrap();
        let (stop, _) = tokio::sync::watch::channel(());
        Core::new(
            local,
            Arc::new(clock.clone()),
            0.5,
            4,
            Duration::from_secs(3600),
            "n".into(),
            "ns".into(),
            stop,
            #[cfg(feature = "metrics")]
            crate::breaker::MetricHandles::new("ns", "n"),
        )
    }

    impl Core {
        fn install_reply_test(&self, reply: &Reply) -> bool {
            self.install_reply(reply, false)
        }
    }

    fn reply(state: SharedState, generation: u64, open_left_ms: u64, granted: u64) -> Reply {
        Reply {
            state,
            generation,
            open_left_ms,
            window_calls: 0,
            window_failures: 0,
            granted,
            discarded: 0,
        }
    }

    #[test]
    fn starts_local_and_a_reply_makes_it_shared() {
        let clock = ManualClock::new();
        let c = core(&clock);
        assert_eq!(c.mode(), Mode::Local);
        assert_eq!(c.admit(), Ok(Admit::Local));
        c.install_reply_test(&reply(SharedState::Closed, 3, 0, 0));
        assert_eq!(c.mode(), Mode::Shared);
        assert_eq!(c.admit(), Ok(Admit::Counted(3)));
    }

    #[test]
    fn open_refuses_with_the_time_left_then_asks_for_probes() {
        let clock = ManualClock::new();
        let c = core(&clock);
        c.install_reply_test(&reply(SharedState::Open, 1, 2_000, 0));
        let r = c.admit().unwrap_err();
        assert_eq!(
            (r.state(), r.retry_after()),
            (State::Open, Some(Duration::from_secs(2)))
        );
        clock.advance(Duration::from_secs(2));
        let r = c.admit().unwrap_err();
        assert_eq!(r.retry_after(), Some(Duration::ZERO));
        assert!(c.is_urgent(), "the sync task was woken to ask for probes");
        let flush = c.take_flush(false, 0);
        assert_eq!(flush.want_probes, u64::MAX);
        assert_eq!(flush.generation, Some(1));
    }

    #[test]
    fn probes_come_only_from_granted_tokens_of_the_current_generation() {
        let clock = ManualClock::new();
        let c = core(&clock);
        c.install_reply_test(&reply(SharedState::HalfOpen, 2, 0, 2));
        assert_eq!(c.admit(), Ok(Admit::Probe(2)));
        assert_eq!(c.admit(), Ok(Admit::Probe(2)));
        assert_eq!(c.admit().unwrap_err().state(), State::HalfOpen);
        // A newer generation invalidates what is left.
        c.install_reply_test(&reply(SharedState::HalfOpen, 4, 0, 1));
        assert_eq!(c.held_tokens(), 1);
        c.install_reply_test(&reply(SharedState::HalfOpen, 6, 0, 0));
        assert_eq!(c.held_tokens(), 0);
        assert!(c.admit().is_err());
    }

    #[test]
    fn stale_outcomes_and_announcements_are_discarded() {
        let clock = ManualClock::new();
        let c = core(&clock);
        c.install_reply_test(&reply(SharedState::Closed, 5, 0, 0));
        let Ok(Admit::Counted(g)) = c.admit() else {
            panic!()
        };
        c.record_counted(g, Outcome::Success);
        assert!(c.install_announcement(&Announcement {
            generation: 6,
            state: SharedState::Open,
            open_left_ms: 1_000
        }));
        c.record_counted(g, Outcome::Failure); // late: admitted in generation 5
        let flush = c.take_flush(false, 0);
        assert_eq!(
            (flush.calls, flush.failures),
            (0, 0),
            "the success of generation 5 was not flushed before it ended, the failure came late"
        );
        assert_eq!(flush.generation, Some(6));
        // An older announcement changes nothing.
        assert!(!c.install_announcement(&Announcement {
            generation: 5,
            state: SharedState::Closed,
            open_left_ms: 0
        }));
        assert_eq!(c.state(), State::Open);
    }

    #[test]
    fn a_failed_round_trip_loses_no_counts() {
        let clock = ManualClock::new();
        let c = core(&clock);
        c.install_reply_test(&reply(SharedState::Closed, 1, 0, 0));
        for outcome in [Outcome::Success, Outcome::Failure, Outcome::Failure] {
            c.record_counted(1, outcome);
        }
        let flush = c.take_flush(false, 0);
        c.restore(&flush);
        c.record_counted(1, Outcome::Success);
        let again = c.take_flush(true, 0);
        assert_eq!(
            (again.calls, again.failures, again.generation),
            (4, 2, None)
        );
    }

    #[test]
    fn failures_that_could_trip_wake_the_sync_task() {
        let clock = ManualClock::new();
        let c = core(&clock);
        c.install_reply_test(&reply(SharedState::Closed, 1, 0, 0));
        c.record_counted(1, Outcome::Success);
        c.record_counted(1, Outcome::Failure);
        assert!(!c.is_urgent(), "2 calls: below the minimum of 4");
        c.record_counted(1, Outcome::Success);
        c.record_counted(1, Outcome::Failure);
        assert!(c.is_urgent(), "4 calls, half failed: could trip");
    }

    #[test]
    fn local_mode_keeps_a_shared_open_state_until_its_deadline() {
        let clock = ManualClock::new();
        let c = core(&clock);
        c.install_reply_test(&reply(SharedState::Open, 1, 1_000, 0));
        assert!(c.enter_local());
        assert!(!c.enter_local(), "once");
        assert_eq!(c.admit().unwrap_err().state(), State::Open);
        clock.advance(Duration::from_secs(1));
        assert_eq!(c.admit(), Ok(Admit::Local));
    }

    #[test]
    fn a_late_grant_of_an_ended_generation_changes_nothing() {
        let clock = ManualClock::new();
        let c = core(&clock);
        c.install_reply_test(&reply(SharedState::HalfOpen, 4, 0, 2));
        c.install_reply_test(&reply(SharedState::HalfOpen, 3, 0, 5)); // answered before 4 began
        assert_eq!(c.held_tokens(), 2, "generation 4 keeps its two permits");
        assert_eq!(c.admit(), Ok(Admit::Probe(4)));
        assert_eq!(c.admit(), Ok(Admit::Probe(4)));
        assert!(c.admit().is_err());
    }

    #[test]
    fn racing_calls_never_take_more_probes_than_granted_per_generation() {
        use std::sync::atomic::AtomicUsize;
        const GENERATIONS: usize = 20_000;
        const GRANTED: u64 = 2;
        let clock = ManualClock::new();
        let c = core(&clock);
        let taken: Vec<AtomicUsize> = (0..=GENERATIONS + 1).map(|_| AtomicUsize::new(0)).collect();
        let done = AtomicBool::new(false);
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    while !done.load(Relaxed) {
                        if let Ok(Admit::Probe(g)) = c.admit() {
                            taken[g as usize].fetch_add(1, Relaxed);
                        }
                    }
                });
            }
            s.spawn(|| {
                for g in 1..=GENERATIONS as u64 {
                    // Half-open with two permits, then (every other time) a late answer
                    // granting permits of the generation before: it must neither add
                    // probes to that ended generation nor take this one's permits away.
                    c.install_reply_test(&reply(SharedState::HalfOpen, g, 0, GRANTED));
                    if g % 2 == 0 {
                        c.install_reply_test(&reply(SharedState::HalfOpen, g - 1, 0, GRANTED));
                    }
                    for _ in 0..50 {
                        std::hint::spin_loop();
                    }
                }
                done.store(true, Relaxed);
            });
        });
        let total: usize = taken.iter().map(|t| t.load(Relaxed)).sum();
        assert!(total > 0, "the workers did take probes");
        for (g, t) in taken.iter().enumerate() {
            let t = t.load(Relaxed) as u64;
            assert!(
                t <= GRANTED,
                "generation {g}: {t} probes for {GRANTED} permits"
            );
        }
    }
}
