//! The groups added beside the peers: 1% failures on two threads, and the half-open
//! cycle.
pub(crate) mod half_open_cycle;
pub(crate) mod one_percent;
