//! Listeners: Python callables told of each change of state, through the breaker's
//! observer hook. A local breaker's hook runs on the thread whose call caused the
//! change, inside the transition; a fleet breaker's also on its sync task's thread,
//! for a transition made in Redis. A listener that raises is logged and never reaches
//! the call.

use crate::values::StateChange;
use crate::vocab;
use failgate::{Event, EventKind};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use std::sync::{Arc, PoisonError, RwLock};

#[derive(Default)]
pub(crate) struct Listeners {
    list: RwLock<Vec<Py<PyAny>>>,
}

impl Listeners {
    /// The listeners of a constructor's `listeners` argument (`None`: none yet).
    pub(crate) fn given(given: Option<&Bound<'_, PyAny>>) -> PyResult<Arc<Listeners>> {
        let listeners = Arc::new(Listeners::default());
        if let Some(given) = given.filter(|g| !g.is_none()) {
            let iter = given
                .try_iter()
                .map_err(|_| PyTypeError::new_err("listeners: expected a list of callables"))?;
            for l in iter {
                listeners.add("listeners", &l?)?;
            }
        }
        Ok(listeners)
    }

    /// Adds `listener`; `arg` names where it came from in an error.
    pub(crate) fn add(&self, arg: &str, listener: &Bound<'_, PyAny>) -> PyResult<()> {
        if !listener.is_callable() {
            return Err(PyTypeError::new_err(format!(
                "{arg}: expected a callable, got {}",
                listener.get_type().name()?
            )));
        }
        let mut list = self.list.write().unwrap_or_else(PoisonError::into_inner);
        list.push(listener.clone().unbind());
        Ok(())
    }

    pub(crate) fn remove(&self, listener: &Bound<'_, PyAny>) -> PyResult<()> {
        let mut list = self.list.write().unwrap_or_else(PoisonError::into_inner);
        let mut found = None;
        for (i, l) in list.iter().enumerate() {
            if l.bind(listener.py()).eq(listener)? {
                found = Some(i);
                break;
            }
        }
        match found {
            Some(i) => {
                list.remove(i);
                Ok(())
            }
            None => Err(pyo3::exceptions::PyValueError::new_err(
                "remove_listener: that listener was not added",
            )),
        }
    }

    /// The observer to give the core's builder.
    pub(crate) fn observer(self: &Arc<Self>) -> impl Fn(&Event<'_>) + Send + Sync + 'static {
        let me = Arc::clone(self);
        move |event: &Event<'_>| {
            if let EventKind::StateChange {
                from,
                to,
                reason,
                generation,
                wait,
            } = event.kind
            {
                // Cheap when nobody listens: no GIL taken for an empty list.
                if me.list.read().map_or(true, |l| l.is_empty()) {
                    return;
                }
                // `try_attach`: a fleet breaker's sync task may see a change while the
                // interpreter is shutting down, when no Python code may run.
                Python::try_attach(|py| {
                    let change = || -> PyResult<Py<StateChange>> {
                        Py::new(
                            py,
                            StateChange {
                                name: event.name.to_owned(),
                                old: vocab::state(py, from)?,
                                new: vocab::state(py, to)?,
                                reason: reason.as_str(),
                                generation,
                                wait: wait.map(|w| w.as_secs_f64()),
                            },
                        )
                    };
                    me.tell(py, change);
                });
            }
        }
    }

    fn tell(&self, py: Python<'_>, change: impl FnOnce() -> PyResult<Py<StateChange>>) {
        // A copy, so a listener may add or remove listeners without a deadlock.
        let list: Vec<Py<PyAny>> = {
            let list = self.list.read().unwrap_or_else(PoisonError::into_inner);
            list.iter().map(|l| l.clone_ref(py)).collect()
        };
        let change = match change() {
            Ok(c) => c,
            Err(e) => return vocab::log_error(py, "failgate: could not report a change", &e),
        };
        for listener in list {
            if let Err(e) = listener.bind(py).call1((change.bind(py),)) {
                vocab::log_error(py, "failgate: a listener raised (ignored)", &e);
            }
        }
    }
}
