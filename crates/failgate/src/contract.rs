//! The contract every breaker keeps: [`Breaker`] and the permits it hands out,
//! [`Report`].
//!
//! [`CircuitBreaker`](crate::CircuitBreaker) and the fleet-wide breaker of
//! `failgate-redis` both implement it, so everything built on a breaker is written
//! once, over the trait: the call paths below, the [tower layer](crate::tower), the
//! per-key map, the reqwest middleware. Dispatch is static: a generic over
//! `B: Breaker` compiles to the same code as a call on the concrete breaker.
//!
//! ```
//! use failgate::{Breaker, CircuitBreaker, Error};
//!
//! // Works with any breaker, local or fleet-wide.
//! fn fetch<B: Breaker>(breaker: &B) -> Result<u32, Error<&'static str>>
//! where
//!     B::Classifier: failgate::Classify<u32, &'static str>,
//! {
//!     breaker.call(|| Ok(42))
//! }
//!
//! let breaker = CircuitBreaker::builder().build().unwrap();
//! assert_eq!(fetch(&breaker).unwrap(), 42);
//! ```

use crate::error::{Error, Rejected};
use crate::outcome::{Classify, Outcome};
use crate::snapshot::Snapshot;
use crate::vocabulary::State;
use std::fmt;
use std::future::Future;
use std::time::Duration;

/// What every permit does: report how its call went, once. A permit dropped without a
/// report abandons its call: nothing is counted, and a half-open probe slot goes back.
pub trait Report {
    /// Reports `outcome`, with the dependency's request not to be called again for
    /// `retry_after` (an HTTP `Retry-After`, say). A breaker that honours such requests
    /// stays open at least that long; others ignore it.
    fn record_with_retry_after(self, outcome: Outcome, retry_after: Option<Duration>);

    /// Reports like [`record_with_retry_after`](Self::record_with_retry_after), without
    /// moving the permit: it stays where it is, spent, and a second report (or dropping
    /// it) does nothing more. For futures that hold their permit in place until they
    /// are dropped, such as the [tower layer](crate::tower)'s.
    fn record_in_place(&mut self, outcome: Outcome, retry_after: Option<Duration>);

    /// Whether the breaker that issued this permit wants to hear a "retry after" (see
    /// [`Breaker::honors_retry_after`]).
    fn honors_retry_after(&self) -> bool;

    /// True if this permit is a half-open probe.
    fn is_probe(&self) -> bool;

    /// The generation of the breaker's state when the permit was issued: an outcome
    /// reported after it has moved on is discarded.
    fn generation(&self) -> u64;

    /// Reports like [`record_with_retry_after`](Self::record_with_retry_after), with
    /// what went wrong: `error` goes in the outcome event (sampled, see
    /// [`Event::error`](crate::Event::error)) when the breaker has an observer and the
    /// outcome is not a success, and is never formatted otherwise. A breaker that does
    /// not report errors ignores it (the default).
    #[inline(always)]
    fn record_described(
        self,
        outcome: Outcome,
        retry_after: Option<Duration>,
        error: Option<&dyn fmt::Display>,
    ) where
        Self: Sized,
    {
        let _ = error;
        self.record_with_retry_after(outcome, retry_after);
    }

    /// [`record_in_place`](Self::record_in_place) with what went wrong, as in
    /// [`record_described`](Self::record_described).
    #[inline(always)]
    fn record_in_place_described(
        &mut self,
        outcome: Outcome,
        retry_after: Option<Duration>,
        error: Option<&dyn fmt::Display>,
    ) {
        let _ = error;
        self.record_in_place(outcome, retry_after);
    }

    /// Reports `outcome`.
    #[inline]
    fn record(self, outcome: Outcome)
    where
        Self: Sized,
    {
        self.record_with_retry_after(outcome, None);
    }

    /// The call succeeded.
    #[inline]
    fn success(self)
    where
        Self: Sized,
    {
        self.record(Outcome::Success);
    }

    /// The call failed.
    #[inline]
    fn failure(self)
    where
        Self: Sized,
    {
        self.record(Outcome::Failure);
    }

    /// The call's outcome says nothing about the dependency: count nothing.
    #[inline]
    fn ignore(self)
    where
        Self: Sized,
    {
        self.record(Outcome::Ignore);
    }
}

