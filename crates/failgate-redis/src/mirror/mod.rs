//! The local mirror of the shared state: what every call reads, and the counters it
//! writes for the next flush. Calls never touch Redis; the sync task is the only one
//! that does, and it installs what Redis answers here.
//!
//! The closed-state success path is one load when admitted and one load plus one
//! `fetch_add` when recorded: no clock read, no lock, no allocation. The sync task's
//! side (installing answers, taking flushes, probe permits) is in [`install`].

use crate::integrity::Integrity;
use crate::script::SharedState;
use crate::settings::Settings;
use crate::telemetry;
use crate::wake::Link;
use crate::word::{AtomicWord, MirrorWord, Mode, ProbeTokens};
use failgate::{Clock, Observer, Outcome, Rejected, State};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::sync::Arc;
use std::time::Duration;

mod install;
mod observe;
mod order;
mod retry_after;
mod snapshot;
mod totals;

/// How a call was admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
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
pub(crate) struct Mirror {
    pub(crate) word: AtomicWord,
    /// End of the open wait, on the local clock, in nanoseconds.
    open_until: AtomicU64,
    /// Probe permits Redis handed this instance: [`ProbeTokens`].
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
    /// Whether the dependency's "retry after" is obeyed, and the longest obeyed (ns).
    honor_retry_after: bool,
    max_retry_after: u64,
    /// Until when the dependency asked not to be called, on the local clock (ns; 0:
    /// never). Closing forgets it. See [`retry_after`].
    hint_until: AtomicU64,
    /// A hint was noted that the next flush has not carried to Redis yet.
    hint_pending: AtomicBool,
    /// An operator's order not yet taken by a batch ([`order`]), packed; and the lock
    /// that keeps orders made at once in one sequence.
    order: AtomicU64,
    order_lock: std::sync::Mutex<()>,
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
    /// This instance's totals, when kept: see [`crate::totals`].
    pub(crate) totals: Option<crate::totals::Totals>,
    #[cfg(feature = "metrics")]
    pub(crate) gauges: crate::telemetry::MetricHandles,
    /// Told of the state changes callers see: [`crate::observe`].
    observers: Vec<Arc<dyn Observer>>,
    /// When this instance last saw the state callers see change (local clock, ns).
    changed_at: AtomicU64,
    /// The fleet client that syncs this breaker, kept alive by it.
    link: Link,
}

impl Mirror {
    /// The mirror of a breaker with settings `s` and local fallback `local`, synced by
    /// the client `link` leads to.
    pub(crate) fn new(local: failgate::CircuitBreaker, s: &Settings, link: Link) -> Self {
        // The sync task counts as stopped after ten missed rounds, and two timeouts.
        let stale_after = s.flush_interval * 10 + s.redis_timeout * 2;
        Mirror {
            // Local until the first round trip succeeds.
            word: AtomicWord::new(MirrorWord::START),
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
            honor_retry_after: s.honor_retry_after,
            max_retry_after: u64::try_from(s.max_retry_after.as_nanos()).unwrap_or(u64::MAX),
            hint_until: AtomicU64::new(0),
            hint_pending: AtomicBool::new(false),
            order: AtomicU64::new(0),
            order_lock: std::sync::Mutex::new(()),
            shared_calls: AtomicU64::new(0),
            shared_failures: AtomicU64::new(0),
            local,
            clock: s.clock.clone(),
            rate: s.failure_rate,
            minimum_calls: s.minimum_calls,
            heartbeat: AtomicU64::new(0),
            real_clock: failgate::SystemClock::new(),
            stale_after_nanos: u64::try_from(stale_after.as_nanos()).unwrap_or(u64::MAX),
            name: s.name.clone(),
            namespace: s.namespace.clone(),
            stats: Stats::default(),
            integrity: Integrity::default(),
            totals: s.totals.then(|| crate::totals::Totals::new(&s.name)),
            #[cfg(feature = "metrics")]
            gauges: telemetry::MetricHandles::new(&s.namespace, &s.name),
            observers: s.observers.clone(),
            changed_at: AtomicU64::new(s.clock.now_nanos()),
            link,
        }
    }

    // ---- the call path ----------------------------------------------------------------

