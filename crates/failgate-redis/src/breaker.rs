//! The public face: [`FleetBreaker`] and its permits, with the local breaker's API.

use crate::mirror::{Admission, Mirror};
use crate::permit::{Kind, OwnedPermit, Permit};
use crate::word::Mode;
use failgate::{Breaker, Classify, DefaultClassifier, Error, Outcome, Rejected, Snapshot, State};
use std::fmt;
use std::future::Future;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// A circuit breaker whose state and counts are shared by every instance that uses the
/// same Redis namespace and name. Cheap to clone: clones share one breaker.
///
/// Calls never wait on Redis: admission reads a local mirror of the shared state, and
/// outcomes are counted locally and flushed by a background task (see the
/// [design](crate::design)). Its API is the local
/// [`CircuitBreaker`](failgate::CircuitBreaker)'s.
pub struct FleetBreaker<C = DefaultClassifier> {
    core: Arc<Mirror>,
    classifier: C,
}

impl<C: Clone> Clone for FleetBreaker<C> {
    fn clone(&self) -> Self {
        FleetBreaker {
            core: self.core.clone(),
            classifier: self.classifier.clone(),
        }
    }
}

impl<C> fmt::Debug for FleetBreaker<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetBreaker")
            .field("namespace", &self.core.namespace)
            .field("name", &self.core.name)
            .field("mode", &self.core.mode())
            .field("state", &self.core.state())
            .finish()
    }
}

/// A snapshot of a fleet breaker, from [`FleetBreaker::status`].
///
/// `#[non_exhaustive]`: a status gains a field with each new thing the fleet reports;
/// read its fields.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FleetStatus {
    /// Shared, or local fallback.
    pub mode: Mode,
    /// The state calls see.
    pub state: State,
    /// The shared generation last heard from Redis.
    pub generation: u64,
    /// The shared window's calls and failures, as of the last round trip.
    pub shared_calls: u64,
    /// See `shared_calls`.
    pub shared_failures: u64,
    /// Round trips to Redis tried (each is one script call).
    pub round_trips: u64,
    /// Round trips that failed or timed out.
    pub sync_errors: u64,
    /// Counts Redis discarded as belonging to an ended generation.
    pub discarded: u64,
    /// Transitions heard over pub/sub.
    pub announcements: u64,
    /// Why the last round trip failed (a refused connection, a wrong password, no
    /// answer within the timeout), while Redis stays unreachable; `None` once one
    /// succeeds. A problem that round trips survive stays here while it lasts: Redis
    /// refusing PUBLISH on the breaker's channel to this user (transitions then reach
    /// the fleet by polling, every `flush_interval`).
    pub last_error: Option<String>,
    /// How many times this instance found the shared state it mirrored gone from Redis
    /// (a FLUSHALL, an eviction, an expiry, a failover to an empty replica) and
    /// re-established it: a new epoch in an answer. Each is logged once, at WARN.
    pub lost_state: u64,
    /// When that last happened.
    pub last_lost_state: Option<std::time::SystemTime>,
}

impl<C> FleetBreaker<C> {
    /// The mirror (for [`Control`](failgate::Control), in `control.rs`).
    pub(crate) fn core(&self) -> &crate::mirror::Mirror {
        &self.core
    }

    /// The handle on a started core.
    pub(crate) fn from_core(core: Arc<Mirror>, classifier: C) -> Self {
        FleetBreaker { core, classifier }
    }

    /// Runs `op` if the breaker admits it and counts its outcome (and, with
    /// `honor_retry_after`, the "retry after" its classifier finds), as
    /// [`CircuitBreaker::call`](failgate::CircuitBreaker::call) does: both are
    /// [`Breaker::call`].
    #[inline(always)]
    pub fn call<T, E, F>(&self, op: F) -> Result<T, Error<E>>
    where
        F: FnOnce() -> Result<T, E>,
        C: Classify<T, E>,
    {
        Breaker::call(self, op)
    }

    /// Like [`call`](Self::call), classifying with `classify`.
    #[inline]
    pub fn call_with<T, E, K, F>(&self, classify: K, op: F) -> Result<T, Error<E>>
    where
        K: FnOnce(&Result<T, E>) -> Outcome,
        F: FnOnce() -> Result<T, E>,
    {
        Breaker::call_with(self, classify, op)
    }

    /// Runs the future `op` makes if the breaker admits it. Dropped before it finishes,
    /// the call is abandoned (a half-open probe permit goes back to the fleet).
    pub async fn call_async<T, E, F, Fut>(&self, op: F) -> Result<T, Error<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        C: Classify<T, E>,
    {
        Breaker::call_async(self, op).await
    }

