//! `_Core`: what every breaker offers Python, written once over [`Engine`].

use crate::engine::{Engine, Slot};
use crate::listeners::Listeners;
use crate::permit::{Guarded, Permit};
use crate::values::Metrics;
use crate::{args, vocab};
use failgate::Outcome;
use pyo3::exceptions::{PyException, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple, PyType};
use std::sync::Arc;

/// How a call's end counts: `exclude` and `classify`, as given to the breaker.
pub(crate) struct Classification {
    exclude: Option<Py<PyTuple>>,
    classify: Option<Py<PyAny>>,
}

impl Classification {
    pub(crate) fn new(
        exclude: &Bound<'_, PyAny>,
        classify: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let types: Bound<'_, PyTuple> = if let Ok(t) = exclude.cast::<PyType>() {
            PyTuple::new(exclude.py(), [t])?
        } else if let Ok(t) = exclude.cast::<PyTuple>() {
            t.clone()
        } else if let Ok(list) = exclude.cast::<pyo3::types::PyList>() {
            list.to_tuple()
        } else {
            return Err(PyTypeError::new_err(
                "exclude: expected an exception type or a tuple of them",
            ));
        };
        let base = exclude.py().get_type::<pyo3::exceptions::PyBaseException>();
        for t in types.iter() {
            let ok = t
                .cast::<PyType>()
                .map(|t| t.is_subclass(&base))
                .unwrap_or(Ok(false))?;
            if !ok {
                return Err(PyTypeError::new_err(format!(
                    "exclude: {} is not an exception type",
                    t.repr()?
                )));
            }
        }
        let classify = classify.filter(|c| !c.is_none());
        if let Some(c) = classify {
            if !c.is_callable() {
                return Err(PyTypeError::new_err("classify: expected a callable"));
            }
        }
        Ok(Classification {
            exclude: (!types.is_empty()).then(|| types.unbind()),
            classify: classify.map(|c| c.clone().unbind()),
        })
    }

    /// The outcome of a call that returned `result`.
    pub(crate) fn of_result(&self, result: &Bound<'_, PyAny>) -> Outcome {
        let Some(classify) = &self.classify else {
            return Outcome::Success;
        };
        let py = result.py();
        self.judged(py, classify.bind(py).call1((result, py.None())))
    }

    /// The outcome of a call that raised `error`; `None` abandons the permit (a
    /// BaseException that is not an Exception: a cancellation, an interrupt, an exit).
    pub(crate) fn of_error(&self, py: Python<'_>, error: &Bound<'_, PyAny>) -> Option<Outcome> {
        if !error.is_instance_of::<PyException>() {
            return None;
        }
        // exclude first: an excluded exception is ignored whatever classify says.
        if let Some(types) = &self.exclude {
            if error.is_instance(types.bind(py).as_any()).unwrap_or(false) {
                return Some(Outcome::Ignore);
            }
        }
        if let Some(classify) = &self.classify {
            return Some(self.judged(py, classify.bind(py).call1((py.None(), error))));
        }
        Some(Outcome::Failure)
    }

    /// A classifier that raises or answers nonsense is logged, and the call counts as a
    /// failure: a broken classifier must not stop the breaker from ever tripping.
    fn judged(&self, py: Python<'_>, answer: PyResult<Bound<'_, PyAny>>) -> Outcome {
        match answer.and_then(|a| vocab::outcome(&a)) {
            Ok(outcome) => outcome,
            Err(e) => {
                vocab::log_error(py, "failgate: classify raised; counting a failure", &e);
                Outcome::Failure
            }
        }
    }
}

/// The native half of `CircuitBreaker` and `FleetBreaker`.
#[pyclass(
    frozen,
    subclass,
    weakref,
    module = "failgate._failgate",
    name = "_Core"
)]
pub(crate) struct Core {
    pub(crate) engine: Arc<Engine>,
    pub(crate) classification: Classification,
    pub(crate) listeners: Option<Arc<Listeners>>,
    /// The name as a Python str, made once: every rejection carries it.
    pub(crate) name: Py<PyString>,
}

