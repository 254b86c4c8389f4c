//! Fleet-wide circuit breakers: [failgate]'s breaker with its state and counts
//! shared through Redis by every instance of a service, without a call ever waiting on
//! Redis.
//!
//! ```no_run
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use failgate_redis::FleetBreaker;
//! use std::time::Duration;
//!
//! // The same namespace and name on every replica: one breaker for the fleet.
//! let breaker = FleetBreaker::builder("inventory")
//!     .namespace("shop")
//!     .redis("redis://127.0.0.1:6379")
//!     .failure_rate(0.5)
//!     .minimum_calls(20)
//!     .window(failgate::Window::time(Duration::from_secs(30)).buckets(10))
//!     .open_for(Duration::from_secs(10))
//!     .half_open_permits(3) // three probes for the whole fleet
//!     .build()?;
//!
//! match breaker.call(|| Ok::<_, std::io::Error>("stock level")) {
//!     Ok(answer) => println!("{answer}"),
//!     Err(failgate::Error::Rejected(r)) => println!("refused: {r}"),
//!     Err(failgate::Error::Inner(e)) => println!("failed: {e}"),
//! }
//! # Ok(()) }
//! ```
//!
//! How the shared state, the batches, the probe permits and the fallbacks work, and the
//! limits of the design: [`design`].
//!
//! The API is the local breaker's (`call`, `call_async`, `try_acquire`, and with the
//! `tower` feature a layer), so switching is a change of constructor. The policy is a
//! failure rate over a time window with a minimum number of calls, the one whose counts
//! add up across instances.
//!
//! # Operator control
//! [`FleetBreaker`] implements [`failgate::Control`]: an order made on one instance
//! (`force_open`, `disable`, `count_only`, `reset`, `open_for`, `open_until`,
//! `half_open`, `close`) is obeyed by that instance at once and by the whole fleet
//! within a round trip, as one shared transition. An order made while Redis is
//! unreachable holds locally and is sent when Redis answers again.
//! [`FleetBuilder::initial_state`] chooses the state a new shared breaker is created in;
//! an existing shared state is never overridden by it.
//!
//! ```no_run
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use failgate::{Control, State};
//! use failgate_redis::FleetBreaker;
//! use std::time::Duration;
//!
//! // A new breaker that only observes until an operator says otherwise.
//! let breaker = FleetBreaker::builder("inventory")
//!     .redis("redis://127.0.0.1:6379")
//!     .initial_state(State::CountOnly)
//!     .build()?;
//! // During an incident: isolate the dependency for five minutes, fleet-wide.
//! breaker.open_for(Duration::from_secs(300))?;
//! assert_eq!(breaker.state(), State::Open);
//! # Ok(()) }
//! ```
//!
//! # Cargo features
//! None is on by default; items behind a feature say which one in these docs.
//! - `tower`: [`tower::FleetBreakerLayer`](crate::tower): failgate's tower layer around
//!   a fleet breaker, and per-key fleet breakers ([`per_key`]).
//! - `metrics`: the mode (shared or local fallback) and Redis round trips reported
//!   through `metrics`, and with [`FleetBuilder::totals`] the instance's totals as
//!   failgate's own `failgate_calls_total` counters.
//! - `serde`: fleet breakers from configuration files ([`config_file`]),
//!   any serde format.
//! - `tls`: `rediss://` URLs, TLS through rustls (ring) with the platform's root
//!   certificates.
//! - `cluster`: Redis Cluster: breakers' keys spread over slots, MOVED/ASK followed.
//! - `testing`: [`testing`]: a throwaway `redis-server`, a lossy proxy
//!   and (with `cluster`) a throwaway Redis Cluster, for tests, benchmarks and demos;
//!   not for production code.

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

mod batch;
mod breaker;
mod client;
mod config;
#[cfg(feature = "serde")]
pub mod config_file;
mod connect;
mod control;
mod integrity;
mod mirror;
mod observe;
mod order;
#[cfg(feature = "tower")]
pub mod per_key;
mod permit;
mod policy;
mod script;
mod settings;
mod start;
mod telemetry;
mod totals;
#[cfg(feature = "tower")]
pub mod tower;
mod wake;
mod word;

#[cfg(feature = "testing")]
pub mod testing;

#[cfg(all(test, feature = "testing"))]
mod retry_after_tests;

// This crate's README (the one crates.io shows) runs as doctests too.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct CrateReadmeDoctests;

/// The design, on its own page: how the fleet shares one breaker, and its limits.
#[doc = include_str!("../DESIGN.md")]
pub mod design {}

pub use breaker::{FleetBreaker, FleetStatus};
pub use config::FleetBuilder;
pub use permit::{OwnedPermit, Permit};
#[doc(hidden)]
pub use script::SYNC_LUA;
pub use settings::FleetConfigError;
pub use word::Mode;
