//! Test bodies for the breaker contract, [`failgate::Breaker`]: written once, run
//! against every breaker through a [`Subject`] that makes it. What they check is the
//! contract's documented behaviour, whatever the breaker:
//! - a "retry after" reaches the breaker through `call`, `call_async` and the tower
//!   layer, and holds it open at least that long, when (and only when) the breaker
//!   honours it;
//! - ignored and abandoned calls count nothing;
//! - an open breaker refuses at once, without running the call;
//! - permits and snapshots describe the state they came from;
//! - the closed-state call paths allocate nothing.

use super::alloc::allocations_during;
use super::{Hint, Hinting};
use failgate::{Breaker, DefaultClassifier, Error, Outcome, Report, State};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tower_layer::Layer;
use tower_service::Service;

/// What the bodies ask of a breaker.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Opens once this many calls in a row (with nothing else counted) have failed.
    pub failures: u32,
    /// How long it stays open, unless asked for longer.
    pub open_for: Duration,
    /// Whether a dependency's "retry after" holds it open.
    pub honor_retry_after: bool,
}

impl Policy {
    /// Opens on `failures` failures, for a second, ignoring "retry after".
    pub fn failures(failures: u32) -> Self {
        Policy {
            failures,
            open_for: OPEN_FOR,
            honor_retry_after: false,
        }
    }

    /// The same, honouring "retry after".
    pub fn honoring(self) -> Self {
        Policy {
            honor_retry_after: true,
            ..self
        }
    }
}

/// The open wait of the policies below: far shorter than [`HINT`], and far longer than
/// a test takes between a trip and its last refusal. No test waits it out; a fleet
/// breaker on a loaded machine may take most of a second to sync, and an open wait that
/// ends meanwhile admits the next call (a probe, or the local fallback's).
pub const OPEN_FOR: Duration = Duration::from_secs(10);
/// The "retry after" the dependency asks for, in seconds.
pub const HINT: u64 = 60;

/// Makes the breakers under test, and knows how long they take to agree with
/// themselves.
pub trait Subject {
    /// The breaker.
    type Breaker: Breaker<Classifier = DefaultClassifier> + Clone;

    /// A new breaker, sharing nothing with the others, that keeps `policy`, once it
    /// is ready to decide (a fleet breaker: once it has reached the shared state).
    fn breaker(&mut self, policy: Policy) -> impl Future<Output = Self::Breaker>;

    /// Returns once what `breaker` counted has been decided on: at once for a local
    /// breaker; a fleet breaker's round trips to the shared state, both ways.
    fn sync(&mut self, breaker: &Self::Breaker) -> impl Future<Output = ()>;
}

/// The breaker's refusal, or a panic saying it admitted a call.
fn refusal<B: Breaker>(breaker: &B, what: &str) -> failgate::Rejected {
    match breaker.try_acquire() {
        Ok(_) => panic!(
            "{what}: the breaker admits calls (state {:?})",
            breaker.state()
        ),
        Err(rejected) => rejected,
    }
}

/// Checks that `breaker` is open for about the dependency's "retry after".
fn assert_held_open_by_hint<B: Breaker>(breaker: &B, path: &str) {
    let wait = refusal(breaker, path).retry_after();
    let least = Duration::from_secs(HINT) - Duration::from_secs(10);
    assert!(
        wait.is_some_and(|w| w >= least),
        "{path}: a failure asking for {HINT} s must hold the breaker open that long; \
         it says retry after {wait:?}"
    );
}

/// Fails the breaker `n` times through `call`, each failure asking for [`HINT`].
fn fail_with_hint<B: Breaker + Clone>(breaker: &B, n: u32) {
    let hinted = breaker.clone_with(Hinting);
    for _ in 0..n {
        let _ = hinted.call(|| Err::<(), u64>(HINT));
    }
}

/// A clone of a breaker with another classifier.
trait CloneWith: Breaker + Clone {
    fn clone_with<K>(&self, classifier: K) -> Self::WithClassifier<K> {
        self.clone().with_classifier(classifier)
    }
}

