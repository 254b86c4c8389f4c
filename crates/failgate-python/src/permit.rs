//! `Permit` (one call's admission, reported by hand) and `Guarded` (a function behind a
//! breaker: the sync decorator, so that a decorated call never runs Python-level glue).

use crate::engine::Slot;
use crate::gate::Gate;
use crate::{args, vocab};
use failgate::Outcome;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};
use std::sync::Arc;
use std::sync::{Mutex, PoisonError};

/// One admitted call. Report it once: `success()`, `failure()`, `ignore()`, `record()`,
/// `record_result()` or `record_exception()`; `abandon()` (or dropping it unreported)
/// counts it for nothing and frees its half-open slot. A second report raises
/// `RuntimeError`.
#[pyclass(frozen, module = "failgate")]
pub(crate) struct Permit {
    gate: Arc<Gate>,
    slot: Mutex<Option<Slot>>,
    is_probe: bool,
}

impl Permit {
    pub(crate) fn new(gate: Arc<Gate>, slot: Slot) -> Self {
        Permit {
            gate,
            is_probe: slot.is_probe(),
            slot: Mutex::new(Some(slot)),
        }
    }

    fn take(&self) -> PyResult<Slot> {
        self.slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("this permit was already reported"))
    }
}

#[pymethods]
impl Permit {
    /// Whether this call is a half-open probe.
    #[getter]
    fn is_probe(&self) -> bool {
        self.is_probe
    }

    /// Whether the permit was reported (or abandoned).
    #[getter]
    fn done(&self) -> bool {
        self.slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none()
    }

    fn success(&self) -> PyResult<()> {
        self.take()?.record(Outcome::Success, None);
        Ok(())
    }

    /// A failure; `retry_after` (the dependency's own "Retry-After") keeps the breaker
    /// open at least that long if this failure trips it, when the breaker honours it.
    #[pyo3(signature = (retry_after = None))]
    fn failure(&self, retry_after: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let retry_after = args::opt_duration("retry_after", retry_after)?;
        self.take()?.record(Outcome::Failure, retry_after);
        Ok(())
    }

    fn ignore(&self) -> PyResult<()> {
        self.take()?.record(Outcome::Ignore, None);
        Ok(())
    }

    fn abandon(&self) -> PyResult<()> {
        drop(self.take()?);
        Ok(())
    }

    #[pyo3(signature = (outcome, retry_after = None))]
    fn record(
        &self,
        outcome: &Bound<'_, PyAny>,
        retry_after: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let outcome = vocab::outcome("Permit.record: outcome", outcome)?;
        let retry_after = args::opt_duration("retry_after", retry_after)?;
        self.take()?.record(outcome, retry_after);
        Ok(())
    }

    /// Reports a return of `result`, classified as the breaker classifies.
    fn record_result(&self, result: &Bound<'_, PyAny>) -> PyResult<()> {
        let slot = self.take()?;
        let outcome = self.gate.classification.of_result(result);
        slot.record(outcome, None);
        Ok(())
    }

    /// Reports a raise of `exception`, classified as the breaker classifies (a
    /// BaseException that is not an Exception abandons the permit).
    fn record_exception(&self, py: Python<'_>, exception: &Bound<'_, PyAny>) -> PyResult<()> {
        if !exception.is_instance_of::<pyo3::exceptions::PyBaseException>() {
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "record_exception: expected an exception instance, got {}",
                exception.repr()?
            )));
        }
        let slot = self.take()?;
        match self.gate.classification.of_error(py, exception) {
            Some(outcome) => slot.record(outcome, None),
            None => drop(slot),
        }
        Ok(())
    }

    fn __repr__(&self) -> String {
        format!("<Permit probe={} done={}>", self.is_probe, self.done())
    }
}

/// A function behind a breaker (what `@breaker` returns for a sync function).
#[pyclass(frozen, dict, weakref, module = "failgate")]
pub(crate) struct Guarded {
    gate: Arc<Gate>,
    func: Py<PyAny>,
}

impl Guarded {
    pub(crate) fn wrap(
        py: Python<'_>,
        gate: Arc<Gate>,
        func: &Bound<'_, PyAny>,
    ) -> PyResult<Py<Self>> {
        if !func.is_callable() {
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "a breaker decorates a callable, not {}",
                func.get_type().name()?
            )));
        }
        let guarded = Py::new(
            py,
            Guarded {
                gate,
                func: func.clone().unbind(),
            },
        )?;
        // functools.update_wrapper: __name__, __doc__, __qualname__, __module__,
        // __wrapped__ and the function's __dict__, as any decorator keeps them.
        static UPDATE_WRAPPER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let update = UPDATE_WRAPPER.import(py, "functools", "update_wrapper")?;
        update.call1((guarded.bind(py), func))?;
        Ok(guarded)
    }
}

#[pymethods]
impl Guarded {
    #[pyo3(signature = (*args, **kwargs))]
    fn __call__(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let core = &self.gate;
        let slot = core.acquire_slot(py)?;
        core.finish(py, slot, self.func.bind(py).call(args, kwargs))
    }

    /// A method decorated in a class body binds to its instance, as functions do.
    fn __get__(
        slf: &Bound<'_, Self>,
        obj: Option<&Bound<'_, PyAny>>,
        _objtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        match obj.filter(|o| !o.is_none()) {
            None => Ok(slf.clone().into_any().unbind()),
            Some(obj) => {
                static METHOD_TYPE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
                let method = METHOD_TYPE.import(py, "types", "MethodType")?;
                Ok(method.call1((slf, obj))?.unbind())
            }
        }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("<failgate.Guarded {}>", self.func.bind(py).repr()?))
    }
}
