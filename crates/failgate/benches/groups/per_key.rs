/// Per-key breakers: a key already in the map, and an unseen key on a full map (each
/// unseen key evicts an idle one, or, when every breaker holds failures, gets an
/// untracked breaker after the sweep's bounded search).
#[cfg(feature = "tower")]
pub(crate) mod imp {
    use crate::*;
    use failgate::tower::per_key::BreakerMap;

    fn full_map(keys: u64, failing: bool) -> BreakerMap<u64> {
        let template = failgate::CircuitBreaker::builder()
            .name("hosts")
            .consecutive_failures(5);
        let map = BreakerMap::new(template, keys as usize).unwrap();
        for key in 0..keys {
            let breaker = map.get(&key);
            let _ = breaker.call(|| if failing { Err(()) } else { Ok(()) });
        }
        map.evict_idle(); // clears the marks of insertion: nothing was used since
        map
    }

    pub(crate) fn bench(c: &mut Criterion) {
        let mut g = c.benchmark_group("per_key");
        g.throughput(Throughput::Elements(1));
        let map = full_map(1_000, false);
        g.bench_function("existing_key", |b| {
            b.iter(|| map.get(black_box(&500)).call(op).is_ok())
        });
        for (keys, failing) in [(1_000, false), (100_000, false), (100_000, true)] {
            let map = full_map(keys, failing);
            let mut next = keys;
            let name = match failing {
                false => format!("unseen_key_full_map_{keys}"),
                true => format!("unseen_key_full_map_{keys}_all_failing"),
            };
            g.bench_function(name, |b| {
                b.iter(|| {
                    next += 1;
                    map.get(black_box(&next)).call(op).is_ok()
                })
            });
        }
        g.finish();
    }
}

#[cfg(not(feature = "tower"))]
pub(crate) mod imp {
    pub(crate) fn bench(_: &mut criterion::Criterion) {}
}

pub(crate) use imp::bench;
