//! A small flaky HTTP service on 127.0.0.1:0 for the tests and the example: `/success`
//! and `/health` answer 200, `/failure` 500, `/random?ratio=R` 400 when `R` is not a
//! ratio, anything else 404, and every request is counted. The crate's own, so the
//! packaged crate tests on its own (the demo crate is not published).

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How the service starts: only on an ephemeral loopback port.
#[derive(Debug, Clone, Copy)]
pub struct Config;

impl Config {
    /// 127.0.0.1, port 0.
    pub fn ephemeral() -> Self {
        Config
    }
}

/// The endpoints the tests call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// 200.
    Success,
    /// 500.
    Failure,
    /// 200.
    Health,
}

impl Endpoint {
    /// The endpoint's path.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Success => "/success",
            Endpoint::Failure => "/failure",
            Endpoint::Health => "/health",
        }
    }
}

/// Requests counted per endpoint.
#[derive(Debug, Default)]
pub struct Stats {
    success: AtomicU64,
    failure: AtomicU64,
    health: AtomicU64,
    total: AtomicU64,
}

/// What [`Stats`] counted so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub success: u64,
    pub failure: u64,
    pub health: u64,
    /// Every request, whatever its path.
    pub total: u64,
}

impl Stats {
    pub fn snapshot(&self) -> StatsSnapshot {
        let load = |n: &AtomicU64| n.load(Ordering::Relaxed);
        StatsSnapshot {
            success: load(&self.success),
            failure: load(&self.failure),
            health: load(&self.health),
            total: load(&self.total),
        }
    }
}

/// The running service; [`shutdown`](Self::shutdown) stops it.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    stats: Arc<Stats>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<io::Result<()>>,
}

impl Server {
    /// Binds 127.0.0.1:0 and serves in a task.
    pub async fn spawn(_: Config) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let stats = Arc::new(Stats::default());
        let (stop, stopped) = oneshot::channel::<()>();
        let app = router(Arc::clone(&stats));
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(Server {
            addr,
            stats,
            stop,
            task,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// Stops accepting, lets requests in flight finish, and returns the serve result.
    pub async fn shutdown(self) -> io::Result<()> {
        let _ = self.stop.send(());
        self.task.await.map_err(io::Error::other)?
    }
}

fn router(stats: Arc<Stats>) -> Router {
    let count = |field: fn(&Stats) -> &AtomicU64, status: StatusCode| {
        move |State(stats): State<Arc<Stats>>| async move {
            field(&stats).fetch_add(1, Ordering::Relaxed);
            status
        }
    };
    Router::new()
        .route("/success", get(count(|s| &s.success, StatusCode::OK)))
        .route(
            "/failure",
            get(count(|s| &s.failure, StatusCode::INTERNAL_SERVER_ERROR)),
        )
        .route("/health", get(count(|s| &s.health, StatusCode::OK)))
        .route("/random", get(random))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&stats),
            count_all,
        ))
        .with_state(stats)
}

/// 400 unless `ratio` is a number in [0, 1]; otherwise a failure with that probability
/// would need a random source the tests do not use, so a valid ratio answers 200.
async fn random(Query(query): Query<Vec<(String, String)>>) -> StatusCode {
    let ratio = query
        .iter()
        .find(|(k, _)| k == "ratio")
        .and_then(|(_, v)| v.parse::<f64>().ok());
    match ratio {
        Some(r) if (0.0..=1.0).contains(&r) => StatusCode::OK,
        _ => StatusCode::BAD_REQUEST,
    }
}

async fn count_all(
    State(stats): State<Arc<Stats>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    stats.total.fetch_add(1, Ordering::Relaxed);
    next.run(request).await
}
