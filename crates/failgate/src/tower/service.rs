//! The service that puts each call behind the breaker.

use super::future::ResponseFuture;
use crate::breaker::CircuitBreaker;
use crate::error::Error;
use crate::outcome::Classify;
use std::task::{Context, Poll};
use tower_service::Service;

/// A service behind a circuit breaker. Made by [`CircuitBreakerLayer`](super::CircuitBreakerLayer).
#[derive(Debug, Clone)]
pub struct CircuitBreakerService<S, C = crate::DefaultClassifier> {
    inner: S,
    breaker: CircuitBreaker<C>,
}

impl<S, C> CircuitBreakerService<S, C> {
    /// Puts `inner` behind `breaker`.
    pub fn new(inner: S, breaker: CircuitBreaker<C>) -> Self {
        CircuitBreakerService { inner, breaker }
    }

    /// The breaker.
    pub fn breaker(&self) -> &CircuitBreaker<C> {
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

impl<S, C, Request> Service<Request> for CircuitBreakerService<S, C>
where
    S: Service<Request>,
    C: Classify<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = Error<S::Error>;
    type Future = ResponseFuture<S::Future, C>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Error::Inner)
    }

    #[inline]
    fn call(&mut self, request: Request) -> Self::Future {
        match self.breaker.try_acquire_owned() {
            Ok(permit) => ResponseFuture::admitted(
                self.inner.call(request),
                permit,
                self.breaker.classifier().clone(),
            ),
            Err(rejected) => ResponseFuture::rejected(rejected),
        }
    }
}
