//! The service that puts each call behind the breaker.

use super::future::ResponseFuture;
use crate::contract::Breaker;
use crate::error::Error;
use crate::outcome::Classify;
use crate::CircuitBreaker;
use std::task::{Context, Poll};
use tower_service::Service;

/// A service behind a circuit breaker (any [`Breaker`]). Made by
/// [`CircuitBreakerLayer`](super::CircuitBreakerLayer).
#[derive(Debug, Clone)]
pub struct CircuitBreakerService<S, B = CircuitBreaker> {
    inner: S,
    breaker: B,
}

impl<S, B> CircuitBreakerService<S, B> {
    /// Puts `inner` behind `breaker`.
    pub fn new(inner: S, breaker: B) -> Self {
        CircuitBreakerService { inner, breaker }
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

impl<S, B, Request> Service<Request> for CircuitBreakerService<S, B>
where
    S: Service<Request>,
    B: Breaker,
    B::Classifier: Classify<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = Error<S::Error>;
    type Future = ResponseFuture<S::Future, B::OwnedPermit, B::Classifier>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Error::Inner)
    }

    #[inline]
    fn call(&mut self, request: Request) -> Self::Future {
        ResponseFuture::start(&self.breaker, self.breaker.classifier().clone(), || {
            self.inner.call(request)
        })
    }
}
