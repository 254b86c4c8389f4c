//! The flaky HTTP service behind `failgate-demo serve`.
//!
//! | endpoint        | answer                                                        |
//! |-----------------|---------------------------------------------------------------|
//! | `GET /success`  | 200                                                           |
//! | `GET /failure`  | 500                                                           |
//! | `GET /random`   | 500 with probability `failure_ratio`, else 200 (seeded RNG)   |
//! | `GET /health`   | 200                                                           |
//! | `GET /stats`    | 200 with the request counters ([`StatsSnapshot`]) as JSON     |
//!
//! Every answer is a small JSON object ([`Answer`], or [`ErrorBody`] for 400/404/405).
//! `?delay=2s` overrides the configured latency for one request and `?ratio=0.9` the
//! failure ratio of `/random`. Bad values answer 400 naming the parameter and value.
//!
//! The server runs on [`serving::serve`](crate::serving::serve) with [`Config::limits`]:
//! a client has the header timeout to send each request head (so an idle keep-alive
//! connection is closed after it too), a handler the request timeout to answer (else
//! 503), and at most `max_connections` connections are served at once.
//!
//! [`Server::spawn`] binds and runs the service on a background task, so tests and the
//! in-process scenario can use it; [`router`] builds the bare [`Router`](axum::Router)
//! for tests that drive it without a socket (e.g. under paused tokio time).

mod bodies;
mod config;
mod handlers;
mod server;
mod stats;
mod values;

pub use self::bodies::{Answer, ErrorBody};
pub use self::config::{Config, Endpoint, DEFAULT_ADDR};
pub use self::handlers::{router, REQUEST_LOG};
pub use self::server::{shutdown_signal, ServeError, Server, SHUTDOWN_GRACE};
pub use self::stats::{Stats, StatsSnapshot};
pub use self::values::{parse_delay, InvalidValue, Ratio, DEFAULT_FAILURE_RATIO, MAX_DELAY};
