//! A breaker's errors fit the ecosystem: `source()` leads to the rejection and to the
//! inner error, each text is printed once in a chain, and the tower layer's errors are
//! boxed as tower's own middleware boxes them.

use failgate::{CircuitBreaker, Error, Rejected, State};
use std::time::Duration;

#[path = "support/upstream.rs"]
mod upstream;
use upstream::Upstream;

/// A breaker that opens on one failure for 5 s, and that failure.
fn tripped() -> (CircuitBreaker, Error<Upstream>) {
    let breaker = upstream::opens_for_5s_on_one_failure();
    let failed = breaker.call(|| Err::<(), _>(Upstream(502))).unwrap_err();
    (breaker, failed)
}

#[test]
fn anyhow_chain_finds_the_rejection_and_the_inner_error_by_type() {
    let (breaker, failed) = tripped();
    let failed = anyhow::Error::from(failed);
    assert_eq!(failed.chain().count(), 2, "{failed:#}");
    let inner = failed.chain().find_map(|e| e.downcast_ref::<Upstream>());
    assert_eq!(inner, Some(&Upstream(502)));

    let refused = breaker.call(|| Ok::<_, Upstream>(())).unwrap_err();
    let refused = anyhow::Error::from(refused).context("loading the basket");
    let rejected = refused
        .chain()
        .find_map(|e| e.downcast_ref::<Rejected>())
        .expect("the rejection is in the chain");
    assert_eq!(rejected.state(), State::Open);
    assert_eq!(rejected.retry_after(), Some(Duration::from_secs(5)));
}

#[test]
fn anyhow_alternate_display_prints_each_text_once() {
    let (breaker, failed) = tripped();
    let failed = anyhow::Error::from(failed);
    assert_eq!(
        failed.to_string(),
        "call through the circuit breaker failed"
    );
    assert_eq!(
        format!("{failed:#}"),
        "call through the circuit breaker failed: upstream answered 502"
    );
    let refused = anyhow::Error::from(breaker.call(|| Ok::<_, Upstream>(())).unwrap_err());
    assert_eq!(refused.to_string(), "call refused by the circuit breaker");
    assert_eq!(
        format!("{refused:#}"),
        "call refused by the circuit breaker: circuit open, retry after 5.000s"
    );
}

#[test]
fn boxed_dyn_error_reaches_the_rejection_and_the_inner_error_through_source() {
    let (breaker, failed) = tripped();
    let failed: Box<dyn std::error::Error + Send + Sync> = failed.into();
    let source = failed.source().expect("the inner error is the source");
    assert_eq!(source.downcast_ref::<Upstream>(), Some(&Upstream(502)));

    let refused: Box<dyn std::error::Error + Send + Sync> =
        breaker.call(|| Ok::<_, Upstream>(())).unwrap_err().into();
    let source = refused.source().expect("the rejection is the source");
    let rejected = source.downcast_ref::<Rejected>().expect("a Rejected");
    assert_eq!(rejected.retry_after(), Some(Duration::from_secs(5)));
    assert!(source.source().is_none());
}

#[cfg(feature = "tower")]
mod tower_stacks {
    use super::*;
    use failgate::tower::CircuitBreakerLayer;
    use tower::{BoxError, Layer, Service, ServiceBuilder, ServiceExt};

    /// A service behind a tripped breaker, its first call failing with `Upstream(503)`.
    async fn first_and_second_call(
        svc: &mut (impl Service<(), Response = (), Error = BoxError> + Send),
    ) -> (BoxError, BoxError) {
        let failed = svc.ready().await.unwrap().call(()).await.unwrap_err();
        let refused = svc.ready().await.unwrap().call(()).await.unwrap_err();
        (failed, refused)
    }

    use crate::upstream::opens_for_5s_on_one_failure as breaker;

    fn failing() -> impl Service<(), Response = (), Error = BoxError, Future: Send> + Clone + Send {
        tower::service_fn(|_: ()| async { Err::<(), BoxError>(Box::new(Upstream(503))) })
    }

    fn assert_found(failed: &BoxError, refused: &BoxError) {
        assert_eq!(
            failed.downcast_ref::<Upstream>(),
            Some(&Upstream(503)),
            "{failed:?}"
        );
        let rejected = refused
            .downcast_ref::<Rejected>()
            .expect("a boxed Rejected");
        assert_eq!(rejected.retry_after(), Some(Duration::from_secs(5)));
        assert!(refused.source().is_none());
    }

    #[tokio::test]
    async fn tower_layer_errors_downcast_to_the_rejection_and_the_inner_error() {
        let mut svc = CircuitBreakerLayer::new(breaker()).layer(failing());
        let (failed, refused) = first_and_second_call(&mut svc).await;
        assert_found(&failed, &refused);
        assert!(refused.to_string().starts_with("circuit open"), "{refused}");
    }

    #[tokio::test]
    async fn tower_timeout_passes_the_rejection_up_downcastable() {
        let mut svc = ServiceBuilder::new()
            .timeout(Duration::from_secs(30))
            .layer(CircuitBreakerLayer::new(breaker()))
            .service(failing());
        let (failed, refused) = first_and_second_call(&mut svc).await;
        assert_found(&failed, &refused);
    }

    #[tokio::test]
    async fn tower_buffer_passes_the_rejection_up_downcastable() {
        let mut svc = ServiceBuilder::new()
            .buffer(8)
            .layer(CircuitBreakerLayer::new(breaker()))
            .service(failing());
        let (failed, refused) = first_and_second_call(&mut svc).await;
        assert_found(&failed, &refused);
    }
}
