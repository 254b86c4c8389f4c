//! The concurrent shell around the decision core: atomics, the call paths, and the
//! publication of transitions.
//!
//! This file holds the public handle, [`CircuitBreaker`]. The shared state it points
//! to, [`Core`](shared::Core), is in `shared.rs`; its call paths are split by
//! responsibility: `admission.rs` (may a call start), `transition.rs` (publishing a
//! new state), `record.rs` (counting an outcome) and `snapshot.rs` (snapshots and
//! queries). `ticket.rs` is what a permit remembers of its admission.
//!
//! # How a transition is published
//! The state word (see `state_machine/word.rs`) holds the state, its generation and the
//! half-open probe counts; `entered_at` holds when the state began, from which the
//! open deadline is derived. A transition claims the word by setting its `busy` bit
//! with a compare-and-swap (exactly one thread wins), writes `entered_at` and resets
//! the window, then stores the new word. Readers of `entered_at` check the word again
//! afterwards, as with a seqlock. Nobody ever waits on a busy word: calls that meet
//! one are decided as its old state decides them if that state admits everything (the
//! outcome will be stale), and refused otherwise.
//!
//! The call that finds the open wait over makes the move to half-open itself, and the
//! half-open word it stores already has one probe slot taken: that call is the first
//! probe, with no compare-and-swap of its own.
//!
//! # Generations
//! Every permit carries the generation it was issued in; an outcome whose generation
//! is no longer current is discarded. The consecutive-failure counter is tagged with
//! its generation too, so a transition resets it without writing to it; for the same
//! reason the failure that trips a closed breaker is not written to it.

mod admission;
mod manual;
mod record;
pub(crate) mod shared;
mod snapshot;
pub(crate) mod ticket;
mod transition;

use crate::clock::ClockSource;
use crate::contract::Breaker;
use crate::error::{Error, Rejected};
use crate::event::Observer;
use crate::outcome::{Classify, DefaultClassifier, Outcome};
use crate::permit::{CoreRef, OwnedPermit, Permit};
use crate::policy::Settings;
use crate::snapshot::Snapshot;
use crate::vocabulary::State;
use shared::Core;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

/// A circuit breaker. Cheap to clone: clones share one breaker.
///
/// See the [crate documentation](crate) for the semantics of every state and policy.
pub struct CircuitBreaker<C = DefaultClassifier> {
    core: Arc<Core>,
    /// Set by [`leak`](CircuitBreaker::leak): the same core, kept for the rest of the
    /// process, so owned permits can borrow it instead of counting references.
    forever: Option<&'static Core>,
    classifier: C,
}

impl<C: Clone> Clone for CircuitBreaker<C> {
    fn clone(&self) -> Self {
        CircuitBreaker {
            core: self.core.clone(),
            forever: self.forever,
            classifier: self.classifier.clone(),
        }
    }
}

impl<C> fmt::Debug for CircuitBreaker<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.core.name)
            .field("state", &self.core.word().state())
            .finish_non_exhaustive()
    }
}

impl<C> CircuitBreaker<C> {
    /// A breaker with checked `settings`: what [`Builder::build`](crate::Builder::build) ends with.
    pub(crate) fn from_settings(
        name: String,
        settings: Settings,
        clock: ClockSource,
        observer: Option<Arc<dyn Observer>>,
        reporting: crate::totals::Reporting,
        classifier: C,
        initial: State,
    ) -> Self {
        CircuitBreaker {
            core: Arc::new(Core::new(
                name, settings, clock, observer, initial, reporting,
            )),
            forever: None,
            classifier,
        }
    }

    /// Runs `op` if the breaker admits it, and records its outcome with the breaker's
    /// classifier ([`Breaker::call`], which every breaker shares).
    ///
    /// If `op` panics, the permit is dropped unrecorded: nothing is counted and a
    /// half-open probe slot is given back.
    #[inline(always)]
    pub fn call<T, E, F>(&self, op: F) -> Result<T, Error<E>>
    where
        F: FnOnce() -> Result<T, E>,
        C: Classify<T, E>,
    {
        Breaker::call(self, op)
    }

