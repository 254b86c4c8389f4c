//! The mode is exposed through `metrics` (feature `metrics`): the gauge
//! `failgate_redis_shared` is 1 while shared and 0 on the local fallback.
#![cfg(feature = "metrics")]

mod common;

use common::{eventually, fleet, unique_namespace, Redis};
use failgate_redis::Mode;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use std::collections::HashMap;
use std::time::Duration;

/// What the breaker reported so far: the last gauge values and the counters' totals (a
/// snapshot hands out counter increments since the previous one).
#[derive(Default)]
struct Seen {
    gauges: HashMap<String, f64>,
    counters: HashMap<String, u64>,
}

impl Seen {
    fn update(&mut self, snapshotter: &Snapshotter) -> &Self {
        for (key, _, _, value) in snapshotter.snapshot().into_vec() {
            let ours = key
                .key()
                .labels()
                .any(|l| l.key() == "breaker" && l.value() == "dependency");
            let name = key.key().name().to_owned();
            match value {
                DebugValue::Gauge(g) if ours => {
                    self.gauges.insert(name, g.into_inner());
                }
                DebugValue::Counter(n) if ours => *self.counters.entry(name).or_default() += n,
                _ => {}
            }
        }
        self
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mode_gauge_follows_redis() {
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    // The handles are registered when the breaker is built.
    let b = metrics::with_local_recorder(&recorder, || {
        fleet(&redis.url(), &unique_namespace("metrics"))
            .redis_timeout(Duration::from_millis(50))
            .build()
            .unwrap()
    });
    let second = Duration::from_secs(1);
    let mut seen = Seen::default();
    eventually("shared", 5 * second, || b.mode() == Mode::Shared).await;
    eventually("gauge 1", second, || {
        seen.update(&snapshotter)
            .gauges
            .get("failgate_redis_shared")
            == Some(&1.0)
    })
    .await;
    redis.stop();
    eventually("local", 2 * second, || b.mode() == Mode::Local).await;
    let seen = seen.update(&snapshotter);
    assert_eq!(seen.gauges.get("failgate_redis_shared"), Some(&0.0));
    assert!(seen.counters["failgate_redis_sync_errors_total"] >= 1);
    assert!(seen.counters["failgate_redis_round_trips_total"] >= 2);
}
