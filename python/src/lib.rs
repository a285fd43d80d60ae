//! `metastable._native`: the thin PyO3 layer under the `metastable` Python package.
//!
//! Every function here calls the `metastable` crate's facade ([`metastable::api`]) and hands
//! back the CSV bytes the CLI would write; the Python side (`metastable/__init__.py`) turns them
//! into typed pandas DataFrames. A call runs on a worker thread with the GIL released; the
//! calling thread wakes every 100 ms (without the GIL) to report progress to an optional Python
//! callback and to check for Ctrl-C (which cancels a sweep or map before its next run).
//! Errors become `metastable.ScenarioError` (bad input, the CLI's exit code 2: file, line,
//! field) or `metastable.MetastableError` (exit code 1).

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use metastable::api::{self, ApiError, AxisKind, Progress, RunOptions};
use pyo3::exceptions::{PyKeyboardInterrupt, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

/// How often the calling thread wakes to report progress and check for signals.
const TICK: Duration = Duration::from_millis(100);

/// Deepest nesting of lists and dicts accepted in an override value.
const MAX_DEPTH: usize = 32;

/// The Python exception for `e`: `metastable.ScenarioError(message, exit_code, file, issues)`
/// for bad input, `metastable.MetastableError(message, exit_code)` otherwise.
fn to_py(py: Python<'_>, e: ApiError) -> PyErr {
    if matches!(e, ApiError::Cancelled) {
        return PyKeyboardInterrupt::new_err("cancelled");
    }
    let build = || -> PyResult<PyErr> {
        let module = py.import("metastable._errors")?;
        let message = e.to_string();
        let code = e.exit_code();
        let err = if code == 2 {
            let issues: Vec<(usize, usize, String, String)> = e
                .issues()
                .iter()
                .map(|i| (i.line, i.column, i.field.clone(), i.message.clone()))
                .collect();
            module.getattr("ScenarioError")?.call1((
                message,
                code,
                e.file().map(str::to_string),
                issues,
            ))?
        } else {
            module.getattr("MetastableError")?.call1((message, code))?
        };
        Ok(PyErr::from_value(err))
    };
    build().unwrap_or_else(|err| err)
}

/// Runs `work` on a scoped worker thread with the GIL released; every [`TICK`] the calling
/// thread calls `callback(done, total, stage)` (if given) and checks for signals. A signal or a
/// failing callback cancels the work (sweeps stop before their next run) and is raised once
/// the worker has returned.
fn drive<T: Send>(
    py: Python<'_>,
    callback: Option<Bound<'_, PyAny>>,
    work: impl FnOnce(&Progress) -> Result<T, ApiError> + Send,
) -> PyResult<T> {
    let progress = Progress::default();
    let (tx, rx) = mpsc::channel();
    // Shared with the GIL-free wait below, which needs a `Sync` handle.
    let rx = std::sync::Mutex::new(rx);
    let mut pending: Option<PyErr> = None;
    let result = std::thread::scope(|scope| {
        let p = &progress;
        scope.spawn(move || {
            let _ = tx.send(work(p));
        });
        loop {
            let got = py.detach(|| match rx.lock() {
                Ok(rx) => rx.recv_timeout(TICK),
                Err(_) => Err(mpsc::RecvTimeoutError::Disconnected),
            });
            match got {
                Ok(result) => return Some(result),
                Err(mpsc::RecvTimeoutError::Disconnected) => return None,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            if pending.is_some() {
                continue;
            }
            let tick = py.check_signals().and_then(|()| match &callback {
                Some(cb) => {
                    let (done, total) = progress.fraction();
                    cb.call1((done, total, progress.stage())).map(|_| ())
                }
                None => Ok(()),
            });
            if let Err(e) = tick {
                progress.cancel();
                pending = Some(e);
            }
        }
    });
    if let Some(e) = pending {
        return Err(e);
    }
    match result {
        Some(Ok(value)) => {
            if let Some(cb) = &callback {
                let (done, total) = progress.fraction();
                cb.call1((done, total, "done"))?;
            }
            Ok(value)
        }
        Some(Err(e)) => Err(to_py(py, e)),
        None => Err(PyValueError::new_err(
            "metastable: the worker thread stopped without a result (a panic; please report it)",
        )),
    }
}

/// A Python value as TOML: bool, int, float, str, list/tuple, dict with str keys.
fn toml_value(path: &str, v: &Bound<'_, PyAny>, depth: usize) -> PyResult<toml::Value> {
    if depth > MAX_DEPTH {
        return Err(PyValueError::new_err(format!(
            "override {path:?}: nested deeper than {MAX_DEPTH} levels"
        )));
    }
    if v.is_instance_of::<PyBool>() {
        return Ok(toml::Value::Boolean(v.extract()?));
    }
    if v.is_instance_of::<PyInt>() {
        let i: i64 = v.extract().map_err(|_| {
            PyValueError::new_err(format!(
                "override {path:?}: integer {v} does not fit in a TOML integer (64-bit signed)"
            ))
        })?;
        return Ok(toml::Value::Integer(i));
    }
    if v.is_instance_of::<PyFloat>() {
        return Ok(toml::Value::Float(v.extract()?));
    }
    if v.is_instance_of::<PyString>() {
        return Ok(toml::Value::String(v.extract()?));
    }
    if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
        let mut out = Vec::new();
        for item in v.try_iter()? {
            out.push(toml_value(path, &item?, depth + 1)?);
        }
        return Ok(toml::Value::Array(out));
    }
    if let Ok(d) = v.cast::<PyDict>() {
        let mut t = toml::Table::new();
        for (k, item) in d.iter() {
            let key: String = k.extract().map_err(|_| {
                PyTypeError::new_err(format!("override {path:?}: table keys must be str"))
            })?;
            t.insert(key, toml_value(path, &item, depth + 1)?);
        }
        return Ok(toml::Value::Table(t));
    }
    // numpy scalars and other numbers: integers through __index__, then floats.
    if v.hasattr("__index__")?
        && let Ok(i) = v.extract::<i64>()
    {
        return Ok(toml::Value::Integer(i));
    }
    if let Ok(f) = v.extract::<f64>() {
        return Ok(toml::Value::Float(f));
    }
    Err(PyTypeError::new_err(format!(
        "override {path:?}: cannot use a {} as a scenario value (bool, int, float, str, list or dict)",
        v.get_type().name()?
    )))
}

fn bytes<'py>(py: Python<'py>, b: &[u8]) -> Bound<'py, PyBytes> {
    PyBytes::new(py, b)
}

