//! The fleet client: what every fleet breaker of a process that uses one Redis
//! deployment shares. One connection for the sync rounds, one for pub/sub with a
//! pattern subscription, and one sync loop that sends every breaker with something to
//! say in one pipelined round trip per tick.
//!
//! Breakers built without [`FleetBuilder::runtime`](crate::FleetBuilder::runtime)
//! share the process's client for their Redis URL, credentials, TLS root and
//! `redis_timeout`; that client runs on a thread of its own (a single-threaded tokio
//! runtime), so it serves breakers built on any runtime, or none, and outlives none of
//! them: it stops when its last breaker is dropped. A breaker given a runtime gets a
//! client of its own on that runtime (tokio offers no stable way to tell two runtimes
//! apart, so clients on given runtimes are not shared).

#[cfg(feature = "cluster")]
mod cluster;
mod member;
mod pubsub;
mod rounds;
mod transport;

pub(crate) use member::Timing;

use crate::mirror::Mirror;
use crate::script::ScriptArgs;
use crate::settings::{Endpoint, FleetConfigError, Settings};
use crate::wake::{Link, Wake};
use member::Member;
use pubsub::Channels;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::watch;
use transport::{Single, Transport};

/// What the client's tasks share with the breakers' handles.
pub(crate) struct Shared {
    pub(crate) wake: Arc<Wake>,
    pub(crate) channels: Arc<Channels>,
    pub(crate) timeout: Duration,
    pub(crate) url_for_logs: String,
    /// Breakers attached since the last round.
    inbox: Mutex<Vec<Member>>,
    /// The tasks run (false once they ended, had they panicked): a client whose tasks
    /// are gone is never handed to a new breaker.
    running: AtomicBool,
}

