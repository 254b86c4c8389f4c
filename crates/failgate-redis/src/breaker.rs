//! The public face: [`FleetBreaker`] and its permits, with the local breaker's API.

use crate::config::{mask_password, FleetBuilder, FleetConfigError};
use crate::mirror::{Admit, Core, Mode};
use crate::script::ScriptArgs;
use crate::sync::{run_pubsub, run_sync, SyncSettings};
use failgate::{Classify, DefaultClassifier, Error, Outcome, Rejected, State};
use std::fmt;
use std::future::Future;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

/// A circuit breaker whose state and counts are shared by every instance that uses the
/// same Redis namespace and name. Cheap to clone: clones share one breaker.
///
/// Calls never wait on Redis: admission reads a local mirror of the shared state, and
/// outcomes are counted locally and flushed by a background task (see the
/// [design](crate::design)). Its API is the local
/// [`CircuitBreaker`](failgate::CircuitBreaker)'s.
pub struct FleetBreaker<C = DefaultClassifier> {
    core: Arc<Core>,
    classifier: C,
}

impl<C: Clone> Clone for FleetBreaker<C> {
    fn clone(&self) -> Self {
        FleetBreaker {
            core: self.core.clone(),
            classifier: self.classifier.clone(),
        }
    }
}

impl<C> fmt::Debug for FleetBreaker<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetBreaker")
            .field("namespace", &self.core.namespace)
            .field("name", &self.core.name)
            .field("mode", &self.core.mode())
            .field("state", &self.core.state())
            .finish()
    }
}

/// A snapshot of a fleet breaker, from [`FleetBreaker::status`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FleetStatus {
    /// Shared, or local fallback.
    pub mode: Mode,
    /// The state calls see.
    pub state: State,
    /// The shared generation last heard from Redis.
    pub generation: u64,
    /// The shared window's calls and failures, as of the last round trip.
    pub shared_calls: u64,
    /// See `shared_calls`.
    pub shared_failures: u64,
    /// Round trips to Redis tried (each is one script call).
    pub round_trips: u64,
    /// Round trips that failed or timed out.
    pub sync_errors: u64,
    /// Counts Redis discarded as belonging to an ended generation.
    pub discarded: u64,
    /// Transitions heard over pub/sub.
    pub announcements: u64,
    /// Why the last round trip failed (a refused connection, a wrong password, no
    /// answer within the timeout), while Redis stays unreachable; `None` once one
    /// succeeds. A problem that round trips survive stays here while it lasts: Redis
    /// refusing PUBLISH on the breaker's channel to this user (transitions then reach
    /// the fleet by polling, every `flush_interval`).
    pub last_error: Option<String>,
    /// How many times this instance found the shared state it mirrored gone from Redis
    /// (a FLUSHALL, an eviction, an expiry, a failover to an empty replica) and
    /// re-established it: a new epoch in an answer. Each is logged once, at WARN.
    pub lost_state: u64,
    /// When that last happened.
    pub last_lost_state: Option<std::time::SystemTime>,
}

impl FleetBreaker {
    /// A builder for the breaker `name`, shared by every instance built with the same
    /// namespace and name.
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use failgate_redis::FleetBreaker;
    /// use std::time::Duration;
    ///
    /// let breaker = FleetBreaker::builder("payments")
    ///     .namespace("checkout")
    ///     .redis("redis://127.0.0.1:6379")
    ///     .failure_rate(0.5)
    ///     .minimum_calls(20)
    ///     .open_for(Duration::from_secs(30))
    ///     .build()?;
    /// let answer = breaker.call(|| Ok::<_, std::io::Error>("pong"));
    /// # let _ = answer; Ok(()) }
    /// ```
    pub fn builder(name: &str) -> FleetBuilder {
        FleetBuilder::new(name)
    }
}

