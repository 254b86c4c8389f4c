//! A lock-free, allocation-free circuit breaker.
//!
//! A service that calls a remote dependency must not keep hammering it once it fails.
//! A [`CircuitBreaker`] sits in front of those calls: while things work (*closed*)
//! calls pass and their outcomes are counted; when failures cross a threshold it trips
//! (*open*) and refuses calls at once with a [`Rejected`] that says when to retry;
//! after a wait it lets a few probe calls through (*half-open*) and closes if they
//! succeed, or opens again.
//!
//! ```
//! use failgate::{CircuitBreaker, Error, ManualClock, State};
//! use std::time::Duration;
//!
//! let clock = ManualClock::new();
//! let breaker = CircuitBreaker::builder()
//!     .name("payments")
//!     .consecutive_failures(2)
//!     .open_for(Duration::from_secs(60))
//!     .clock(clock.clone())
//!     .build()?;
//!
//! let fail = || Err::<(), _>("connection refused");
//! assert!(matches!(breaker.call(fail), Err(Error::Inner(_))));
//! assert!(matches!(breaker.call(fail), Err(Error::Inner(_)))); // the 2nd trips it
//! assert_eq!(breaker.state(), State::Open);
//!
//! // Refused at once, without running the call.
//! let Err(Error::Rejected(r)) = breaker.call(|| Ok::<_, &str>(42)) else { panic!() };
//! assert_eq!(r.retry_after(), Some(Duration::from_secs(60)));
//!
//! clock.advance(Duration::from_secs(60));
//! assert_eq!(breaker.call(|| Ok::<_, &str>(42)), Ok(42)); // the probe succeeds...
//! assert_eq!(breaker.state(), State::Closed);             // ...and closes it
//! # Ok::<(), failgate::ConfigError>(())
//! ```
//!
//! # Trip conditions
//! Any configured condition trips the breaker. Unless a failure condition is set
//! (consecutive failures or a failure rate), it trips on 5 consecutive failures,
//! whatever else is set (a window, `minimum_calls`, or a slow-call rate, which alone
//! would not see a dependency that fails fast). No configuration that
//! [`Builder::build`] accepts yields a breaker that can never trip; only the manual
//! states `disable` and `count_only` stop it.
//! - **Consecutive failures** ([`Builder::consecutive_failures`]): the n-th failure in a
//!   row trips it. The failing call still returns [`Error::Inner`]; the breaker is open
//!   right after it. A success resets the count; an ignored outcome changes nothing.
//!   With [`Builder::forget_failures_after`], a failure more than that span after the
//!   previous one starts the count again at 1 (gobreaker's `Interval`).
//! - **Failure rate** ([`Builder::failure_rate`]): after each recorded outcome, once
//!   the [`Window`] holds at least [`minimum_calls`](Builder::minimum_calls)
//!   outcomes, it trips when failures / (successes + failures) >= the rate. The rate is
//!   judged as soon as the minimum is reached, not only when the window is full.
//!   [`Window::count`] is a ring of the last n outcomes (exactly the last n from one
//!   thread; see its docs for many threads); [`Window::time`] keeps
//!   the last span in buckets, and outcomes older than the span drop out even if no
//!   call comes to push them out.
//! - **Slow calls** ([`Builder::slow_calls`]): a call that takes at least the
//!   threshold, measured on the breaker's clock, is slow whatever its outcome; the
//!   breaker trips when slow / calls >= the rate, under the same window and minimum.
//!   The clock is read around a call only when slow-call detection is on.
//!
//! # Open, half-open, and back
//! - **Open**: every call is refused at once. [`Rejected::retry_after`] is the time
//!   left until half-open. The wait comes from the [`Backoff`]: `open_for(d)` is
//!   constant; [`Backoff::exponential`] doubles on each reopening without a close in
//!   between, up to its maximum, with optional jitter, and starts again once the
//!   breaker closes. [`Builder::break_duration`] sets each wait with a function of
//!   the attempt and the trip's figures instead ([`BreakContext`]). An operator's
//!   [`open_for`](CircuitBreaker::open_for) waits its own duration, and keeps the
//!   backoff's step.
//! - **Half-open** ([`Builder::half_open_permits`]): at most n probes are admitted,
//!   strictly, under any concurrency; other calls are refused. n recorded successes
//!   close the breaker. A failure (or a slow call, when slow calls are configured)
//!   reopens it with the next backoff step. An ignored or abandoned probe gives its
//!   slot back. [`Builder::half_open_timeout`] reopens the breaker if the probes never
//!   report. [`Builder::half_open_failure_rate`] judges the n probes by their failure
//!   rate instead (resilience4j's rule), deciding as soon as the result is certain.
//! - No thread is ever spawned: a transition that is due (open to half-open) happens at
//!   the next call or query ([`CircuitBreaker::state`], [`CircuitBreaker::snapshot`]).
//!
//! # Generations
//! Every transition starts a new generation, and every [`Permit`] carries the
//! generation it was issued in. An outcome reported after the generation has moved on
//! is discarded: a call that began while closed and ends after the breaker opened
//! does not count against the new state.
//!
//! # Manual states
//! [`CircuitBreaker::force_open`] refuses everything (no `retry_after`) until
//! [`reset`](CircuitBreaker::reset); [`disable`](CircuitBreaker::disable) admits
//! everything and never trips; [`count_only`](CircuitBreaker::count_only) admits
//! everything and counts outcomes, but never trips; `reset` returns to closed with
//! counters and backoff cleared.
//!
//! An operator can also order the ordinary states: [`open_for`](CircuitBreaker::open_for)
//! (or [`open_until`](CircuitBreaker::open_until) a wall-clock instant) opens for a
//! given wait, after which the breaker half-opens by itself;
//! [`half_open`](CircuitBreaker::half_open) starts probing now;
//! [`close`](CircuitBreaker::close) closes now. Each is a transition with its own
//! [`Reason`]. [`Builder::initial_state`] builds a breaker closed, forced open,
//! disabled or counting only. The [`Control`] trait names every operator action, for
//! code that controls any breaker.
//!
//! # Classifying outcomes
//! By default `Ok` is a success and `Err` a failure. [`CircuitBreaker::call_with`]
//! takes a classifier for one call; [`Builder::with_classifier`] sets the breaker's
//! default. A classifier returns an [`Outcome`]: `Success`, `Failure` or `Ignore`.
//! A breaker kept in a struct field needs a classifier type that can be named:
//! [`FnClassifier`] for a plain function ([`Builder::with_fn_classifier`]),
//! [`DynClassifier`] for any other ([`Builder::with_dyn_classifier`]).
//!
//! # One contract
//! [`Breaker`] (with [`Report`] for permits) is what every breaker keeps: this crate's
//! [`CircuitBreaker`] and the fleet-wide breaker of `failgate-redis`. The call paths,
//! the [tower layer](crate::tower) and its per-key map are written once over it, so
//! they take either breaker; so can your own code (see [`contract`]).
//!
//! # Events
//! An [`Observer`] sees every state change (with its [`Reason`]), rejection, outcome,
//! slow call and abandoned permit. When none is set, this costs one branch.
//!
//! # Cost
//! No call path takes a lock or allocates. (One exception, by tower's convention: the
//! [tower layer](crate::tower)'s error is a `BoxError`, so a refusal through it is one
//! small box, unless an `on_rejected` hook answers it.) A closed-state success with consecutive
//! failures is two atomic loads and writes nothing to shared memory; a count window
//! adds one `fetch_add`; only time windows, slow-call detection and open-state checks
//! read the clock. See `README.md` for measured figures.
//!
//! # Cargo features
//! Only `quanta` is on by default; everything else is opt-in, and items behind a
//! feature say which one in these docs.
//! - `quanta` (default): a fast monotonic clock (TSC-based where available) for time
//!   windows, slow-call detection and open-state deadlines; without it, std's
//!   `Instant`.
//! - `tower`: [`tower::CircuitBreakerLayer`](crate::tower), and per-key breakers.
//! - `http`: HTTP outcome classes ([`http::HttpClassifier`](crate::http)) and
//!   `Retry-After` handling.
//! - `reqwest`: `HttpClassifier` for `reqwest::Response` too, so a `reqwest::Client`
//!   (a tower `Service`) can sit behind the layer (turns on `http`; reqwest without its
//!   default features).
//! - `axum`: [`Rejected`] and [`Error`] as axum responses (`IntoResponse`: a 503 with
//!   `Retry-After`), on `axum-core` only (turns on `http`).
//! - `tracing`: state changes (and sampled rejections) logged through `tracing`.
//! - `metrics`: calls and transitions counted through the `metrics` facade.
//! - `registry`: named breakers with lock-free lookups (`Registry`).
//! - `serde`: breakers from configuration files (`config_file`), with human
//!   durations; any serde format.
//! - `toml`: read configuration files in TOML (turns on `serde`).
//! - `yaml`: read configuration files in YAML (turns on `serde`).
//! - `json`: read configuration files in JSON (turns on `serde`).
//! - `grpc`: gRPC outcome classes ([`grpc::GrpcClassifier`](crate::grpc)) for tonic
//!   clients, at the tower level and over `tonic::Status`, with
//!   `grpc-retry-pushback-ms` as a "retry after" (tonic without its default features).

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// This crate's README (the one crates.io shows) runs as doctests too.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct CrateReadmeDoctests;