impl<B: Breaker + Clone> CloneWith for B {}

/// `call` hands the classifier's "retry after" to a breaker that honours it.
pub async fn retry_after_reaches_the_breaker_through_call<S: Subject>(s: &mut S) {
    let policy = Policy::failures(3).honoring();
    let breaker = s.breaker(policy).await;
    fail_with_hint(&breaker, policy.failures);
    s.sync(&breaker).await;
    assert_held_open_by_hint(&breaker, "call");
}

/// `call_async` hands the classifier's "retry after" to a breaker that honours it.
pub async fn retry_after_reaches_the_breaker_through_call_async<S: Subject>(s: &mut S) {
    let policy = Policy::failures(3).honoring();
    let breaker = s.breaker(policy).await;
    let hinted = breaker.clone_with(Hinting);
    for _ in 0..policy.failures {
        let _ = hinted.call_async(|| async { Err::<(), u64>(HINT) }).await;
    }
    s.sync(&breaker).await;
    assert_held_open_by_hint(&breaker, "call_async");
}

/// An inner service that always fails, asking for [`HINT`]: what the tower body puts
/// behind the layer.
#[derive(Debug, Clone, Copy)]
pub struct Overloaded;

impl Service<()> for Overloaded {
    type Response = ();
    type Error = Hint;
    type Future = std::future::Ready<Result<(), Hint>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Hint>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: ()) -> Self::Future {
        std::future::ready(Err(Hint(HINT)))
    }
}

/// The tower layer (made by `layer` from the breaker) hands the classifier's "retry
/// after" to a breaker that honours it.
pub async fn retry_after_reaches_the_breaker_through_tower<S, L>(
    s: &mut S,
    layer: impl FnOnce(<S::Breaker as Breaker>::WithClassifier<Hinting>) -> L,
) where
    S: Subject,
    L: Layer<Overloaded>,
    L::Service: Service<(), Response = (), Error = Box<dyn std::error::Error + Send + Sync>>,
{
    let policy = Policy::failures(3).honoring();
    let breaker = s.breaker(policy).await;
    let mut service = layer(breaker.clone_with(Hinting)).layer(Overloaded);
    for _ in 0..policy.failures {
        let reply = service.call(()).await;
        let error = reply.expect_err("the inner service fails");
        assert_eq!(error.downcast_ref::<Hint>(), Some(&Hint(HINT)), "{error:?}");
    }
    s.sync(&breaker).await;
    assert_held_open_by_hint(&breaker, "tower layer");
}

/// A breaker that does not honour "retry after" opens for its own wait.
pub async fn retry_after_is_ignored_unless_honoured<S: Subject>(s: &mut S) {
    let policy = Policy::failures(3);
    let breaker = s.breaker(policy).await;
    fail_with_hint(&breaker, policy.failures);
    s.sync(&breaker).await;
    let wait = refusal(&breaker, "not honouring").retry_after();
    assert!(
        wait.is_some_and(|w| w <= policy.open_for),
        "a breaker that ignores retry-after waits its own {:?}, not {wait:?}",
        policy.open_for
    );
}

/// Ignored outcomes count nothing; a failure after them still trips.
pub async fn ignored_calls_count_nothing<S: Subject>(s: &mut S) {
    let breaker = s.breaker(Policy::failures(1)).await;
    for _ in 0..20 {
        let r = breaker.call_with(|_| Outcome::Ignore, || Err::<(), _>("not found"));
        assert!(matches!(r, Err(Error::Inner("not found"))));
        breaker.try_acquire().unwrap().ignore();
    }
    s.sync(&breaker).await;
    assert_eq!(breaker.state(), State::Closed, "ignored calls opened it");
    let _ = breaker.call(|| Err::<(), _>("down"));
    s.sync(&breaker).await;
    assert_eq!(
        breaker.state(),
        State::Open,
        "a counted failure must trip it"
    );
}

