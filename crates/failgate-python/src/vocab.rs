//! The Python-defined vocabulary (`failgate._types`): registered once at import, so the
//! native code can return `State` members and raise `CircuitOpenError` cheaply.

use failgate::{Outcome, Rejected, State};
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyString, PyType};

struct Vocabulary {
    error: Py<PyType>,
    /// Indexed by `State::code`.
    states: Vec<Py<PyAny>>,
    /// SUCCESS, FAILURE, IGNORE.
    outcomes: [Py<PyAny>; 3],
}

static VOCABULARY: PyOnceLock<Vocabulary> = PyOnceLock::new();

/// `_register(CircuitOpenError, State, Outcome)`: called by `failgate/__init__.py`.
#[pyfunction]
pub(crate) fn _register(
    error: Bound<'_, PyType>,
    state: Bound<'_, PyType>,
    outcome: Bound<'_, PyType>,
) -> PyResult<()> {
    let py = error.py();
    let names = [
        "CLOSED",
        "OPEN",
        "HALF_OPEN",
        "FORCED_OPEN",
        "DISABLED",
        "COUNT_ONLY",
    ];
    let states = names
        .iter()
        .map(|n| state.getattr(*n).map(Bound::unbind))
        .collect::<PyResult<Vec<_>>>()?;
    let outcomes = [
        outcome.getattr("SUCCESS")?.unbind(),
        outcome.getattr("FAILURE")?.unbind(),
        outcome.getattr("IGNORE")?.unbind(),
    ];
    let vocabulary = Vocabulary {
        error: error.unbind(),
        states,
        outcomes,
    };
    // A second registration (a reloaded package) keeps the first: both define the same.
    let _ = VOCABULARY.set(py, vocabulary);
    Ok(())
}

fn vocabulary(py: Python<'_>) -> PyResult<&Vocabulary> {
    VOCABULARY
        .get(py)
        .ok_or_else(|| PyRuntimeError::new_err("import failgate, not failgate._failgate"))
}

/// The `failgate.State` member for `state`.
pub(crate) fn state(py: Python<'_>, state: State) -> PyResult<Py<PyAny>> {
    Ok(vocabulary(py)?.states[usize::from(state.code())].clone_ref(py))
}

/// The `CircuitOpenError` for a rejection by the breaker `name`.
pub(crate) fn rejection(py: Python<'_>, name: &Py<PyString>, rejected: &Rejected) -> PyErr {
    let v = match vocabulary(py) {
        Ok(v) => v,
        Err(e) => return e,
    };
    let state = v.states[usize::from(rejected.state().code())].clone_ref(py);
    let retry_after = rejected.retry_after().map(|d| d.as_secs_f64());
    // Made here rather than lazily: the error is raised at once anyway, and a lazy
    // PyErr boxes its arguments.
    match v
        .error
        .bind(py)
        .call1((name.clone_ref(py), state, retry_after))
    {
        Ok(error) => PyErr::from_value(error),
        Err(e) => e,
    }
}

/// A `failgate.Outcome` member as the core's outcome.
/// `value` as an outcome; `what` names who gave it in an error.
pub(crate) fn outcome(what: &str, value: &Bound<'_, PyAny>) -> PyResult<Outcome> {
    let v = vocabulary(value.py())?;
    let found = [Outcome::Success, Outcome::Failure, Outcome::Ignore]
        .into_iter()
        .zip(&v.outcomes)
        .find(|(_, member)| value.is(member.bind(value.py())));
    match found {
        Some((o, _)) => Ok(o),
        None => Err(PyTypeError::new_err(format!(
            "{what}: expected a failgate.Outcome, got {}",
            value.repr()?
        ))),
    }
}

/// Logs `message` with `error`'s traceback on the `failgate` logger: a listener or a
/// classifier that raises must not break the call it was called from.
pub(crate) fn log_error(py: Python<'_>, message: &str, error: &PyErr) {
    static LOGGER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let logged = LOGGER
        .get_or_try_init(py, || -> PyResult<Py<PyAny>> {
            Ok(py
                .import("logging")?
                .call_method1("getLogger", ("failgate",))?
                .unbind())
        })
        .and_then(|logger| {
            let kwargs = pyo3::types::PyDict::new(py);
            kwargs.set_item("exc_info", error.value(py))?;
            logger
                .bind(py)
                .call_method("error", ("%s", message), Some(&kwargs))
                .map(drop)
        });
    if let Err(e) = logged {
        // Logging itself failed (a broken handler): as Python does for __del__ errors.
        e.write_unraisable(py, None);
    }
}
