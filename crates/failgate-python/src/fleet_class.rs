//! `_Fleet`: the fleet-wide breaker's constructor, and what only it reports.

use crate::core::Core;
use crate::engine::Engine;
use crate::fleet::Fleet;
use crate::gate::Classification;
use crate::listeners::Listeners;
use crate::{args, values};
use failgate_redis::{FleetBreaker, FleetBuilder, Mode};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

type Arg<'a, 'py> = Option<&'a Bound<'py, PyAny>>;

/// The native half of `failgate.FleetBreaker`.
#[pyclass(frozen, subclass, extends = Core, module = "failgate._failgate", name = "_Fleet")]
pub(crate) struct FleetClass;

fn text(arg: &str, v: &Bound<'_, PyAny>) -> PyResult<String> {
    v.cast::<PyString>()
        .map_err(|_| pyo3::exceptions::PyTypeError::new_err(format!("{arg}: expected a str")))?
        .to_str()
        .map(str::to_owned)
}

fn duration_settings(
    mut b: FleetBuilder,
    given: [(&str, Arg<'_, '_>); 7],
) -> PyResult<FleetBuilder> {
    for (arg, v) in given {
        let Some(v) = v.filter(|v| !v.is_none()) else {
            continue;
        };
        let d = args::duration(arg, v)?;
        b = match arg {
            "open_for" => b.open_for(d),
            "half_open_timeout" => b.half_open_timeout(d),
            "flush_interval" => b.flush_interval(d),
            "idle_poll" => b.idle_poll(d),
            "redis_timeout" => b.redis_timeout(d),
            "key_ttl" => b.key_ttl(d),
            _ => b.max_retry_after(d),
        };
    }
    Ok(b)
}

fn some<'a, 'py>(v: Arg<'a, 'py>) -> Arg<'a, 'py> {
    v.filter(|v| !v.is_none())
}

