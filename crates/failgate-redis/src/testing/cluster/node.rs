//! One cluster node's process, and the queries the cluster makes to its nodes.

use super::ClusterError;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long a node may be unreachable before the cluster fails it over. Short, so a
/// failover takes a few seconds rather than the default 15.
const NODE_TIMEOUT_MS: u64 = 1000;
/// How long one node may take to listen.
const LISTEN_WITHIN: Duration = Duration::from_secs(10);
/// A bound on each query to a node, so a stuck node cannot hang a test.
const QUERY_TIMEOUT: Duration = Duration::from_millis(500);
/// Tries at a free port pair before giving up.
const PORT_TRIES: u32 = 100;
/// The cluster bus listens on the node's port plus this.
const BUS_OFFSET: u16 = 10000;
/// How often a process or the cluster's state is polled.
pub(super) const POLL: Duration = Duration::from_millis(50);

/// One node: its port (the bus is on port + 10000) and its process while it runs.
#[derive(Debug)]
pub(super) struct Node {
    pub(super) port: u16,
    pub(super) child: Option<Child>,
}

/// `name` on PATH, else Debian's `/usr/bin/<name>`, if either exists.
pub(super) fn find(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
        })
        .or_else(|| {
            let debian = Path::new("/usr/bin").join(name);
            debian.is_file().then_some(debian)
        })
}

pub(super) fn url(port: u16) -> String {
    format!("redis://127.0.0.1:{port}")
}

/// A free loopback port whose bus port (+10000) is free too. redis-server cannot take
/// port 0, so the port is picked here and is free only until someone else binds it:
/// [`spawn_node`] retries if the node then fails to bind.
fn free_port() -> Result<u16, ClusterError> {
    for _ in 0..PORT_TRIES {
        let Ok(port) = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) else {
            continue;
        };
        let Some(bus) = port.port().checked_add(BUS_OFFSET) else {
            continue;
        };
        if TcpListener::bind(("127.0.0.1", bus)).is_ok() {
            return Ok(port.port());
        }
    }
    Err(ClusterError::NoPort { tries: PORT_TRIES })
}

/// Starts one cluster node on a free port pair and waits until it listens; picks another
/// port if the node exits (its port or bus port taken meanwhile).
pub(super) fn spawn_node(server: &Path, dir: &Path) -> Result<Node, ClusterError> {
    let mut port = 0;
    for _ in 0..PORT_TRIES {
        port = free_port()?;
        let config = dir.join(format!("nodes-{port}.conf"));
        let log = dir.join(format!("node-{port}.log"));
        let timeout = NODE_TIMEOUT_MS.to_string();
        let mut child = Command::new(server)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--cluster-enabled",
                "yes",
                "--cluster-node-timeout",
                &timeout,
            ])
            .arg("--cluster-config-file")
            .arg(&config)
            .args(["--save", "", "--appendonly", "no"])
            // A replica's first sync starts at once, not after the default 5 s wait for
            // more replicas to share it.
            .args(["--repl-diskless-sync-delay", "0", "--dir"])
            .arg(dir)
            .arg("--logfile")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| ClusterError::Spawn {
                binary: server.display().to_string(),
                source,
            })?;
        let deadline = Instant::now() + LISTEN_WITHIN;
        loop {
            if matches!(child.try_wait(), Ok(Some(_))) {
                break; // exited: try another port
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(Node {
                    port,
                    child: Some(child),
                });
            }
            if Instant::now() > deadline {
                kill(child);
                return Err(ClusterError::NotListening {
                    port,
                    within: LISTEN_WITHIN,
                });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    Err(ClusterError::NotListening {
        port,
        within: LISTEN_WITHIN,
    })
}

/// SIGKILL (what `Child::kill` sends on Unix), then reaps the process.
pub(super) fn kill(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Waits for `child` to exit, at most `within`; `None` if it still runs.
pub(super) fn wait_exit(child: &mut Child, within: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + within;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(POLL),
            _ => return None,
        }
    }
}

/// One command to one node, on a fresh connection with bounded waits.
pub(super) fn query<T: redis::FromRedisValue>(port: u16, args: &[&str]) -> Result<T, ClusterError> {
    let fail = |source| ClusterError::Query { port, source };
    let client = redis::Client::open(url(port)).map_err(fail)?;
    let mut con = client
        .get_connection_with_timeout(QUERY_TIMEOUT)
        .map_err(fail)?;
    con.set_read_timeout(Some(QUERY_TIMEOUT)).map_err(fail)?;
    con.set_write_timeout(Some(QUERY_TIMEOUT)).map_err(fail)?;
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    cmd.query(&mut con).map_err(fail)
}

/// `name:value` in an `INFO`-style reply.
pub(super) fn field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
}

/// The port of the master serving `slot` in a `CLUSTER NODES` reply (lines of `<id>
/// <ip:port@bus[,host]> <flags> <master> <ping> <pong> <epoch> <link> <slot ranges>...`).
pub(super) fn slot_master(nodes: &str, slot: u16) -> Option<u16> {
    nodes.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (addr, flags) = (fields.get(1)?, fields.get(2)?);
        if !flags.split(',').any(|f| f == "master") {
            return None;
        }
        let serves = fields.iter().skip(8).any(|range| {
            // `[slot->-id]` / `[slot-<-id]`: a slot being migrated, not served.
            let (start, end) = range.split_once('-').unwrap_or((range, range));
            matches!((start.parse::<u16>(), end.parse::<u16>()), (Ok(s), Ok(e)) if s <= slot && slot <= e)
        });
        let port = addr.split(['@', ',']).next()?.rsplit(':').next()?;
        serves.then(|| port.parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_master_reads_ranges_and_single_slots_and_skips_replicas_and_migrations() {
        let nodes = "\
a 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460 [5461->-b]
b 127.0.0.1:7001@17001,host master - 0 0 2 connected 5461-10922 16000
c 127.0.0.1:7002@17002 slave b 0 0 2 connected
d 127.0.0.1:7003@17003 master,fail - 0 0 3 disconnected 10923-15999 16001-16383
";
        assert_eq!(slot_master(nodes, 0), Some(7000));
        assert_eq!(slot_master(nodes, 5460), Some(7000));
        assert_eq!(slot_master(nodes, 5461), Some(7001));
        assert_eq!(slot_master(nodes, 16000), Some(7001));
        assert_eq!(slot_master(nodes, 12000), Some(7003));
        assert_eq!(slot_master("", 1), None);
    }

    #[test]
    fn field_reads_an_info_line() {
        let info = "# Replication\r\nrole:slave\r\nmaster_link_status:up\r\n";
        assert_eq!(field(info, "role"), Some("slave"));
        assert_eq!(field(info, "master_link_status"), Some("up"));
        assert_eq!(field(info, "master"), None);
    }
}
