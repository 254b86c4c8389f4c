//! The layer that wraps a service in a breaker.

use super::rejected::RejectAsError;
use super::service::CircuitBreakerService;
use crate::contract::Breaker;
use crate::CircuitBreaker;
use std::fmt;
use tower_layer::Layer;

/// Wraps services in a [`CircuitBreakerService`] that shares one breaker: any
/// [`Breaker`], the local [`CircuitBreaker`] or a fleet-wide one.
///
/// The breaker's classifier decides each response's outcome; change it with
/// [`with_classifier`](Self::with_classifier). A refused call fails with a boxed
/// [`Rejected`](crate::Rejected), or answers with the response of
/// [`on_rejected`](Self::on_rejected).
#[derive(Clone)]
pub struct CircuitBreakerLayer<B = CircuitBreaker, R = RejectAsError> {
    breaker: B,
    on_rejected: R,
}

impl<B> CircuitBreakerLayer<B> {
    /// A layer for `breaker` (clones of the layer, and the services it makes, share it).
    pub fn new(breaker: B) -> Self {
        CircuitBreakerLayer {
            breaker,
            on_rejected: RejectAsError,
        }
    }
}

impl<B, R> CircuitBreakerLayer<B, R> {
    /// Classifies responses with `classifier`, a
    /// [`Classify<S::Response, S::Error>`](crate::Classify), such as a closure
    /// `Fn(&Result<S::Response, S::Error>) -> Outcome` or
    /// [`HttpClassifier`](crate::http::HttpClassifier) (for `http::Response`, and for
    /// `reqwest::Response` with the feature `reqwest`: a `reqwest::Client` is a
    /// `Service`). A classifier that does not fit the service is named in the
    /// compiler's error, with the fix, wherever the service is used as a
    /// `Service<Request>`; through a `ServiceExt` method such as `ready`, rustc says
    /// only that `Service<_>` is not implemented.
    pub fn with_classifier<K>(self, classifier: K) -> CircuitBreakerLayer<B::WithClassifier<K>, R>
    where
        B: Breaker,
    {
        CircuitBreakerLayer {
            breaker: self.breaker.with_classifier(classifier),
            on_rejected: self.on_rejected,
        }
    }

    /// Answers a refused call with `on_rejected(&rejected)` instead of an error: a
    /// fallback response, such as a 503 with `Retry-After`, so that a server stack
    /// serves it like any other response (like seatbelt's `rejected_input`). Any
    /// [`OnRejected`](super::OnRejected) will do, a closure `Fn(&Rejected) ->
    /// S::Response` most often.
    ///
    /// A refusal is then never an error, so the service's error type is the inner
    /// service's own, passed through unboxed: behind an axum `Router` (whose services
    /// never fail) the layer needs no `HandleErrorLayer`. The hook is cloned once per
    /// refused call (a closure that captures nothing costs nothing to clone); a refusal
    /// is not an outcome, so nothing is counted.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use failgate::tower::CircuitBreakerLayer;
    /// use failgate::{CircuitBreaker, Rejected};
    /// use tower::{service_fn, Service, ServiceBuilder, ServiceExt};
    ///
    /// let breaker = CircuitBreaker::builder().build().unwrap();
    /// breaker.force_open();
    /// let mut svc = ServiceBuilder::new()
    ///     .layer(CircuitBreakerLayer::new(breaker).on_rejected(|_: &Rejected| "cached"))
    ///     .service(service_fn(|_: ()| async { Ok::<_, std::io::Error>("fresh") }));
    /// assert_eq!(svc.ready().await.unwrap().call(()).await.unwrap(), "cached");
    /// # }
    /// ```
    pub fn on_rejected<R2>(self, on_rejected: R2) -> CircuitBreakerLayer<B, R2> {
        CircuitBreakerLayer {
            breaker: self.breaker,
            on_rejected,
        }
    }

    /// The breaker.
    pub fn breaker(&self) -> &B {
        &self.breaker
    }
}

impl<B: fmt::Debug, R> fmt::Debug for CircuitBreakerLayer<B, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreakerLayer")
            .field("breaker", &self.breaker)
            .finish_non_exhaustive()
    }
}

impl<S, B: Clone, R: Clone> Layer<S> for CircuitBreakerLayer<B, R> {
    type Service = CircuitBreakerService<S, B, R>;

    fn layer(&self, inner: S) -> Self::Service {
        CircuitBreakerService::new(inner, self.breaker.clone())
            .on_rejected(self.on_rejected.clone())
    }
}
