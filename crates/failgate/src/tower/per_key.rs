//! One breaker per key, taken from each request: per host, per tenant, per route.
//!
//! A failing host must not open the breaker of a healthy one. [`PerKeyLayer`] keeps a
//! [`BreakerMap`]: a lock-free concurrent map (papaya) from key to breaker, each built
//! lazily from one template [`Builder`]. The map is bounded: when a new key arrives at
//! capacity, closed breakers that have not been used since the last sweep are evicted
//! (a second-chance sweep, so a busy key survives). Open and half-open breakers are
//! never evicted; they hold what the map exists for. If every slot holds one, the new
//! key shares an overflow breaker until room frees up.
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

use super::ResponseFuture;
use crate::{Builder, CircuitBreaker, Classify, ConfigError, DefaultClassifier, Error, State};
use std::fmt;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use tower_layer::Layer;
use tower_service::Service;

/// A key's breaker and its second-chance bit.
struct Entry {
    breaker: CircuitBreaker,
    used: AtomicBool,
}

impl Entry {
    /// Marks the entry used, writing only if it was not already marked.
    #[inline]
    fn touch(&self) {
        if !self.used.load(Ordering::Relaxed) {
            self.used.store(true, Ordering::Relaxed);
        }
    }
}

struct Shared<K> {
    template: Builder,
    map: papaya::HashMap<K, Entry>,
    max_keys: usize,
    overflow: CircuitBreaker,
}

/// A bounded map from key to breaker. Cheap to clone: clones share the map.
pub struct BreakerMap<K> {
    shared: Arc<Shared<K>>,
}

impl<K> Clone for BreakerMap<K> {
    fn clone(&self) -> Self {
        BreakerMap {
            shared: self.shared.clone(),
        }
    }
}

impl<K: fmt::Debug + Hash + Eq> fmt::Debug for BreakerMap<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerMap")
            .field("keys", &self.shared.map.len())
            .field("max_keys", &self.shared.max_keys)
            .finish_non_exhaustive()
    }
}

impl<K> BreakerMap<K>
where
    K: Hash + Eq + Clone + fmt::Display + Send + Sync + 'static,
{
    /// A map whose breakers are built from `template` (each named
    /// `"{template name}:{key}"`), holding at most `max_keys` of them (at least 1).
    ///
    /// The template is checked here, once: a bad value is this `ConfigError`.
    pub fn new(template: Builder, max_keys: usize) -> Result<Self, ConfigError> {
        if max_keys == 0 {
            return Err(ConfigError::new("max_keys", max_keys, "must be at least 1"));
        }
        let name = template.current_name().to_owned();
        let overflow = template.clone().name(format!("{name}:overflow")).build()?;
        Ok(BreakerMap {
            shared: Arc::new(Shared {
                template,
                map: papaya::HashMap::new(),
                max_keys,
                overflow,
            }),
        })
    }

    /// The breaker for `key`, built if it is new. Existing keys are found without a
    /// lock or an allocation.
    pub fn get(&self, key: &K) -> CircuitBreaker {
        let map = self.shared.map.pin();
        if let Some(entry) = map.get(key) {
            entry.touch();
            return entry.breaker.clone();
        }
        self.insert(key.clone())
    }

    /// Applies `f` to the breaker of `key` without cloning it.
    #[inline]
    fn with<R>(&self, key: K, f: impl FnOnce(&CircuitBreaker) -> R) -> R {
        let map = self.shared.map.pin();
        if let Some(entry) = map.get(&key) {
            entry.touch();
            return f(&entry.breaker);
        }
        drop(map);
        f(&self.insert(key))
    }

    #[cold]
    fn insert(&self, key: K) -> CircuitBreaker {
        let shared = &*self.shared;
        if shared.map.len() >= shared.max_keys {
            self.evict_idle();
            if shared.map.len() >= shared.max_keys {
                self.evict_idle(); // second chance is over: closed entries go
            }
            if shared.map.len() >= shared.max_keys {
                return shared.overflow.clone();
            }
        }
        let name = format!("{}:{key}", shared.template.current_name());
        let Ok(breaker) = shared.template.clone().name(name).build() else {
            // Unreachable: the template was checked in `new`, and a name is never empty.
            return shared.overflow.clone();
        };
        let map = shared.map.pin();
        let entry = map.get_or_insert_with(key, || Entry {
            breaker,
            used: AtomicBool::new(true),
        });
        entry.breaker.clone()
    }

    /// One second-chance sweep: evicts closed breakers not used since the last sweep
    /// and clears the mark of the others. Runs on its own when a new key finds the
    /// map full; call it yourself to free idle keys sooner.
    pub fn evict_idle(&self) {
        self.shared.map.pin().retain(|_, entry| {
            if entry.breaker.state() != State::Closed {
                return true;
            }
            entry.used.swap(false, Ordering::Relaxed)
        });
    }

    /// How many keys have a breaker.
    pub fn len(&self) -> usize {
        self.shared.map.len()
    }

    /// True if no key has a breaker yet.
    pub fn is_empty(&self) -> bool {
        self.shared.map.is_empty()
    }

    /// Every key with its breaker's current state.
    pub fn states(&self) -> Vec<(K, State)> {
        self.shared
            .map
            .pin()
            .iter()
            .map(|(k, e)| (k.clone(), e.breaker.state()))
            .collect()
    }

    /// Every key with its breaker.
    pub fn breakers(&self) -> Vec<(K, CircuitBreaker)> {
        self.shared
            .map
            .pin()
            .iter()
            .map(|(k, e)| (k.clone(), e.breaker.clone()))
            .collect()
    }

    /// The breaker that keys share when the map is full of open breakers.
    pub fn overflow(&self) -> &CircuitBreaker {
        &self.shared.overflow
    }
}