pub(crate) fn build<C>(b: FleetBuilder<C>) -> Result<FleetBreaker<C>, FleetConfigError> {
    b.validate()?;
    let local = b.local_breaker()?;
    let url = b.url.clone().ok_or(FleetConfigError::NoRedisUrl)?;
    let url_for_logs = mask_password(&url);
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| FleetConfigError::NoRuntime)?;
    let bad_url = |source| FleetConfigError::RedisUrl {
        url: url_for_logs.clone(),
        source,
    };
    let mut info =
        redis::IntoConnectionInfo::into_connection_info(url.as_str()).map_err(bad_url)?;
    let mut redis_settings = info.redis_settings().clone();
    if let Some(user) = &b.username {
        redis_settings = redis_settings.set_username(user);
    }
    if let Some(password) = &b.password {
        redis_settings = redis_settings.set_password(password);
    }
    info = info.set_redis_settings(redis_settings);
    #[cfg(feature = "tls")]
    {
        // rustls needs a crypto provider; install ring's unless the program chose one.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    #[cfg(feature = "tls")]
    let client = match &b.tls_root_certificate {
        Some(pem) => redis::Client::build_with_tls(
            info,
            redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(pem.clone()),
            },
        ),
        None => redis::Client::open(info),
    }
    .map_err(bad_url)?;
    #[cfg(not(feature = "tls"))]
    let client = redis::Client::open(info).map_err(bad_url)?;

    let prefix = format!("failgate:{}:{}", b.namespace, b.name);
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let args = ScriptArgs {
        state_key: format!("{prefix}:state"),
        window_key: format!("{prefix}:window"),
        batch_key: format!("{prefix}:batch:{}", crate::batch::instance_id()),
        channel: format!("{prefix}:events"),
        rate: b.failure_rate,
        minimum_calls: b.minimum_calls,
        window_ms: ms(b.window),
        buckets: b.buckets,
        open_ms: ms(b.open_for),
        permits: b.half_open_permits,
        half_open_timeout_ms: ms(b.half_open_timeout).max(1),
        ttl_ms: ms(b.key_ttl),
        // A batch is sent again until answered, and dropped once a fallback outlasts the
        // window: three windows cover every repeat.
        batch_ttl_ms: ms(b.window).saturating_mul(3).max(1),
    };
    let channel = args.channel.clone();
    let (stop, stopped) = tokio::sync::watch::channel(());
    let core = Arc::new(Core::new(
        local,
        b.clock.clone(),
        b.failure_rate,
        b.minimum_calls,
        // Ten missed rounds, and two timeouts.
        b.flush_interval * 10 + b.redis_timeout * 2,
        b.name.clone(),
        b.namespace.clone(),
        stop,
        #[cfg(feature = "metrics")]
        MetricHandles::new(&b.namespace, &b.name),
    ));
    let settings = SyncSettings {
        client: client.clone(),
        url_for_logs,
        args,
        interval: b.flush_interval,
        idle_poll: b.idle_poll,
        timeout: b.redis_timeout,
        window: b.window,
    };
    let weak = Arc::downgrade(&core);
    runtime.spawn(run_sync(weak.clone(), settings, stopped.clone()));
    runtime.spawn(run_pubsub(
        weak,
        client,
        channel,
        b.redis_timeout,
        Duration::from_millis(500),
        stopped,
    ));
    Ok(FleetBreaker {
        core,
        classifier: b.classifier,
    })
}

impl<C> FleetBreaker<C> {
    /// Runs `op` if the breaker admits it and counts its outcome, as
    /// [`CircuitBreaker::call`](failgate::CircuitBreaker::call) does.
    #[inline]
    pub fn call<T, E, F>(&self, op: F) -> Result<T, Error<E>>
    where
        F: FnOnce() -> Result<T, E>,
        C: Classify<T, E>,
    {
        let permit = self.try_acquire()?;
        let result = op();
        permit.record(self.classifier.classify(&result));
        result.map_err(Error::Inner)
    }

    /// Like [`call`](Self::call), classifying with `classify`.
    #[inline]
    pub fn call_with<T, E, K, F>(&self, classify: K, op: F) -> Result<T, Error<E>>
    where
        K: FnOnce(&Result<T, E>) -> Outcome,
        F: FnOnce() -> Result<T, E>,
    {
        let permit = self.try_acquire()?;
        let result = op();
        permit.record(classify(&result));
        result.map_err(Error::Inner)
    }

