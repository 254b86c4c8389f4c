//! The metrics observer's counters (feature `metrics`): monotonic, one per refusal,
//! slow successes and slow failures apart, transitions by reason.
#![cfg(feature = "metrics")]

use failgate::{CircuitBreaker, ManualClock, Outcome};
use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What was done to a metric, in order.
#[derive(Debug, Clone, PartialEq)]
enum Op {
    Increment(u64),
    Absolute(u64),
    GaugeSet(f64),
    GaugeMove(f64),
    Record(f64),
}

/// A recorder that keeps every operation on every metric, by its name and labels.
#[derive(Clone, Default)]
struct Ops(Arc<Mutex<Vec<(String, Op)>>>);

struct Handle {
    ops: Ops,
    key: String,
}

impl Handle {
    fn push(&self, op: Op) {
        self.ops.0.lock().unwrap().push((self.key.clone(), op));
    }
}

impl CounterFn for Handle {
    fn increment(&self, value: u64) {
        self.push(Op::Increment(value));
    }
    fn absolute(&self, value: u64) {
        self.push(Op::Absolute(value));
    }
}

impl GaugeFn for Handle {
    fn increment(&self, value: f64) {
        self.push(Op::GaugeMove(value));
    }
    fn decrement(&self, value: f64) {
        self.push(Op::GaugeMove(-value));
    }
    fn set(&self, value: f64) {
        self.push(Op::GaugeSet(value));
    }
}

impl HistogramFn for Handle {
    fn record(&self, value: f64) {
        self.push(Op::Record(value));
    }
}

fn name(key: &Key) -> String {
    let mut labels: Vec<String> = key
        .labels()
        .filter(|l| l.key() != "breaker")
        .map(|l| format!("{}={}", l.key(), l.value()))
        .collect();
    labels.sort();
    format!("{}{{{}}}", key.name(), labels.join(","))
}

impl Ops {
    fn handle(&self, key: &Key) -> Arc<Handle> {
        Arc::new(Handle {
            ops: self.clone(),
            key: name(key),
        })
    }

    /// Every counter's value: the sum of its increments.
    fn counters(&self) -> BTreeMap<String, u64> {
        let mut values = BTreeMap::new();
        for (key, op) in self.0.lock().unwrap().iter() {
            if let Op::Increment(n) = op {
                *values.entry(key.clone()).or_insert(0) += n;
            }
        }
        values
    }
}

impl Recorder for Ops {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.handle(key))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.handle(key))
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.handle(key))
    }
}

/// A breaker with metrics through `ops`, driven through trips, refusals, probes,
/// resets, slow calls of both outcomes and operator states.
fn scenario(ops: &Ops) -> (u64, failgate::Totals) {
    let clock = ManualClock::new();
    let mut refusals = 0;
    let totals = metrics::with_local_recorder(ops, || {
        let b = CircuitBreaker::builder()
            .name("search")
            .consecutive_failures(2)
            .slow_calls(Duration::from_secs(1), 1.0)
            .open_for(Duration::from_secs(5))
            .clock(clock.clone())
            .with_metrics()
            .build()
            .unwrap();
        let slow = |outcome: Outcome| {
            let permit = b.try_acquire().unwrap();
            clock.advance(Duration::from_secs(2));
            permit.record(outcome);
        };
        for round in 0..3 {
            b.call(|| Ok::<(), ()>(())).unwrap();
            slow(Outcome::Success);
            slow(Outcome::Failure);
            let _ = b.call(|| Err::<(), ()>(())); // trips
            for _ in 0..=round {
                assert!(b.call(|| Ok::<(), ()>(())).is_err());
                refusals += 1;
            }
            clock.advance(Duration::from_secs(5));
            b.call(|| Ok::<(), ()>(())).unwrap(); // the probe closes it
            b.force_open();
            assert!(b.try_acquire().is_err());
            refusals += 1;
            b.reset();
        }
        b.snapshot().totals.unwrap()
    });
    (refusals, totals)
}

#[test]
fn metrics_counters_only_go_up() {
    let ops = Ops::default();
    scenario(&ops);
    let all = ops.0.lock().unwrap().clone();
    for (key, op) in &all {
        if key.contains("_total") {
            assert!(
                matches!(op, Op::Increment(1)),
                "{key}: a counter is only ever incremented, by one per event: {op:?}"
            );
        } else {
            assert!(
                !matches!(op, Op::Increment(_) | Op::Absolute(_)),
                "{key}: only counters end in _total: {op:?}"
            );
        }
    }
}

#[test]
fn every_refusal_is_a_rejected_call_in_the_metrics_and_the_totals() {
    let ops = Ops::default();
    let (refusals, totals) = scenario(&ops);
    let counters = ops.counters();
    assert_eq!(counters["failgate_calls_total{outcome=rejected}"], refusals);
    assert_eq!(totals.refused, refusals);
}

#[test]
fn slow_successes_and_slow_failures_have_counters_of_their_own() {
    let ops = Ops::default();
    let (_, totals) = scenario(&ops);
    let c = ops.counters();
    assert_eq!(c["failgate_calls_total{outcome=slow_success}"], 3);
    assert_eq!(c["failgate_calls_total{outcome=slow_failure}"], 3);
    // The series that were there before keep counting as they did.
    assert_eq!(c["failgate_calls_total{outcome=slow}"], 6);
    assert_eq!(c["failgate_calls_total{outcome=failure}"], 6);
    assert_eq!(
        (totals.slow_successes, totals.slow_failures, totals.failures),
        (3, 3, 6)
    );
}

#[test]
fn transitions_are_counted_by_reason() {
    let ops = Ops::default();
    scenario(&ops);
    let c = ops.counters();
    let by = |reason: &str| {
        let key = format!("failgate_transition_reasons_total{{reason={reason}}}");
        c.get(&key).copied().unwrap_or(0)
    };
    assert_eq!(by("consecutive_failures"), 3);
    assert_eq!(by("wait_elapsed"), 3);
    assert_eq!(by("probes_succeeded"), 3);
    assert_eq!(by("manual"), 6, "force_open and reset, three times");
    assert_eq!(by("probe_failed"), 0);
    assert_eq!(c["failgate_transitions_total{to=open}"], 3);
    assert_eq!(c["failgate_transitions_total{to=forced_open}"], 3);
}
