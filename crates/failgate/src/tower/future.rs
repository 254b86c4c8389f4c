//! The response future: it holds the call's permit, so dropping it abandons the call.

use crate::contract::{Breaker, Report};
use crate::{Classify, Error, Rejected};
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

pin_project! {
    /// The future of a [`CircuitBreakerService`](super::CircuitBreakerService) call
    /// (and of a [per-key](super::per_key) one): `F` is the inner future, `P` the
    /// breaker's owned permit, `C` the classifier.
    ///
    /// While the inner call runs it holds the call's permit; when the inner future
    /// completes, the outcome is classified and recorded. Dropped before then (a
    /// timeout, a cancelled request), the permit is abandoned: nothing is counted and a
    /// half-open probe slot is given back at once.
    #[derive(Debug)]
    pub struct ResponseFuture<F, P, C> {
        #[pin]
        kind: Kind<F, P, C>,
    }
}

pin_project! {
    #[project = KindProj]
    #[derive(Debug)]
    enum Kind<F, P, C> {
        Admitted {
            #[pin]
            future: F,
            // Recorded in place: a second poll records nothing, and the permit's
            // handle on the breaker goes with the future.
            permit: P,
            classifier: C,
        },
        Rejected {
            rejected: Rejected,
        },
    }
}

impl<F, P: Report, C> ResponseFuture<F, P, C> {
    /// Asks `breaker` for a permit; if it grants one, starts the inner call with `call`.
    #[inline(always)]
    pub(super) fn start<B>(breaker: &B, classifier: C, call: impl FnOnce() -> F) -> Self
    where
        B: Breaker<OwnedPermit = P>,
    {
        let kind = match breaker.try_acquire_owned() {
            Ok(permit) => Kind::Admitted {
                future: call(),
                permit,
                classifier,
            },
            Err(rejected) => Kind::Rejected { rejected },
        };
        ResponseFuture { kind }
    }
}

impl<F, P, T, E, C> Future for ResponseFuture<F, P, C>
where
    F: Future<Output = Result<T, E>>,
    P: Report,
    C: Classify<T, E>,
{
    type Output = Result<T, Error<E>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Admitted {
                future,
                permit,
                classifier,
            } => {
                let result = std::task::ready!(future.poll(cx));
                let outcome = classifier.classify(&result);
                // Two calls, so that a constant `None` folds away (see `contract::finish`).
                // Asked of the permit, not stored in the future: a field more makes every
                // future larger, which the closed-state path notices.
                let retry_after = if permit.honors_retry_after() {
                    classifier.retry_after(&result)
                } else {
                    None
                };
                permit.record_in_place(outcome, retry_after);
                Poll::Ready(result.map_err(Error::Inner))
            }
            KindProj::Rejected { rejected } => Poll::Ready(Err(Error::Rejected(*rejected))),
        }
    }
}
