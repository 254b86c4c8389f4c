//! Small value classes: windows, backoffs, the manual clock, and what breakers report.

use crate::args;
use failgate::{Backoff, Snapshot, Window};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::time::Duration;

/// `CountWindow(calls)`: rates over the last `calls` outcomes.
#[pyclass(frozen, module = "failgate")]
pub(crate) struct CountWindow {
    #[pyo3(get)]
    calls: u32,
}

#[pymethods]
impl CountWindow {
    #[new]
    fn new(calls: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(CountWindow {
            calls: args::count32("calls", calls)?,
        })
    }

    fn __repr__(&self) -> String {
        format!("CountWindow({})", self.calls)
    }
}

/// `TimeWindow(span, buckets=None)`: rates over the outcomes of the last `span`.
#[pyclass(frozen, module = "failgate")]
pub(crate) struct TimeWindow {
    span: Duration,
    #[pyo3(get)]
    buckets: Option<u32>,
}

#[pymethods]
impl TimeWindow {
    #[new]
    #[pyo3(signature = (span, buckets = None))]
    fn new(span: &Bound<'_, PyAny>, buckets: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        Ok(TimeWindow {
            span: args::duration("span", span)?,
            buckets: buckets
                .filter(|b| !b.is_none())
                .map(|b| args::count32("buckets", b))
                .transpose()?,
        })
    }

    #[getter]
    fn span(&self) -> f64 {
        self.span.as_secs_f64()
    }

    fn __repr__(&self) -> String {
        match self.buckets {
            Some(b) => format!("TimeWindow({:?}, buckets={b})", self.span),
            None => format!("TimeWindow({:?})", self.span),
        }
    }
}

/// The core's window for a `window=` argument.
pub(crate) fn window(value: &Bound<'_, PyAny>) -> PyResult<Window> {
    if let Ok(w) = value.cast::<CountWindow>() {
        return Ok(Window::count(w.get().calls));
    }
    if let Ok(w) = value.cast::<TimeWindow>() {
        let w = w.get();
        let window = Window::time(w.span);
        return Ok(match w.buckets {
            Some(b) => window.buckets(b),
            None => window,
        });
    }
    Err(pyo3::exceptions::PyTypeError::new_err(format!(
        "window: expected failgate.CountWindow or failgate.TimeWindow, got {}",
        value.get_type().name()?
    )))
}

/// `Constant(wait)`: the same open wait after every trip.
#[pyclass(frozen, module = "failgate")]
pub(crate) struct Constant {
    pub(crate) backoff: Backoff,
}

#[pymethods]
impl Constant {
    #[new]
    fn new(wait: &Bound<'_, PyAny>) -> PyResult<Self> {
        let backoff = Backoff::constant(args::duration("wait", wait)?);
        Ok(Constant {
            backoff: checked(backoff, "Constant")?,
        })
    }
}

/// `Exponential(base, max, jitter=0.0)`: the open wait doubles per trip in a row.
#[pyclass(frozen, module = "failgate")]
pub(crate) struct Exponential {
    pub(crate) backoff: Backoff,
}

#[pymethods]
impl Exponential {
    #[new]
    #[pyo3(signature = (base, max, jitter = None))]
    fn new(
        base: &Bound<'_, PyAny>,
        max: &Bound<'_, PyAny>,
        jitter: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let jitter = jitter.map(|j| args::number("jitter", j)).transpose()?;
        let backoff =
            Backoff::exponential(args::duration("base", base)?, args::duration("max", max)?)
                .with_jitter(jitter.unwrap_or(0.0));
        Ok(Exponential {
            backoff: checked(backoff, "Exponential")?,
        })
    }
}

/// `backoff` if the core takes it, checked by the core's own rule (a breaker built with
/// it): the error names the argument of `class` that was wrong, not the builder field.
fn checked(backoff: Backoff, class: &str) -> PyResult<Backoff> {
    let Err(e) = failgate::CircuitBreaker::builder().backoff(backoff).build() else {
        return Ok(backoff);
    };
    let arg = match e.field() {
        "open_for" => "wait",
        field => field.strip_prefix("backoff.").unwrap_or(field),
    };
    Err(pyo3::exceptions::PyValueError::new_err(format!(
        "{class}: {arg} {} {}",
        e.value(),
        e.problem()
    )))
}

/// The core's backoff for a `backoff=` argument.
pub(crate) fn backoff(value: &Bound<'_, PyAny>) -> PyResult<Backoff> {
    if let Ok(b) = value.cast::<Constant>() {
        return Ok(b.get().backoff);
    }
    if let Ok(b) = value.cast::<Exponential>() {
        return Ok(b.get().backoff);
    }
    Err(pyo3::exceptions::PyTypeError::new_err(format!(
        "backoff: expected failgate.Constant or failgate.Exponential, got {}",
        value.get_type().name()?
    )))
}

/// `ManualClock(start=0)`: time that moves only when told to, for tests. Breakers given
/// one measure open waits, windows and slow calls on it.
#[pyclass(frozen, module = "failgate")]
pub(crate) struct ManualClock {
    pub(crate) clock: failgate::ManualClock,
}

#[pymethods]
impl ManualClock {
    #[new]
    #[pyo3(signature = (start = None))]
    fn new(start: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let clock = failgate::ManualClock::new();
        if let Some(start) = args::opt_duration("start", start)? {
            clock.set(start);
        }
        Ok(ManualClock { clock })
    }

