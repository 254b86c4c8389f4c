//! `failgate-demo watch`: live traffic through named breakers, a Prometheus endpoint,
//! and a dashboard page.
//!
//! Each [`Lane`] is one breaker of a [`failgate::Registry`] (built with
//! `.with_metrics()`), whose traffic calls the flaky service's `/random` at a bounded
//! rate with a scripted failure ratio ([`lanes::Schedule`]), so breakers trip and
//! recover on their own. The server answers:
//!
//! | route | answer |
//! |---|---|
//! | `GET /dashboard` | the page (HTML, CSS and JS in one file, embedded in the binary) |
//! | `GET /events` | server-sent events: a `snapshot` ([`WatchSnapshot`]) every 500 ms |
//! | `GET /api/snapshot` | the current [`WatchSnapshot`] as JSON |
//! | `GET /api/history` | the recent samples ([`History`]) the page's charts start from |
//! | `GET /metrics` | every breaker's counters and gauges, in Prometheus text format |
//! | `POST /control/force_open?breaker=NAME` | force the breaker open |
//! | `POST /control/reset?breaker=NAME` | reset it to closed |
//! | `POST /control/ratio?breaker=NAME&ratio=R` | pin the lane's failure ratio (`auto`: back to its schedule) |
//!
//! A control call must be sent with `Content-Type: application/json` (its body is
//! ignored; send `{}`), and with the control token when one is set. It answers 200
//! with the breaker's [`BreakerView`], 400 with a JSON [`ErrorBody`] for a missing or
//! bad parameter, 404 for an unknown breaker; 415 without the JSON content type, 401
//! without the token and 403 with a wrong one. Every route answers 403 to a `Host`
//! that does not name this server (DNS rebinding) and to a foreign `Origin`; see
//! [`guard`] for the reasoning. The server runs on [`serving::serve`], with the
//! limits of [`Config::limits`].
//!
//! Each view carries the breaker's `settings`, as a configuration file writes them.
//! With `--config FILE` ([`Config::config_file`]) the lanes the file names take its
//! settings, and the file is reloaded on SIGHUP and whenever it changes (see
//! [`reload`]); the snapshot's `reloads` says what the reloads did, and the page shows
//! the settings under each breaker's policy.
//!
//! The metrics go to a Prometheus recorder that belongs to the [`Watch`], not the
//! process-wide one: the breakers register their handles with it when they are built,
//! and the periodic [`record_snapshot`] runs against it. Several watches can so run in
//! one process (the tests do) without mixing their series.
//!
//! The log at INFO shows the URL, every breaker's transitions (failgate's tracing
//! observer) and a summary of every lane every [`Config::summary_every`]; the line of
//! each call the in-process service answers is at DEBUG
//! ([`REQUEST_LOG`](crate::service::REQUEST_LOG)).
//!
//! Time is tokio's: the breakers' [`Clock`] reads [`tokio::time::Instant`], so under
//! paused tokio time (tests) the schedules, the traffic and the breakers' waits all
//! follow the same virtual clock.
//!
//! [`ErrorBody`]: crate::service::ErrorBody
//! [`serving::serve`]: crate::serving::serve
//! [`record_snapshot`]: failgate::observers::record_snapshot
//! [`Clock`]: failgate::Clock

mod cli;
mod config;
mod control;
pub mod guard;
pub mod lanes;
pub mod reload;
mod routes;
mod state;
mod summary;
mod traffic;
mod views;
mod watch;

pub use self::cli::{lanes_from, parse_rate, run, WatchArgs};
pub use self::config::{
    Config, WatchError, DEFAULT_ADDR, DEFAULT_HISTORY, DEFAULT_RATE, DEFAULT_SAMPLE_EVERY,
    DEFAULT_SUMMARY_EVERY, MAX_RATE,
};
pub use self::guard::{
    exposure_warning, AllowedHost, ControlToken, InvalidAccess, TOKEN_ENV, TOKEN_HEADER,
};
pub use self::lanes::{default_lanes, Lane};
pub use self::routes::PAGE;
pub use self::traffic::{Target, CALL_TIMEOUT, MAX_IN_FLIGHT};
pub use self::views::{BreakerView, History, Point, ReloadView, Sample, TotalsView, WatchSnapshot};
pub use self::watch::Watch;
