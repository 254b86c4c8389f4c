//! `_Local`: the in-process breaker's constructor, every policy as a keyword.

use crate::args;
use crate::core::Core;
use crate::engine::Engine;
use crate::gate::Classification;
use crate::listeners::Listeners;
use crate::values::{self, ManualClock};
use pyo3::prelude::*;
use pyo3::types::PyString;

type Arg<'a, 'py> = Option<&'a Bound<'py, PyAny>>;

/// The native half of `failgate.CircuitBreaker`.
#[pyclass(frozen, subclass, extends = Core, module = "failgate._failgate", name = "_Local")]
pub(crate) struct Local;

/// The policy keywords both breakers take, applied to the local builder.
fn policy(mut b: failgate::Builder, kw: &PolicyArgs<'_, '_>) -> PyResult<failgate::Builder> {
    if let Some(v) = kw.consecutive_failures {
        b = b.consecutive_failures(args::count32("consecutive_failures", v)?);
    }
    if let Some(v) = kw.failure_rate {
        b = b.failure_rate(args::number("failure_rate", v)?);
    }
    if let Some(v) = kw.window {
        b = b.window(values::window(v)?);
    }
    if let Some(v) = kw.minimum_calls {
        b = b.minimum_calls(args::count("minimum_calls", v, u64::MAX)?);
    }
    if let Some(v) = kw.slow_calls {
        let (threshold, rate): (Bound<'_, PyAny>, Bound<'_, PyAny>) =
            v.extract().map_err(|_| {
                pyo3::exceptions::PyTypeError::new_err(
                    "slow_calls: expected a (threshold, rate) tuple such as (\"2s\", 0.8)",
                )
            })?;
        b = b.slow_calls(
            args::duration("slow_calls threshold", &threshold)?,
            args::number("slow_calls rate", &rate)?,
        );
    }
    if kw.open_for.is_some() && kw.backoff.is_some() {
        // The core takes the last of the two; in one call neither is "last".
        return Err(pyo3::exceptions::PyValueError::new_err(
            "open_for and backoff: give one of them (open_for=d is backoff=Constant(d))",
        ));
    }
    if let Some(v) = kw.open_for {
        b = b.open_for(args::duration("open_for", v)?);
    }
    if let Some(v) = kw.backoff {
        b = b.backoff(values::backoff(v)?);
    }
    if let Some(v) = kw.half_open_permits {
        b = b.half_open_permits(args::count32("half_open_permits", v)?);
    }
    if let Some(v) = kw.half_open_timeout {
        b = b.half_open_timeout(args::duration("half_open_timeout", v)?);
    }
    if let Some(v) = kw.half_open_failure_rate {
        b = b.half_open_failure_rate(args::number("half_open_failure_rate", v)?);
    }
    if let Some(v) = kw.forget_failures_after {
        b = b.forget_failures_after(args::duration("forget_failures_after", v)?);
    }
    if let Some(v) = kw.initial_state {
        b = b.initial_state(args::state("initial_state", v)?);
    }
    if let Some(v) = kw.honor_retry_after {
        b = b.honor_retry_after(args::flag("honor_retry_after", v)?);
    }
    if let Some(v) = kw.max_retry_after {
        b = b.max_retry_after(args::duration("max_retry_after", v)?);
    }
    if let Some(v) = kw.clock {
        b = b.clock(clock(v)?);
    }
    if let Some(v) = kw.totals {
        b = b.totals(args::flag("totals", v)?);
    }
    Ok(b)
}

/// The `clock=` argument.
pub(crate) fn clock(v: &Bound<'_, PyAny>) -> PyResult<failgate::ManualClock> {
    v.cast::<ManualClock>()
        .map(|c| c.get().clock.clone())
        .map_err(|_| {
            pyo3::exceptions::PyTypeError::new_err("clock: expected a failgate.ManualClock")
        })
}