/// A circuit breaker: the one contract of the local and the fleet-wide breaker.
///
/// An implementation provides admission ([`try_acquire`](Self::try_acquire),
/// [`try_acquire_owned`](Self::try_acquire_owned)), its default classifier and the
/// queries; the call paths (`call`, `call_with`, `call_async`, `call_async_with`) are
/// written here, once, for every breaker.
pub trait Breaker {
    /// The default classifier, which decides the outcome of a call's result.
    type Classifier;
    /// A permit that borrows the breaker.
    type Permit<'a>: Report
    where
        Self: 'a;
    /// A permit that holds a handle on the breaker, for another thread or a `'static`
    /// future.
    type OwnedPermit: Report + Send + 'static;
    /// The same breaker seen through another default classifier.
    type WithClassifier<K>: Breaker<Classifier = K>;

    /// Asks for a permit; `Err` carries when to retry.
    fn try_acquire(&self) -> Result<Self::Permit<'_>, Rejected>;

    /// Like [`try_acquire`](Self::try_acquire), for a permit that must outlive the borrow.
    fn try_acquire_owned(&self) -> Result<Self::OwnedPermit, Rejected>;

    /// The default classifier.
    fn classifier(&self) -> &Self::Classifier;

    /// The same breaker (shared state, everything) with another default classifier.
    fn with_classifier<K>(self, classifier: K) -> Self::WithClassifier<K>
    where
        Self: Sized;

    /// Whether the breaker wants to hear a dependency's "retry after": only then are
    /// classifiers asked for one ([`Classify::retry_after`]).
    fn honors_retry_after(&self) -> bool;

    /// The state calls see now.
    fn state(&self) -> State;

    /// A snapshot of the state and the counts.
    fn snapshot(&self) -> Snapshot;

    /// The breaker's name.
    fn name(&self) -> &str;

    /// Runs `op` if the breaker admits it, and records its outcome with the default
    /// classifier (and the "retry after" it finds, if the breaker honours one).
    ///
    /// If `op` panics, the permit is dropped unrecorded: nothing is counted and a
    /// half-open probe slot is given back.
    #[inline(always)]
    fn call<T, E, F>(&self, op: F) -> Result<T, Error<E>>
    where
        F: FnOnce() -> Result<T, E>,
        Self::Classifier: Classify<T, E>,
    {
        let permit = self.try_acquire()?;
        let result = op();
        finish(self, permit, &result);
        result.map_err(Error::Inner)
    }

    /// Like [`call`](Self::call), with a classifier for this call only.
    #[inline(always)]
    fn call_with<T, E, K, F>(&self, classify: K, op: F) -> Result<T, Error<E>>
    where
        K: FnOnce(&Result<T, E>) -> Outcome,
        F: FnOnce() -> Result<T, E>,
    {
        let permit = self.try_acquire()?;
        let result = op();
        permit.record(classify(&result));
        result.map_err(Error::Inner)
    }

    /// Runs the future made by `op` if the breaker admits it, and records its outcome.
    ///
    /// Works on any executor: it needs no runtime and allocates nothing. If the
    /// returned future is dropped before it completes, the call is abandoned: nothing
    /// is counted and a half-open probe slot is given back.
    fn call_async<T, E, F, Fut>(&self, op: F) -> impl Future<Output = Result<T, Error<E>>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        Self::Classifier: Classify<T, E>,
    {
        async move {
            let permit = self.try_acquire()?;
            let result = op().await;
            finish(self, permit, &result);
            result.map_err(Error::Inner)
        }
    }

    /// Like [`call_async`](Self::call_async), with a classifier for this call only.
    fn call_async_with<T, E, K, F, Fut>(
        &self,
        classify: K,
        op: F,
    ) -> impl Future<Output = Result<T, Error<E>>>
    where
        K: FnOnce(&Result<T, E>) -> Outcome,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        async move {
            let permit = self.try_acquire()?;
            let result = op().await;
            permit.record(classify(&result));
            result.map_err(Error::Inner)
        }
    }
}

/// Records `result` on `permit` with `breaker`'s classifier, and its "retry after" if
/// the breaker honours one. (The permit must not be handed to a function that is not
/// inlined: passing it to one puts it in memory on every call, a cost the closed-state
/// path would notice; see `benches/NOTES.md`.)
#[inline(always)]
pub(crate) fn finish<B, P, T, E>(breaker: &B, permit: P, result: &Result<T, E>)
where
    B: Breaker + ?Sized,
    B::Classifier: Classify<T, E>,
    P: Report,
{
    let classifier = breaker.classifier();
    let outcome = classifier.classify(result);
    let hint = if breaker.honors_retry_after() {
        classifier.retry_after(result)
    } else {
        None
    };
    // A success is never described: its path stays what it was.
    match outcome {
        Outcome::Success => permit.record_with_retry_after(outcome, hint),
        _ => permit.record_described(outcome, hint, classifier.describe(result)),
    }
}
