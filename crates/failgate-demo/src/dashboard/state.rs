//! What a running watch holds: the registry and its lanes, the Prometheus recorder, and
//! the samples the page's charts start from; and the sampler that keeps them fresh.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use failgate::config_file::RegistryConfig;
use failgate::observers::record_snapshot;
use failgate::{CircuitBreaker, Clock, Event, Registry};
use metrics_exporter_prometheus::{PrometheusHandle, PrometheusRecorder};
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

use super::config::WatchError;
use super::guard::Guard;
use super::lanes::{self, Lane};
use super::reload::{self, Source};
use super::traffic::{Counts, LaneState, LastReason};
use super::views::{BreakerView, History, Point, ReloadView, Sample, TotalsView, WatchSnapshot};

/// The breakers' clock: tokio's, so paused tokio time moves it too.
#[derive(Debug, Clone, Copy)]
pub(super) struct TokioClock {
    pub(super) origin: Instant,
}

impl Clock for TokioClock {
    fn now_nanos(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// The registry of the lanes' breakers, each built with metrics on `clock` and with
/// the settings `file` gives it (or its own), and the lanes' state. The breakers
/// register their metrics handles with `recorder`.
pub(super) fn build_lanes(
    lanes: &[Lane],
    file: Option<&RegistryConfig>,
    clock: TokioClock,
    recorder: &PrometheusRecorder,
) -> Result<(Registry, Vec<Arc<LaneState>>), WatchError> {
    let (config, lanes) = reload::effective(lanes, file)?;
    // Transitions go to the log (INFO, openings WARN) as well as to the metrics.
    // Each lane keeps why its breaker is in its state, for the page: its last change,
    // or its rebuilding by a reload. The observer is made per breaker by name, so a
    // breaker a reload rebuilds writes to its lane's reason too; each is numbered in
    // build order, so the breaker it replaced no longer does.
    let reasons: Vec<(String, LastReason)> = lanes
        .iter()
        .map(|lane| (lane.name.clone(), LastReason::default()))
        .collect();
    let by_name = Arc::new(reasons.clone());
    let built = AtomicU64::new(0);
    let base = CircuitBreaker::builder()
        .with_metrics()
        .with_tracing()
        .observer_per_breaker(move |name| {
            let keep = by_name
                .iter()
                .find(|(lane, _)| lane == name)
                .map(|(_, reason)| Arc::clone(reason));
            let breaker = built.fetch_add(1, Ordering::Relaxed) + 1;
            move |e: &Event<'_>| {
                if let Some(keep) = &keep {
                    keep.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .hear(breaker, &e.kind);
                }
            }
        })
        .clock(clock);
    let registry =
        metrics::with_local_recorder(recorder, || config.registry_with(base)).map_err(|e| {
            WatchError::Invalid {
                field: "lanes",
                reason: e.to_string(),
            }
        })?;
    let lanes = lanes
        .iter()
        .zip(reasons)
        .map(|(lane, (_, reason))| {
            Arc::new(LaneState {
                name: lane.name.clone(),
                policy: Mutex::new(lane.policy.clone()),
                schedule: lane.schedule.clone(),
                pin: lanes::Pin::new(),
                counts: Counts::default(),
                registry: registry.clone(),
                reason,
            })
        })
        .collect();
    Ok((registry, lanes))
}

/// The handlers' view of the shared state.
pub(super) type AppState = axum::extract::State<Arc<Shared>>;

/// What the handlers and the sampler share.
pub(super) struct Shared {
    pub(super) start: Instant,
    pub(super) registry: Registry,
    pub(super) lanes: Vec<Arc<LaneState>>,
    pub(super) recorder: PrometheusRecorder,
    pub(super) prometheus: PrometheusHandle,
    pub(super) sample_every: Duration,
    pub(super) history_len: usize,
    pub(super) history: Mutex<VecDeque<Sample>>,
    pub(super) snapshots: watch::Receiver<Arc<WatchSnapshot>>,
    pub(super) guard: Arc<Guard>,
    /// With `--config`: the file, and the lanes' own settings it applies over.
    pub(super) source: Option<Source>,
    pub(super) reloads: Mutex<ReloadView>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("registry", &self.registry)
            .field("lanes", &self.lanes.len())
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// The state of a watch that started at `start`, and the sender its sampler
    /// publishes on, holding a first sample already.
    pub(super) fn new(
        start: Instant,
        (registry, lanes): (Registry, Vec<Arc<LaneState>>),
        recorder: PrometheusRecorder,
        sample_every: Duration,
        history_len: usize,
        guard: Arc<Guard>,
        source: Option<Source>,
    ) -> (Arc<Self>, watch::Sender<Arc<WatchSnapshot>>) {
        let prometheus = recorder.handle();
        let (publish, snapshots) = watch::channel(Arc::new(WatchSnapshot {
            uptime_ms: 0,
            breakers: Vec::new(),
            reloads: None,
        }));
        let reloads = Mutex::new(ReloadView {
            file: source
                .as_ref()
                .map(|s| s.path.display().to_string())
                .unwrap_or_default(),
            ..ReloadView::default()
        });
        let shared = Arc::new(Self {
            start,
            registry,
            lanes,
            recorder,
            prometheus,
            sample_every,
            history_len,
            history: Mutex::new(VecDeque::with_capacity(history_len)),
            snapshots,
            guard,
            source,
            reloads,
        });
        publish.send_replace(Arc::new(shared.sample()));
        (shared, publish)
    }

