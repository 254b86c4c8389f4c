//! The HTTP serving loop both servers share (`serve`'s flaky service and `watch`'s
//! dashboard), with the limits that keep slow and idle clients from starving them.
//!
//! - **Header timeout** ([`Limits::header_timeout`]): hyper's HTTP/1
//!   `header_read_timeout`. Its timer starts when hyper begins to read a request head:
//!   when the connection is accepted, and again as soon as the previous response has
//!   been written on a kept-alive connection (hyper 1.x, `proto/h1/conn.rs`: an idle
//!   connection re-arms the read, and `poll_read_head` starts the timer). A client that
//!   has not sent a whole head by then is sent `408` and the connection is closed. So
//!   this one setting is also the **idle timeout** of keep-alive connections: hyper has
//!   no separate one, and a hand-made timer around the connection is what this module
//!   avoids.
//! - **Request timeout** ([`Limits::request_timeout`]): tower-http's `TimeoutLayer`
//!   around the router; a handler (body read included) that has not answered by then
//!   gets `503`. A streamed body that has started (the dashboard's `/events`) is not cut.
//! - **Connection cap** ([`Limits::max_connections`]): a semaphore permit per accepted
//!   connection. At the cap the loop stops accepting, so new connections wait in the
//!   kernel's listen backlog (they are not refused) until one closes, which an idle one
//!   does after the header timeout.
//! - **Accept errors** such as `EMFILE`/`ENFILE` (out of file descriptors) are logged
//!   and the loop backs off [`ACCEPT_BACKOFF`] before accepting again: it neither spins
//!   nor exits.
//!
//! Only HTTP/1.1 is served: hyper's header timeout covers HTTP/1 only, and the demo's
//! clients (browsers over plain `http://`, reqwest) speak HTTP/1.1 there anyway.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_http::timeout::TimeoutLayer;

/// The header (and keep-alive idle) timeout when `--header-timeout` is not given.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The request timeout when `--request-timeout` is not given: longer than the longest
/// `?delay=` the flaky service accepts ([`crate::service::MAX_DELAY`]).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(75);

/// The connection cap when `--max-connections` is not given.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;

/// The longest timeout accepted.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

/// The highest connection cap accepted.
pub const MAX_CONNECTIONS: usize = 65_536;

/// How long the loop waits after a failed `accept` (e.g. `EMFILE`) before trying again.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The limits a server applies to its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long a client has to send a whole request head, counted from the accept or,
    /// on a kept-alive connection, from the end of the previous response: also the
    /// idle timeout. In `(0, MAX_TIMEOUT]`.
    pub header_timeout: Duration,
    /// How long a handler has to answer. In `(0, MAX_TIMEOUT]`.
    pub request_timeout: Duration,
    /// How many connections are served at once. In `1..=MAX_CONNECTIONS`.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// A limit out of range, naming the setting and the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidLimit {
    /// Not a duration humantime understands.
    #[error("invalid {field} {value:?}: expected a duration such as 200ms, 10s or 1m")]
    NotADuration {
        /// The setting.
        field: &'static str,
        /// The text given.
        value: String,
    },
    /// Not a whole number.
    #[error("invalid {field} {value:?}: expected a whole number such as 512")]
    NotANumber {
        /// The setting.
        field: &'static str,
        /// The text given.
        value: String,
    },
    /// A value outside its range.
    #[error("invalid {field} {value}: must be {range}")]
    OutOfRange {
        /// The setting.
        field: &'static str,
        /// The value, as given or formatted.
        value: String,
        /// The accepted range, in words.
        range: String,
    },
}

fn check_timeout(field: &'static str, value: Duration) -> Result<Duration, InvalidLimit> {
    if value.is_zero() || value > MAX_TIMEOUT {
        return Err(InvalidLimit::OutOfRange {
            field,
            value: humantime::format_duration(value).to_string(),
            range: format!(
                "longer than zero and at most {}",
                humantime::format_duration(MAX_TIMEOUT)
            ),
        });
    }
    Ok(value)
}

fn check_connections(value: usize) -> Result<usize, InvalidLimit> {
    if !(1..=MAX_CONNECTIONS).contains(&value) {
        return Err(InvalidLimit::OutOfRange {
            field: "max_connections",
            value: value.to_string(),
            range: format!("between 1 and {MAX_CONNECTIONS}"),
        });
    }
    Ok(value)
}

