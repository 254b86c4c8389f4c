//! Tower integration (feature `tower`): a [`Layer`](tower_layer::Layer) that puts a
//! breaker in front of any [`Service`](tower_service::Service), and [`per_key`] breakers (one per host, say).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use failgate::tower::CircuitBreakerLayer;
//! use failgate::{CircuitBreaker, Rejected};
//! use std::io;
//! use tower::{service_fn, Service, ServiceBuilder, ServiceExt};
//!
//! let breaker = CircuitBreaker::builder().consecutive_failures(1).build().unwrap();
//! let mut svc = ServiceBuilder::new()
//!     .layer(CircuitBreakerLayer::new(breaker))
//!     .service(service_fn(|_req: ()| async { Err::<(), _>(io::Error::other("down")) }));
//!
//! // The inner service's error, boxed as it is by tower's own middleware.
//! let first = svc.ready().await.unwrap().call(()).await.unwrap_err();
//! assert_eq!(first.downcast_ref::<io::Error>().unwrap().to_string(), "down");
//! // Open now: refused at once, without calling the inner service.
//! let second = svc.ready().await.unwrap().call(()).await.unwrap_err();
//! assert!(second.downcast_ref::<Rejected>().is_some());
//! # }
//! ```
//!
//! # Tower's contract
//! - `poll_ready` is the inner service's: an open breaker never reports "not ready" (a
//!   breaker that did would stall a `Buffer` or a balancer behind it). An open breaker
//!   fails inside `call` at once, and never touches the inner service, like tower's
//!   `LoadShed`.
//! - The call's permit lives in the [`ResponseFuture`]: a future dropped before it
//!   completes abandons the call, so a half-open slot comes back and nothing is counted.
//! - No boxed future and no lock per call: the response future is a plain enum around the
//!   inner future. Each admitted call clones one `Arc` (the permit's handle on the
//!   breaker), unless the breaker was [leaked](crate::CircuitBreaker::leak) for the life of
//!   the program: then the future holds a plain reference and the layer costs what
//!   the breaker's own success path costs.
//! - The error type is [`BoxError`] (`tower::BoxError`), as of tower's own middleware
//!   (`Timeout`, `LoadShed`, `Buffer`), so the layer stacks with them without a
//!   conversion: a refusal is a boxed [`Rejected`](crate::Rejected), and the inner
//!   service's error is passed through as its own boxed error (`S::Error:
//!   Into<BoxError>`). `error.downcast_ref::<failgate::Rejected>()` finds a refusal
//!   under a `Timeout` or a `Buffer` as well as alone, and
//!   [`failgate::rejection`](crate::rejection) finds one however deeply it is wrapped.
//!   Boxing a `Rejected` allocates once per refusal.
//! - A server stack answers a refusal instead of failing with
//!   [`CircuitBreakerLayer::on_rejected`]: the response it builds (a 503, say) is the
//!   call's `Ok`, and the service's error type is then the inner service's own,
//!   unboxed. Nothing is boxed on any path then.

mod future;
mod layer;
pub mod per_key;
mod rejected;
mod service;

pub use future::ResponseFuture;
pub use layer::CircuitBreakerLayer;
pub use rejected::{BoxError, OnRejected, RejectAsError};
pub use service::CircuitBreakerService;