/// A call abandoned (a permit dropped unreported, a future dropped before it finished)
/// counts nothing.
pub async fn abandoned_calls_count_nothing<S: Subject>(s: &mut S) {
    let breaker = s.breaker(Policy::failures(1)).await;
    for _ in 0..20 {
        drop(breaker.try_acquire().unwrap());
        drop(breaker.try_acquire_owned().unwrap());
        let mut call = pin!(breaker.call_async(std::future::pending::<Result<(), ()>>));
        assert!(call
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_pending());
    }
    s.sync(&breaker).await;
    assert_eq!(breaker.state(), State::Closed, "abandoned calls opened it");
    breaker.try_acquire_owned().unwrap().failure();
    s.sync(&breaker).await;
    assert_eq!(
        breaker.state(),
        State::Open,
        "a reported failure must trip it"
    );
}

/// An open breaker refuses at once, without running the call, with its state and wait.
pub async fn an_open_breaker_refuses_without_running_the_call<S: Subject>(s: &mut S) {
    let policy = Policy::failures(2);
    let breaker = s.breaker(policy).await;
    for _ in 0..policy.failures {
        let _ = breaker.call(|| Err::<(), _>("down"));
    }
    s.sync(&breaker).await;
    let mut ran = false;
    let reply = breaker.call(|| {
        ran = true;
        Ok::<_, ()>(())
    });
    assert!(!ran, "an open breaker ran the call");
    match reply {
        Err(Error::Rejected(r)) => {
            assert_eq!(r.state(), State::Open);
            assert!(
                r.retry_after().is_some_and(|w| w <= policy.open_for),
                "{r:?}"
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let mut ran = false;
    let reply = breaker
        .call_async(|| {
            ran = true;
            async { Ok::<_, ()>(()) }
        })
        .await;
    assert!(!ran && matches!(reply, Err(Error::Rejected(_))));
    let snapshot = breaker.snapshot();
    assert_eq!(snapshot.state, State::Open);
    assert!(snapshot.retry_after.is_some_and(|w| w <= policy.open_for));
}

/// Permits and snapshots describe the state they were taken in.
pub async fn permits_and_snapshots_describe_their_state<S: Subject>(s: &mut S) {
    let breaker = s.breaker(Policy::failures(5)).await;
    s.sync(&breaker).await;
    let snapshot = breaker.snapshot();
    assert_eq!(snapshot.state, State::Closed);
    assert_eq!(&*snapshot.name, breaker.name());
    let permit = breaker.try_acquire().unwrap();
    assert!(!permit.is_probe(), "a closed breaker's permit is no probe");
    assert_eq!(permit.generation(), snapshot.generation);
    permit.success();
    let owned = breaker.try_acquire_owned().unwrap();
    assert_eq!(owned.generation(), snapshot.generation);
    owned.record(Outcome::Success);
}

/// Every closed-state call path once: `call`, `call_with`, permits reported and
/// dropped, and an async call polled by hand.
pub fn traffic<B: Breaker<Classifier = DefaultClassifier>>(breaker: &B, calls: u32) {
    for i in 0..calls {
        let _ = breaker.call(|| if i.is_multiple_of(50) { Err(i) } else { Ok(i) });
        let _ = breaker.call_with(|_| Outcome::Ignore, || Ok::<_, ()>(()));
        if let Ok(permit) = breaker.try_acquire() {
            permit.record_with_retry_after(Outcome::Success, None);
        }
        drop(breaker.try_acquire());
        drop(breaker.try_acquire_owned());
        let mut call = pin!(breaker.call_async(|| async { Ok::<_, ()>(1) }));
        let _ = call.as_mut().poll(&mut Context::from_waker(Waker::noop()));
    }
}

/// How many allocations [`traffic`] makes on `breaker` (zero is the contract). Only
/// meaningful in a test binary that installed [`super::alloc::Counting`].
pub fn allocations_of_traffic<B: Breaker<Classifier = DefaultClassifier>>(
    breaker: &B,
    calls: u32,
) -> usize {
    traffic(breaker, 1); // warm up: first-use initialisation is not a per-call cost
    allocations_during(|| traffic(breaker, calls))
}