    #[inline(always)]
    pub(crate) fn admit(&self) -> Result<Admission, Rejected> {
        let w = self.word.load(Acquire);
        if w.is_shared_closed() {
            return Ok(Admission::Counted(w.generation()));
        }
        self.admit_slow(w)
    }

    #[inline(never)]
    fn admit_slow(&self, w: MirrorWord) -> Result<Admission, Rejected> {
        // The clock is read only where an open wait is looked at.
        let left = || self.open_left();
        if w.is_local() {
            // A shared open state learnt before Redis went away still holds.
            // (Only an open word reads the clock: the fallback's closed path does not.)
            return match w.kind() {
                SharedState::Open => match left() {
                    Some(left) if !left.is_zero() => Err(Rejected::new(State::Open, Some(left))),
                    _ => Ok(Admission::Local),
                },
                _ => Ok(Admission::Local),
            };
        }
        match w.kind() {
            SharedState::Open => match left() {
                Some(left) if !left.is_zero() => Err(Rejected::new(State::Open, Some(left))),
                _ if self.sync_is_stale() => Ok(Admission::Local),
                _ => {
                    // The wait is over here: ask Redis for probe permits now.
                    self.demand.store(true, Relaxed);
                    self.nudge();
                    Err(Rejected::new(State::Open, Some(Duration::ZERO)))
                }
            },
            SharedState::Closed
            | SharedState::ForcedOpen
            | SharedState::Disabled
            | SharedState::CountOnly => self.admit_ordered(w),
            SharedState::HalfOpen => {
                let mut t = self.tokens.load(Acquire);
                loop {
                    let held = ProbeTokens::from_bits(t).held_for(w.generation());
                    if held == 0 {
                        if self.sync_is_stale() {
                            return Ok(Admission::Local);
                        }
                        // The next round trip asks for permits (at most one per tick,
                        // so a crowd of refused calls never hammers Redis).
                        self.demand.store(true, Relaxed);
                        return Err(Rejected::new(State::HalfOpen, None));
                    }
                    let fewer = ProbeTokens::from_bits(t).minus(1).bits();
                    match self.tokens.compare_exchange_weak(t, fewer, AcqRel, Acquire) {
                        Ok(_) => return Ok(Admission::Probe(w.generation())),
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
        if w.generation() != gen || !w.is_counting() {
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
            telemetry::sync_task_stopped(self.names());
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
        if w.generation() != gen || w.kind() != SharedState::HalfOpen {
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

    /// Wakes the client's sync task, once per round trip however many calls ask.
    #[inline]
    fn nudge(&self) {
        if !self.urgent.load(Relaxed) && !self.urgent.swap(true, AcqRel) {
            self.link.wake.wake();
        }
    }

    /// Takes the request for a round (a load, and a write only if there is one: the
    /// client looks at every breaker every tick).
    pub(crate) fn take_urgent(&self) -> bool {
        self.urgent.load(Acquire) && self.urgent.swap(false, AcqRel)
    }

    #[cfg(test)]
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
            && !self.word.load(Acquire).is_local()
            && self.pending_calls.load(Acquire) == 0
            && self.probe_successes.load(Acquire) == 0
            && self.probe_failures.load(Acquire) == 0
            && self.probe_releases.load(Acquire) == 0
            && !self.demand.load(Acquire)
            && !self.hint_pending.load(Acquire)
            && self.order.load(Acquire) == 0
            && self.held_tokens() == 0
    }

    /// Which breaker log lines are about.
    pub(crate) fn names(&self) -> telemetry::Names<'_> {
        telemetry::Names {
            name: &self.name,
            namespace: &self.namespace,
        }
    }

    pub(crate) fn mode(&self) -> Mode {
        self.word.load(Acquire).mode()
    }

    /// The fleet state as callers see it.
    pub(crate) fn state(&self) -> State {
        self.observed(self.word.load(Acquire))
    }
}

impl fmt::Debug for Mirror {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mirror")
            .field("namespace", &self.namespace)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod observe_tests;
#[cfg(test)]
mod order_tests;
#[cfg(test)]
mod retry_after_tests;
#[cfg(test)]
mod tests;