/// Wraps services in a [`PerKeyService`]: one breaker per key of each request.
pub struct PerKeyLayer<K, F, C = DefaultClassifier> {
    map: BreakerMap<K>,
    key: F,
    classifier: C,
}

impl<K, F: Clone, C: Clone> Clone for PerKeyLayer<K, F, C> {
    fn clone(&self) -> Self {
        PerKeyLayer {
            map: self.map.clone(),
            key: self.key.clone(),
            classifier: self.classifier.clone(),
        }
    }
}

impl<K: fmt::Debug + Hash + Eq, F, C: fmt::Debug> fmt::Debug for PerKeyLayer<K, F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PerKeyLayer")
            .field("map", &self.map)
            .field("classifier", &self.classifier)
            .finish_non_exhaustive()
    }
}

impl<K, F> PerKeyLayer<K, F> {
    /// A layer that takes each request's key with `key` (`Fn(&Request) -> K`) and
    /// guards the call with that key's breaker in `map`.
    pub fn new(map: BreakerMap<K>, key: F) -> Self {
        PerKeyLayer {
            map,
            key,
            classifier: DefaultClassifier,
        }
    }
}

impl<K, F, C> PerKeyLayer<K, F, C> {
    /// Classifies responses with `classifier` (see
    /// [`CircuitBreakerLayer::with_classifier`](super::CircuitBreakerLayer::with_classifier)).
    pub fn with_classifier<C2>(self, classifier: C2) -> PerKeyLayer<K, F, C2> {
        PerKeyLayer {
            map: self.map,
            key: self.key,
            classifier,
        }
    }

    /// The map of breakers.
    pub fn map(&self) -> &BreakerMap<K> {
        &self.map
    }
}

impl<S, K, F: Clone, C: Clone> Layer<S> for PerKeyLayer<K, F, C> {
    type Service = PerKeyService<S, K, F, C>;

    fn layer(&self, inner: S) -> Self::Service {
        PerKeyService {
            inner,
            map: self.map.clone(),
            key: self.key.clone(),
            classifier: self.classifier.clone(),
        }
    }
}

/// A service behind one breaker per key. Made by [`PerKeyLayer`].
pub struct PerKeyService<S, K, F, C = DefaultClassifier> {
    inner: S,
    map: BreakerMap<K>,
    key: F,
    classifier: C,
}

impl<S: Clone, K, F: Clone, C: Clone> Clone for PerKeyService<S, K, F, C> {
    fn clone(&self) -> Self {
        PerKeyService {
            inner: self.inner.clone(),
            map: self.map.clone(),
            key: self.key.clone(),
            classifier: self.classifier.clone(),
        }
    }
}

impl<S: fmt::Debug, K: fmt::Debug + Hash + Eq, F, C: fmt::Debug> fmt::Debug
    for PerKeyService<S, K, F, C>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PerKeyService")
            .field("inner", &self.inner)
            .field("map", &self.map)
            .finish_non_exhaustive()
    }
}

impl<S, K, F, C, Request> Service<Request> for PerKeyService<S, K, F, C>
where
    S: Service<Request>,
    K: Hash + Eq + Clone + fmt::Display + Send + Sync + 'static,
    F: Fn(&Request) -> K,
    C: Classify<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = Error<S::Error>;
    type Future = ResponseFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Error::Inner)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let key = (self.key)(&request);
        match self.map.with(key, CircuitBreaker::try_acquire_owned) {
            Ok(permit) => {
                ResponseFuture::admitted(self.inner.call(request), permit, self.classifier.clone())
            }
            Err(rejected) => ResponseFuture::rejected(rejected),
        }
    }
}
