//! The service that puts each call behind the breaker.

use super::future::ResponseFuture;
use super::rejected::{OnRejected, RejectAsError};
use crate::contract::Breaker;
use crate::outcome::Classify;
use crate::CircuitBreaker;
use std::fmt;
use std::task::{Context, Poll};
use tower_service::Service;

/// A service behind a circuit breaker (any [`Breaker`]). Made by
/// [`CircuitBreakerLayer`](super::CircuitBreakerLayer).
#[derive(Clone)]
pub struct CircuitBreakerService<S, B = CircuitBreaker, R = RejectAsError> {
    inner: S,
    breaker: B,
    on_rejected: R,
}

impl<S, B> CircuitBreakerService<S, B> {
    /// Puts `inner` behind `breaker`.
    pub fn new(inner: S, breaker: B) -> Self {
        CircuitBreakerService {
            inner,
            breaker,
            on_rejected: RejectAsError,
        }
    }
}

impl<S, B, R> CircuitBreakerService<S, B, R> {
    /// Answers a refused call with `on_rejected` (see
    /// [`CircuitBreakerLayer::on_rejected`](super::CircuitBreakerLayer::on_rejected)).
    pub fn on_rejected<R2>(self, on_rejected: R2) -> CircuitBreakerService<S, B, R2> {
        CircuitBreakerService {
            inner: self.inner,
            breaker: self.breaker,
            on_rejected,
        }
    }

    /// The breaker.
    pub fn breaker(&self) -> &B {
        &self.breaker
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: fmt::Debug, B: fmt::Debug, R> fmt::Debug for CircuitBreakerService<S, B, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreakerService")
            .field("inner", &self.inner)
            .field("breaker", &self.breaker)
            .finish_non_exhaustive()
    }
}

impl<S, B, R, Request> Service<Request> for CircuitBreakerService<S, B, R>
where
    S: Service<Request>,
    B: Breaker,
    B::Classifier: Classify<S::Response, S::Error> + Clone,
    R: OnRejected<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = R::Error;
    type Future = ResponseFuture<S::Future, B::OwnedPermit, B::Classifier, R>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(R::inner_error)
    }

    #[inline]
    fn call(&mut self, request: Request) -> Self::Future {
        let classifier = self.breaker.classifier().clone();
        ResponseFuture::start(&self.breaker, classifier, &self.on_rejected, || {
            self.inner.call(request)
        })
    }
}