    /// Runs the future `op` makes if the breaker admits it. Dropped before it finishes,
    /// the call is abandoned (a half-open probe permit goes back to the fleet).
    pub async fn call_async<T, E, F, Fut>(&self, op: F) -> Result<T, Error<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        C: Classify<T, E>,
    {
        let permit = self.try_acquire()?;
        let result = op().await;
        permit.record(self.classifier.classify(&result));
        result.map_err(Error::Inner)
    }

    /// Like [`call_async`](Self::call_async), classifying with `classify`.
    pub async fn call_async_with<T, E, K, F, Fut>(&self, classify: K, op: F) -> Result<T, Error<E>>
    where
        K: FnOnce(&Result<T, E>) -> Outcome,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let permit = self.try_acquire()?;
        let result = op().await;
        permit.record(classify(&result));
        result.map_err(Error::Inner)
    }

    /// Asks for a permit, for callers that record the outcome themselves.
    #[inline]
    pub fn try_acquire(&self) -> Result<Permit<'_>, Rejected> {
        let kind = match self.core.admit()? {
            Admit::Counted(g) => Kind::Counted(g),
            Admit::Probe(g) => Kind::Probe(g),
            Admit::Local => Kind::Local(self.core.local.try_acquire()?),
        };
        Ok(Permit {
            core: &self.core,
            kind,
        })
    }

    /// Like [`try_acquire`](Self::try_acquire), for a permit that must outlive the
    /// borrow (a `'static` future, another thread).
    #[inline]
    pub fn try_acquire_owned(&self) -> Result<OwnedPermit, Rejected> {
        let kind = match self.core.admit()? {
            Admit::Counted(g) => Kind::Counted(g),
            Admit::Probe(g) => Kind::Probe(g),
            Admit::Local => Kind::Local(self.core.local.try_acquire_owned()?),
        };
        Ok(OwnedPermit {
            core: self.core.clone(),
            kind,
        })
    }

    /// The state calls see now.
    pub fn state(&self) -> State {
        self.core.state()
    }

    /// Shared or local fallback.
    pub fn mode(&self) -> Mode {
        self.core.mode()
    }

    /// A snapshot of the mirror and the sync task's counters.
    pub fn status(&self) -> FleetStatus {
        let (shared_calls, shared_failures) = self.core.shared_counts();
        let stats = &self.core.stats;
        FleetStatus {
            mode: self.core.mode(),
            state: self.core.state(),
            generation: crate::mirror::generation(self.core.word.load(Relaxed)),
            shared_calls,
            shared_failures,
            round_trips: stats.round_trips.load(Relaxed),
            sync_errors: stats.sync_errors.load(Relaxed),
            discarded: stats.discarded.load(Relaxed),
            announcements: stats.announcements.load(Relaxed),
            last_error: stats.last_error.lock().map_or(None, |e| e.clone()),
            lost_state: self.core.integrity.lost(),
            last_lost_state: self.core.integrity.last_lost(),
        }
    }

    /// The breaker's name.
    pub fn name(&self) -> &str {
        &self.core.name
    }

    /// The key namespace.
    pub fn namespace(&self) -> &str {
        &self.core.namespace
    }

    /// The local breaker that decides while Redis is unreachable.
    pub fn local_breaker(&self) -> &failgate::CircuitBreaker {
        &self.core.local
    }

    /// The default classifier.
    pub fn classifier(&self) -> &C {
        &self.classifier
    }

    /// The same breaker seen through another default classifier.
    pub fn with_classifier<K>(self, classifier: K) -> FleetBreaker<K> {
        FleetBreaker {
            core: self.core,
            classifier,
        }
    }
}

/// How a permit's outcome is counted.
#[derive(Debug)]
enum Kind<L> {
    /// Closed fleet-wide: counted locally, flushed to the shared window.
    Counted(u64),
    /// A fleet-wide half-open probe.
    Probe(u64),
    /// Fallback: the local breaker's permit.
    Local(L),
    /// Reported.
    Done,
}

impl<L: LocalPermit> Kind<L> {
    #[inline(always)]
    fn record(&mut self, core: &Core, outcome: Outcome) {
        match std::mem::replace(self, Kind::Done) {
            Kind::Counted(g) => core.record_counted(g, outcome),
            Kind::Probe(g) => core.record_probe(
                g,
                match outcome {
                    Outcome::Success => Some(true),
                    Outcome::Failure => Some(false),
                    Outcome::Ignore => None,
                },
            ),
            Kind::Local(p) => {
                core.record_local(outcome);
                p.record(outcome)
            }
            Kind::Done => {}
        }
    }

