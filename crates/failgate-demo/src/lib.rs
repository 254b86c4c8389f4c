//! The failgate demo: a flaky HTTP service ([`service`]), as a library so tests can run
//! it in-process.

#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
#![forbid(unsafe_code)]

pub mod service;
