//! Tower integration (feature `tower`): a [`Layer`](tower_layer::Layer) that puts a
//! breaker in front of any [`Service`](tower_service::Service), and [`per_key`] breakers (one per host, say).
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
//!   fails inside `call` with [`Error::Rejected`](crate::Error::Rejected), at once, and never touches the inner
//!   service, like tower's `LoadShed`.
//! - The call's permit lives in the [`ResponseFuture`]: a future dropped before it
//!   completes abandons the call, so a half-open slot comes back and nothing is counted.
//! - No boxing and no lock per call: the response future is a plain enum around the
//!   inner future. Each admitted call clones one `Arc` (the permit's handle on the
//!   breaker), unless the breaker was [leaked](crate::CircuitBreaker::leak) for the life of
//!   the program: then the future holds a plain reference and the layer costs what
//!   the breaker's own success path costs.
//! - The error type is [`Error<S::Error>`](crate::Error): match on a rejection without
//!   downcasting. It converts into `tower::BoxError` whenever the inner error can be
//!   displayed (a `BoxError` included).

mod future;
mod layer;
pub mod per_key;
mod service;

pub use future::ResponseFuture;
pub use layer::CircuitBreakerLayer;
pub use service::CircuitBreakerService;