    fn abandon(&mut self, core: &Core) {
        if let Kind::Probe(g) = std::mem::replace(self, Kind::Done) {
            core.record_probe(g, None);
        }
        // A counted call abandoned counts nothing; a local permit abandons on drop.
    }
}

/// The local breaker's two permit types, recorded alike.
trait LocalPermit {
    fn record(self, outcome: Outcome);
}

impl LocalPermit for failgate::Permit<'_> {
    fn record(self, outcome: Outcome) {
        failgate::Permit::record(self, outcome)
    }
}

impl LocalPermit for failgate::OwnedPermit {
    fn record(self, outcome: Outcome) {
        failgate::OwnedPermit::record(self, outcome)
    }
}

macro_rules! permit_methods {
    () => {
        /// The call succeeded.
        #[inline]
        pub fn success(self) {
            self.record(Outcome::Success)
        }

        /// The call failed.
        #[inline]
        pub fn failure(self) {
            self.record(Outcome::Failure)
        }

        /// The outcome says nothing about the dependency: count nothing.
        #[inline]
        pub fn ignore(self) {
            self.record(Outcome::Ignore)
        }

        /// Reports `outcome`.
        #[inline]
        pub fn record(mut self, outcome: Outcome) {
            self.kind.record(&self.core, outcome);
        }

        /// True if this permit is one of the fleet's half-open probes (or, in fallback,
        /// one of the local breaker's).
        pub fn is_probe(&self) -> bool {
            match &self.kind {
                Kind::Probe(_) => true,
                Kind::Local(p) => p.is_probe(),
                _ => false,
            }
        }

        /// True if the local fallback breaker issued this permit.
        pub fn is_local(&self) -> bool {
            matches!(self.kind, Kind::Local(_))
        }
    };
}

/// Permission to make one call, from [`FleetBreaker::try_acquire`]. Dropped unreported,
/// the call is abandoned: nothing is counted and a probe permit goes back.
#[must_use = "a permit must be given an outcome; dropping it abandons the call"]
#[derive(Debug)]
pub struct Permit<'a> {
    core: &'a Core,
    kind: Kind<failgate::Permit<'a>>,
}

impl Permit<'_> {
    permit_methods!();
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.kind.abandon(self.core);
    }
}

/// A [`Permit`] that holds a handle on its breaker. From
/// [`FleetBreaker::try_acquire_owned`].
#[must_use = "a permit must be given an outcome; dropping it abandons the call"]
#[derive(Debug)]
pub struct OwnedPermit {
    core: Arc<Core>,
    kind: Kind<failgate::OwnedPermit>,
}

impl OwnedPermit {
    permit_methods!();
}

impl Drop for OwnedPermit {
    fn drop(&mut self) {
        self.kind.abandon(&self.core);
    }
}

impl fmt::Debug for Core {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Core")
            .field("namespace", &self.namespace)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The metric handles of one breaker, registered once.
#[cfg(feature = "metrics")]
pub(crate) struct MetricHandles {
    /// 1 while shared, 0 while on the local fallback: `failgate_redis_shared`.
    pub(crate) shared: metrics::Gauge,
    /// `failgate_redis_round_trips_total`.
    pub(crate) round_trips: metrics::Counter,
    /// `failgate_redis_sync_errors_total`.
    pub(crate) sync_errors: metrics::Counter,
}

#[cfg(feature = "metrics")]
impl MetricHandles {
    pub(crate) fn new(namespace: &str, name: &str) -> Self {
        let labels = [
            ("namespace", namespace.to_owned()),
            ("breaker", name.to_owned()),
        ];
        MetricHandles {
            shared: metrics::gauge!("failgate_redis_shared", &labels),
            round_trips: metrics::counter!("failgate_redis_round_trips_total", &labels),
            sync_errors: metrics::counter!("failgate_redis_sync_errors_total", &labels),
        }
    }
}
