//! One breaker per key, taken from each request: per host, per tenant, per route.
//!
//! A failing host must not open the breaker of a healthy one. [`PerKeyLayer`] keeps a
//! [`BreakerMap`]: a lock-free concurrent map (papaya) from key to breaker, each built
//! lazily from one [`Template`]: a [`Builder`] for local breakers, or a fleet
//! builder (`failgate-redis`) for breakers shared by every replica. Finding the
//! breaker of a key already in the map takes no lock and allocates nothing.
//!
//! # A full map
//! The map holds at most `max_keys` breakers. When a new key finds it full, a sweep
//! (a CLOCK hand over the map's slots) looks for one breaker to evict, and never
//! evicts:
//! - a breaker that is not closed: open, half-open, or set by hand (forced open,
//!   disabled, count only);
//! - a breaker with failures (or slow calls) in its consecutive count or its window,
//!   unless its key has had no call for the [forgetting
//!   time](BreakerMap::evict_failing_after);
//! - a breaker used since the hand last passed it (a second chance: the hand clears
//!   the mark, and evicts only on its next turn if the key stayed unused);
//! - a breaker with a handle outside the map: a call in flight holds one, so a slow
//!   call's failure is never counted in a breaker that has left the map.
//!
//! The forgetting time (by default the template's first open wait, or its time
//! window's span if that is longer) is what keeps the second rule from letting
//! anyone pin the map for ever with keys that failed once: it runs on the clock and
//! restarts with each call of the key, so new keys, however many, cannot make a
//! failing key forget. Sweeps can only clear used marks, and a mark only protects a
//! key until the hand's next turn; a key in active use keeps its failures because
//! every call renews both.
//!
//! Each new key moves the hand over at most 16 slots, so it costs the same on a
//! map of a thousand keys as on one of a million.
//!
//! # When nothing may be evicted
//! If none of those slots may be freed, the new key gets an **untracked** breaker: a
//! breaker of its own, built from the template, that the map does not keep. The call
//! is guarded by it alone, so a failure opens nothing that another key shares, and the
//! next call of that key starts afresh (it is not protected until the map has room).
//! [`BreakerMap::untracked`] counts these calls: anything but zero means the map is too
//! small for its keys, or that someone is filling it. To refuse such keys instead,
//! use [`BreakerMap::try_get`], which returns `None` for them.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use failgate::tower::per_key::{BreakerMap, PerKeyLayer};
//! use failgate::{CircuitBreaker, State};
//! use tower::{service_fn, Service, ServiceBuilder, ServiceExt};
//!
//! let template = CircuitBreaker::builder().name("upstream").consecutive_failures(1);
//! let map = BreakerMap::new(template, 1000).unwrap();
//! let mut svc = ServiceBuilder::new()
//!     .layer(PerKeyLayer::new(map.clone(), |host: &&'static str| host.to_string()))
//!     .service(service_fn(|host: &'static str| async move {
//!         if host == "down.example" { Err("503") } else { Ok("200") }
//!     }));
//!
//! let _ = svc.ready().await.unwrap().call("down.example").await;
//! let ok = svc.ready().await.unwrap().call("up.example").await;
//! assert_eq!(ok.unwrap(), "200", "one host's failures never open another's breaker");
//! let states = map.states();
//! assert!(states.contains(&("down.example".to_string(), State::Open)));
//! assert!(states.contains(&("up.example".to_string(), State::Closed)));
//! # }
//! ```

mod map;
mod template;

pub use map::BreakerMap;
pub use template::Template;

use super::future::ResponseFuture;
use super::rejected::{OnRejected, RejectAsError};
use crate::contract::Breaker;
use crate::{Builder, Classify, DefaultClassifier};
use std::fmt;
use std::hash::Hash;
use std::task::{Context, Poll};
use tower_layer::Layer;
use tower_service::Service;

/// The key of a host's breaker: `host:port` (`host` alone without a port), the host
/// in ASCII lower case and without one trailing dot, so that every spelling of a host
/// shares its breaker (`VICTIM.Example.` is `victim.example`: DNS ignores case, and the
/// dot only marks the name as fully qualified). An IPv6 address keeps its brackets.
///
/// ```
/// use failgate::tower::per_key::host_key;
///
/// assert_eq!(host_key("VICTIM.Example.", Some(443)), "victim.example:443");
/// assert_eq!(host_key("victim.example", Some(443)), "victim.example:443");
/// assert_eq!(host_key("[::1]", Some(8080)), "[::1]:8080");
/// assert_eq!(host_key("Tenant-7", None), "tenant-7");
/// ```
pub fn host_key(host: &str, port: Option<u16>) -> String {
    let host = match host.strip_suffix('.') {
        Some(name) if !name.is_empty() => name,
        _ => host,
    };
    let mut key = host.to_ascii_lowercase();
    if let Some(port) = port {
        key.push(':');
        key.push_str(&port.to_string());
    }
    key
}