fn opt_bytes<'py>(py: Python<'py>, b: &Option<Vec<u8>>) -> Option<Bound<'py, PyBytes>> {
    b.as_deref().map(|b| bytes(py, b))
}

/// `run(source, is_path, seed, variant, replications, overrides, historical, progress)`: runs a
/// scenario (a path, or TOML text named `<text>` in messages) and returns a dict of its CSV
/// tables (bytes) and verdict texts.
#[pyfunction]
#[pyo3(signature = (source, is_path, seed=None, variant=None, replications=None, overrides=None, historical=false, progress=None))]
#[allow(clippy::too_many_arguments)]
fn run<'py>(
    py: Python<'py>,
    source: String,
    is_path: bool,
    seed: Option<u64>,
    variant: Option<String>,
    replications: Option<u64>,
    overrides: Option<Vec<(String, Bound<'py, PyAny>)>>,
    historical: bool,
    progress: Option<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let mut ovs = Vec::new();
    for (path, value) in overrides.unwrap_or_default() {
        let v = toml_value(&path, &value, 0)?;
        ovs.push((path, v));
    }
    let opts = RunOptions {
        seed,
        variant,
        replications,
        overrides: ovs,
        historical_operators: historical,
    };
    let out = drive(py, progress, |p| {
        if is_path {
            api::run_file(Path::new(&source), &opts, p)
        } else {
            api::run_text(&source, "<text>", &opts, p)
        }
    })?;
    let d = PyDict::new(py);
    d.set_item("scenario", &out.scenario)?;
    d.set_item("seed", out.seed)?;
    let runs = PyList::empty(py);
    for r in &out.runs {
        let rd = PyDict::new(py);
        rd.set_item("variant", &r.variant)?;
        rd.set_item("windows", bytes(py, &r.windows_csv))?;
        rd.set_item("summary", bytes(py, &r.summary_csv))?;
        rd.set_item("verdict", &r.verdict)?;
        rd.set_item("explanation", &r.explanation)?;
        rd.set_item("text", &r.text)?;
        runs.append(rd)?;
    }
    d.set_item("runs", runs)?;
    d.set_item("comparison", opt_bytes(py, &out.comparison_csv))?;
    d.set_item("incident", opt_bytes(py, &out.incident_csv))?;
    d.set_item("replications", opt_bytes(py, &out.replications_csv))?;
    d.set_item("text", &out.text)?;
    Ok(d)
}