    /// Moves time forward by `by`.
    fn advance(&self, by: &Bound<'_, PyAny>) -> PyResult<()> {
        self.clock.advance(args::duration("by", by)?);
        Ok(())
    }

    /// Sets the time to `to`, unless that is earlier than now (time never goes back).
    fn set(&self, to: &Bound<'_, PyAny>) -> PyResult<()> {
        self.clock.set(args::duration("to", to)?);
        Ok(())
    }

    /// Seconds since the clock's origin.
    fn now(&self) -> f64 {
        self.clock.now().as_secs_f64()
    }

    fn __repr__(&self) -> String {
        format!("ManualClock(now={:?})", self.clock.now())
    }
}

/// The counts a breaker keeps since it was built (`totals=True`).
#[pyclass(frozen, module = "failgate", get_all)]
pub(crate) struct Totals {
    successes: u64,
    failures: u64,
    ignored: u64,
    slow_successes: u64,
    slow_failures: u64,
    abandoned: u64,
    refused: u64,
    calls: u64,
}

#[pymethods]
impl Totals {
    fn __repr__(&self) -> String {
        format!(
            "Totals(calls={}, successes={}, failures={}, ignored={}, abandoned={}, refused={})",
            self.calls, self.successes, self.failures, self.ignored, self.abandoned, self.refused
        )
    }
}

/// A breaker's counts and state at one moment (`breaker.metrics()`).
#[pyclass(frozen, module = "failgate", get_all)]
pub(crate) struct Metrics {
    name: String,
    state: Py<PyAny>,
    generation: u64,
    consecutive_failures: u32,
    calls: u64,
    successes: u64,
    failures: u64,
    slow_calls: u64,
    failure_rate: Option<f64>,
    slow_call_rate: Option<f64>,
    half_open_probes: u32,
    half_open_successes: u32,
    retry_after: Option<f64>,
    time_in_state: f64,
    totals: Option<Py<Totals>>,
}

impl Metrics {
    pub(crate) fn from_snapshot(py: Python<'_>, s: &Snapshot) -> PyResult<Self> {
        let totals = match &s.totals {
            Some(t) => Some(Py::new(
                py,
                Totals {
                    successes: t.successes,
                    failures: t.failures,
                    ignored: t.ignored,
                    slow_successes: t.slow_successes,
                    slow_failures: t.slow_failures,
                    abandoned: t.abandoned,
                    refused: t.refused,
                    calls: t.calls(),
                },
            )?),
            None => None,
        };
        Ok(Metrics {
            name: s.name.to_string(),
            state: crate::vocab::state(py, s.state)?,
            generation: s.generation,
            consecutive_failures: s.consecutive_failures,
            calls: s.calls,
            successes: s.successes,
            failures: s.failures,
            slow_calls: s.slow_calls,
            failure_rate: s.failure_rate,
            slow_call_rate: s.slow_call_rate,
            half_open_probes: s.half_open_probes,
            half_open_successes: s.half_open_successes,
            retry_after: s.retry_after.map(|d| d.as_secs_f64()),
            time_in_state: s.time_in_state.as_secs_f64(),
            totals,
        })
    }
}

#[pymethods]
impl Metrics {
    /// The fields as a dict (`totals` as a dict too, or None).
    fn as_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("name", &self.name)?;
        d.set_item("state", self.state.bind(py))?;
        d.set_item("generation", self.generation)?;
        d.set_item("consecutive_failures", self.consecutive_failures)?;
        d.set_item("calls", self.calls)?;
        d.set_item("successes", self.successes)?;
        d.set_item("failures", self.failures)?;
        d.set_item("slow_calls", self.slow_calls)?;
        d.set_item("failure_rate", self.failure_rate)?;
        d.set_item("slow_call_rate", self.slow_call_rate)?;
        d.set_item("half_open_probes", self.half_open_probes)?;
        d.set_item("half_open_successes", self.half_open_successes)?;
        d.set_item("retry_after", self.retry_after)?;
        d.set_item("time_in_state", self.time_in_state)?;
        match &self.totals {
            Some(t) => {
                let t = t.get();
                let td = PyDict::new(py);
                for (k, v) in [
                    ("calls", t.calls),
                    ("successes", t.successes),
                    ("failures", t.failures),
                    ("ignored", t.ignored),
                    ("slow_successes", t.slow_successes),
                    ("slow_failures", t.slow_failures),
                    ("abandoned", t.abandoned),
                    ("refused", t.refused),
                ] {
                    td.set_item(k, v)?;
                }
                d.set_item("totals", td)?;
            }
            None => d.set_item("totals", py.None())?,
        }
        Ok(d)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Metrics(name={:?}, state={}, calls={}, failures={}, consecutive_failures={})",
            self.name,
            self.state.bind(py).str()?,
            self.calls,
            self.failures,
            self.consecutive_failures
        ))
    }
}

/// What a listener receives: one change of state, and why.
#[pyclass(frozen, module = "failgate", get_all)]
pub(crate) struct StateChange {
    pub(crate) name: String,
    pub(crate) old: Py<PyAny>,
    pub(crate) new: Py<PyAny>,
    pub(crate) reason: &'static str,
    pub(crate) generation: u64,
    pub(crate) wait: Option<f64>,
}

#[pymethods]
impl StateChange {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "StateChange(name={:?}, old={}, new={}, reason={:?}, generation={})",
            self.name,
            self.old.bind(py).str()?,
            self.new.bind(py).str()?,
            self.reason,
            self.generation
        ))
    }
}
