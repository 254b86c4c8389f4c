//! `failgate::rejection` finds a refusal however it came back: from a breaker's own
//! error, through `anyhow`, a `Box<dyn Error>`, an application's error enum, or a tower
//! stack; and the inner error stays reachable by downcast through the chain.

use failgate::{Error, Rejected, State};
use std::fmt;
use std::time::Duration;

#[path = "support/upstream.rs"]
mod upstream;
use upstream::Upstream;

/// An application's error type that wraps the breaker's, as `thiserror`'s `#[source]`
/// would.
#[derive(Debug)]
struct LoadBasket(Error<Upstream>);

impl fmt::Display for LoadBasket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("could not load the basket")
    }
}

impl std::error::Error for LoadBasket {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// A breaker open for 5 s after `Upstream(502)`, the failure and the next refusal.
fn failure_and_refusal() -> (Error<Upstream>, Error<Upstream>) {
    let breaker = upstream::opens_for_5s_on_one_failure();
    let failed = breaker.call(|| Err::<(), _>(Upstream(502))).unwrap_err();
    let refused = breaker.call(|| Ok::<_, Upstream>(())).unwrap_err();
    (failed, refused)
}

fn assert_open_for_5s(rejected: Option<&Rejected>) {
    let rejected = rejected.expect("the rejection is found");
    assert_eq!(rejected.state(), State::Open);
    assert_eq!(rejected.retry_after(), Some(Duration::from_secs(5)));
}

/// The inner error, found by type anywhere in the chain of `error`.
fn inner<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a Upstream> {
    std::iter::successors(Some(error), |e| e.source()).find_map(|e| e.downcast_ref())
}

#[test]
fn rejection_is_found_in_a_breakers_own_error() {
    let (failed, refused) = failure_and_refusal();
    assert_open_for_5s(failgate::rejection(&refused));
    assert!(failgate::rejection(&failed).is_none());
    assert_eq!(inner(&failed), Some(&Upstream(502)));
    assert_open_for_5s(failgate::rejection(&refused.rejected().copied().unwrap()));
}

#[test]
fn rejection_is_found_through_anyhow() {
    let (failed, refused) = failure_and_refusal();
    let refused = anyhow::Error::from(refused).context("loading the basket");
    assert_open_for_5s(failgate::rejection(refused.as_ref()));
    let failed = anyhow::Error::from(failed).context("loading the basket");
    assert!(failgate::rejection(failed.as_ref()).is_none());
    assert_eq!(inner(failed.as_ref()), Some(&Upstream(502)));
}

#[test]
fn rejection_is_found_through_a_boxed_dyn_error() {
    let (failed, refused) = failure_and_refusal();
    let refused: Box<dyn std::error::Error + Send + Sync> = refused.into();
    assert_open_for_5s(failgate::rejection(&*refused));
    let failed: Box<dyn std::error::Error> = failed.into();
    assert!(failgate::rejection(&*failed).is_none());
    assert_eq!(inner(&*failed), Some(&Upstream(502)));
}

#[test]
fn rejection_is_found_through_an_application_error() {
    let (failed, refused) = failure_and_refusal();
    assert_open_for_5s(failgate::rejection(&LoadBasket(refused)));
    let failed = LoadBasket(failed);
    assert!(failgate::rejection(&failed).is_none());
    assert_eq!(inner(&failed), Some(&Upstream(502)));
}

#[test]
fn rejection_of_an_unrelated_error_is_none() {
    let io = std::io::Error::other("connection reset");
    assert!(failgate::rejection(&io).is_none());
}

#[cfg(feature = "tower")]
mod tower_stacks {
    use super::*;
    use failgate::tower::CircuitBreakerLayer;
    use tower::{BoxError, Layer, Service, ServiceBuilder, ServiceExt};

    use crate::upstream::opens_for_5s_on_one_failure as breaker;

    async fn failure_and_refusal<S>(mut svc: S)
    where
        S: Service<(), Response = (), Error = BoxError>,
    {
        let failed = svc.ready().await.unwrap().call(()).await.unwrap_err();
        let refused = svc.ready().await.unwrap().call(()).await.unwrap_err();
        assert_open_for_5s(failgate::rejection(&*refused));
        assert!(failgate::rejection(&*failed).is_none());
        assert_eq!(inner(&*failed), Some(&Upstream(503)));
        // Into anyhow: a boxed error's own type is not a link of anyhow's chain (only
        // its sources are), so the box is found first, then the rejection in it.
        let refused = anyhow::Error::from_boxed(refused).context("loading the basket");
        let boxed = refused.downcast_ref::<BoxError>().expect("the box");
        assert_open_for_5s(failgate::rejection(&**boxed));
    }

    fn failing() -> impl Service<(), Response = (), Error = Upstream, Future: Send> + Clone + Send {
        tower::service_fn(|_: ()| async { Err::<(), _>(Upstream(503)) })
    }

    #[tokio::test]
    async fn rejection_is_found_from_the_tower_layer() {
        failure_and_refusal(CircuitBreakerLayer::new(breaker()).layer(failing())).await;
    }

    #[tokio::test]
    async fn rejection_is_found_under_tower_timeout() {
        let svc = ServiceBuilder::new()
            .timeout(Duration::from_secs(30))
            .layer(CircuitBreakerLayer::new(breaker()))
            .service(failing());
        failure_and_refusal(svc).await;
    }

    #[tokio::test]
    async fn rejection_is_found_under_tower_buffer() {
        let svc = ServiceBuilder::new()
            .buffer(8)
            .layer(CircuitBreakerLayer::new(breaker()))
            .service(failing());
        failure_and_refusal(svc).await;
    }

    #[tokio::test]
    async fn on_rejected_answers_a_refusal_with_a_fallback_response() {
        let b = breaker();
        let calls = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let inner = {
            let calls = calls.clone();
            tower::service_fn(move |ok: bool| {
                calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                async move {
                    if ok {
                        Ok("fresh")
                    } else {
                        Err(Upstream(502))
                    }
                }
            })
        };
        let mut svc = CircuitBreakerLayer::new(b.clone())
            .on_rejected(|_: &Rejected| "cached")
            .layer(inner);
        // The inner error passes through as it is: no box, no refusal to tell apart.
        let failed: Result<&str, Upstream> = svc.ready().await.unwrap().call(false).await;
        assert_eq!(failed, Err(Upstream(502)));
        assert_eq!(b.state(), State::Open);
        let answered = svc.ready().await.unwrap().call(true).await;
        assert_eq!(answered, Ok("cached"), "the fallback, not an error");
        assert_eq!(
            calls.load(std::sync::atomic::Ordering::Relaxed),
            1,
            "not sent"
        );
        assert_eq!(b.state(), State::Open, "a refusal counts nothing");
    }
}
