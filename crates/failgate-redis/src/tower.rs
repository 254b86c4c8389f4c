//! Tower integration (feature `tower`): the fleet-wide twin of
//! [`failgate::tower::CircuitBreakerLayer`], with the same contract and error type, so
//! moving a stack to a shared breaker changes one line.
//!
//! - `poll_ready` is the inner service's; an open breaker refuses inside `call` with
//!   [`Error::Rejected`], at once.
//! - The permit lives in the response future: dropping the future abandons the call
//!   (a fleet probe permit goes back).
//! - No boxing and no lock per call.

use crate::{FleetBreaker, OwnedPermit};
use failgate::{Classify, Error, Rejected};
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tower_layer::Layer;
use tower_service::Service;

/// Puts a [`FleetBreaker`] in front of a service.
#[derive(Debug, Clone)]
pub struct FleetBreakerLayer<C = failgate::DefaultClassifier> {
    breaker: FleetBreaker<C>,
}

impl<C> FleetBreakerLayer<C> {
    /// A layer around `breaker` (classifying with its classifier).
    pub fn new(breaker: FleetBreaker<C>) -> Self {
        FleetBreakerLayer { breaker }
    }

    /// The same layer with another classifier, as
    /// [`CircuitBreakerLayer::with_classifier`](failgate::tower::CircuitBreakerLayer::with_classifier).
    pub fn with_classifier<K>(self, classifier: K) -> FleetBreakerLayer<K> {
        FleetBreakerLayer {
            breaker: self.breaker.with_classifier(classifier),
        }
    }
}

impl<S, C: Clone> Layer<S> for FleetBreakerLayer<C> {
    type Service = FleetBreakerService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        FleetBreakerService {
            inner,
            breaker: self.breaker.clone(),
        }
    }
}

/// A service behind a fleet breaker. Made by [`FleetBreakerLayer`].
#[derive(Debug, Clone)]
pub struct FleetBreakerService<S, C = failgate::DefaultClassifier> {
    inner: S,
    breaker: FleetBreaker<C>,
}

impl<S, C> FleetBreakerService<S, C> {
    /// The breaker.
    pub fn breaker(&self) -> &FleetBreaker<C> {
        &self.breaker
    }
}

impl<S, C, Request> Service<Request> for FleetBreakerService<S, C>
where
    S: Service<Request>,
    C: Classify<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = Error<S::Error>;
    type Future = ResponseFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Error::Inner)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let state = match self.breaker.try_acquire_owned() {
            Ok(permit) => State::Admitted {
                future: self.inner.call(request),
                permit: Some(permit),
                classifier: self.breaker.classifier().clone(),
            },
            Err(rejected) => State::Rejected { rejected },
        };
        ResponseFuture { state }
    }
}

pin_project! {
    /// The future of a [`FleetBreakerService`] call; it holds the call's permit.
    #[derive(Debug)]
    pub struct ResponseFuture<F, C> {
        #[pin]
        state: State<F, C>,
    }
}

pin_project! {
    #[project = StateProj]
    #[derive(Debug)]
    enum State<F, C> {
        Admitted {
            #[pin]
            future: F,
            permit: Option<OwnedPermit>,
            classifier: C,
        },
        Rejected {
            rejected: Rejected,
        },
    }
}

impl<F, T, E, C> Future for ResponseFuture<F, C>
where
    F: Future<Output = Result<T, E>>,
    C: Classify<T, E>,
{
    type Output = Result<T, Error<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Admitted {
                future,
                permit,
                classifier,
            } => {
                let result = std::task::ready!(future.poll(cx));
                if let Some(permit) = permit.take() {
                    permit.record(classifier.classify(&result));
                }
                Poll::Ready(result.map_err(Error::Inner))
            }
            StateProj::Rejected { rejected } => Poll::Ready(Err(Error::Rejected(*rejected))),
        }
    }
}
