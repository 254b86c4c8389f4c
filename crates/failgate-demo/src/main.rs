//! `failgate-demo`: a flaky HTTP service and the seed's circuit-breaker scenario.
//!
//! ```text
//! failgate-demo                      # the scenario with defaults, flaky service in-process
//! failgate-demo serve --addr 127.0.0.1:5000 --failure-ratio 0.3 --seed 7
//! failgate-demo scenario --target http://127.0.0.1:5000 --json
//! failgate-demo scenario --client tower   # through failgate's tower layer
//! failgate-demo watch --addr 127.0.0.1:9000   # live breakers: /dashboard, /metrics
//! failgate-demo watch --config breakers.toml   # lanes' settings from a file, reloaded on SIGHUP and on change
//! failgate-demo watch --addr 0.0.0.0:9000 --control-token T --allowed-host dash.lan
//! failgate-demo serve --header-timeout 5s --max-connections 256   # connection limits
//! failgate-demo fleet --instances 3 --redis redis://127.0.0.1:6379   # one breaker, shared through Redis
//! ```
//!
//! Logs go to stderr (`RUST_LOG` filters them); results go to stdout.

use std::io::{IsTerminal as _, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use failgate::config_file::RegistryConfig;
use failgate_demo::dashboard;
use failgate_demo::fleet::{self, FleetArgs};
use failgate_demo::scenario::{self, ClientKind, Format};
use failgate_demo::service::{self, Ratio, Server};
use failgate_demo::serving::LimitsArgs;
use reqwest::Url;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "failgate-demo",
    version,
    about = "A flaky HTTP service and a circuit-breaker scenario for the failgate crate.",
    long_about = "A flaky HTTP service and a circuit-breaker scenario for the failgate crate.\n\n\
                  Without a subcommand, runs `scenario` (its options below apply).",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    #[command(flatten)]
    scenario: ScenarioArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the flaky HTTP service (/success, /failure, /random, /health, /stats).
    Serve(ServeArgs),
    /// Run the seed's nine calls through a circuit breaker (the default).
    Scenario(ScenarioArgs),
    /// Run live traffic through named breakers; serve /dashboard and /metrics.
    Watch(dashboard::WatchArgs),
    /// Run N instances that share one breaker through Redis (needs a Redis server).
    Fleet(FleetArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on (IP:PORT); port 0 picks a free port.
    #[arg(long, default_value_t = service::DEFAULT_ADDR, value_parser = parse_addr)]
    addr: SocketAddr,

    /// Probability (0 to 1) that GET /random answers 500.
    #[arg(long, value_name = "RATIO", default_value = "0.5")]
    failure_ratio: Ratio,

    /// Delay before every answer, e.g. 100ms or 2s (at most 1m).
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_delay)]
    latency: Duration,

    /// Seed of the /random RNG, to reproduce a run (random when not given).
    #[arg(long)]
    seed: Option<u64>,

    #[command(flatten)]
    limits: LimitsArgs,
}

#[derive(Debug, Args)]
struct ScenarioArgs {
    /// URL of a running `failgate-demo serve`; without it the service runs in-process.
    #[arg(long, value_name = "URL", value_parser = scenario::parse_target)]
    target: Option<Url>,

    /// Consecutive failures that open the circuit (at least 1).
    #[arg(long, value_name = "N", default_value = "2", value_parser = scenario::parse_threshold)]
    threshold: u32,

    /// How long the circuit stays open before a probe is let through.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = scenario::parse_positive_duration)]
    open_for: Duration,

    /// Pause between the fourth and fifth call.
    #[arg(long, value_name = "DURATION", default_value = "3s", value_parser = scenario::parse_positive_duration)]
    pause: Duration,

    /// Timeout of each HTTP request.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = scenario::parse_positive_duration)]
    timeout: Duration,

    /// Print one JSON object per step on stdout instead of the story.
    #[arg(long)]
    json: bool,

    /// The HTTP client: `direct` (reqwest, each call wrapped in the breaker's
    /// `call_async`) or `tower` (hyper-util's client behind failgate's tower layer).
    #[arg(long, value_name = "CLIENT", default_value = "direct", value_parser = parse_client)]
    client: ClientKind,

