//! The gate every call passes: a breaker's engine with its classification. Permits and
//! guarded functions hold it, so they need nothing of the Python class above them.

use crate::engine::{Engine, Slot};
use crate::vocab;
use failgate::Outcome;
use pyo3::exceptions::{PyException, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple, PyType};

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
        match answer.and_then(|a| vocab::outcome("classify", &a)) {
            Ok(outcome) => outcome,
            Err(e) => {
                vocab::log_error(py, "failgate: classify raised; counting a failure", &e);
                Outcome::Failure
            }
        }
    }
}

/// A breaker's engine, how its calls' ends count, and its name as a Python str (made
/// once: every rejection carries it).
pub(crate) struct Gate {
    pub(crate) engine: Engine,
    pub(crate) classification: Classification,
    pub(crate) name: Py<PyString>,
}

impl Gate {
    pub(crate) fn new(py: Python<'_>, engine: Engine, classification: Classification) -> Self {
        let name = PyString::new(py, engine.name()).unbind();
        Gate {
            engine,
            classification,
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
}
