//! The layer that wraps a service in a breaker.

use super::service::CircuitBreakerService;
use crate::contract::Breaker;
use crate::CircuitBreaker;
use tower_layer::Layer;

/// Wraps services in a [`CircuitBreakerService`] that shares one breaker: any
/// [`Breaker`], the local [`CircuitBreaker`] or a fleet-wide one.
///
/// The breaker's classifier decides each response's outcome; change it with
/// [`with_classifier`](Self::with_classifier).
#[derive(Debug, Clone)]
pub struct CircuitBreakerLayer<B = CircuitBreaker> {
    breaker: B,
}

impl<B> CircuitBreakerLayer<B> {
    /// A layer for `breaker` (clones of the layer, and the services it makes, share it).
    pub fn new(breaker: B) -> Self {
        CircuitBreakerLayer { breaker }
    }

    /// Classifies responses with `classifier`, a
    /// [`Classify<S::Response, S::Error>`](crate::Classify), such as a closure
    /// `Fn(&Result<S::Response, S::Error>) -> Outcome` or
    /// [`HttpClassifier`](crate::http::HttpClassifier) (for `http::Response`, and for
    /// `reqwest::Response` with the feature `reqwest`: a `reqwest::Client` is a
    /// `Service`). A classifier that does not fit the service is named in the
    /// compiler's error, with the fix, wherever the service is used as a
    /// `Service<Request>`; through a `ServiceExt` method such as `ready`, rustc says
    /// only that `Service<_>` is not implemented.
    pub fn with_classifier<K>(self, classifier: K) -> CircuitBreakerLayer<B::WithClassifier<K>>
    where
        B: Breaker,
    {
        CircuitBreakerLayer {
            breaker: self.breaker.with_classifier(classifier),
        }
    }

    /// The breaker.
    pub fn breaker(&self) -> &B {
        &self.breaker
    }
}

impl<S, B: Clone> Layer<S> for CircuitBreakerLayer<B> {
    type Service = CircuitBreakerService<S, B>;

    fn layer(&self, inner: S) -> Self::Service {
        CircuitBreakerService::new(inner, self.breaker.clone())
    }
}
