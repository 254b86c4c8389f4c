//! The builder: collects the settings and the classifier, and `build` validates them and
//! starts the breaker.

use crate::settings::{mask_password, FleetConfigError, Settings};
use crate::{start, FleetBreaker};
use failgate::{Clock, DefaultClassifier, Window};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Builds a [`FleetBreaker`]. From [`FleetBreaker::builder`].
///
/// The policy is a failure rate over a time window, the one that adds up across
/// instances: every instance's calls and failures land in one shared window.
///
/// A local breaker's [`break_duration`](failgate::Builder::break_duration) (a Rust
/// function, which Redis cannot run) and
/// [`forget_failures_after`](failgate::Builder::forget_failures_after) (the fleet has
/// no consecutive-failures policy) do not apply to a fleet breaker, and are not offered.
pub struct FleetBuilder<C = DefaultClassifier> {
    pub(crate) settings: Settings,
    pub(crate) classifier: C,
}

impl<C: Clone> Clone for FleetBuilder<C> {
    fn clone(&self) -> Self {
        FleetBuilder {
            settings: self.settings.clone(),
            classifier: self.classifier.clone(),
        }
    }
}

impl<C> fmt::Debug for FleetBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.settings;
        f.debug_struct("FleetBuilder")
            .field("name", &s.name)
            .field("namespace", &s.namespace)
            .field("url", &s.url.as_deref().map(mask_password))
            .field("failure_rate", &s.failure_rate)
            .field("minimum_calls", &s.minimum_calls)
            .field("window", &s.window)
            .field("buckets", &s.buckets)
            .field("open_for", &s.open_for)
            .field("half_open_permits", &s.half_open_permits)
            .field("half_open_failure_rate", &s.half_open_failure_rate)
            .field("totals", &s.totals)
            .field("flush_interval", &s.flush_interval)
            .field("idle_poll", &s.idle_poll)
            .field("redis_timeout", &s.redis_timeout)
            .field("honor_retry_after", &s.honor_retry_after)
            .field("max_retry_after", &s.max_retry_after)
            .field("initial_state", &s.initial_state)
            .finish_non_exhaustive()
    }
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
        FleetBuilder {
            settings: Settings::new(name),
            classifier: DefaultClassifier,
        }
    }
}

