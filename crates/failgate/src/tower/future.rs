//! The response future: it holds the call's permit, so dropping it abandons the call.

use super::rejected::OnRejected;
use crate::contract::{Breaker, Report};
use crate::{Classify, Rejected};
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

pin_project! {
    /// The future of a [`CircuitBreakerService`](super::CircuitBreakerService) call
    /// (and of a [per-key](super::per_key) one): `F` is the inner future, `P` the
    /// breaker's owned permit, `C` the classifier, `R` what a refusal turns into
    /// ([`OnRejected`]).
    ///
    /// While the inner call runs it holds the call's permit; when the inner future
    /// completes, the outcome is classified and recorded. Dropped before then (a
    /// timeout, a cancelled request), the permit is abandoned: nothing is counted and a
    /// half-open probe slot is given back at once.
    #[derive(Debug)]
    pub struct ResponseFuture<F, P, C, R> {
        #[pin]
        kind: Kind<F, P, C, R>,
    }
}

pin_project! {
    #[project = KindProj]
    #[derive(Debug)]
    enum Kind<F, P, C, R> {
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
            on_rejected: R,
        },
    }
}

impl<F, P: Report, C, R: Clone> ResponseFuture<F, P, C, R> {
    /// Asks `breaker` for a permit; if it grants one, starts the inner call with `call`,
    /// and if not, keeps a clone of `on_rejected` to answer with.
    #[inline(always)]
    pub(super) fn start<B>(
        breaker: &B,
        classifier: C,
        on_rejected: &R,
        call: impl FnOnce() -> F,
    ) -> Self
    where
        B: Breaker<OwnedPermit = P>,
    {
        let kind = match breaker.try_acquire_owned() {
            Ok(permit) => Kind::Admitted {
                future: call(),
                permit,
                classifier,
            },
            Err(rejected) => Kind::Rejected {
                rejected,
                on_rejected: on_rejected.clone(),
            },
        };
        ResponseFuture { kind }
    }
}

impl<F, P, T, E, C, R> Future for ResponseFuture<F, P, C, R>
where
    F: Future<Output = Result<T, E>>,
    P: Report,
    C: Classify<T, E>,
    R: OnRejected<T, E>,
{
    type Output = Result<T, R::Error>;

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
                match outcome {
                    crate::Outcome::Success => permit.record_in_place(outcome, retry_after),
                    _ => permit.record_in_place_described(
                        outcome,
                        retry_after,
                        classifier.describe(&result),
                    ),
                }
                Poll::Ready(result.map_err(R::inner_error))
            }
            KindProj::Rejected {
                rejected,
                on_rejected,
            } => Poll::Ready(on_rejected.on_rejected(rejected)),
        }
    }
}
