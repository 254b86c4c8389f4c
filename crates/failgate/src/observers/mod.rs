//! Ready-made observers: logs through `tracing` (feature `tracing`) and metrics through
//! the `metrics` facade (feature `metrics`). Add them to a builder with
//! [`Builder::with_tracing`](crate::Builder::with_tracing) and
//! [`Builder::with_metrics`](crate::Builder::with_metrics); each breaker gets its own.

#[cfg(feature = "metrics")]
mod metrics;
#[cfg(feature = "tracing")]
mod tracing;

#[cfg(feature = "metrics")]
pub use self::metrics::{record_snapshot, MetricsObserver};
#[cfg(feature = "tracing")]
pub use self::tracing::TracingObserver;
