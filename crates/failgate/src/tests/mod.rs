//! Tests of the concurrent core that need crate internals.

#[cfg(failgate_loom)]
mod loom_count_window;
#[cfg(failgate_loom)]
mod loom_models;
