//! Measures `failgate_redis::testing::RedisCluster` (3 masters, 1 replica each, node
//! timeout 1 s) per round, printed per round and as medians:
//!
//! 1. **start**: `RedisCluster::start()`, from spawning the nodes until every node
//!    reports `cluster_state:ok` and every replica is linked;
//! 2. **failover**: from killing the master of a key's slot until `wait_for_failover`
//!    sees a replica serving the slot and the cluster ok again;
//! 3. **default client** and **quick client**: from the kill until a SET then GET of
//!    that key succeeds through a `redis::cluster::ClusterClient` connected before the
//!    kill and tried again and again from the kill on (while the harness waits for the
//!    failover), with how many attempts (each bounded by 2 s) that took and the longest
//!    one. The default client has the redis crate's settings (16 retries, waits of at
//!    least 1.28 s between them); the quick one retries after 20 to 100 ms, with 250 ms
//!    connection and 500 ms response timeouts.
//!
//! ```text
//! cargo run -p failgate-redis --features cluster --example cluster_timings -- --rounds 5
//! ```

use failgate_redis::testing::RedisCluster;
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const KEY: &str = "failgate:{timings:db}:state";
const GIVE_UP: Duration = Duration::from_secs(60);

type Error = Box<dyn std::error::Error + Send + Sync>;

struct Round {
    start: Duration,
    failover: Duration,
    clients: [Served; 2],
}

/// When a client served the key again after the kill.
#[derive(Clone, Copy)]
struct Served {
    after: Duration,
    attempts: u32,
    longest_attempt: Duration,
}

async fn connect(builder: ClusterClientBuilder) -> Result<ClusterConnection, Error> {
    let mut con = builder.build()?.get_async_connection().await?;
    redis::cmd("SET")
        .arg(KEY)
        .arg("before")
        .query_async::<()>(&mut con)
        .await?;
    Ok(con)
}

/// SET then GET of [`KEY`], again and again (each try bounded), until both succeed.
async fn until_served(mut con: ClusterConnection, killed_at: Instant) -> Result<Served, Error> {
    let (mut attempts, mut longest_attempt) = (0, Duration::ZERO);
    loop {
        attempts += 1;
        let t = Instant::now();
        let attempt = async {
            redis::cmd("SET")
                .arg(KEY)
                .arg("after")
                .query_async::<()>(&mut con)
                .await?;
            redis::cmd("GET")
                .arg(KEY)
                .query_async::<String>(&mut con)
                .await
        };
        let outcome = tokio::time::timeout(Duration::from_secs(2), attempt).await;
        longest_attempt = longest_attempt.max(t.elapsed());
        if matches!(outcome, Ok(Ok(_))) {
            return Ok(Served {
                after: killed_at.elapsed(),
                attempts,
                longest_attempt,
            });
        }
        if killed_at.elapsed() > GIVE_UP {
            return Err(format!("no answer through the client after {attempts} attempts").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn round() -> Result<Round, Error> {
    let t = Instant::now();
    let mut cluster = RedisCluster::start()?;
    let start = t.elapsed();
    let default = connect(ClusterClient::builder(cluster.urls())).await?;
    let quick = connect(
        ClusterClient::builder(cluster.urls())
            .min_retry_wait(20)
            .max_retry_wait(100)
            .connection_timeout(Duration::from_millis(250))
            .response_timeout(Duration::from_millis(500)),
    )
    .await?;
    let slot = cluster.slot_of_key(KEY)?;
    let killed_at = Instant::now();
    cluster.kill_master_of_slot(slot)?;
    // The harness waits for the failover on a thread of its own while the clients keep
    // trying, as a fleet would during a failover.
    let failover = tokio::task::spawn_blocking(move || {
        let done = cluster.wait_for_failover(slot, GIVE_UP);
        (done.map(|_| killed_at.elapsed()), cluster)
    });
    let (default, quick) = tokio::join!(
        until_served(default, killed_at),
        until_served(quick, killed_at)
    );
    let (failover, _cluster) = failover.await?;
    Ok(Round {
        start,
        failover: failover?,
        clients: [default?, quick?],
    })
}

fn median(rounds: &[Round], of: impl Fn(&Round) -> Duration) -> Duration {
    let mut values: Vec<_> = rounds.iter().map(of).collect();
    values.sort();
    values[values.len() / 2]
}

fn describe(name: &str, s: Served) -> String {
    format!(
        "{name} {:?} ({} attempt(s), longest {:?})",
        s.after, s.attempts, s.longest_attempt
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let rounds = match (args.next().as_deref(), args.next().map(|n| n.parse())) {
        (None, _) => 5,
        (Some("--rounds"), Some(Ok(n))) if n > 0 => n,
        _ => {
            eprintln!("usage: cluster_timings [--rounds N (at least 1)]");
            return ExitCode::FAILURE;
        }
    };
    let mut done = Vec::with_capacity(rounds);
    for i in 0..rounds {
        match round().await {
            Ok(r) => {
                println!(
                    "round {i}: start {:?}, failover {:?}, {}, {}",
                    r.start,
                    r.failover,
                    describe("default client", r.clients[0]),
                    describe("quick client", r.clients[1]),
                );
                done.push(r);
            }
            Err(e) => {
                eprintln!("round {i}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    println!(
        "median over {rounds}: start {:?}, failover {:?}, default client {:?}, quick client {:?}",
        median(&done, |r| r.start),
        median(&done, |r| r.failover),
        median(&done, |r| r.clients[0].after),
        median(&done, |r| r.clients[1].after),
    );
    ExitCode::SUCCESS
}