#[pymethods]
impl FleetClass {
    #[new]
    #[pyo3(signature = (
        name, *, redis, namespace = None, username = None, password = None,
        failure_rate = None, window = None, minimum_calls = None, open_for = None,
        half_open_permits = None, half_open_timeout = None, half_open_failure_rate = None,
        flush_interval = None, idle_poll = None, redis_timeout = None, key_ttl = None,
        initial_state = None, honor_retry_after = None, max_retry_after = None,
        exclude = None, classify = None, listeners = None, clock = None, totals = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new<'py>(
        py: Python<'py>,
        name: &Bound<'py, PyAny>,
        redis: &Bound<'py, PyAny>,
        namespace: Arg<'_, 'py>,
        username: Arg<'_, 'py>,
        password: Arg<'_, 'py>,
        failure_rate: Arg<'_, 'py>,
        window: Arg<'_, 'py>,
        minimum_calls: Arg<'_, 'py>,
        open_for: Arg<'_, 'py>,
        half_open_permits: Arg<'_, 'py>,
        half_open_timeout: Arg<'_, 'py>,
        half_open_failure_rate: Arg<'_, 'py>,
        flush_interval: Arg<'_, 'py>,
        idle_poll: Arg<'_, 'py>,
        redis_timeout: Arg<'_, 'py>,
        key_ttl: Arg<'_, 'py>,
        initial_state: Arg<'_, 'py>,
        honor_retry_after: Arg<'_, 'py>,
        max_retry_after: Arg<'_, 'py>,
        exclude: Arg<'_, 'py>,
        classify: Arg<'_, 'py>,
        listeners: Arg<'_, 'py>,
        clock: Arg<'_, 'py>,
        totals: Arg<'_, 'py>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let mut b = FleetBreaker::builder(&text("name", name)?).redis(text("redis", redis)?);
        if let Some(v) = some(namespace) {
            b = b.namespace(text("namespace", v)?);
        }
        if let Some(v) = some(username) {
            b = b.username(text("username", v)?);
        }
        if let Some(v) = some(password) {
            b = b.password(text("password", v)?);
        }
        if let Some(v) = some(failure_rate) {
            b = b.failure_rate(args::number("failure_rate", v)?);
        }
        if let Some(v) = some(window) {
            b = b.window(values::window(v)?);
        }
        if let Some(v) = some(minimum_calls) {
            b = b.minimum_calls(args::count("minimum_calls", v, u64::MAX)?);
        }
        if let Some(v) = some(half_open_permits) {
            b = b.half_open_permits(args::count32("half_open_permits", v)?);
        }
        if let Some(v) = some(half_open_failure_rate) {
            b = b.half_open_failure_rate(args::number("half_open_failure_rate", v)?);
        }
        b = duration_settings(
            b,
            [
                ("open_for", open_for),
                ("half_open_timeout", half_open_timeout),
                ("flush_interval", flush_interval),
                ("idle_poll", idle_poll),
                ("redis_timeout", redis_timeout),
                ("key_ttl", key_ttl),
                ("max_retry_after", max_retry_after),
            ],
        )?;
        if let Some(v) = some(initial_state) {
            b = b.initial_state(args::state("initial_state", v)?);
        }
        if let Some(v) = some(honor_retry_after) {
            b = b.honor_retry_after(args::flag("honor_retry_after", v)?);
        }
        if let Some(v) = some(clock) {
            b = b.clock(crate::local::clock(v)?);
        }
        if let Some(v) = some(totals) {
            b = b.totals(args::flag("totals", v)?);
        }
        let none = py.None().into_bound(py);
        let empty = pyo3::types::PyTuple::empty(py).into_any();
        let classification = Classification::new(
            some(exclude).unwrap_or(&empty),
            some(classify).or(Some(&none)),
        )?;
        let listeners = Listeners::given(listeners)?;
        // Kept in the template: a breaker rebuilt after a fork tells the same list.
        b = b.observer(listeners.observer());
        let fleet = Fleet::build(b).map_err(args::config_error)?;
        let core = Core::new(
            py,
            Engine::Fleet(Box::new(fleet)),
            classification,
            listeners,
        );
        Ok(PyClassInitializer::from(core).add_subclass(FleetClass))
    }

    /// The namespace the breaker's keys live under in Redis.
    #[getter]
    fn namespace(slf: PyRef<'_, Self>) -> String {
        fleet(&slf).namespace().to_owned()
    }

    /// "shared" while Redis answers, "local" while this process decides alone.
    #[getter]
    fn mode(slf: PyRef<'_, Self>) -> &'static str {
        match fleet(&slf).current().mode() {
            Mode::Shared => "shared",
            _ => "local",
        }
    }

    /// The mirror of the shared state and the sync task's counters, as a dict.
    fn status<'py>(slf: PyRef<'_, Self>, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = fleet(&slf).current().status();
        let d = PyDict::new(py);
        d.set_item(
            "mode",
            if s.mode == Mode::Shared {
                "shared"
            } else {
                "local"
            },
        )?;
        d.set_item("state", crate::vocab::state(py, s.state)?)?;
        d.set_item("generation", s.generation)?;
        d.set_item("shared_calls", s.shared_calls)?;
        d.set_item("shared_failures", s.shared_failures)?;
        d.set_item("round_trips", s.round_trips)?;
        d.set_item("sync_errors", s.sync_errors)?;
        d.set_item("discarded", s.discarded)?;
        d.set_item("announcements", s.announcements)?;
        d.set_item("last_error", s.last_error)?;
        d.set_item("lost_state", s.lost_state)?;
        Ok(d)
    }
}

fn fleet<'a>(slf: &'a PyRef<'_, FleetClass>) -> &'a Fleet {
    match &slf.as_super().gate.engine {
        Engine::Fleet(f) => f,
        Engine::Local(_) => unreachable!("a _Fleet is always built with a fleet engine"),
    }
}
