//! The service on a background task: binding, serving with the connection limits, and
//! stopping gracefully on request or on a signal.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::config::Config;
use super::handlers::router;
use super::stats::Stats;
use crate::serving::{self, InvalidLimit};

/// How long [`Server::shutdown`] waits for in-flight requests before dropping them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Why the service could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A connection limit is out of range.
    #[error(transparent)]
    Limit(#[from] InvalidLimit),
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The requested address.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// The server failed while running.
    #[error("server error: {0}")]
    Io(#[from] io::Error),
    /// The server task panicked or was cancelled.
    #[error("server task ended abnormally: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// A running service on a background task. Dropping it starts a graceful shutdown
/// without waiting for it; [`Server::shutdown`] waits.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    seed: u64,
    stats: Arc<Stats>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<io::Result<()>>,
}

impl Server {
    /// Checks `config.limits`, binds `config.addr` and serves on a spawned task with
    /// those limits ([`serving::serve`]). Needs a tokio runtime.
    pub async fn spawn(config: Config) -> Result<Self, ServeError> {
        config.limits.validate()?;
        let listener = TcpListener::bind(config.addr)
            .await
            .map_err(|source| ServeError::Bind {
                addr: config.addr,
                source,
            })?;
        let addr = listener.local_addr()?;
        let seed = config.seed.unwrap_or_else(rand::random);
        let stats = Arc::new(Stats::default());
        let app = router(&config, seed, Arc::clone(&stats));
        let (tx, rx) = oneshot::channel::<()>();
        let limits = config.limits;
        let task = tokio::spawn(serving::serve(listener, app, limits, async move {
            // A send or a dropped sender both mean: stop.
            let _ = rx.await;
        }));
        tracing::info!(
            %addr,
            seed,
            failure_ratio = config.failure_ratio.get(),
            latency = %humantime::format_duration(config.latency),
            "flaky service started"
        );
        Ok(Self {
            addr,
            seed,
            stats,
            shutdown: Some(tx),
            task,
        })
    }

    /// The bound address (with the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, e.g. `http://127.0.0.1:43121`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The seed of the `/random` RNG (drawn at start when none was configured).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The live request counters.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// Serves until `signal` completes, then shuts down gracefully.
    pub async fn run_until(mut self, signal: impl Future<Output = ()>) -> Result<(), ServeError> {
        tokio::select! {
            () = signal => self.shutdown().await,
            ended = &mut self.task => {
                // The server stopped by itself: report why.
                ended??;
                Ok(())
            }
        }
    }

    /// Stops accepting connections and waits up to [`SHUTDOWN_GRACE`] for in-flight
    /// requests; after that they are dropped.
    pub async fn shutdown(mut self) -> Result<(), ServeError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match tokio::time::timeout(SHUTDOWN_GRACE, &mut self.task).await {
            Ok(ended) => Ok(ended??),
            Err(_elapsed) => {
                tracing::warn!(
                    grace = %humantime::format_duration(SHUTDOWN_GRACE),
                    "in-flight requests did not finish in time; dropping them"
                );
                self.task.abort();
                Ok(())
            }
        }
    }
}

/// A future that completes on Ctrl-C or (on Unix) SIGTERM.
///
/// The handlers are installed when this is called, not when the future is first
/// polled: call it before announcing the server, so that a signal sent as soon as the
/// address is printed is already caught. If a handler cannot be installed, the error
/// is logged and that signal is ignored.
pub fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    let (interrupt, terminate) = {
        use tokio::signal::unix::{signal, SignalKind};
        let install = |kind: SignalKind, name: &str| match signal(kind) {
            Ok(s) => Some(s),
            Err(error) => {
                tracing::warn!(%error, "cannot listen for {name}");
                None
            }
        };
        (
            install(SignalKind::interrupt(), "Ctrl-C"),
            install(SignalKind::terminate(), "SIGTERM"),
        )
    };
    async move {
        #[cfg(unix)]
        {
            async fn recv(signal: Option<tokio::signal::unix::Signal>) {
                match signal {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                () = recv(interrupt) => tracing::info!("Ctrl-C received, shutting down"),
                () = recv(terminate) => tracing::info!("SIGTERM received, shutting down"),
            }
        }
        #[cfg(not(unix))]
        {
            if let Err(error) = tokio::signal::ctrl_c().await {
                tracing::warn!(%error, "cannot listen for Ctrl-C");
                std::future::pending::<()>().await;
            }
            tracing::info!("Ctrl-C received, shutting down");
        }
    }
}