struct PolicyArgs<'a, 'py> {
    consecutive_failures: Arg<'a, 'py>,
    failure_rate: Arg<'a, 'py>,
    window: Arg<'a, 'py>,
    minimum_calls: Arg<'a, 'py>,
    slow_calls: Arg<'a, 'py>,
    open_for: Arg<'a, 'py>,
    backoff: Arg<'a, 'py>,
    half_open_permits: Arg<'a, 'py>,
    half_open_timeout: Arg<'a, 'py>,
    half_open_failure_rate: Arg<'a, 'py>,
    forget_failures_after: Arg<'a, 'py>,
    initial_state: Arg<'a, 'py>,
    honor_retry_after: Arg<'a, 'py>,
    max_retry_after: Arg<'a, 'py>,
    clock: Arg<'a, 'py>,
    totals: Arg<'a, 'py>,
}

fn present<'a, 'py>(v: Arg<'a, 'py>) -> Arg<'a, 'py> {
    v.filter(|v| !v.is_none())
}

#[pymethods]
impl Local {
    #[new]
    #[pyo3(signature = (
        name = None, *, consecutive_failures = None, failure_rate = None, window = None,
        minimum_calls = None, slow_calls = None, open_for = None, backoff = None,
        half_open_permits = None, half_open_timeout = None, half_open_failure_rate = None,
        forget_failures_after = None, initial_state = None, honor_retry_after = None,
        max_retry_after = None, exclude = None, classify = None, listeners = None,
        clock = None, totals = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new<'py>(
        py: Python<'py>,
        name: Arg<'_, 'py>,
        consecutive_failures: Arg<'_, 'py>,
        failure_rate: Arg<'_, 'py>,
        window: Arg<'_, 'py>,
        minimum_calls: Arg<'_, 'py>,
        slow_calls: Arg<'_, 'py>,
        open_for: Arg<'_, 'py>,
        backoff: Arg<'_, 'py>,
        half_open_permits: Arg<'_, 'py>,
        half_open_timeout: Arg<'_, 'py>,
        half_open_failure_rate: Arg<'_, 'py>,
        forget_failures_after: Arg<'_, 'py>,
        initial_state: Arg<'_, 'py>,
        honor_retry_after: Arg<'_, 'py>,
        max_retry_after: Arg<'_, 'py>,
        exclude: Arg<'_, 'py>,
        classify: Arg<'_, 'py>,
        listeners: Arg<'_, 'py>,
        clock: Arg<'_, 'py>,
        totals: Arg<'_, 'py>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let kw = PolicyArgs {
            consecutive_failures: present(consecutive_failures),
            failure_rate: present(failure_rate),
            window: present(window),
            minimum_calls: present(minimum_calls),
            slow_calls: present(slow_calls),
            open_for: present(open_for),
            backoff: present(backoff),
            half_open_permits: present(half_open_permits),
            half_open_timeout: present(half_open_timeout),
            half_open_failure_rate: present(half_open_failure_rate),
            forget_failures_after: present(forget_failures_after),
            initial_state: present(initial_state),
            honor_retry_after: present(honor_retry_after),
            max_retry_after: present(max_retry_after),
            clock: present(clock),
            totals: present(totals),
        };
        let mut builder = failgate::CircuitBreaker::builder();
        if let Some(name) = present(name) {
            let name = name
                .cast::<PyString>()
                .map_err(|_| pyo3::exceptions::PyTypeError::new_err("name: expected a str"))?;
            builder = builder.name(name.to_str()?);
        }
        builder = policy(builder, &kw)?;
        let listeners_list = Listeners::given(listeners)?;
        builder = builder.observer(listeners_list.observer());
        let none = py.None().into_bound(py);
        let empty = pyo3::types::PyTuple::empty(py).into_any();
        let classification = Classification::new(
            present(exclude).unwrap_or(&empty),
            present(classify).or(Some(&none)),
        )?;
        let breaker = builder.build().map_err(args::config_error)?;
        let core = Core::new(py, Engine::Local(breaker), classification, listeners_list);
        Ok(PyClassInitializer::from(core).add_subclass(Local))
    }
}
