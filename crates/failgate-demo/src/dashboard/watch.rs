//! A running [`Watch`]: starting the breakers, the traffic, the sampler and the
//! dashboard server, and stopping them.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use failgate::Registry;
use metrics_exporter_prometheus::PrometheusBuilder;
use reqwest::Url;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use super::config::{validate, Config, WatchError};
use super::guard::{exposure_warning, Guard};
use super::reload;
use super::routes::router;
use super::state::{build_lanes, sampler, Shared, TokioClock};
use super::summary::summarize;
use super::traffic::{self, Caller, Target};
use super::views::{History, WatchSnapshot};
use crate::service::{self, Ratio, Server};
use crate::serving::{self, Limits};

/// A running watch: the traffic, the sampler and the dashboard server on background
/// tasks. Dropping it stops them without waiting; [`Watch::shutdown`] waits.
#[derive(Debug)]
pub struct Watch {
    addr: SocketAddr,
    target: String,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    server: JoinHandle<io::Result<()>>,
    tasks: JoinSet<()>,
    service: Option<Server>,
}

impl Watch {
    /// Builds the breakers, starts the in-process service (without a target), binds the
    /// dashboard and starts the traffic. Needs a tokio runtime.
    pub async fn spawn(config: Config) -> Result<Self, WatchError> {
        validate(&config)?;
        config.limits.validate()?;
        let start = Instant::now();
        let recorder = PrometheusBuilder::new().build_recorder();
        let file = config
            .config_file
            .as_deref()
            .map(reload::read)
            .transpose()?;
        let lanes = build_lanes(
            &config.lanes,
            file.as_ref(),
            TokioClock { origin: start },
            &recorder,
        )?;
        let source = config.config_file.clone().map(|path| reload::Source {
            path,
            lanes: config.lanes.clone(),
        });
        let (listener, addr, guard) = bind(&config).await?;
        let (service, target) = start_target(config.target, config.seed).await?;
        let target_text = match &target {
            Target::Url(url) => url.to_string(),
            Target::Router(_) => "the flaky service's router (in-process, no socket)".into(),
        };
        let caller = Caller::new(&target)?;

        let (stop, stopped) = watch::channel(false);
        let (shared, publish) = Shared::new(
            start,
            lanes,
            recorder,
            config.sample_every,
            config.history,
            guard,
            source,
        );
        let mut tasks = JoinSet::new();
        for lane in &shared.lanes {
            tasks.spawn(traffic::drive(
                Arc::clone(lane),
                caller.clone(),
                config.rate,
                start,
                stopped.clone(),
            ));
        }
        tasks.spawn(sampler(Arc::clone(&shared), publish, stopped.clone()));
        if let Some(reloader) = reload::Reloader::start(&shared) {
            tasks.spawn(reloader.run(stopped.clone()));
        }
        tasks.spawn(summarize(
            Arc::clone(&shared),
            config.summary_every,
            stopped.clone(),
        ));
        let server = serve_dashboard(listener, &shared, config.limits, stopped);
        tracing::info!(%addr, target = %target_text, rate = config.rate, "watch started");
        Ok(Self {
            addr,
            target: target_text,
            shared,
            stop,
            server,
            tasks,
            service,
        })
    }

    /// The dashboard's bound address (with the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The dashboard server's base URL, e.g. `http://127.0.0.1:9000`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where the traffic goes, in words.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The registry of the lanes' breakers.
    pub fn registry(&self) -> &Registry {
        &self.shared.registry
    }

    /// Every breaker now, as `GET /api/snapshot` answers.
    pub fn snapshot(&self) -> WatchSnapshot {
        self.shared.snapshot()
    }

    /// The recent samples, as `GET /api/history` answers.
    pub fn history(&self) -> History {
        self.shared.history()
    }

    /// The Prometheus text `GET /metrics` answers.
    pub fn render_metrics(&self) -> String {
        self.shared.prometheus.render()
    }

    /// Pins a lane's failure ratio (`None`: back to its schedule), as
    /// `POST /control/ratio` does.
    pub fn pin_ratio(
        &self,
        lane: &str,
        ratio: Option<Ratio>,
    ) -> Result<(), failgate::UnknownBreaker> {
        let lane = self
            .shared
            .lane(lane)
            .ok_or_else(|| failgate::UnknownBreaker(lane.to_owned()))?;
        lane.pin.set(ratio);
        Ok(())
    }

    /// Reloads the configuration file now, as SIGHUP does (without `--config`,
    /// nothing happens). The outcome is in the snapshot's `reloads`.
    pub fn reload(&self) {
        self.shared.reload();
    }

    /// Runs until `signal` completes, then shuts down.
    pub async fn run_until(mut self, signal: impl Future<Output = ()>) -> Result<(), WatchError> {
        tokio::select! {
            () = signal => self.shutdown().await,
            ended = &mut self.server => {
                // The server stopped by itself: report why.
                ended??;
                Ok(())
            }
        }
    }

    /// Stops the traffic (calls in flight are abandoned), ends the event streams and
    /// the dashboard server, and stops the in-process service.
    pub async fn shutdown(mut self) -> Result<(), WatchError> {
        let _ = self.stop.send(true);
        while let Some(ended) = self.tasks.join_next().await {
            ended?;
        }
        match tokio::time::timeout(service::SHUTDOWN_GRACE, &mut self.server).await {
            Ok(ended) => ended??,
            Err(_elapsed) => self.server.abort(),
        }
        if let Some(service) = self.service.take() {
            service.shutdown().await?;
        }
        Ok(())
    }
}

/// Binds the dashboard's socket, warns if it is exposed without a token, and builds the
/// guard of its `Host`, `Origin` and control token.
async fn bind(config: &Config) -> Result<(TcpListener, SocketAddr, Arc<Guard>), WatchError> {
    let listener = TcpListener::bind(config.addr)
        .await
        .map_err(|source| WatchError::Bind {
            addr: config.addr,
            source,
        })?;
    let addr = listener.local_addr()?;
    if let Some(warning) = exposure_warning(addr, config.control_token.as_ref()) {
        tracing::warn!("{warning}");
    }
    let guard = Arc::new(Guard::new(
        addr,
        &config.allowed_hosts,
        config.control_token.clone(),
    ));
    Ok((listener, addr, guard))
}

/// The traffic's target; without one, the flaky service started in-process.
async fn start_target(
    target: Option<Target>,
    seed: Option<u64>,
) -> Result<(Option<Server>, Target), WatchError> {
    Ok(match target {
        Some(target) => (None, target),
        None => {
            let server = Server::spawn(service::Config {
                seed,
                ..service::Config::ephemeral()
            })
            .await?;
            let url = Url::parse(&server.url()).map_err(|e| WatchError::Invalid {
                field: "target",
                reason: e.to_string(),
            })?;
            (Some(server), Target::Url(url))
        }
    })
}

/// Serves the dashboard on `listener` until `stopped` changes (or its sender is dropped).
fn serve_dashboard(
    listener: TcpListener,
    shared: &Arc<Shared>,
    limits: Limits,
    mut stopped: watch::Receiver<bool>,
) -> JoinHandle<io::Result<()>> {
    let app = router(Arc::clone(shared));
    tokio::spawn(serving::serve(listener, app, limits, async move {
        // A stop or a dropped sender both mean: stop.
        let _ = stopped.changed().await;
    }))
}
