//! `failgate-demo watch` on the command line: its flags, and running it until a signal.

use std::io;
use std::net::SocketAddr;

use reqwest::Url;

use super::config::{Config, WatchError, DEFAULT_ADDR, DEFAULT_RATE, MAX_RATE};
use super::guard::{AllowedHost, ControlToken, TOKEN_ENV};
use super::lanes::{default_lanes, Lane};
use super::traffic::Target;
use super::watch::Watch;
use crate::service;
use crate::serving::LimitsArgs;

/// The flags of `failgate-demo watch`.
#[derive(Debug, Clone, clap::Args)]
pub struct WatchArgs {
    /// Address of the dashboard server (IP:PORT); port 0 picks a free port.
    #[arg(long, default_value_t = DEFAULT_ADDR, value_parser = parse_addr)]
    pub addr: SocketAddr,

    /// URL of a running `failgate-demo serve`; without it the flaky service runs
    /// in-process on a free loopback port.
    #[arg(long, value_name = "URL", value_parser = crate::scenario::parse_target)]
    pub target: Option<Url>,

    /// Seed of the in-process service's RNG, to reproduce a run.
    #[arg(long)]
    pub seed: Option<u64>,

    /// Calls per second of each breaker's traffic (at most 50).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_RATE, value_parser = parse_rate)]
    pub rate: f64,

    /// How often to log a summary of every lane (at INFO; each call is logged at
    /// DEBUG only). The default is `DEFAULT_SUMMARY_EVERY`.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = crate::scenario::parse_positive_duration)]
    pub summary_every: std::time::Duration,

    /// A configuration file (.toml, .yaml or .json): a lane named under `breakers`
    /// (checkout, search, payments) takes its settings from the file, over the file's
    /// defaults; the other lanes keep theirs. It is reloaded on SIGHUP and whenever
    /// it changes: a lane whose settings changed gets a new breaker; a bad file is
    /// logged and changes nothing.
    #[arg(long, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,

    /// The secret POST /control/... must carry (as X-Failgate-Token or Authorization:
    /// Bearer); the printed dashboard URL hands it to the page. Set one whenever
    /// --addr is not a loopback address.
    #[arg(long, value_name = "TOKEN", env = TOKEN_ENV, hide_env_values = true)]
    pub control_token: Option<ControlToken>,

    /// A name the dashboard answers to (NAME or NAME:PORT; repeatable), besides its
    /// address, localhost, 127.0.0.1 and `[::1]`: any other Host header is refused.
    #[arg(long = "allowed-host", value_name = "HOST")]
    pub allowed_hosts: Vec<AllowedHost>,

    /// The dashboard server's connection limits.
    #[command(flatten)]
    pub limits: LimitsArgs,
}

/// `lanes`, with the settings a configuration file gives those it names (theirs over
/// the file's defaults). A breaker the file names that is no lane is an error.
pub fn lanes_from(
    mut lanes: Vec<Lane>,
    config: &failgate::config_file::RegistryConfig,
) -> Result<Vec<Lane>, WatchError> {
    for name in config.breakers.keys() {
        if !lanes.iter().any(|l| &l.name == name) {
            let known: Vec<&str> = lanes.iter().map(|l| l.name.as_str()).collect();
            return Err(WatchError::Invalid {
                field: "config",
                reason: format!(
                    "breakers.{name}: no such lane (the lanes are {})",
                    known.join(", ")
                ),
            });
        }
    }
    for lane in &mut lanes {
        if config.breakers.contains_key(&lane.name) {
            lane.settings = config.settings_for(&lane.name);
            lane.policy = "from the configuration file".into();
        }
    }
    Ok(lanes)
}

fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    s.trim().parse().map_err(|_| {
        "expected IP:PORT such as 127.0.0.1:9000 (port 0 picks a free port)".to_string()
    })
}

/// Parses `--rate`: a number of calls per second in `(0, MAX_RATE]`.
pub fn parse_rate(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(rate) if rate > 0.0 && rate <= MAX_RATE => Ok(rate),
        Ok(_) => Err(format!(
            "must be more than 0 and at most {MAX_RATE} calls per second"
        )),
        Err(_) => Err("expected a number of calls per second, such as 20".into()),
    }
}

/// Runs `watch` until Ctrl-C or SIGTERM, printing the dashboard's URLs on `out`.
pub async fn run(args: WatchArgs, out: &mut (dyn io::Write + Send)) -> Result<(), WatchError> {
    let watch = Watch::spawn(Config {
        addr: args.addr,
        target: args.target.map(Target::Url),
        seed: args.seed,
        rate: args.rate,
        lanes: default_lanes(),
        config_file: args.config,
        summary_every: args.summary_every,
        control_token: args.control_token.clone(),
        allowed_hosts: args.allowed_hosts,
        limits: args.limits.into(),
        ..Config::default()
    })
    .await?;
    let signal = service::shutdown_signal();
    let url = watch.url();
    // The fragment is never sent to the server: the page reads the token from it.
    let fragment = args
        .control_token
        .as_ref()
        .map(|t| format!("#token={}", t.expose()))
        .unwrap_or_default();
    writeln!(out, "dashboard on {url}/dashboard{fragment}")?;
    writeln!(out, "metrics on {url}/metrics")?;
    writeln!(out, "traffic to {}", watch.target())?;
    out.flush()?;
    watch.run_until(signal).await?;
    tracing::info!("stopped");
    Ok(())
}
