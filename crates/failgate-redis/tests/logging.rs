//! A fallback is logged once, not once per call or per failed round trip, and so is the
//! return to shared breaking, and a lost shared state.

mod common;

use common::{eventually, fleet, raw, unique_namespace, Redis};
use failgate_redis::Mode;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

/// Every event at INFO or above: its level, message and namespace field.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<(Level, String, String)>>>);

/// The process-wide recorder (a global subscriber can be set once per test binary).
fn recorder() -> Recorder {
    static RECORDER: OnceLock<Recorder> = OnceLock::new();
    RECORDER
        .get_or_init(|| {
            let recorder = Recorder::default();
            tracing::subscriber::set_global_default(
                tracing_subscriber::registry().with(recorder.clone()),
            )
            .unwrap();
            recorder
        })
        .clone()
}

impl<S: Subscriber> Layer<S> for Recorder {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        #[derive(Default)]
        struct Message(String, String);
        impl Visit for Message {
            fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
                match field.name() {
                    "message" => self.0 = format!("{value:?}"),
                    "namespace" => self.1 = format!("{value:?}"),
                    _ => {}
                }
            }
        }
        if *event.metadata().level() <= Level::INFO {
            let mut m = Message::default();
            event.record(&mut m);
            self.0
                .lock()
                .unwrap()
                .push((*event.metadata().level(), m.0, m.1));
        }
    }
}

impl Recorder {
    /// Events of `namespace` at `level` whose message contains `words`.
    fn count(&self, namespace: &str, level: Level, words: &str) -> usize {
        let events = self.0.lock().unwrap();
        events
            .iter()
            .filter(|(l, m, ns)| *l == level && m.contains(words) && ns == namespace)
            .count()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fallback_and_recovery_are_each_logged_once() {
    let recorder = recorder();
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let ns = unique_namespace("logging");
    let b = fleet(&redis.url(), &ns)
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
        recorder.count(&ns, Level::WARN, "falling back to a local breaker"),
        1
    );

    redis.restart();
    eventually("shared again", 5 * second, || b.mode() == Mode::Shared).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(recorder.count(&ns, Level::INFO, "redis reachable again"), 1);

    redis.stop();
    eventually("local again", 2 * second, || b.mode() == Mode::Local).await;
    assert_eq!(
        recorder.count(&ns, Level::WARN, "falling back to a local breaker"),
        2,
        "once per outage"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_shared_state_is_logged_once() {
    let recorder = recorder();
    let Some(redis) = Redis::start() else {
        return;
    };
    let ns = unique_namespace("logging-lost");
    let b = fleet(&redis.url(), &ns).build().unwrap();
    let second = Duration::from_secs(1);
    eventually("shared", 5 * second, || b.mode() == Mode::Shared).await;
    let mut con = raw(&redis.url()).await;
    let _: () = redis::cmd("FLUSHALL").query_async(&mut con).await.unwrap();
    for _ in 0..20 {
        let _ = b.call(|| Ok::<_, ()>(()));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eventually("noticed", 2 * second, || b.status().lost_state == 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        recorder.count(&ns, Level::WARN, "shared state is gone from redis"),
        1
    );
    assert_eq!(b.status().lost_state, 1, "once: the new state is mirrored");
}