impl Core {
    pub(crate) fn new(
        py: Python<'_>,
        engine: Engine,
        classification: Classification,
        listeners: Option<Arc<Listeners>>,
    ) -> Self {
        let name = PyString::new(py, engine.name()).unbind();
        Core {
            engine: Arc::new(engine),
            classification,
            listeners,
            name,
        }
    }

    pub(crate) fn acquire_slot(&self, py: Python<'_>) -> PyResult<Slot> {
        self.engine
            .acquire()
            .map_err(|r| vocab::rejection(py, &self.name, &r))
    }

    /// Reports the end of a call and hands its result back.
    pub(crate) fn finish(
        &self,
        py: Python<'_>,
        slot: Slot,
        result: PyResult<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        match result {
            Ok(value) => {
                slot.record(self.classification.of_result(&value), None);
                Ok(value.unbind())
            }
            Err(error) => {
                match self.classification.of_error(py, error.value(py)) {
                    Some(outcome) => slot.record(outcome, None),
                    None => drop(slot),
                }
                Err(error)
            }
        }
    }

    fn listeners(&self) -> PyResult<&Arc<Listeners>> {
        self.listeners.as_ref().ok_or_else(|| {
            PyTypeError::new_err("this breaker has no listeners (fleet breakers report no events)")
        })
    }
}

#[pymethods]
impl Core {
    /// The breaker's name.
    #[getter]
    fn name(&self) -> &str {
        self.engine.name()
    }

    /// The state calls see now.
    #[getter]
    fn state(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        vocab::state(py, self.engine.state())
    }

    /// Takes a permit for one call, or raises `CircuitOpenError`.
    fn acquire(slf: &Bound<'_, Self>) -> PyResult<Permit> {
        let slot = slf.get().acquire_slot(slf.py())?;
        Ok(Permit::new(slf.clone().unbind(), slot))
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
        let slot = self.acquire_slot(py)?;
        self.finish(py, slot, func.call(args, kwargs))
    }

    /// `func` wrapped so that each call goes through the breaker (the sync decorator).
    fn _guard(slf: &Bound<'_, Self>, func: &Bound<'_, PyAny>) -> PyResult<Py<Guarded>> {
        Guarded::wrap(slf, func)
    }

    /// The breaker's counts and state now.
    fn metrics(&self, py: Python<'_>) -> PyResult<Metrics> {
        Metrics::from_snapshot(py, &self.engine.snapshot())
    }

    /// Opens the breaker until `reset()` (or `close()`): every call is refused.
    fn force_open(&self) {
        self.engine.control(|c| c.force_open());
    }

    /// Admits every call and counts nothing until `reset()`.
    fn disable(&self) {
        self.engine.control(|c| c.disable());
    }

    /// Admits every call and counts it, but never opens, until `reset()`.
    fn count_only(&self) {
        self.engine.control(|c| c.count_only());
    }

    /// Back to closed with nothing counted.
    fn reset(&self) {
        self.engine.control(|c| c.reset());
    }

    /// Opens the breaker for `wait`, then it half-opens by itself.
    fn open_for(&self, wait: &Bound<'_, PyAny>) -> PyResult<()> {
        let wait = args::duration("wait", wait)?;
        self.engine
            .control(|c| c.open_for(wait))
            .map_err(args::config_error)
    }

    /// Moves the breaker to half-open: the next calls are probes.
    fn half_open(&self) {
        self.engine.control(|c| c.half_open());
    }

    /// Closes the breaker (keeping the counts of a closed breaker).
    fn close(&self) {
        self.engine.control(|c| c.close());
    }

    /// Calls `listener(change)` on each change of state.
    fn add_listener(&self, listener: &Bound<'_, PyAny>) -> PyResult<()> {
        self.listeners()?.add(listener)
    }

    /// Stops calling `listener` (the first one equal to it).
    fn remove_listener(&self, listener: &Bound<'_, PyAny>) -> PyResult<()> {
        self.listeners()?.remove(listener)
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let core = slf.get();
        Ok(format!(
            "<{} {:?} {}>",
            slf.get_type().name()?,
            core.engine.name(),
            core.engine.state().as_str()
        ))
    }
}
