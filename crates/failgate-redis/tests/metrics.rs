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

/// The `failgate_calls_total` counters of the breaker `dependency`, by `outcome`, summed
/// over the snapshots taken so far (a snapshot hands out the increments since the last).
fn calls_by_outcome(snapshotter: &Snapshotter, seen: &mut HashMap<String, u64>) {
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        let label = |name: &str| {
            key.labels()
                .find(|l| l.key() == name)
                .map(|l| l.value().to_owned())
        };
        if key.name() != "failgate_calls_total" || label("breaker").as_deref() != Some("dependency")
        {
            continue;
        }
        assert_eq!(
            label("namespace"),
            None,
            "the core's labels: breaker and outcome"
        );
        if let (DebugValue::Counter(n), Some(outcome)) = (value, label("outcome")) {
            *seen.entry(outcome).or_default() += n;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_totals_are_the_core_metrics_counters_labelled_with_the_breakers_name() {
    let Some(redis) = common::Target::get() else {
        return;
    };
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let b = metrics::with_local_recorder(&recorder, || {
        fleet(&redis.url, &unique_namespace("metrics-totals"))
            .totals(true)
            .build()
            .unwrap()
    });
    let second = Duration::from_secs(1);
    eventually("shared", 5 * second, || b.mode() == Mode::Shared).await;
    for _ in 0..3 {
        let _ = b.call(|| Ok::<_, ()>(()));
    }
    b.try_acquire().unwrap().ignore();
    drop(b.try_acquire().unwrap());
    // Admitted while closed, then failed: all four count, trip or not in between.
    let permits: Vec<_> = (0..4).map(|_| b.try_acquire().unwrap()).collect();
    permits.into_iter().for_each(|p| p.failure());
    eventually("open", 2 * second, || b.state() == failgate::State::Open).await;
    for _ in 0..2 {
        let _ = b.call(|| Ok::<_, ()>(()));
    }
    let expected: HashMap<String, u64> = [
        ("success", 3),
        ("failure", 4),
        ("ignored", 1),
        ("abandoned", 1),
        ("rejected", 2),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let mut seen = HashMap::new();
    eventually("the counters reach the totals", 3 * second, || {
        calls_by_outcome(&snapshotter, &mut seen);
        seen == expected
    })
    .await;
    // Monotonic: later rounds add nothing when nothing more was counted.
    tokio::time::sleep(Duration::from_millis(300)).await;
    calls_by_outcome(&snapshotter, &mut seen);
    assert_eq!(seen, expected);
    let t = b.snapshot().totals.unwrap();
    assert_eq!((t.successes, t.failures, t.refused), (3, 4, 2));
}
