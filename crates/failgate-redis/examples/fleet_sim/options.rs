//! The command line, shared by the parent and its children (which get the parent's
//! settings back as flags, plus the hidden `--child` ones).

use clap::Parser;
use std::time::Duration;

/// When the failing subset starts failing every call, from the start of traffic.
pub const FAIL_FROM: Duration = Duration::from_secs(2);
/// When it recovers.
pub const FAIL_UNTIL: Duration = Duration::from_secs(8);

/// A fleet simulation: N instances (processes) x M fleet breakers against one Redis.
#[derive(Parser, Debug, Clone)]
#[command(name = "fleet_sim", about, long_about = None)]
pub struct Options {
    /// Instances: separate processes, each with one fleet client for its breakers.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub instances: u32,
    /// Fleet breakers per instance (`host-0`, `host-1`, ...; every instance has the same).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=20_000))]
    pub breakers: u32,
    /// Breakers (the first ones) whose every call fails from t=2 s to t=8 s.
    #[arg(long, default_value_t = 10)]
    pub failing: u32,
    /// Length of the traffic, which is the measured interval (at least 10 s: the
    /// failing subset must have time to recover and close).
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u64).range(10..=3_600))]
    pub seconds: u64,
    /// Calls per second per breaker, in each instance.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub rate: u32,
    /// The Redis to use (default: start a redis-server of our own, killed at the end).
    #[arg(long, value_name = "URL")]
    pub redis: Option<String>,
    /// A Redis Cluster, by the URLs of its masters: INFO is read (and summed) over
    /// exactly these nodes.
    #[cfg(feature = "cluster")]
    #[arg(
        long,
        value_name = "URL,URL,...",
        value_delimiter = ',',
        conflicts_with = "redis"
    )]
    pub cluster: Vec<String>,
    /// The breakers' flush interval, in milliseconds (the builder's default: 100).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub flush_interval: u64,
    /// The breakers' Redis timeout, in milliseconds (the builder's default: 50).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub redis_timeout: u64,
    /// Probes the whole fleet may send per half-open period.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=1_000))]
    pub half_open_permits: u32,
    /// How long a tripped breaker stays open, in milliseconds.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub open_for: u64,
    /// Internal: run as one instance, with this key namespace.
    #[arg(long, hide = true, value_name = "NAMESPACE")]
    pub child: Option<String>,
}

/// The Redis deployment the breakers use.
pub enum Target<'a> {
    Single(&'a str),
    #[cfg(feature = "cluster")]
    Cluster(&'a [String]),
}

impl Options {
    /// Checks what clap's ranges cannot: the flags against each other.
    pub fn validate(&self) -> Result<(), String> {
        if self.failing > self.breakers {
            return Err(format!(
                "--failing {} is more than --breakers {}",
                self.failing, self.breakers
            ));
        }
        if u64::from(self.instances) * u64::from(self.breakers) > 1_000_000 {
            return Err(format!(
                "--instances {} x --breakers {} is more than a million breaker-instances",
                self.instances, self.breakers
            ));
        }
        #[cfg(feature = "cluster")]
        if self.cluster.iter().any(|u| u.trim().is_empty()) {
            return Err("--cluster has an empty URL".into());
        }
        Ok(())
    }

    /// Whether a Redis (or a cluster) was given, rather than one to start.
    pub fn nodes_given(&self) -> bool {
        #[cfg(feature = "cluster")]
        if !self.cluster.is_empty() {
            return true;
        }
        self.redis.is_some()
    }

    /// Where the breakers connect (after the parent has filled in `redis`).
    pub fn target(&self) -> Target<'_> {
        #[cfg(feature = "cluster")]
        if !self.cluster.is_empty() {
            return Target::Cluster(&self.cluster);
        }
        Target::Single(self.redis.as_deref().unwrap_or("redis://127.0.0.1:6379"))
    }

    /// The URLs of the nodes the parent reads INFO from.
    pub fn nodes(&self) -> Vec<String> {
        match self.target() {
            Target::Single(url) => vec![url.to_owned()],
            #[cfg(feature = "cluster")]
            Target::Cluster(nodes) => nodes.to_vec(),
        }
    }

    /// The flags a child gets: these settings, and its namespace.
    pub fn child_args(&self, namespace: &str) -> Vec<String> {
        let mut args = vec![
            format!("--instances={}", self.instances),
            format!("--breakers={}", self.breakers),
            format!("--failing={}", self.failing),
            format!("--seconds={}", self.seconds),
            format!("--rate={}", self.rate),
            format!("--flush-interval={}", self.flush_interval),
            format!("--redis-timeout={}", self.redis_timeout),
            format!("--half-open-permits={}", self.half_open_permits),
            format!("--open-for={}", self.open_for),
            format!("--child={namespace}"),
        ];
        #[cfg(feature = "cluster")]
        if !self.cluster.is_empty() {
            args.push(format!("--cluster={}", self.cluster.join(",")));
            return args;
        }
        if let Some(url) = &self.redis {
            args.push(format!("--redis={url}"));
        }
        args
    }
}
