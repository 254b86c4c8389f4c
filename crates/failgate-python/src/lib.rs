//! `failgate._failgate`: failgate's breakers for Python (the package is
//! `crates/failgate-python/python/failgate`; this is its native module).
//!
//! Layers, bottom up: `args` and `vocab` (Python values into the core's, and back),
//! `values` (windows, backoffs, the clock, reports), `engine` (the one contract over
//! both breakers) with `fleet` (runtime and fork handling), `gate` (an engine and its
//! classification), `permit` (what a call holds), `core` (what every breaker offers
//! Python), then `local` and `fleet_class` (their constructors).

mod args;
mod core;
mod engine;
mod fleet;
mod fleet_class;
mod gate;
mod listeners;
mod local;
mod permit;
mod values;
mod vocab;

use pyo3::prelude::*;

#[pymodule]
fn _failgate(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(vocab::_register, m)?)?;
    m.add_function(wrap_pyfunction!(fleet::_after_fork, m)?)?;
    m.add_class::<values::CountWindow>()?;
    m.add_class::<values::TimeWindow>()?;
    m.add_class::<values::Constant>()?;
    m.add_class::<values::Exponential>()?;
    m.add_class::<values::ManualClock>()?;
    m.add_class::<values::Totals>()?;
    m.add_class::<values::Metrics>()?;
    m.add_class::<values::StateChange>()?;
    m.add_class::<permit::Permit>()?;
    m.add_class::<permit::Guarded>()?;
    m.add_class::<core::Core>()?;
    m.add_class::<local::Local>()?;
    m.add_class::<fleet_class::FleetClass>()?;
    Ok(())
}
