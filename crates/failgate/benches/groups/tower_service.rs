//! The tower layers: failgate's (and leaked), seatbelt's and tower-resilience's,
//! beside the bare service.
#[cfg(feature = "tower")]
pub(crate) mod imp {
    use crate::peers::now;
    use crate::*;
    use tower::{Layer, Service};

    pub(crate) fn bench(c: &mut Criterion) {
        let mut g = c.benchmark_group("tower_service");
        g.throughput(Throughput::Elements(1));
        let inner =
            tower::service_fn(|x: u64| std::future::ready(Ok::<u64, std::convert::Infallible>(x)));

        let mut bare = inner;
        g.bench_function("bare_service", |b| {
            b.iter(|| now(bare.call(black_box(1))).is_ok())
        });
        let mut layered =
            failgate::tower::CircuitBreakerLayer::new(failgate_consecutive()).layer(inner);
        g.bench_function("failgate_layer_consecutive", |b| {
            b.iter(|| now(layered.call(black_box(1))).is_ok())
        });
        // The same breaker leaked: response futures borrow it, no reference counting.
        let mut leaked =
            failgate::tower::CircuitBreakerLayer::new(failgate_consecutive().leak()).layer(inner);
        g.bench_function("failgate_layer_consecutive_leaked", |b| {
            b.iter(|| now(leaked.call(black_box(1))).is_ok())
        });
        let (clock, _driver) = crate::seatbelt_peer::clock();
        let mut sb = crate::seatbelt_peer::tower(&crate::seatbelt_peer::layer(&clock));
        g.bench_function("seatbelt_layer_default", |b| {
            b.iter(|| now(sb.call(black_box(1))).is_ok())
        });
        let mut tr = crate::tower_resilience_peer::consecutive(5, Duration::from_secs(60));
        g.bench_function("tower_resilience_layer_consecutive", |b| {
            b.iter(|| crate::tower_resilience_peer::ready_call(&mut tr, black_box(1)))
        });
        g.finish();
    }
}

#[cfg(not(feature = "tower"))]
pub(crate) mod imp {
    pub(crate) fn bench(_: &mut criterion::Criterion) {}
}

pub(crate) use imp::bench;
