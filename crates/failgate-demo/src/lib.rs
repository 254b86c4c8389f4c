//! The failgate demo: a flaky HTTP service ([`service`]) and the seed's scenario of nine
//! calls through a circuit breaker ([`scenario`]), and live traffic through named breakers
//! with a Prometheus endpoint and a dashboard page ([`dashboard`]), and several instances
//! sharing one breaker through Redis ([`fleet`]). Both servers run on [`serving`], which
//! bounds slow and idle connections. The binary `failgate-demo` is a thin
//! CLI over these modules; the library exists so tests can run them in-process.

#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
#![forbid(unsafe_code)]

pub mod dashboard;
pub mod fleet;
pub mod scenario;
pub mod service;
pub mod serving;
