//! The groups kept out of `breaker.rs` for its length: 1% failures on two threads, the
//! half-open cycle, the tower layers and per-key breakers.
pub(crate) mod half_open_cycle;
pub(crate) mod one_percent;
pub(crate) mod per_key;
pub(crate) mod tower_service;