    /// A configuration file (.toml, .yaml or .json) for the breaker, named `flaky`
    /// in it (its settings over the file's defaults); its `consecutive_failures` and
    /// `open_for` take the place of --threshold and --open-for. A file with no
    /// `flaky` breaker gives its defaults, and the scenario says so on stderr.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

fn parse_client(s: &str) -> Result<ClientKind, String> {
    s.parse()
}

fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    s.trim().parse().map_err(|_| {
        "expected IP:PORT such as 127.0.0.1:5000 (port 0 picks a free port)".to_string()
    })
}

fn parse_delay(s: &str) -> Result<Duration, service::InvalidValue> {
    service::parse_delay(s)
}

/// The scenario's settings from its flags and, with `--config`, its file.
fn scenario_config(args: ScenarioArgs) -> Result<scenario::Config, BoxError> {
    let mut names_no_flaky = None;
    let settings = match &args.config {
        Some(path) => {
            let file = RegistryConfig::from_path(path)?;
            if !file.breakers.contains_key(scenario::BREAKER_NAME) {
                names_no_flaky = Some(path);
            }
            Some(file.settings_for(scenario::BREAKER_NAME))
        }
        None => None,
    };
    let threshold = settings
        .as_ref()
        .and_then(|s| s.consecutive_failures)
        .unwrap_or(args.threshold);
    let open_for = settings
        .as_ref()
        .and_then(|s| s.open_for)
        .map_or(args.open_for, |d| d.0);
    if let Some(path) = names_no_flaky {
        // A file written for other breakers changes the story: say which settings won.
        eprintln!(
            "note: {} has no breaker named {:?}: its defaults apply \
             (consecutive_failures = {threshold}, open_for = {})",
            path.display(),
            scenario::BREAKER_NAME,
            humantime::format_duration(open_for),
        );
    }
    Ok(scenario::Config {
        target: args.target,
        threshold,
        open_for,
        pause: args.pause,
        timeout: args.timeout,
        format: if args.json {
            Format::Json
        } else {
            Format::Human
        },
        client: args.client,
        settings,
    })
}

/// `serve`'s default log filter: INFO, and the line of each request it answers
/// ([`service::REQUEST_LOG`], at DEBUG).
const SERVE_FILTER: &str = "info,failgate_demo::request=debug";

/// Anything that ends the program with an error message.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (command, default_filter) = match cli.command {
        // `serve` shows each request it answers; `watch` sends too many to show.
        Some(Command::Serve(args)) => (Command::Serve(args), SERVE_FILTER),
        Some(Command::Scenario(args)) => (Command::Scenario(args), "warn"),
        Some(Command::Watch(args)) => (Command::Watch(args), "info"),
        // failgate-redis warns once per instance when Redis is unreachable; the demo
        // says so itself, once, naming the URL.
        Some(Command::Fleet(args)) => (Command::Fleet(args), "warn,failgate_redis=error"),
        None => (Command::Scenario(cli.scenario), "warn"),
    };
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    match run(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let mut message = format!("error: {error}");
            let mut source = error.source();
            while let Some(cause) = source {
                // Some messages already quote their cause; say each thing once.
                let text = cause.to_string();
                if !message.contains(&text) {
                    message.push_str(&format!("\n  caused by: {text}"));
                }
                source = cause.source();
            }
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<(), BoxError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the tokio runtime: {e}"))?;
    runtime.block_on(async move {
        match command {
            Command::Serve(args) => serve(args).await,
            Command::Scenario(args) => {
                scenario::run(scenario_config(args)?, Box::new(std::io::stdout())).await?;
                Ok(())
            }
            Command::Watch(args) => Ok(dashboard::run(args, &mut std::io::stdout()).await?),
            Command::Fleet(args) => {
                fleet::run(&args, &mut std::io::stdout()).await?;
                Ok(())
            }
        }
    })
}

async fn serve(args: ServeArgs) -> Result<(), BoxError> {
    let config = service::Config {
        addr: args.addr,
        failure_ratio: args.failure_ratio,
        latency: args.latency,
        seed: args.seed,
        limits: args.limits.into(),
    };
    let server = Server::spawn(config).await?;
    // Catch Ctrl-C and SIGTERM from the moment the address is announced.
    let signal = service::shutdown_signal();
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on {}", server.url())?;
        stdout.flush()?;
    }
    server.run_until(signal).await?;
    tracing::info!("stopped");
    Ok(())
}
