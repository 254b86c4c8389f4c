//! The ready-made observers (features `tracing` and `metrics`) and observer fan-out.

use failgate::{CircuitBreaker, Event};
use std::sync::{Arc, Mutex};

#[test]
fn observers_are_called_in_order_and_per_breaker_ones_get_the_name() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let (a, b) = (log.clone(), log.clone());
    let template = CircuitBreaker::builder()
        .consecutive_failures(1)
        .observer(move |e: &Event<'_>| a.lock().unwrap().push(format!("first {}", e.name)))
        .observer_per_breaker(move |name| {
            let (b, name) = (b.clone(), name.to_owned());
            move |_: &Event<'_>| b.lock().unwrap().push(format!("second made for {name}"))
        });
    let x = template.clone().name("x").build().unwrap();
    let y = template.name("y").build().unwrap();
    let _ = x.call(|| Ok::<(), ()>(()));
    let _ = y.call(|| Ok::<(), ()>(()));
    assert_eq!(
        *log.lock().unwrap(),
        [
            "first x",
            "second made for x",
            "first y",
            "second made for y"
        ]
    );
}

#[cfg(feature = "tracing")]
mod tracing_observer {
    use super::*;
    use failgate::ManualClock;
    use std::io::Write;
    use std::time::Duration;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn logs_transitions_with_reasons_and_samples_rejections() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let clock = ManualClock::new();
        tracing::subscriber::with_default(subscriber, || {
            let b = CircuitBreaker::builder()
                .name("payments")
                .consecutive_failures(2)
                .open_for(Duration::from_secs(30))
                .clock(clock.clone())
                .with_tracing()
                .build()
                .unwrap();
            let _ = b.call(|| Err::<(), ()>(()));
            let _ = b.call(|| Err::<(), ()>(()));
            for _ in 0..10 {
                let _ = b.call(|| Ok::<(), ()>(()));
            }
            clock.advance(Duration::from_secs(30));
            b.call(|| Ok::<(), ()>(())).unwrap();
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let opened: Vec<_> = lines
            .iter()
            .filter(|l| l.contains("circuit opened"))
            .collect();
        assert_eq!(opened.len(), 1, "{text}");
        assert!(opened[0].contains("WARN"), "{text}");
        assert!(opened[0].contains("breaker=\"payments\""), "{text}");
        assert!(
            opened[0].contains("2 consecutive failures (threshold 2)"),
            "{text}"
        );
        assert!(opened[0].contains("wait=Some(30s)"), "{text}");
        let rejected: Vec<_> = lines
            .iter()
            .filter(|l| l.contains("call rejected"))
            .collect();
        assert_eq!(rejected.len(), 4, "the 1st, 2nd, 4th and 8th of 10: {text}");
        assert!(rejected.iter().all(|l| l.contains("DEBUG")));
        let closed = lines
            .iter()
            .find(|l| l.contains("circuit closed"))
            .expect(&text);
        assert!(
            closed.contains("INFO") && closed.contains("1 probe(s) succeeded"),
            "{text}"
        );
        assert!(lines
            .iter()
            .any(|l| l.contains("circuit half-open: probing") && l.contains("INFO")));
    }

    #[test]
    fn the_tracing_observer_logs_the_error_of_a_failure() {
        use failgate::Described;
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let b = CircuitBreaker::builder()
                .name("payments")
                .consecutive_failures(10)
                .with_classifier(Described(failgate::DefaultClassifier))
                .with_tracing()
                .build()
                .unwrap();
            let _ = b.call(|| Err::<(), _>("card network unreachable"));
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let line = text
            .lines()
            .find(|l| l.contains("call failed"))
            .unwrap_or_else(|| panic!("no failure logged at DEBUG: {text}"));
        assert!(
            line.contains("error=card network unreachable") && line.contains("DEBUG"),
            "{line}"
        );
    }
}

#[cfg(feature = "metrics")]
mod metrics_observer {
    use super::*;
    use failgate::ManualClock;
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    use metrics_util::MetricKind;
    use std::time::Duration;

    #[test]
    fn counts_calls_and_transitions_with_the_breakers_name() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        let clock = ManualClock::new();
        metrics::with_local_recorder(&recorder, || {
            let b = CircuitBreaker::builder()
                .name("search")
                .consecutive_failures(2)
                .slow_calls(Duration::from_secs(1), 1.0)
                .open_for(Duration::from_secs(5))
                .clock(clock.clone())
                .with_metrics()
                .build()
                .unwrap();
            b.call(|| Ok::<(), ()>(())).unwrap();
            let _ = b.call_with(|_| failgate::Outcome::Ignore, || Ok::<(), ()>(()));
            drop(b.try_acquire().unwrap());
            let _ = b.call(|| {
                clock.advance(Duration::from_secs(2));
                Err::<(), ()>(())
            });
            let _ = b.call(|| Err::<(), ()>(()));
            let _ = b.call(|| Ok::<(), ()>(())); // rejected
            let _ = b.call(|| Ok::<(), ()>(())); // rejected
            failgate::observers::record_snapshot(&b.snapshot());
        });
        let mut values = std::collections::HashMap::new();
        for (key, _, _, value) in snapshotter.snapshot().into_vec() {
            let labels: Vec<String> = key
                .key()
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            assert!(labels.contains(&"breaker=search".to_string()), "{key:?}");
            let name = format!("{}{{{}}}", key.key().name(), labels.join(","));
            values.insert(name, (key.kind(), value));
        }
        let counter = |name: &str| match values.get(name) {
            Some((MetricKind::Counter, DebugValue::Counter(n))) => *n,
            other => panic!("{name}: {other:?} in {:?}", values.keys()),
        };
        assert_eq!(
            counter("failgate_calls_total{breaker=search,outcome=success}"),
            1
        );
        assert_eq!(
            counter("failgate_calls_total{breaker=search,outcome=failure}"),
            2
        );
        assert_eq!(
            counter("failgate_calls_total{breaker=search,outcome=ignored}"),
            1
        );
        assert_eq!(
            counter("failgate_calls_total{breaker=search,outcome=slow}"),
            1
        );
        assert_eq!(
            counter("failgate_calls_total{breaker=search,outcome=rejected}"),
            2
        );
        assert_eq!(
            counter("failgate_calls_total{breaker=search,outcome=abandoned}"),
            1
        );
        assert_eq!(
            counter("failgate_transitions_total{breaker=search,to=open}"),
            1
        );
        assert_eq!(
            counter("failgate_transitions_total{breaker=search,to=closed}"),
            0
        );
        match values.get("failgate_state{breaker=search}") {
            Some((MetricKind::Gauge, DebugValue::Gauge(v))) => assert_eq!(v.into_inner(), 1.0),
            other => panic!("state gauge: {other:?}"),
        }
        match values.get("failgate_call_duration_seconds{breaker=search}") {
            Some((MetricKind::Histogram, DebugValue::Histogram(samples))) => {
                let mut s: Vec<f64> = samples.iter().map(|v| v.into_inner()).collect();
                s.sort_by(f64::total_cmp);
                assert_eq!(
                    s,
                    [0.0, 0.0, 2.0],
                    "each timed success or failure, in seconds"
                );
            }
            other => panic!("duration histogram: {other:?}"),
        }
        // The window holds 4 counted calls (below the default minimum of 10): the
        // rates are unknown, so their gauges are absent, never -1.
        assert!(!values.contains_key("failgate_failure_rate{breaker=search}"));
        assert!(!values.contains_key("failgate_slow_call_rate{breaker=search}"));
        assert!(values.contains_key("failgate_window_calls{breaker=search}"));
    }
}