/// A sweep or map file's text, its name for messages and the directory its `scenario` path is
/// relative to.
fn sweep_source(source: &str, is_path: bool) -> Result<(String, String, PathBuf), ApiError> {
    if !is_path {
        let cwd = std::env::current_dir().unwrap_or_default();
        return Ok((source.to_string(), "<text>".to_string(), cwd));
    }
    let path = Path::new(source);
    let file = path.display().to_string();
    let text = metastable::scenario::read::read_text_capped(
        path,
        metastable::scenario::MAX_FILE_BYTES,
        "sweep file",
    )
    .map_err(|message| {
        ApiError::Sweep(metastable::sweep::plan::SweepError::File {
            file: file.clone(),
            message,
        })
    })?;
    let dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
    Ok((text, file, dir))
}

fn axes<'py>(py: Python<'py>, axes: &[(String, AxisKind)]) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for (name, kind) in axes {
        let kind = match kind {
            AxisKind::Integer => "int",
            AxisKind::Float => "float",
            AxisKind::Text => "str",
        };
        list.append((name, kind))?;
    }
    Ok(list)
}

fn sweep_dict<'py>(py: Python<'py>, s: &api::SweepOutput) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("name", &s.name)?;
    d.set_item("axes", axes(py, &s.axes)?)?;
    d.set_item("runs", bytes(py, &s.runs_csv))?;
    d.set_item("points", bytes(py, &s.points_csv))?;
    d.set_item("text", &s.text)?;
    Ok(d)
}

/// Worker threads: `jobs`, else the CPUs this process may use.
fn jobs_or_default(jobs: Option<usize>) -> usize {
    jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// `sweep(source, is_path, jobs, progress)`: runs a sweep; returns its runs.csv and points.csv.
#[pyfunction]
#[pyo3(signature = (source, is_path, jobs=None, progress=None))]
fn sweep<'py>(
    py: Python<'py>,
    source: String,
    is_path: bool,
    jobs: Option<usize>,
    progress: Option<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let jobs = jobs_or_default(jobs);
    let out = drive(py, progress, |p| {
        let (text, file, dir) = sweep_source(&source, is_path)?;
        api::sweep_text(&text, &file, &dir, jobs, p)
    })?;
    sweep_dict(py, &out)
}

/// `map(source, is_path, jobs, progress)`: draws a metastability map; returns its tables.
#[pyfunction]
#[pyo3(signature = (source, is_path, jobs=None, progress=None))]
fn map<'py>(
    py: Python<'py>,
    source: String,
    is_path: bool,
    jobs: Option<usize>,
    progress: Option<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let jobs = jobs_or_default(jobs);
    let out = drive(py, progress, |p| {
        let (text, file, dir) = sweep_source(&source, is_path)?;
        api::map_text(&text, &file, &dir, jobs, p)
    })?;
    let d = sweep_dict(py, &out.sweep)?;
    d.set_item("map", bytes(py, &out.map_csv))?;
    d.set_item("boundary", bytes(py, &out.boundary_csv))?;
    d.set_item("probes", bytes(py, &out.probes_csv))?;
    Ok(d)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(sweep, m)?)?;
    m.add_function(wrap_pyfunction!(map, m)?)?;
    Ok(())
}
