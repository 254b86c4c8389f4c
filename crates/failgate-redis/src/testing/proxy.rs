//! A loopback TCP proxy that loses or delays Redis's replies on purpose, for tests and
//! measurements of what a fleet breaker does when a round trip ran in Redis but its
//! answer never arrived in time.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// What the proxy does to the server's bytes on their way back to the client. Requests
/// always pass unchanged, so Redis runs every command it is sent.
#[derive(Debug, Default)]
struct Faults {
    /// Replies are read and thrown away.
    drop_replies: AtomicBool,
    /// Replies are held back this many milliseconds.
    delay_ms: AtomicU64,
}

/// A proxy on `127.0.0.1:<free port>` in front of one Redis server. Runs on the tokio
/// runtime it was started on, until dropped.
///
/// ```no_run
/// # #[tokio::main] async fn main() -> std::io::Result<()> {
/// use failgate_redis::testing::{LossyProxy, RedisServer};
/// use std::time::Duration;
///
/// let server = RedisServer::start().expect("redis-server");
/// let proxy = LossyProxy::start(server.port()).await?;
/// // Point an instance at proxy.url(), then:
/// proxy.delay_replies(Duration::from_secs(2)); // Redis runs it; the answer is late
/// proxy.drop_replies(true); // Redis runs it; the answer never comes
/// proxy.drop_replies(false);
/// proxy.delay_replies(Duration::ZERO);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct LossyProxy {
    addr: SocketAddr,
    faults: Arc<Faults>,
    accept: tokio::task::JoinHandle<()>,
}

impl LossyProxy {
    /// Listens on a free loopback port, forwarding to `127.0.0.1:upstream_port`.
    pub async fn start(upstream_port: u16) -> io::Result<LossyProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let faults = Arc::new(Faults::default());
        let shared = faults.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let faults = shared.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(("127.0.0.1", upstream_port)).await {
                        pipe(client, server, faults).await;
                    }
                });
            }
        });
        Ok(LossyProxy {
            addr,
            faults,
            accept,
        })
    }

    /// `redis://127.0.0.1:<proxy port>`.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// While `on`, every reply is thrown away (connections stay open).
    pub fn drop_replies(&self, on: bool) {
        self.faults.drop_replies.store(on, Relaxed);
    }

    /// Holds every reply back by `delay` (zero: none), keeping their order.
    pub fn delay_replies(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.faults.delay_ms.store(ms, Relaxed);
    }
}

impl Drop for LossyProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Forwards both ways until either side closes.
async fn pipe(client: TcpStream, server: TcpStream, faults: Arc<Faults>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let requests = async {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
    };
    // Replies go through a queue, each with the time it may be written, so a delay
    // keeps them in order.
    let (queue, mut queued) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let replies = async move {
        let mut buf = vec![0; 16 * 1024];
        loop {
            let n = match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if faults.drop_replies.load(Relaxed) {
                continue;
            }
            let due = Instant::now() + Duration::from_millis(faults.delay_ms.load(Relaxed));
            if queue.send((due, buf[..n].to_vec())).is_err() {
                return;
            }
        }
    };
    let writer = async {
        while let Some((due, bytes)) = queued.recv().await {
            tokio::time::sleep_until(due).await;
            if client_write.write_all(&bytes).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        _ = requests => {}
        _ = replies => {}
        _ = writer => {}
    }
}
