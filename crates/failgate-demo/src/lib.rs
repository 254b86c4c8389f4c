//! The failgate demo: a flaky HTTP service ([`service`]) and the seed's scenario of nine
//! calls through a circuit breaker ([`scenario`]). The binary `failgate-demo` is a thin
//! CLI over these modules; the library exists so tests can run them in-process.

#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
#![forbid(unsafe_code)]

pub mod scenario;
pub mod service;
