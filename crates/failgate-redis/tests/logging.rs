//! A fallback is logged once, not once per call or per failed round trip, and so is the
//! return to shared breaking.

mod common;

use common::{eventually, fleet, unique_namespace, Redis};
use failgate_redis::Mode;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

/// Every event at INFO or above: its level and message.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<(Level, String)>>>);

impl<S: Subscriber> Layer<S> for Recorder {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        struct Message(String);
        impl Visit for Message {
            fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        if *event.metadata().level() <= Level::INFO {
            let mut m = Message(String::new());
            event.record(&mut m);
            self.0
                .lock()
                .unwrap()
                .push((*event.metadata().level(), m.0));
        }
    }
}

impl Recorder {
    fn count(&self, level: Level, words: &str) -> usize {
        let events = self.0.lock().unwrap();
        events
            .iter()
            .filter(|(l, m)| *l == level && m.contains(words))
            .count()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fallback_and_recovery_are_each_logged_once() {
    let recorder = Recorder::default();
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(recorder.clone()))
        .unwrap();
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let b = fleet(&redis.url(), &unique_namespace("logging"))
        .redis_timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    let second = Duration::from_secs(1);
    eventually("shared", 5 * second, || b.mode() == Mode::Shared).await;

    redis.stop();
    eventually("local", 2 * second, || b.mode() == Mode::Local).await;
    for _ in 0..1_000 {
        let _ = b.call(|| Ok::<_, ()>(()));
    }
    // Ten more failed round trips (20 ms apart) while calls go on.
    let errors = b.status().sync_errors;
    eventually("more failed round trips", 5 * second, || {
        b.status().sync_errors >= errors + 10
    })
    .await;
    assert_eq!(
        recorder.count(Level::WARN, "falling back to a local breaker"),
        1
    );

    redis.restart();
    eventually("shared again", 5 * second, || b.mode() == Mode::Shared).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(recorder.count(Level::INFO, "redis reachable again"), 1);

    redis.stop();
    eventually("local again", 2 * second, || b.mode() == Mode::Local).await;
    assert_eq!(
        recorder.count(Level::WARN, "falling back to a local breaker"),
        2,
        "once per outage"
    );
}
