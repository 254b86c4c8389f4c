//! The response future: it holds the call's permit, so dropping it abandons the call.

use crate::{Classify, Error, OwnedPermit, Rejected};
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

pin_project! {
    /// The future of a [`CircuitBreakerService`](super::CircuitBreakerService) call.
    ///
    /// While the inner call runs it holds the call's permit; when the inner future
    /// completes, the outcome is classified and recorded. Dropped before then (a
    /// timeout, a cancelled request), the permit is abandoned: nothing is counted and a
    /// half-open probe slot is given back at once.
    #[derive(Debug)]
    pub struct ResponseFuture<F, C> {
        #[pin]
        kind: Kind<F, C>,
    }
}

pin_project! {
    #[project = KindProj]
    #[derive(Debug)]
    enum Kind<F, C> {
        Admitted {
            #[pin]
            future: F,
            permit: OwnedPermit,
            classifier: C,
        },
        Rejected {
            rejected: Rejected,
        },
    }
}

impl<F, C> ResponseFuture<F, C> {
    pub(super) fn admitted(future: F, permit: OwnedPermit, classifier: C) -> Self {
        ResponseFuture {
            kind: Kind::Admitted {
                future,
                permit,
                classifier,
            },
        }
    }

    pub(super) fn rejected(rejected: Rejected) -> Self {
        ResponseFuture {
            kind: Kind::Rejected { rejected },
        }
    }
}

impl<F, T, E, C> Future for ResponseFuture<F, C>
where
    F: Future<Output = Result<T, E>>,
    C: Classify<T, E>,
{
    type Output = Result<T, Error<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Admitted {
                future,
                permit,
                classifier,
            } => {
                let result = std::task::ready!(future.poll(cx));
                // Recorded in place (a second poll after completion records nothing);
                // the permit's handle on the breaker is released with the future.
                let outcome = classifier.classify(&result);
                let hint = if permit.honors_retry_after() {
                    classifier.retry_after(&result)
                } else {
                    None
                };
                permit.record_in_place(outcome, hint);
                Poll::Ready(result.map_err(Error::Inner))
            }
            KindProj::Rejected { rejected } => Poll::Ready(Err(Error::Rejected(*rejected))),
        }
    }
}
