//! The synchronisation shim: `cfg(failgate_loom)` swaps loom's atomics in for std's,
//! so the model checker can explore every interleaving of the atomic core (as in
//! tokio-util's `src/loom.rs`). The cfg has the crate's own name, not plain `loom`, so
//! it does not also switch tokio (a dev-dependency) into its loom mode.

#[cfg(failgate_loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU64, Ordering};

#[cfg(not(failgate_loom))]
pub(crate) use std::sync::atomic::{fence, AtomicU64, Ordering};

#[cfg(failgate_loom)]
pub(crate) use loom::sync::atomic::AtomicBool;

#[cfg(not(failgate_loom))]
pub(crate) use std::sync::atomic::AtomicBool;

/// Keeps a value on a cache line of its own, so writes to it do not slow down readers
/// of its neighbours (128 bytes: two lines, for CPUs that prefetch in pairs). For a
/// value written on every call by several threads.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct CachePadded<T>(pub(crate) T);

impl<T> std::ops::Deref for CachePadded<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Starts a value on a 64-byte cache line and gives it the whole line: for values that
/// are read on every call and rarely written, where a pair of lines (as
/// [`CachePadded`] keeps) would only cost memory.
#[derive(Debug, Default)]
#[repr(align(64))]
pub(crate) struct CacheLine<T>(pub(crate) T);

impl<T> std::ops::Deref for CacheLine<T> {
    type Target = T;
    #[inline(always)]
    fn deref(&self) -> &T {
        &self.0
    }
}
