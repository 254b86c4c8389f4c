//! The layer that wraps a service in a breaker.

use super::service::CircuitBreakerService;
use crate::CircuitBreaker;
use tower_layer::Layer;

/// Wraps services in a [`CircuitBreakerService`] that shares one breaker.
///
/// The breaker's classifier decides each response's outcome; change it with
/// [`with_classifier`](Self::with_classifier).
#[derive(Debug, Clone)]
pub struct CircuitBreakerLayer<C = crate::DefaultClassifier> {
    breaker: CircuitBreaker<C>,
}

impl<C> CircuitBreakerLayer<C> {
    /// A layer for `breaker` (clones of the layer, and the services it makes, share it).
    pub fn new(breaker: CircuitBreaker<C>) -> Self {
        CircuitBreakerLayer { breaker }
    }

    /// Classifies responses with `classifier`, a
    /// [`Classify<S::Response, S::Error>`](crate::Classify), such as a closure
    /// `Fn(&Result<S::Response, S::Error>) -> Outcome` or
    /// [`HttpClassifier`](crate::http::HttpClassifier).
    pub fn with_classifier<K>(self, classifier: K) -> CircuitBreakerLayer<K> {
        CircuitBreakerLayer {
            breaker: self.breaker.with_classifier(classifier),
        }
    }

    /// The breaker.
    pub fn breaker(&self) -> &CircuitBreaker<C> {
        &self.breaker
    }
}

impl<S, C: Clone> Layer<S> for CircuitBreakerLayer<C> {
    type Service = CircuitBreakerService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        CircuitBreakerService::new(inner, self.breaker.clone())
    }
}
