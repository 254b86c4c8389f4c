//! Tower integration (feature `tower`): the core's layer,
//! [`failgate::tower::CircuitBreakerLayer`], serves any [`Breaker`](failgate::Breaker),
//! so a fleet breaker goes in front of a service as a local one does, with the same
//! contract and error type. Moving a stack to a shared breaker changes one line:
//!
//! ```no_run
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use failgate_redis::tower::FleetBreakerLayer;
//! use failgate_redis::FleetBreaker;
//! use tower::ServiceBuilder;
//!
//! let breaker = FleetBreaker::builder("inventory").redis("redis://127.0.0.1:6379").build()?;
//! let svc = ServiceBuilder::new()
//!     .layer(FleetBreakerLayer::new(breaker))
//!     .service(tower::service_fn(|_: ()| async { Ok::<_, std::io::Error>("stock") }));
//! # let _ = svc;
//! # Ok(()) }
//! ```
//!
//! See [`failgate::tower`] for the layer's contract: `poll_ready` is the inner
//! service's, an open breaker refuses inside `call` at once, with a boxed
//! [`Rejected`](failgate::Rejected) as the error (`tower::BoxError`, as tower's own
//! middleware returns; the inner service's errors are boxed too), or with the response
//! of an [`on_rejected`](failgate::tower::CircuitBreakerLayer::on_rejected) hook, the
//! permit lives in the response future (dropping it abandons the call, and a fleet
//! probe permit goes back), and a "retry after" the classifier finds is honoured when
//! the breaker was built with `honor_retry_after`.

use crate::FleetBreaker;
use failgate::tower::RejectAsError;
use failgate::DefaultClassifier;

/// [`failgate::tower::CircuitBreakerLayer`] around a [`FleetBreaker`]; `R` is what a
/// refusal turns into (a boxed `Rejected` by default).
pub type FleetBreakerLayer<C = DefaultClassifier, R = RejectAsError> =
    failgate::tower::CircuitBreakerLayer<FleetBreaker<C>, R>;

/// [`failgate::tower::CircuitBreakerService`] behind a [`FleetBreaker`].
pub type FleetBreakerService<S, C = DefaultClassifier, R = RejectAsError> =
    failgate::tower::CircuitBreakerService<S, FleetBreaker<C>, R>;

pub use failgate::tower::ResponseFuture;