impl Shared {
    fn take_new(&self) -> Vec<Member> {
        std::mem::take(&mut *self.inbox.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// A running client. Its tasks stop when the last breaker holding it is dropped.
pub(crate) struct Client {
    shared: Arc<Shared>,
    _stop: watch::Sender<()>,
}

impl Client {
    /// What a mirror holds: the wake-up, and this client kept alive.
    pub(crate) fn link(self: &Arc<Self>) -> Link {
        Link {
            wake: self.shared.wake.clone(),
            _client: Some(self.clone()),
        }
    }

    /// Starts syncing `mirror` with keys and policy `args`.
    pub(crate) fn attach(&self, mirror: &Arc<Mirror>, args: ScriptArgs, timing: Timing) {
        self.shared.channels.add(&args.channel, mirror);
        let member = Member::new(Arc::downgrade(mirror), args, timing);
        self.shared
            .inbox
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(member);
        self.shared.wake.wake();
    }
}

/// What makes two breakers' clients the same one.
#[derive(PartialEq, Eq)]
struct Key {
    /// The URL, or the cluster's seed nodes.
    redis: Vec<String>,
    cluster: bool,
    username: Option<String>,
    password: Option<String>,
    tls_root: Option<Vec<u8>>,
    timeout: Duration,
}

impl Key {
    fn of(s: &Settings, endpoint: Endpoint<'_>) -> Self {
        let (redis, cluster) = match endpoint {
            Endpoint::Single(url) => (vec![url.to_owned()], false),
            Endpoint::Cluster(nodes) => (nodes.to_vec(), true),
        };
        Key {
            redis,
            cluster,
            username: s.username.clone(),
            password: s.password.clone(),
            #[cfg(feature = "tls")]
            tls_root: s.tls_root_certificate.clone(),
            #[cfg(not(feature = "tls"))]
            tls_root: None,
            timeout: s.redis_timeout,
        }
    }
}

/// The process's shared clients, by what they connect to. Only `build` looks here.
static CLIENTS: Mutex<Vec<(Key, Weak<Client>)>> = Mutex::new(Vec::new());

/// The client for a breaker with settings `s` (validated): the shared one for its
/// Redis, started if need be, or on the given runtime a new one.
pub(crate) fn client_for(s: &Settings) -> Result<Arc<Client>, FleetConfigError> {
    let endpoint = s.endpoint()?;
    if let Some(runtime) = &s.runtime {
        let (transport, subscribers) = reach(s, endpoint)?;
        let (client, tasks) = new_client(transport, subscribers, s, endpoint);
        runtime.spawn(tasks);
        return Ok(client);
    }
    let key = Key::of(s, endpoint);
    let mut clients = CLIENTS.lock().unwrap_or_else(|e| e.into_inner());
    clients.retain(|(_, c)| {
        c.upgrade()
            .is_some_and(|c| c.shared.running.load(Ordering::Acquire))
    });
    if let Some(client) = clients
        .iter()
        .find(|(k, _)| *k == key)
        .and_then(|(_, c)| c.upgrade())
    {
        // The same URLs and credentials: checked when that client was made.
        return Ok(client);
    }
    let (transport, subscribers) = reach(s, endpoint)?;
    let (client, tasks) = new_client(transport, subscribers, s, endpoint);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(FleetConfigError::Start)?;
    std::thread::Builder::new()
        .name("failgate-fleet".into())
        .spawn(move || runtime.block_on(tasks))
        .map_err(FleetConfigError::Start)?;
    clients.push((key, Arc::downgrade(&client)));
    Ok(client)
}

/// How long a round is awaited at most: after `redis_timeout` its breakers fall back,
/// but the answer is still taken if it comes within this, so that a Redis too slow for
/// the timeout is given one round at a time (the rounds slow down to what it can
/// answer) rather than a new round every tick on top of those it has not finished.
/// With every instance's round in Redis's queue, an answer can take the queue's whole
/// length: hence twenty timeouts, and at least a second. Past it the connection is
/// taken for dead (a reply lost on the way, a black hole) and made again.
pub(crate) fn patience(timeout: Duration) -> Duration {
    (timeout * 20).clamp(Duration::from_secs(1), Duration::from_secs(30))
}

/// Checks that a breaker with settings `s` could reach its Redis (the URLs parse, the
/// credentials and TLS settings are accepted), connecting to nothing.
#[cfg(feature = "tower")]
pub(crate) fn check(s: &Settings) -> Result<(), FleetConfigError> {
    reach(s, s.endpoint()?).map(|_| ())
}

/// The transport for `endpoint`, and the clients pub/sub may subscribe through (on a
/// cluster, any node: announcements reach every node).
fn reach(
    s: &Settings,
    endpoint: Endpoint<'_>,
) -> Result<(Transport, Vec<redis::Client>), FleetConfigError> {
    match endpoint {
        Endpoint::Single(url) => {
            let redis = crate::connect::client(s, url)?;
            let transport =
                Transport::Single(Single::new(redis.clone(), patience(s.redis_timeout)));
            Ok((transport, vec![redis]))
        }
        #[cfg(feature = "cluster")]
        Endpoint::Cluster(nodes) => {
            let patience = patience(s.redis_timeout);
            let cluster = crate::connect::cluster_client(s, nodes, patience)?;
            let subscribers = nodes
                .iter()
                .map(|url| crate::connect::client(s, url))
                .collect::<Result<_, _>>()?;
            Ok((
                Transport::Cluster(cluster::Cluster::new(cluster)),
                subscribers,
            ))
        }
        #[cfg(not(feature = "cluster"))]
        Endpoint::Cluster(_) => unreachable!("redis_cluster needs the cluster feature"),
    }
}

/// Marks the client's tasks ended when dropped: when they return, panic, or are
/// dropped with their runtime.
struct Running(Arc<Shared>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.store(false, Ordering::Release);
    }
}

/// A client, and the future that runs its tasks (both end with its last breaker).
fn new_client(
    transport: Transport,
    subscribers: Vec<redis::Client>,
    s: &Settings,
    endpoint: Endpoint<'_>,
) -> (
    Arc<Client>,
    impl std::future::Future<Output = ()> + Send + 'static,
) {
    let shared = Arc::new(Shared {
        wake: Arc::default(),
        channels: Arc::default(),
        timeout: s.redis_timeout,
        url_for_logs: endpoint.for_logs(),
        inbox: Mutex::default(),
        running: AtomicBool::new(true),
    });
    let (stop, stopped) = watch::channel(());
    let listener = pubsub::listen(
        shared.channels.clone(),
        subscribers,
        s.redis_timeout,
        stopped.clone(),
    );
    let sync = rounds::run(shared.clone(), transport, stopped);
    let running = Running(shared.clone());
    let tasks = async move {
        let _running = running;
        let listening = tokio::spawn(listener);
        sync.await;
        listening.abort();
    };
    (
        Arc::new(Client {
            shared,
            _stop: stop,
        }),
        tasks,
    )
}