    /// Like [`call`](Self::call), with a classifier for this call only.
    ///
    /// ```
    /// use failgate::{CircuitBreaker, Outcome};
    ///
    /// let breaker = CircuitBreaker::builder().consecutive_failures(1).build().unwrap();
    /// // A "not found" is the caller's problem, not the dependency's.
    /// let r = breaker.call_with(
    ///     |r: &Result<(), &str>| if r == &Err("not found") { Outcome::Ignore } else { Outcome::Failure },
    ///     || Err("not found"),
    /// );
    /// assert!(r.is_err());
    /// assert_eq!(breaker.state(), failgate::State::Closed);
    /// ```
    #[inline]
    pub fn call_with<T, E, K, F>(&self, classify: K, op: F) -> Result<T, Error<E>>
    where
        K: FnOnce(&Result<T, E>) -> Outcome,
        F: FnOnce() -> Result<T, E>,
    {
        Breaker::call_with(self, classify, op)
    }

    /// Runs the future made by `op` if the breaker admits it, and records its outcome.
    ///
    /// Works on any executor: it needs no runtime and allocates nothing. If the
    /// returned future is dropped before it completes, the call is abandoned: nothing
    /// is counted and a half-open probe slot is given back.
    pub async fn call_async<T, E, F, Fut>(&self, op: F) -> Result<T, Error<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        C: Classify<T, E>,
    {
        Breaker::call_async(self, op).await
    }

