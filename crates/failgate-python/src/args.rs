//! Python arguments into the core's types, refusing bad ones with a `ValueError` or
//! `TypeError` that names the argument (the core's own `ConfigError`s name the setting).

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyFloat, PyInt, PyString, PyType};
use std::time::Duration;

const DURATION_FORMS: &str = "seconds (an int or float), a datetime.timedelta, \
                              or a string such as '1m 30s' or '250ms'";

fn timedelta_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    static TIMEDELTA: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    TIMEDELTA.import(py, "datetime", "timedelta")
}

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |n| n.to_string())
}

/// A duration: seconds, a `timedelta` or a humantime string. Never negative.
pub(crate) fn duration(arg: &str, value: &Bound<'_, PyAny>) -> PyResult<Duration> {
    let py = value.py();
    if value.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err(format!(
            "{arg}: expected {DURATION_FORMS}, got a bool"
        )));
    }
    if value.is_instance_of::<PyInt>() || value.is_instance_of::<PyFloat>() {
        let secs: f64 = value.extract()?;
        return seconds(arg, secs);
    }
    if value.is_instance(timedelta_type(py)?)? {
        let days: i64 = value.getattr("days")?.extract()?;
        let secs: i64 = value.getattr("seconds")?.extract()?;
        let micros: i64 = value.getattr("microseconds")?.extract()?;
        if days < 0 {
            return Err(PyValueError::new_err(format!(
                "{arg}: a duration must not be negative, got {}",
                value.repr()?
            )));
        }
        let whole = (days as u64) * 86_400 + secs as u64;
        return Ok(Duration::new(whole, (micros as u32) * 1_000));
    }
    if let Ok(text) = value.cast::<PyString>() {
        let text = text.to_str()?;
        return humantime::parse_duration(text.trim()).map_err(|e| {
            PyValueError::new_err(format!(
                "{arg}: {text:?} is not a duration ({e}); expected {DURATION_FORMS}"
            ))
        });
    }
    Err(PyTypeError::new_err(format!(
        "{arg}: expected {DURATION_FORMS}, got {}",
        type_name(value)
    )))
}

fn seconds(arg: &str, secs: f64) -> PyResult<Duration> {
    if secs.is_nan() || secs < 0.0 {
        return Err(PyValueError::new_err(format!(
            "{arg}: a duration must be a non-negative number of seconds, got {secs}"
        )));
    }
    Duration::try_from_secs_f64(secs)
        .map_err(|_| PyValueError::new_err(format!("{arg}: {secs} seconds is too long a duration")))
}

/// An optional duration argument (`None` when not given).
pub(crate) fn opt_duration(
    arg: &str,
    value: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<Duration>> {
    value
        .filter(|v| !v.is_none())
        .map(|v| duration(arg, v))
        .transpose()
}

/// A whole number in `0..=max` (the core checks the real lower bound, naming the
/// setting); bools are refused, though Python counts them as ints.
pub(crate) fn count(arg: &str, value: &Bound<'_, PyAny>, max: u64) -> PyResult<u64> {
    if value.is_instance_of::<PyBool>() || !value.is_instance_of::<PyInt>() {
        return Err(PyTypeError::new_err(format!(
            "{arg}: expected an int, got {}",
            type_name(value)
        )));
    }
    let n: i128 = value.extract().map_err(|_| {
        PyValueError::new_err(format!(
            "{arg}: {} is out of range",
            value.repr().map_or_else(|_| "?".into(), |r| r.to_string())
        ))
    })?;
    if n < 0 {
        return Err(PyValueError::new_err(format!(
            "{arg}: must not be negative, got {n}"
        )));
    }
    if n > i128::from(max) {
        return Err(PyValueError::new_err(format!(
            "{arg}: must be at most {max}, got {n}"
        )));
    }
    Ok(n as u64)
}

/// A `u32` count (see [`count`]).
pub(crate) fn count32(arg: &str, value: &Bound<'_, PyAny>) -> PyResult<u32> {
    count(arg, value, u64::from(u32::MAX)).map(|n| n as u32)
}

/// A real number; the core checks its range and names the setting.
pub(crate) fn number(arg: &str, value: &Bound<'_, PyAny>) -> PyResult<f64> {
    if value.is_instance_of::<PyBool>()
        || !(value.is_instance_of::<PyInt>() || value.is_instance_of::<PyFloat>())
    {
        return Err(PyTypeError::new_err(format!(
            "{arg}: expected a number, got {}",
            type_name(value)
        )));
    }
    let x: f64 = value.extract()?;
    if x.is_nan() {
        return Err(PyValueError::new_err(format!(
            "{arg}: must be a number, got nan"
        )));
    }
    Ok(x)
}

/// A strict bool (`1` is not `True` here: a typo should not pass silently).
pub(crate) fn flag(arg: &str, value: &Bound<'_, PyAny>) -> PyResult<bool> {
    if !value.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err(format!(
            "{arg}: expected a bool, got {}",
            type_name(value)
        )));
    }
    value.extract()
}

/// A state's name (a `failgate.State` is a str too).
pub(crate) fn state(arg: &str, value: &Bound<'_, PyAny>) -> PyResult<failgate::State> {
    use failgate::State::*;
    let Ok(text) = value.cast::<PyString>() else {
        return Err(PyTypeError::new_err(format!(
            "{arg}: expected a failgate.State or its name, got {}",
            type_name(value)
        )));
    };
    let text = text.to_str()?;
    let all = [Closed, Open, HalfOpen, ForcedOpen, Disabled, CountOnly];
    all.into_iter().find(|s| s.as_str() == text).ok_or_else(|| {
        PyValueError::new_err(format!(
            "{arg}: unknown state {text:?}; expected one of closed, open, half_open, \
             forced_open, disabled, count_only"
        ))
    })
}

/// A `ConfigError` (which names its setting) as a `ValueError`.
pub(crate) fn config_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}
