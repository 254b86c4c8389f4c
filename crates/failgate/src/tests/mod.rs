//! Tests of the concurrent core that need crate internals.

#[cfg(loom)]
mod loom_models;