impl<C> FleetBuilder<C> {
    /// The key namespace: breakers share state when they have the same namespace and
    /// name. Keys are `failgate:<namespace>:<name>:*` (on a Redis Cluster,
    /// `failgate:{<namespace>:<name>}:*`). Default `"default"`.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.settings.namespace = namespace.into();
        self
    }

    /// The Redis server: `redis://[user:password@]host:port[/db]`, or `rediss://` for
    /// TLS (feature `tls`).
    pub fn redis(mut self, url: impl Into<String>) -> Self {
        self.settings.url = Some(url.into());
        self
    }

    /// A Redis Cluster (feature `cluster`), by the URLs of some of its nodes
    /// (`redis://host:port`, `rediss://` with feature `tls`): the client finds the rest
    /// and follows the cluster's redirects (MOVED, ASK) and failovers. Each breaker's
    /// keys carry one hash tag, `failgate:{namespace:name}:…`, so its script stays in
    /// one slot, and different breakers spread over the slots. Instead of
    /// [`redis`](Self::redis).
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use failgate_redis::FleetBreaker;
    ///
    /// let breaker = FleetBreaker::builder("payments")
    ///     .redis_cluster(["redis://10.0.0.1:6379", "redis://10.0.0.2:6379"])
    ///     .build()?;
    /// # let _ = breaker; Ok(()) }
    /// ```
    #[cfg(feature = "cluster")]
    pub fn redis_cluster<I, S>(mut self, nodes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.settings.cluster = Some(nodes.into_iter().map(Into::into).collect());
        self
    }

    /// The ACL user name, overriding the URL's.
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.settings.username = Some(username.into());
        self
    }

    /// The password, overriding the URL's (so it need not be written in a URL).
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.settings.password = Some(password.into());
        self
    }

    /// Trusts this CA certificate (PEM) for `rediss://` URLs instead of the platform's
    /// root certificates: for servers with certificates of a private CA. Feature `tls`.
    #[cfg(feature = "tls")]
    pub fn tls_root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.settings.tls_root_certificate = Some(pem.into());
        self
    }

    /// Trip when at least this share of the window's calls failed, in (0, 1]. Default
    /// 0.5.
    pub fn failure_rate(mut self, rate: f64) -> Self {
        self.settings.failure_rate = rate;
        self
    }

    /// The fewest calls, fleet-wide, in the window before the rate is judged. Default
    /// 10.
    pub fn minimum_calls(mut self, n: u64) -> Self {
        self.settings.minimum_calls = n;
        self
    }

    /// The shared window: a time window, the same type as a local breaker's
    /// [`Builder::window`](failgate::Builder::window). Default
    /// `Window::time(Duration::from_secs(60))`, in 10 buckets.
    ///
    /// A count window ([`Window::count`]) is refused by [`build`](Self::build) with
    /// [`FleetConfigError::CountWindow`]: counts from many instances only add up by
    /// time (the order of calls on different replicas is not defined).
    ///
    /// ```
    /// use failgate::Window;
    /// use failgate_redis::FleetBreaker;
    /// use std::time::Duration;
    ///
    /// let builder = FleetBreaker::builder("payments")
    ///     .window(Window::time(Duration::from_secs(30)).buckets(10));
    /// # let _ = builder;
    /// ```
    pub fn window(mut self, window: Window) -> Self {
        match window.as_time() {
            Some((span, buckets)) => {
                self.settings.window = span;
                self.settings.buckets = buckets;
                self.settings.count_window = None;
            }
            None => self.settings.count_window = window.as_count(),
        }
        self
    }

    /// How long the breaker stays open before it lets probes through. Default 60 s.
    pub fn open_for(mut self, wait: Duration) -> Self {
        self.settings.open_for = wait;
        self
    }

    /// How many probes the whole fleet sends while half-open; that many successes close
    /// it (unless [`half_open_failure_rate`](Self::half_open_failure_rate) judges them
    /// by their failure rate). Default 1.
    pub fn half_open_permits(mut self, n: u32) -> Self {
        self.settings.half_open_permits = n;
        self
    }

    /// Reopen if the probes have not all reported within this time (an instance that
    /// took a probe permit and died). Default 30 s.
    pub fn half_open_timeout(mut self, timeout: Duration) -> Self {
        self.settings.half_open_timeout = timeout;
        self
    }

    /// How often local counts are flushed to Redis (and the shared state polled, as a
    /// fallback for pub/sub). At most 100 ms, the default.
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.settings.flush_interval = interval;
        self
    }

    /// How often an idle instance (nothing counted, no probe in hand, pub/sub
    /// subscribed) still polls the shared state. Default 1 s; at least the flush
    /// interval. Transitions reach it at once over pub/sub either way; while pub/sub is
    /// down every instance polls every `flush_interval`.
    pub fn idle_poll(mut self, interval: Duration) -> Self {
        self.settings.idle_poll = interval;
        self
    }

    /// The longest the background task waits on Redis for one round trip before it
    /// falls back to local breaking. Default 50 ms. Calls never wait on Redis at all.
    pub fn redis_timeout(mut self, timeout: Duration) -> Self {
        self.settings.redis_timeout = timeout;
        self
    }

    /// The shared keys expire after this long without any instance writing them.
    /// Default 1 hour; at least the window and the open wait.
    pub fn key_ttl(mut self, ttl: Duration) -> Self {
        self.settings.key_ttl = ttl;
        self
    }

    /// When the dependency answers with a "retry after" (an HTTP `Retry-After` on a 503
    /// or 429, recorded with a [`Permit`](crate::Permit)'s `record_with_retry_after`),
    /// the whole fleet
    /// stays open at least that long, but never longer than
    /// [`max_retry_after`](Self::max_retry_after) (one hour by default). Off by default:
    /// `open_for` alone decides. The same rule as failgate's
    /// [`Builder::honor_retry_after`](failgate::Builder::honor_retry_after), fleet-wide:
    ///
    /// The request holds from the moment the answer is recorded until its time passes,
    /// whatever the answer's outcome and whenever the call was admitted: an opening
    /// within that time (a trip, a failed probe) lasts at least until then, and an open
    /// breaker that receives it stays open at least until then. Closing forgets it.
    ///
    /// The instance that records it refuses at once if it is open; the next flush (at
    /// once) carries it to Redis, which keeps it in the shared state and announces a
    /// longer open wait over pub/sub, so the other instances refuse within a round trip.
    /// Redis keeps it in server time, as the remaining wait: instances' clocks need not
    /// agree. The local fallback breaker honours it the same way while Redis is away.
    pub fn honor_retry_after(mut self, honor: bool) -> Self {
        self.settings.honor_retry_after = honor;
        self
    }

    /// The longest "retry after" that [`honor_retry_after`](Self::honor_retry_after)
    /// obeys: a longer one holds the fleet open this long. Defaults to
    /// [`failgate::DEFAULT_MAX_RETRY_AFTER`] (one hour); more than zero and at most
    /// [`failgate::MAX_DURATION`] (else `build` fails with
    /// [`FleetConfigError::Invalid`](crate::FleetConfigError::Invalid) naming
    /// `max_retry_after`).
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.settings.max_retry_after = max;
        self
    }

    /// The state the shared breaker is created in when Redis has no state for it (its
    /// first use, or a state Redis lost and recreated with a new epoch):
    /// [`State::Closed`](failgate::State::Closed) (the default),
    /// [`State::ForcedOpen`](failgate::State::ForcedOpen) (a dependency known to be down
    /// at deploy time), [`State::Disabled`](failgate::State::Disabled) or
    /// [`State::CountOnly`](failgate::State::CountOnly) (a new breaker that should only
    /// observe). Until Redis first answers, this instance's local fallback starts in it
    /// too. Open and half-open are refused by [`build`](Self::build) with
    /// [`FleetConfigError::Policy`] naming `initial_state`, as the local
    /// [`Builder::initial_state`](failgate::Builder::initial_state) refuses them.
    ///
    /// A shared state that exists is never overridden: an instance deployed into a
    /// running fleet joins the fleet's state whatever its own `initial_state` (an
    /// operator's order changes it: see [`FleetBreaker`]'s
    /// [`Control`](failgate::Control) implementation). Each instance sends its own:
    /// where instances disagree, the first to reach Redis after the state went missing
    /// decides. In configuration files: `initial_state = "forced_open"`.
    pub fn initial_state(mut self, state: failgate::State) -> Self {
        self.settings.initial_state = state;
        self
    }

    /// The local clock, for open-state deadlines (tests pass a
    /// [`ManualClock`](failgate::ManualClock)). Shared deadlines run on the Redis
    /// server's clock, so instances' clocks need not agree.
    pub fn clock<K: Clock>(mut self, clock: K) -> Self {
        self.settings.clock = Arc::new(clock);
        self
    }

    /// The tokio runtime to run this breaker's fleet client on: the breaker then gets a
    /// client of its own (its own connections and sync loop) on that runtime, and decides
    /// locally once that runtime has shut down (see [the design](crate::design)).
    ///
    /// Without it (the usual case), [`build`](Self::build) works from any thread, inside
    /// a runtime or not: every fleet breaker of the process with the same Redis URL,
    /// credentials, TLS root and `redis_timeout` shares one client, which runs on a
    /// thread of its own. Clients on given runtimes are not shared, because tokio offers
    /// no stable way to tell two runtimes apart.
    ///
    /// ```no_run
    /// use failgate_redis::FleetBreaker;
    ///
    /// let runtime = tokio::runtime::Runtime::new()?;
    /// // No runtime on this thread: the tasks run on `runtime`.
    /// let breaker = FleetBreaker::builder("payments")
    ///     .redis("redis://127.0.0.1:6379")
    ///     .runtime(runtime.handle().clone())
    ///     .build()?;
    /// # let _ = breaker; Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn runtime(mut self, runtime: tokio::runtime::Handle) -> Self {
        self.settings.runtime = Some(runtime);
        self
    }

    /// The classifier `call` and `call_async` use (as with failgate's breakers).
    pub fn with_classifier<K>(self, classifier: K) -> FleetBuilder<K> {
        FleetBuilder {
            settings: self.settings,
            classifier,
        }
    }

    /// Validates the configuration, builds the local breaker and attaches the breaker to
    /// its fleet client: the process's shared one for its Redis (started on first use),
    /// or one on the [given runtime](Self::runtime). Returns at once: the breaker decides
    /// locally until its first round trip to Redis succeeds.
    pub fn build(self) -> Result<FleetBreaker<C>, FleetConfigError> {
        let core = start::start(&self.settings)?;
        Ok(FleetBreaker::from_core(core, self.classifier))
    }
}