mod backoff;
mod breaker;
mod clock;
mod config;
#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
pub mod config_file;
pub mod contract;
pub mod control;
mod error;
mod event;
mod loom;
#[cfg(any(feature = "tracing", feature = "metrics"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "tracing", feature = "metrics"))))]
pub mod observers;
mod outcome;
mod permit;
mod policy;
#[cfg(feature = "registry")]
mod registry;
mod snapshot;
mod state_machine;
mod totals;
mod vocabulary;
mod windows;

#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod tower;

#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod http;

#[cfg(feature = "grpc")]
#[cfg_attr(docsrs, doc(cfg(feature = "grpc")))]
pub mod grpc;

#[cfg(feature = "axum")]
mod into_response;

/// Choosing a policy for a dependency, and composing the breaker with retries and
/// timeouts (the guide, also at `docs/guide.md`).
#[cfg(all(feature = "tower", feature = "http"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "tower", feature = "http"))))]
#[doc = include_str!("../docs/guide.md")]
pub mod guide {}

#[cfg(test)]
mod tests;

pub use backoff::{Backoff, BreakContext};
pub use breaker::CircuitBreaker;
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::Builder;
pub use contract::{Breaker, Report};
pub use control::Control;
pub use error::{rejection, Error, Rejected};
pub use event::{Event, EventKind, Observer};
pub use outcome::{Classify, DefaultClassifier, Described, DynClassifier, FnClassifier, Outcome};
pub use permit::{OwnedPermit, Permit};
pub use policy::{
    ConfigError, Window, DEFAULT_MAX_RETRY_AFTER, MAX_CONSECUTIVE_FAILURES, MAX_COUNT_WINDOW,
    MAX_DURATION, MAX_HALF_OPEN_PERMITS, MAX_MINIMUM_CALLS, MAX_TIME_BUCKETS,
};
#[cfg(feature = "registry")]
#[cfg_attr(docsrs, doc(cfg(feature = "registry")))]
pub use registry::{ControlError, Registry, RegistryBuilder, UnknownBreaker};
pub use snapshot::Snapshot;
pub use totals::Totals;
/// Not a stable API: the striped counters behind [`Totals`], for failgate-redis's fleet
/// breaker.
#[doc(hidden)]
pub use totals::{Count as TotalsCount, Tally as TotalsTally};
pub use vocabulary::{Reason, State};