    pub(super) fn lane(&self, name: &str) -> Option<&Arc<LaneState>> {
        self.lanes.iter().find(|l| l.name == name)
    }

    /// The registry's snapshot, joined with the lanes' ratios and counts.
    pub(super) fn snapshot(&self) -> WatchSnapshot {
        let elapsed = self.start.elapsed();
        let metrics = self.registry.snapshot();
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        let breakers = self
            .lanes
            .iter()
            .filter_map(|lane| {
                let m = metrics.iter().find(|m| *m.name == *lane.name)?;
                Some(BreakerView {
                    name: lane.name.clone(),
                    state: m.state.as_str().to_owned(),
                    policy: lane.policy(),
                    failure_rate: m.failure_rate,
                    window_calls: m.calls,
                    window_failures: m.failures,
                    consecutive_failures: m.consecutive_failures,
                    retry_after_ms: m.retry_after.map(millis),
                    time_in_state_ms: millis(m.time_in_state),
                    generation: m.generation,
                    ratio: lane.ratio(elapsed).get(),
                    pinned: lane.pin.get().is_some(),
                    succeeded: load(&lane.counts.succeeded),
                    failed: load(&lane.counts.failed),
                    rejected: load(&lane.counts.rejected),
                    settings: self.registry.settings_of(&lane.name).unwrap_or_default(),
                    reason: lane.last_reason().map(|r| r.to_string()),
                    totals: m.totals.as_ref().map(TotalsView::from),
                })
            })
            .collect();
        WatchSnapshot {
            uptime_ms: millis(elapsed),
            breakers,
            reloads: self.reload_view(),
        }
    }

    /// Samples the registry: sets the rate gauges (only those that are known), keeps
    /// the sample for the charts, and returns the snapshot for `/events`.
    pub(super) fn sample(&self) -> WatchSnapshot {
        metrics::with_local_recorder(&self.recorder, || {
            for m in self.registry.snapshot() {
                record_snapshot(&m);
            }
        });
        self.prometheus.run_upkeep();
        let snapshot = self.snapshot();
        let sample = Sample {
            uptime_ms: snapshot.uptime_ms,
            points: snapshot
                .breakers
                .iter()
                .map(|b| Point {
                    state: b.state.clone(),
                    failure_rate: b.failure_rate,
                    ratio: b.ratio,
                })
                .collect(),
        };
        let mut history = self
            .history
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if history.len() == self.history_len {
            history.pop_front();
        }
        history.push_back(sample);
        snapshot
    }

    pub(super) fn history(&self) -> History {
        let history = self
            .history
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        History {
            sample_every_ms: u64::try_from(self.sample_every.as_millis()).unwrap_or(u64::MAX),
            names: self.lanes.iter().map(|l| l.name.clone()).collect(),
            samples: history.iter().cloned().collect(),
        }
    }
}

/// Samples the registry every `sample_every` and publishes the snapshot, until stopped.
/// Dropping `publish` at the end ends every `/events` stream.
pub(super) async fn sampler(
    shared: Arc<Shared>,
    publish: watch::Sender<Arc<WatchSnapshot>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(shared.sample_every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is immediate, and spawn() sampled already
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        publish.send_replace(Arc::new(shared.sample()));
    }
}
