//! Tower integration (feature `tower`): a [`Layer`](tower_layer::Layer) that puts a
//! breaker in front of any [`Service`], and [`per_key`] breakers (one per host, say).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use failgate::tower::CircuitBreakerLayer;
//! use failgate::{CircuitBreaker, Error};
//! use tower::{service_fn, Service, ServiceBuilder, ServiceExt};
//!
//! let breaker = CircuitBreaker::builder().consecutive_failures(1).build().unwrap();
//! let mut svc = ServiceBuilder::new()
//!     .layer(CircuitBreakerLayer::new(breaker))
//!     .service(service_fn(|_req: ()| async { Err::<(), _>("down") }));
//!
//! let first = svc.ready().await.unwrap().call(()).await;
//! assert!(matches!(first, Err(Error::Inner("down"))));
//! // Open now: refused at once, without calling the inner service.
//! let second = svc.ready().await.unwrap().call(()).await;
//! assert!(matches!(second, Err(Error::Rejected(_))));
//! # }
//! ```
//!
//! # Tower's contract
//! - `poll_ready` is the inner service's: an open breaker never reports "not ready" (a
//!   breaker that did would stall a `Buffer` or a balancer behind it). An open breaker
//!   fails inside `call` with [`Error::Rejected`], at once, and never touches the inner
//!   service, like tower's `LoadShed`.
//! - The call's permit lives in the [`ResponseFuture`]: a future dropped before it
//!   completes abandons the call, so a half-open slot comes back and nothing is counted.
//! - No boxing and no lock per call: the response future is a plain enum around the
//!   inner future. Each admitted call clones one `Arc` (the permit's handle on the
//!   breaker), unless the breaker was [leaked](CircuitBreaker::leak) for the life of
//!   the program: then the future holds a plain reference and the layer costs what
//!   the breaker's own success path costs.
//! - The error type is [`Error<S::Error>`](Error): match on a rejection without
//!   downcasting. It converts into `tower::BoxError` whenever the inner error can be
//!   displayed (a `BoxError` included).

mod future;
mod layer;
pub mod per_key;

pub use future::ResponseFuture;
pub use layer::CircuitBreakerLayer;

use crate::{CircuitBreaker, Classify, Error};
use std::task::{Context, Poll};
use tower_service::Service;

/// A service behind a circuit breaker. Made by [`CircuitBreakerLayer`].
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
