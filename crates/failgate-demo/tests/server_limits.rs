//! Slow and idle clients cannot starve the servers: a connection that never finishes
//! its headers and an idle keep-alive connection are closed after the header timeout,
//! for `serve`'s service and `watch`'s dashboard alike; at the connection cap a request
//! waits (it is not refused) and is answered once the idle connections time out.
//!
//! Under paused tokio time: hyper's timer is tokio's, so the clock jumps to each
//! deadline as soon as everything waits, and the elapsed times are exact.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use failgate_demo::dashboard::{self, Target, Watch};
use failgate_demo::service::{self, Stats};
use failgate_demo::serving::Limits;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::time::Instant;

const HEADER_TIMEOUT: Duration = Duration::from_millis(200);

fn limits(max_connections: usize) -> Limits {
    Limits {
        header_timeout: HEADER_TIMEOUT,
        max_connections,
        ..Limits::default()
    }
}

async fn service_on(max_connections: usize) -> service::Server {
    common::start(service::Config {
        limits: limits(max_connections),
        ..service::Config::default()
    })
    .await
}

async fn watch_on() -> Watch {
    let router = service::router(&service::Config::ephemeral(), 7, Arc::new(Stats::default()));
    Watch::spawn(dashboard::Config {
        target: Some(Target::Router(router)),
        limits: limits(64),
        ..dashboard::Config::ephemeral()
    })
    .await
    .expect("the watch starts on port 0")
}

/// Reads until the server closes the connection (EOF or reset), or `within` passes;
/// returns what was read, or `None` if the connection was still open.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut seen = Vec::new();
    let closed = tokio::time::timeout(within, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    closed
        .ok()
        .map(|()| String::from_utf8_lossy(&seen).into_owned())
}

/// Sends a whole `GET /health` (keep-alive) and reads its answer, leaving the
/// connection open.
async fn get_health(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    // The body is a small JSON object: the answer is whole at its closing brace.
    while !seen.ends_with(b"}") {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(
            n > 0,
            "closed before answering: {:?}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&seen).into_owned()
}

/// A connection that sends half a request head stays open for the header timeout
/// and is then closed (after hyper's 408).
async fn assert_half_header_closed(addr: SocketAddr) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let start = Instant::now();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0")
        .await
        .unwrap();
    assert_eq!(
        read_until_closed(&mut stream, HEADER_TIMEOUT / 2).await,
        None,
        "closed before the header timeout"
    );
    let seen = read_until_closed(&mut stream, HEADER_TIMEOUT * 10)
        .await
        .expect("closed after the header timeout");
    assert!(start.elapsed() >= HEADER_TIMEOUT, "{:?}", start.elapsed());
    assert!(
        seen.is_empty() || seen.starts_with("HTTP/1.1 408"),
        "{seen:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_connection_that_sends_half_a_header_is_closed_after_the_header_timeout() {
    let server = service_on(64).await;
    assert_half_header_closed(server.local_addr()).await;
    server.shutdown().await.unwrap();
    let watch = watch_on().await;
    assert_half_header_closed(watch.local_addr()).await;
    watch.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let server = service_on(64).await;
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    // Two requests on the connection: keep-alive works, and each wait is timed afresh.
    for _ in 0..2 {
        let answer = get_health(&mut stream).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
        assert_eq!(
            read_until_closed(&mut stream, HEADER_TIMEOUT / 2).await,
            None,
            "an idle connection closed before the timeout"
        );
    }
    let idle = Instant::now();
    let seen = read_until_closed(&mut stream, HEADER_TIMEOUT * 10)
        .await
        .expect("the idle connection is closed");
    // Idle for half the timeout already, then the rest of it.
    assert!(idle.elapsed() >= HEADER_TIMEOUT / 2, "{:?}", idle.elapsed());
    assert!(
        seen.is_empty() || seen.starts_with("HTTP/1.1 408"),
        "{seen:?}"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn at_the_connection_cap_a_request_waits_and_is_answered_once_idle_ones_time_out() {
    const CAP: usize = 4;
    let server = service_on(CAP).await;
    let addr = server.local_addr();
    let mut idle = Vec::new();
    for _ in 0..CAP {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    let start = Instant::now();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let answer = tokio::time::timeout(HEADER_TIMEOUT * 10, get_health(&mut stream))
        .await
        .expect("the request is answered once the idle connections are closed");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    // It waited for the idle connections' header timeout: the cap held.
    assert!(start.elapsed() >= HEADER_TIMEOUT, "{:?}", start.elapsed());
    for mut stream in idle {
        assert!(
            read_until_closed(&mut stream, Duration::ZERO)
                .await
                .is_some(),
            "an idle connection at the cap is still open"
        );
    }
    server.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_request_slower_than_the_request_timeout_is_answered_503() {
    let server = common::start(service::Config {
        limits: Limits {
            request_timeout: Duration::from_millis(300),
            ..limits(64)
        },
        ..service::Config::default()
    })
    .await;
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    let start = Instant::now();
    stream
        .write_all(
            b"GET /success?delay=5s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        )
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream, Duration::from_secs(10))
        .await
        .expect("answered and closed");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer:?}");
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    server.shutdown().await.unwrap();
}