    /// Like [`call_async`](Self::call_async), classifying with `classify`.
    pub async fn call_async_with<T, E, K, F, Fut>(&self, classify: K, op: F) -> Result<T, Error<E>>
    where
        K: FnOnce(&Result<T, E>) -> Outcome,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        Breaker::call_async_with(self, classify, op).await
    }

    /// Asks for a permit, for callers that record the outcome themselves.
    #[inline(always)]
    pub fn try_acquire(&self) -> Result<Permit<'_>, Rejected> {
        let core = &self.core;
        let kind = match core.admit().map_err(|r| core.refused(r))? {
            Admission::Counted(g) => Kind::Counted(g),
            Admission::Probe(g) => Kind::Probe(g),
            Admission::Local => Kind::Local(core.local.try_acquire().map_err(|r| core.refused(r))?),
        };
        Ok(Permit::new(&self.core, kind))
    }

    /// Like [`try_acquire`](Self::try_acquire), for a permit that must outlive the
    /// borrow (a `'static` future, another thread).
    #[inline(always)]
    pub fn try_acquire_owned(&self) -> Result<OwnedPermit, Rejected> {
        let core = &self.core;
        let kind = match core.admit().map_err(|r| core.refused(r))? {
            Admission::Counted(g) => Kind::Counted(g),
            Admission::Probe(g) => Kind::Probe(g),
            Admission::Local => Kind::Local(
                core.local
                    .try_acquire_owned()
                    .map_err(|r| core.refused(r))?,
            ),
        };
        Ok(OwnedPermit::new(self.core.clone(), kind))
    }

    /// The state calls see now.
    pub fn state(&self) -> State {
        self.core.state()
    }

    /// Shared or local fallback.
    pub fn mode(&self) -> Mode {
        self.core.mode()
    }

    /// The breaker as a [`Snapshot`], the shape every breaker shares (see
    /// [`Breaker::snapshot`]); [`status`](Self::status) has the fleet's own figures.
    pub fn snapshot(&self) -> Snapshot {
        self.core.snapshot()
    }

    /// A snapshot of the mirror and the sync task's counters.
    pub fn status(&self) -> FleetStatus {
        let (shared_calls, shared_failures) = self.core.shared_counts();
        let stats = &self.core.stats;
        FleetStatus {
            mode: self.core.mode(),
            state: self.core.state(),
            generation: self.core.word.load(Relaxed).generation(),
            shared_calls,
            shared_failures,
            round_trips: stats.round_trips.load(Relaxed),
            sync_errors: stats.sync_errors.load(Relaxed),
            discarded: stats.discarded.load(Relaxed),
            announcements: stats.announcements.load(Relaxed),
            last_error: stats.last_error.lock().map_or(None, |e| e.clone()),
            lost_state: self.core.integrity.lost(),
            last_lost_state: self.core.integrity.last_lost(),
        }
    }

    /// How many handles on this breaker exist: clones, and the owned permits of calls
    /// in flight (the background tasks hold none). A per-key map never evicts a
    /// breaker someone still holds.
    #[cfg(feature = "tower")]
    pub(crate) fn handles(&self) -> usize {
        Arc::strong_count(&self.core)
    }

    /// `None` unless closed; then whether a failure is counted, here or in the shared
    /// window.
    #[cfg(feature = "tower")]
    pub(crate) fn closed_failing(&self) -> Option<bool> {
        self.core.closed_failing()
    }

    /// The breaker's name.
    pub fn name(&self) -> &str {
        &self.core.name
    }

    /// The key namespace.
    pub fn namespace(&self) -> &str {
        &self.core.namespace
    }

    /// The local breaker that decides while Redis is unreachable.
    pub fn local_breaker(&self) -> &failgate::CircuitBreaker {
        &self.core.local
    }

    /// The default classifier.
    pub fn classifier(&self) -> &C {
        &self.classifier
    }

    /// The same breaker seen through another default classifier.
    pub fn with_classifier<K>(self, classifier: K) -> FleetBreaker<K> {
        FleetBreaker {
            core: self.core,
            classifier,
        }
    }
}

impl<C> Breaker for FleetBreaker<C> {
    type Classifier = C;
    type Permit<'a>
        = Permit<'a>
    where
        C: 'a;
    type OwnedPermit = OwnedPermit;
    type WithClassifier<K> = FleetBreaker<K>;

    #[inline(always)]
    fn try_acquire(&self) -> Result<Permit<'_>, Rejected> {
        FleetBreaker::try_acquire(self)
    }

    #[inline(always)]
    fn try_acquire_owned(&self) -> Result<OwnedPermit, Rejected> {
        FleetBreaker::try_acquire_owned(self)
    }

    #[inline(always)]
    fn classifier(&self) -> &C {
        &self.classifier
    }

    fn with_classifier<K>(self, classifier: K) -> FleetBreaker<K> {
        FleetBreaker::with_classifier(self, classifier)
    }

    #[inline(always)]
    fn honors_retry_after(&self) -> bool {
        self.core.honors_retry_after()
    }

    fn state(&self) -> State {
        self.core.state()
    }

    /// The state calls see, with the shared window's counts as of the last round trip
    /// (in local fallback, the local breaker's snapshot). `time_in_state` counts from
    /// when this instance saw the state change (a round trip after Redis made it, at
    /// most).
    fn snapshot(&self) -> Snapshot {
        FleetBreaker::snapshot(self)
    }

    fn name(&self) -> &str {
        &self.core.name
    }
}