/// Wraps services in a [`PerKeyService`]: one breaker per key of each request.
///
/// Errors are those of [`CircuitBreakerLayer`](super::CircuitBreakerLayer): a boxed
/// [`Rejected`](crate::Rejected) for a refusal (or the response of
/// [`on_rejected`](Self::on_rejected)), the inner service's own error boxed.
pub struct PerKeyLayer<K, F, C = DefaultClassifier, T: Template = Builder, R = RejectAsError> {
    map: BreakerMap<K, T>,
    key: F,
    classifier: C,
    on_rejected: R,
}

impl<K, F: Clone, C: Clone, T: Template, R: Clone> Clone for PerKeyLayer<K, F, C, T, R> {
    fn clone(&self) -> Self {
        PerKeyLayer {
            map: self.map.clone(),
            key: self.key.clone(),
            classifier: self.classifier.clone(),
            on_rejected: self.on_rejected.clone(),
        }
    }
}

impl<K: fmt::Debug + Hash + Eq, F, C: fmt::Debug, T: Template, R> fmt::Debug
    for PerKeyLayer<K, F, C, T, R>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PerKeyLayer")
            .field("map", &self.map)
            .field("classifier", &self.classifier)
            .finish_non_exhaustive()
    }
}

impl<K, F, T: Template> PerKeyLayer<K, F, DefaultClassifier, T> {
    /// A layer that takes each request's key with `key` (`Fn(&Request) -> K`) and
    /// guards the call with that key's breaker in `map`.
    pub fn new(map: BreakerMap<K, T>, key: F) -> Self {
        PerKeyLayer {
            map,
            key,
            classifier: DefaultClassifier,
            on_rejected: RejectAsError,
        }
    }
}

impl<K, F, C, T: Template, R> PerKeyLayer<K, F, C, T, R> {
    /// Classifies responses with `classifier` (see
    /// [`CircuitBreakerLayer::with_classifier`](super::CircuitBreakerLayer::with_classifier)).
    pub fn with_classifier<C2>(self, classifier: C2) -> PerKeyLayer<K, F, C2, T, R> {
        PerKeyLayer {
            map: self.map,
            key: self.key,
            classifier,
            on_rejected: self.on_rejected,
        }
    }

    /// Answers a call its key's breaker refused with `on_rejected(&rejected)` instead
    /// of an error (see
    /// [`CircuitBreakerLayer::on_rejected`](super::CircuitBreakerLayer::on_rejected)).
    pub fn on_rejected<R2>(self, on_rejected: R2) -> PerKeyLayer<K, F, C, T, R2> {
        PerKeyLayer {
            map: self.map,
            key: self.key,
            classifier: self.classifier,
            on_rejected,
        }
    }

    /// The map of breakers.
    pub fn map(&self) -> &BreakerMap<K, T> {
        &self.map
    }
}

impl<S, K, F: Clone, C: Clone, T: Template, R: Clone> Layer<S> for PerKeyLayer<K, F, C, T, R> {
    type Service = PerKeyService<S, K, F, C, T, R>;

    fn layer(&self, inner: S) -> Self::Service {
        PerKeyService {
            inner,
            map: self.map.clone(),
            key: self.key.clone(),
            classifier: self.classifier.clone(),
            on_rejected: self.on_rejected.clone(),
        }
    }
}

/// A service behind one breaker per key. Made by [`PerKeyLayer`].
pub struct PerKeyService<S, K, F, C = DefaultClassifier, T: Template = Builder, R = RejectAsError> {
    inner: S,
    map: BreakerMap<K, T>,
    key: F,
    classifier: C,
    on_rejected: R,
}

impl<S: Clone, K, F: Clone, C: Clone, T: Template, R: Clone> Clone
    for PerKeyService<S, K, F, C, T, R>
{
    fn clone(&self) -> Self {
        PerKeyService {
            inner: self.inner.clone(),
            map: self.map.clone(),
            key: self.key.clone(),
            classifier: self.classifier.clone(),
            on_rejected: self.on_rejected.clone(),
        }
    }
}

impl<S: fmt::Debug, K: fmt::Debug + Hash + Eq, F, C: fmt::Debug, T: Template, R> fmt::Debug
    for PerKeyService<S, K, F, C, T, R>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PerKeyService")
            .field("inner", &self.inner)
            .field("map", &self.map)
            .finish_non_exhaustive()
    }
}

impl<S, K, F, C, T, R, Request> Service<Request> for PerKeyService<S, K, F, C, T, R>
where
    T: Template,
    S: Service<Request>,
    K: Hash + Eq + Clone + fmt::Display + Send + Sync + 'static,
    F: Fn(&Request) -> K,
    C: Classify<S::Response, S::Error> + Clone,
    R: OnRejected<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = R::Error;
    type Future = ResponseFuture<S::Future, <T::Breaker as Breaker>::OwnedPermit, C, R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(R::inner_error)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let key = (self.key)(&request);
        let classifier = self.classifier.clone();
        let (inner, on_rejected) = (&mut self.inner, &self.on_rejected);
        self.map.with(key, |breaker| {
            ResponseFuture::start(breaker, classifier, on_rejected, || inner.call(request))
        })
    }
}
