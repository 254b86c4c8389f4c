//! `_Core`: what every breaker offers Python, written once over [`Engine`].

use crate::engine::Engine;
use crate::gate::{Classification, Gate};
use crate::listeners::Listeners;
use crate::permit::{Guarded, Permit};
use crate::values::Metrics;
use crate::{args, vocab};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use std::sync::Arc;

/// The native half of `CircuitBreaker` and `FleetBreaker`.
#[pyclass(
    frozen,
    subclass,
    weakref,
    module = "failgate._failgate",
    name = "_Core"
)]
pub(crate) struct Core {
    pub(crate) gate: Arc<Gate>,
    pub(crate) listeners: Arc<Listeners>,
}

impl Core {
    pub(crate) fn new(
        py: Python<'_>,
        engine: Engine,
        classification: Classification,
        listeners: Arc<Listeners>,
    ) -> Self {
        Core {
            gate: Arc::new(Gate::new(py, engine, classification)),
            listeners,
        }
    }
}

#[pymethods]
impl Core {
    /// The breaker's name.
    #[getter]
    fn name(&self) -> &str {
        self.gate.engine.name()
    }

    /// The state calls see now.
    #[getter]
    fn state(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        vocab::state(py, self.gate.engine.state())
    }

    /// Takes a permit for one call, or raises `CircuitOpenError`.
    fn acquire(slf: &Bound<'_, Self>) -> PyResult<Permit> {
        let slot = slf.get().gate.acquire_slot(slf.py())?;
        Ok(Permit::new(slf.get().gate.clone(), slot))
    }

    /// Calls `func(*args, **kwargs)` through the breaker.
    #[pyo3(signature = (func, /, *args, **kwargs))]
    fn call(
        &self,
        py: Python<'_>,
        func: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let slot = self.gate.acquire_slot(py)?;
        self.gate.finish(py, slot, func.call(args, kwargs))
    }

    /// `func` wrapped so that each call goes through the breaker (the sync decorator).
    fn _guard(slf: &Bound<'_, Self>, func: &Bound<'_, PyAny>) -> PyResult<Py<Guarded>> {
        Guarded::wrap(slf.py(), slf.get().gate.clone(), func)
    }

    /// The breaker's counts and state now.
    fn metrics(&self, py: Python<'_>) -> PyResult<Metrics> {
        Metrics::from_snapshot(py, &self.gate.engine.snapshot())
    }

    /// Opens the breaker until `reset()` (or `close()`): every call is refused.
    fn force_open(&self) {
        self.gate.engine.control(|c| c.force_open());
    }

    /// Admits every call and counts nothing until `reset()`.
    fn disable(&self) {
        self.gate.engine.control(|c| c.disable());
    }

    /// Admits every call and counts it, but never opens, until `reset()`.
    fn count_only(&self) {
        self.gate.engine.control(|c| c.count_only());
    }

    /// Back to closed with nothing counted.
    fn reset(&self) {
        self.gate.engine.control(|c| c.reset());
    }

    /// Opens the breaker for `wait`, then it half-opens by itself.
    fn open_for(&self, wait: &Bound<'_, PyAny>) -> PyResult<()> {
        let wait = args::duration("wait", wait)?;
        self.gate
            .engine
            .control(|c| c.open_for(wait))
            .map_err(args::config_error)
    }

    /// Moves the breaker to half-open: the next calls are probes.
    fn half_open(&self) {
        self.gate.engine.control(|c| c.half_open());
    }

    /// Closes the breaker (keeping the counts of a closed breaker).
    fn close(&self) {
        self.gate.engine.control(|c| c.close());
    }

    /// Calls `listener(change)` on each change of state.
    fn add_listener(&self, listener: &Bound<'_, PyAny>) -> PyResult<()> {
        self.listeners.add("add_listener", listener)
    }

    /// Stops calling `listener` (the first one equal to it).
    fn remove_listener(&self, listener: &Bound<'_, PyAny>) -> PyResult<()> {
        self.listeners.remove(listener)
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let core = slf.get();
        Ok(format!(
            "<{} {:?} {}>",
            slf.get_type().name()?,
            core.gate.engine.name(),
            core.gate.engine.state().as_str()
        ))
    }
}