impl Limits {
    /// Checks every limit against its range.
    pub fn validate(&self) -> Result<(), InvalidLimit> {
        check_timeout("header_timeout", self.header_timeout)?;
        check_timeout("request_timeout", self.request_timeout)?;
        check_connections(self.max_connections)?;
        Ok(())
    }
}

/// Parses a timeout flag such as `200ms` or `10s`, in `(0, MAX_TIMEOUT]`.
pub fn parse_timeout(field: &'static str, s: &str) -> Result<Duration, InvalidLimit> {
    let value = humantime::parse_duration(s.trim()).map_err(|_| InvalidLimit::NotADuration {
        field,
        value: s.to_owned(),
    })?;
    check_timeout(field, value)
}

/// Parses `--max-connections`, in `1..=MAX_CONNECTIONS`.
pub fn parse_max_connections(s: &str) -> Result<usize, InvalidLimit> {
    let value = s.trim().parse().map_err(|_| InvalidLimit::NotANumber {
        field: "max_connections",
        value: s.to_owned(),
    })?;
    check_connections(value)
}

/// The limit flags, shared by `serve` and `watch`.
#[derive(Debug, Clone, clap::Args)]
pub struct LimitsArgs {
    /// Time a client has to send a request's headers, from connecting or from the end
    /// of its previous response: an idle keep-alive connection is closed after it too.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = |s: &str| parse_timeout("header_timeout", s))]
    pub header_timeout: Duration,

    /// Time a request has to be answered before the server answers 503 instead.
    #[arg(long, value_name = "DURATION", default_value = "75s", value_parser = |s: &str| parse_timeout("request_timeout", s))]
    pub request_timeout: Duration,

    /// Connections served at once; more wait in the listen backlog until one closes.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CONNECTIONS, value_parser = parse_max_connections)]
    pub max_connections: usize,
}

impl From<LimitsArgs> for Limits {
    fn from(args: LimitsArgs) -> Self {
        Self {
            header_timeout: args.header_timeout,
            request_timeout: args.request_timeout,
            max_connections: args.max_connections,
        }
    }
}

/// Whether an accept error concerns only the connection being accepted (the peer gave
/// up already), so the next accept can follow at once.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Serves `app` on `listener` within `limits` until `shutdown` completes; then stops
/// accepting, lets each connection finish its request in flight (idle ones close at
/// once) and returns when all have closed. `limits` are taken as validated.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let app = app.layer(TimeoutLayer::with_status_code(
        StatusCode::SERVICE_UNAVAILABLE,
        limits.request_timeout,
    ));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        // At the cap, wait for a connection to close before accepting another.
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => permit,
            () = &mut shutdown => break,
        };
        let Ok(permit) = permit else { break }; // closed: never, the loop owns it
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) if is_connection_error(&error) => continue,
            Err(error) => {
                tracing::error!(%error, backoff = ?ACCEPT_BACKOFF, "accept failed; backing off");
                tokio::select! {
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                    () = &mut shutdown => break,
                }
            }
        };
        let service = TowerToHyperService::new(app.clone());
        let connection = http.serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "connection closed with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_refuse_zero_huge_and_garbage_naming_the_flag() {
        assert_eq!(
            parse_timeout("header_timeout", "200ms"),
            Ok(Duration::from_millis(200))
        );
        let zero = parse_timeout("header_timeout", "0s").unwrap_err();
        assert!(zero.to_string().contains("header_timeout"), "{zero}");
        assert!(matches!(
            parse_timeout("request_timeout", "2h"),
            Err(InvalidLimit::OutOfRange {
                field: "request_timeout",
                ..
            })
        ));
        assert_eq!(
            parse_timeout("header_timeout", "soon"),
            Err(InvalidLimit::NotADuration {
                field: "header_timeout",
                value: "soon".into()
            })
        );
        assert_eq!(parse_max_connections("512"), Ok(512));
        assert!(matches!(
            parse_max_connections("0"),
            Err(InvalidLimit::OutOfRange {
                field: "max_connections",
                ..
            })
        ));
        assert!(matches!(
            parse_max_connections("many"),
            Err(InvalidLimit::NotANumber { .. })
        ));
        let bad = Limits {
            max_connections: 0,
            ..Limits::default()
        };
        assert!(bad.validate().is_err());
        assert_eq!(Limits::default().validate(), Ok(()));
    }
}
