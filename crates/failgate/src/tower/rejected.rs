//! What a refused call turns into: an error by default, or a response of the caller's
//! choosing ([`CircuitBreakerLayer::on_rejected`](super::CircuitBreakerLayer::on_rejected)).

use crate::Rejected;

/// The layer's error type by default, as of tower's own middleware (`tower::BoxError`
/// is the same type).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Turns a refused call into the service's result, and decides the service's error
/// type: what the layer returns instead of calling the inner service `S`, whose
/// response is `Response` and error `E`.
///
/// Implemented by [`RejectAsError`] (the default: a refusal is an error, a boxed
/// [`Rejected`], and errors are [`BoxError`]) and by any `Fn(&Rejected) -> Response`
/// (a fallback response, such as a 503: a refusal is then never an error, so the
/// service's errors are the inner service's own, unboxed, and an axum `Router`, whose
/// services never fail, takes the layer as it is). Set with
/// [`CircuitBreakerLayer::on_rejected`](super::CircuitBreakerLayer::on_rejected).
pub trait OnRejected<Response, E> {
    /// The service's error type.
    type Error;

    /// The result of a call that `rejected` refused.
    fn on_rejected(&self, rejected: &Rejected) -> Result<Response, Self::Error>;

    /// The service's error for an error of the inner service.
    fn inner_error(error: E) -> Self::Error;
}

/// The default [`OnRejected`]: a refused call fails with a boxed [`Rejected`], found
/// with `error.downcast_ref::<failgate::Rejected>()` (or [`crate::rejection`]) under
/// any tower middleware that passes errors up as `BoxError` (`Timeout`, `Buffer`),
/// and the inner service's error is passed through boxed (as it is if it is a
/// `BoxError` already).
///
/// Boxing a `Rejected` allocates once per refused call. A hook set with
/// [`on_rejected`](super::CircuitBreakerLayer::on_rejected) boxes nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct RejectAsError;

impl<Response, E: Into<BoxError>> OnRejected<Response, E> for RejectAsError {
    type Error = BoxError;

    #[inline]
    fn on_rejected(&self, rejected: &Rejected) -> Result<Response, BoxError> {
        Err(Box::new(*rejected))
    }

    #[inline]
    fn inner_error(error: E) -> BoxError {
        error.into()
    }
}

impl<Response, E, F: Fn(&Rejected) -> Response> OnRejected<Response, E> for F {
    type Error = E;

    #[inline]
    fn on_rejected(&self, rejected: &Rejected) -> Result<Response, E> {
        Ok(self(rejected))
    }

    #[inline]
    fn inner_error(error: E) -> E {
        error
    }
}
