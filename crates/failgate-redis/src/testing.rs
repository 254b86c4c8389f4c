//! A throwaway Redis server for tests, benchmarks and demos: Debian's `redis-server` as
//! a child process on a free loopback port, without persistence, killed on drop; and
//! [`LossyProxy`], which loses or delays its replies on purpose. Feature `testing`
//! (a dev-dependency with `features = ["testing"]`): not for production code.
//!
//! ```no_run
//! use failgate_redis::testing::RedisServer;
//!
//! let mut server = RedisServer::start()?;
//! println!("{}", server.url()); // redis://127.0.0.1:<port>
//! server.stop(); // as a crash would
//! server.restart()?; // same port, empty data
//! # Ok::<(), failgate_redis::testing::ServerError>(())
//! ```

mod cluster;
mod proxy;
pub use cluster::{ClusterError, RedisCluster};
pub use proxy::LossyProxy;

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Why a server could not be started.
///
/// `#[non_exhaustive]`: the harness may learn new ways to fail (a missing module, a
/// version too old), so a `match` outside this crate needs a wildcard arm.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// No `redis-server` on PATH (or at `/usr/bin/redis-server`).
    #[error(
        "redis-server is not on PATH; install Debian's package (apt-get install redis-server)"
    )]
    NotFound,
    /// No free loopback port.
    #[error("no free loopback port: {0}")]
    NoPort(#[source] std::io::Error),
    /// The process did not start.
    #[error("cannot start {binary}: {source}")]
    Spawn {
        /// The binary.
        binary: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The process started but did not listen in time.
    #[error("redis-server did not listen on 127.0.0.1:{port} within 10 s")]
    NotListening {
        /// Its port.
        port: u16,
    },
}

/// A `redis-server` child process on 127.0.0.1, killed on drop.
#[derive(Debug)]
pub struct RedisServer {
    binary: PathBuf,
    port: u16,
    extra: Vec<String>,
    child: Option<Child>,
}

impl RedisServer {
    /// `redis-server` on PATH, else Debian's `/usr/bin/redis-server`, if either exists.
    pub fn binary() -> Option<PathBuf> {
        std::env::var_os("PATH")
            .and_then(|path| {
                std::env::split_paths(&path)
                    .map(|dir| dir.join("redis-server"))
                    .find(|p| p.is_file())
            })
            .or_else(|| {
                let debian = PathBuf::from("/usr/bin/redis-server");
                debian.is_file().then_some(debian)
            })
    }

    /// Starts a server on a free loopback port and waits until it listens.
    pub fn start() -> Result<RedisServer, ServerError> {
        Self::start_with(&[])
    }

    /// Like [`start`](Self::start), with more server arguments (`--requirepass`, TLS
    /// files...).
    pub fn start_with(args: &[&str]) -> Result<RedisServer, ServerError> {
        let binary = Self::binary().ok_or(ServerError::NotFound)?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(ServerError::NoPort)?
            .port();
        let mut server = RedisServer {
            binary,
            port,
            extra: args.iter().map(|a| a.to_string()).collect(),
            child: None,
        };
        server.restart()?;
        Ok(server)
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server, as a crash would (its data is gone: no persistence).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (a no-op while it runs).
    pub fn restart(&mut self) -> Result<(), ServerError> {
        if self.child.is_some() {
            return Ok(());
        }
        let child = Command::new(&self.binary)
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| ServerError::Spawn {
                binary: self.binary.display().to_string(),
                source,
            })?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if Instant::now() > deadline {
                self.stop();
                return Err(ServerError::NotListening { port: self.port });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