    /// Like [`call_async`](Self::call_async), with a classifier for this call only.
    pub async fn call_async_with<T, E, K, F, Fut>(&self, classify: K, op: F) -> Result<T, Error<E>>
    where
        K: FnOnce(&Result<T, E>) -> Outcome,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        Breaker::call_async_with(self, classify, op).await
    }

    /// Asks for a permit, for callers that run the operation and record its outcome
    /// themselves. Dropping the permit unrecorded abandons the call.
    ///
    /// ```
    /// use failgate::CircuitBreaker;
    ///
    /// let breaker = CircuitBreaker::builder().build().unwrap();
    /// match breaker.try_acquire() {
    ///     Ok(permit) => permit.success(),
    ///     Err(rejected) => println!("refused: {rejected}"),
    /// };
    /// ```
    #[inline(always)]
    pub fn try_acquire(&self) -> Result<Permit<'_>, Rejected> {
        self.core
            .acquire()
            .map(|ticket| Permit::new(&self.core, ticket))
    }

    /// Like [`try_acquire`](Self::try_acquire), for a permit that must outlive this
    /// borrow: it holds a handle on the breaker (one reference-count increment, and
    /// one decrement when it is dropped, unless the breaker was
    /// [leaked](Self::leak)).
    #[inline(always)]
    pub fn try_acquire_owned(&self) -> Result<OwnedPermit, Rejected> {
        self.core.acquire().map(|ticket| {
            let core = match self.forever {
                Some(core) => CoreRef::Forever(core),
                None => CoreRef::Shared(self.core.clone()),
            };
            OwnedPermit::new(core, ticket)
        })
    }

    /// Keeps the breaker for the rest of the process, so that owned permits, and with
    /// them the [tower layer](crate::tower)'s response futures, borrow it instead of
    /// counting references: two atomic read-modify-writes fewer per call, which are
    /// most of the layer's cost in the closed state.
    ///
    /// The breaker is never freed, so this is for breakers that live as long as the
    /// program, which is how most are used; not for breakers made per key, per
    /// connection or per test. Calling it again on a leaked handle (or a clone of one)
    /// leaks nothing more. Everything else, clones included, behaves as before.
    ///
    /// ```
    /// use failgate::CircuitBreaker;
    ///
    /// let breaker = CircuitBreaker::builder().build().unwrap().leak();
    /// let permit = breaker.try_acquire_owned().unwrap();
    /// std::thread::spawn(move || permit.success()).join().unwrap();
    /// assert!(breaker.is_leaked());
    /// ```
    pub fn leak(mut self) -> Self {
        if self.forever.is_none() {
            let kept: &'static Arc<Core> = Box::leak(Box::new(Arc::clone(&self.core)));
            self.forever = Some(kept);
        }
        self
    }

    /// True if this handle came from [`leak`](Self::leak) (or is a clone of one that
    /// did).
    pub fn is_leaked(&self) -> bool {
        self.forever.is_some()
    }

    /// The current state, after any transition that is due.
    pub fn state(&self) -> State {
        self.core.refresh().state()
    }

    /// A snapshot of the breaker's state and counts.
    pub fn snapshot(&self) -> Snapshot {
        self.core.snapshot()
    }

    /// How many handles on this breaker exist: clones, and the owned permits of calls
    /// in flight. A per-key map reads it to never evict a breaker someone still holds.
    #[cfg(feature = "tower")]
    pub(crate) fn handles(&self) -> usize {
        Arc::strong_count(&self.core)
    }

    /// `None` unless closed; then whether a failure or a slow call is counted.
    #[cfg(feature = "tower")]
    pub(crate) fn closed_failing(&self) -> Option<bool> {
        self.core.closed_failing()
    }

    /// The breaker's name.
    pub fn name(&self) -> &str {
        &self.core.name
    }

    /// True if `self` and `other` are handles on the same breaker (clones of one
    /// another, whatever their classifiers).
    pub fn same_breaker<K>(&self, other: &CircuitBreaker<K>) -> bool {
        Arc::ptr_eq(&self.core, &other.core)
    }

    /// The breaker's default classifier.
    pub fn classifier(&self) -> &C {
        &self.classifier
    }

    /// The same breaker (shared state, events, everything) seen through another
    /// default classifier.
    ///
    /// ```
    /// use failgate::{CircuitBreaker, Outcome};
    ///
    /// let breaker = CircuitBreaker::builder().consecutive_failures(1).build().unwrap();
    /// let lenient = breaker.clone().with_classifier(|_: &Result<(), &str>| Outcome::Ignore);
    /// let _ = lenient.call(|| Err("ignored"));
    /// assert_eq!(breaker.state(), failgate::State::Closed);
    /// ```
    pub fn with_classifier<K>(self, classifier: K) -> CircuitBreaker<K> {
        CircuitBreaker {
            core: self.core,
            forever: self.forever,
            classifier,
        }
    }

    /// Emits [`EventKind::Reconfigured`](crate::EventKind::Reconfigured): this breaker
    /// replaces one that was in `previous`.
    #[cfg(all(feature = "registry", feature = "serde"))]
    pub(crate) fn reconfigured(&self, previous: State) {
        self.core
            .emit(crate::event::EventKind::Reconfigured { previous });
    }
}

impl<C> Breaker for CircuitBreaker<C> {
    type Classifier = C;
    type Permit<'a>
        = Permit<'a>
    where
        C: 'a;
    type OwnedPermit = OwnedPermit;
    type WithClassifier<K> = CircuitBreaker<K>;

    #[inline(always)]
    fn try_acquire(&self) -> Result<Permit<'_>, Rejected> {
        CircuitBreaker::try_acquire(self)
    }

    #[inline(always)]
    fn try_acquire_owned(&self) -> Result<OwnedPermit, Rejected> {
        CircuitBreaker::try_acquire_owned(self)
    }

    #[inline(always)]
    fn classifier(&self) -> &C {
        &self.classifier
    }

    fn with_classifier<K>(self, classifier: K) -> CircuitBreaker<K> {
        CircuitBreaker::with_classifier(self, classifier)
    }

    #[inline(always)]
    fn honors_retry_after(&self) -> bool {
        self.core.honors_retry_after()
    }

    fn state(&self) -> State {
        CircuitBreaker::state(self)
    }

    fn snapshot(&self) -> Snapshot {
        CircuitBreaker::snapshot(self)
    }

    fn name(&self) -> &str {
        CircuitBreaker::name(self)
    }
}
