"""metastable: a deterministic discrete-event simulator of metastable failures, from Python.

>>> import metastable
>>> r = metastable.run("scenarios/retry-storm.toml", seed=1)        # doctest: +SKIP
>>> r.verdict, r.comparison[["variant", "verdict"]]                # doctest: +SKIP

Runs use the simulator's own seeds: a result is a pure function of (scenario, seed), and its
tables are the very CSV bytes ``metastable run`` writes (``result.csv``), read into pandas with
explicit dtypes (see ``metastable.read_table`` to read the CLI's files the same way).
Runs release the GIL; several variants or sweep runs use every CPU.
"""

from __future__ import annotations

import os
from functools import cached_property
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import pandas as pd

from . import _native
from ._errors import MetastableError, ScenarioError
from ._frames import TABLES, dtypes, read_table
from ._frames import frame as _frame
from ._progress import Callback, in_notebook
from ._progress import make as _progress

__all__ = [
    "run",
    "sweep",
    "map",
    "RunResult",
    "SweepResult",
    "MapResult",
    "ScenarioError",
    "MetastableError",
    "read_table",
    "dtypes",
    "TABLES",
    "__version__",
]

__version__: str = _native.__version__

Source = Union[str, "os.PathLike[str]"]
Progress = Union[None, bool, Callback]


def _source(source: Source) -> Tuple[str, bool]:
    """(text or path, is_path): a path-like is a path; a str is TOML text if it has a line
    break, else a path."""
    if isinstance(source, os.PathLike):
        return os.fspath(source), True
    if not isinstance(source, str):
        raise TypeError(f"expected a path or TOML text, got {type(source).__name__}")
    return source, "\n" not in source


def _concat(frames: List[pd.DataFrame]) -> pd.DataFrame:
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames, ignore_index=True)


class RunResult:
    """What :func:`run` returns: the tables ``metastable run`` writes, as DataFrames.

    - ``windows``: one row per window and component, every run (``variant`` column);
    - ``summary``: one row per component and run, with the verdict columns;
    - ``comparison``: one row per run (several variants), else None;
    - ``incident``: the replay's measured and published figures (incident replays), else None;
    - ``replications``: one row per (variant, seed) with ``replications=N``, else None (and
      ``windows``/``summary`` are then empty: the CLI writes no per-run files either);
    - ``verdict``, ``explanation``: the first run's (the baseline's) verdict and the lines the
      CLI prints about it; ``verdicts`` and ``explanations`` per variant;
    - ``seed``: the master seed (the first seed with replications); ``text``: what the CLI
      prints; ``csv``: the CSV bytes by the path the CLI writes them to.
    """

    def __init__(self, raw: Dict[str, Any]):
        self._raw = raw
        self.scenario: str = raw["scenario"]
        self.seed: int = raw["seed"]
        self.text: str = raw["text"]
        runs = raw["runs"]
        self.variants: List[str] = [r["variant"] for r in runs]
        self.verdicts: Dict[str, str] = {r["variant"]: r["verdict"] for r in runs}
        self.explanations: Dict[str, str] = {r["variant"]: r["explanation"] for r in runs}
        self.verdict: Optional[str] = runs[0]["verdict"] if runs else None
        self.explanation: Optional[str] = runs[0]["explanation"] if runs else None
        csv: Dict[str, bytes] = {}
        prefix = len(runs) > 1
        for r in runs:
            d = f"{r['variant']}/" if prefix else ""
            csv[f"{d}windows.csv"] = r["windows"]
            csv[f"{d}summary.csv"] = r["summary"]
        for name in ("comparison", "incident", "replications"):
            if raw[name] is not None:
                csv[f"{name}.csv"] = raw[name]
        self.csv: Dict[str, bytes] = csv

    def _runs(self, table: str) -> pd.DataFrame:
        frames = [_frame(r[table], table) for r in self._raw["runs"]]
        if not frames:
            return pd.DataFrame()
        return _concat(frames)

    @cached_property
    def windows(self) -> pd.DataFrame:
        return self._runs("windows")

    @cached_property
    def summary(self) -> pd.DataFrame:
        return self._runs("summary")

    def _optional(self, table: str) -> Optional[pd.DataFrame]:
        data = self._raw[table]
        return None if data is None else _frame(data, table)

    @cached_property
    def comparison(self) -> Optional[pd.DataFrame]:
        return self._optional("comparison")

    @cached_property
    def incident(self) -> Optional[pd.DataFrame]:
        return self._optional("incident")

    @cached_property
    def replications(self) -> Optional[pd.DataFrame]:
        return self._optional("replications")

    def __repr__(self) -> str:
        runs = ", ".join(f"{v}: {self.verdicts[v]}" for v in self.variants)
        reps = "" if self._raw["replications"] is None else " (replications)"
        return f"<metastable.RunResult {self.scenario} seed {self.seed}{reps} · {runs}>"


class SweepResult:
    """What :func:`sweep` returns: ``runs`` (one row per run: point, replication, seed, axis
    values, verdict, measurements) and ``points`` (one row per point: verdict counts, mean and
    95 % CI of each measurement), as ``metastable sweep`` writes them; ``axes``: axis names and
    their value types; ``csv``: the bytes."""

    def __init__(self, raw: Dict[str, Any]):
        self._raw = raw
        self.name: str = raw["name"]
        self.axes: List[Tuple[str, str]] = [tuple(a) for a in raw["axes"]]
        self.text: str = raw["text"]
        self.csv: Dict[str, bytes] = {
            f"{t}.csv": raw[t] for t in ("runs", "points", "map", "boundary", "probes") if t in raw
        }

    def _table(self, table: str, key: Optional[str] = None) -> pd.DataFrame:
        return _frame(self._raw[key or table], table, dict(self.axes))

    @cached_property
    def runs(self) -> pd.DataFrame:
        return self._table("runs")

    @cached_property
    def points(self) -> pd.DataFrame:
        return self._table("points")

    def __repr__(self) -> str:
        return f"<metastable.SweepResult {self.name}: {len(self.runs)} runs, {len(self.points)} points>"


class MapResult(SweepResult):
    """What :func:`map` returns: the grid's ``runs`` and ``points``, and ``cells`` (map.csv: one
    row per cell, verdict counts and class), ``boundary`` (boundary.csv: each row's critical
    value) and ``probes`` (probes.csv: the bisection's probes), as ``metastable map`` writes
    them."""

    @cached_property
    def cells(self) -> pd.DataFrame:
        return self._table("map")

    @cached_property
    def boundary(self) -> pd.DataFrame:
        return self._table("boundary")

    @cached_property
    def probes(self) -> pd.DataFrame:
        return self._table("probes")

    def __repr__(self) -> str:
        return f"<metastable.MapResult {self.name}: {len(self.cells)} cells, {len(self.probes)} probes>"


def _overrides(overrides: Optional[Mapping[str, Any]]) -> Optional[List[Tuple[str, Any]]]:
    if overrides is None:
        return None
    if not isinstance(overrides, Mapping):
        raise TypeError("overrides must be a dict of path → value, e.g. {'services[db].servers': 12}")
    out = []
    for path, value in overrides.items():
        if not isinstance(path, str):
            raise TypeError(f"override path {path!r} must be a str like 'services[db].servers'")
        out.append((path, value))
    return out


def run(
    source: Source,
    seed: Optional[int] = None,
    variant: Optional[str] = None,
    replications: Optional[int] = None,
    overrides: Optional[Mapping[str, Any]] = None,
    *,
    operators: str = "policy",
    progress: Progress = None,
) -> RunResult:
    """Runs a scenario, like ``metastable run FILE --seed S [--variant V] [--replications N]``.

    ``source``: a path (``str`` without a line break, or ``os.PathLike``) or the TOML text
    itself. ``seed``: the master seed (default: the scenario's ``seed``, else 0). ``variant``:
    run only this one (``"baseline"`` is the file as written). ``overrides``: fields set before
    validation, by the paths variants and sweeps use — ``{"services[db].servers": 12,
    "clients[web].retry": {"preset": "grpc"}}`` — applied to the file and to every variant.
    ``operators="historical"``: the operators' actions at their published times.
    ``progress``: see ``metastable._progress`` (default: a bar in Jupyter only).

    Raises :class:`ScenarioError` (``.file``, ``.line``, ``.field``, ``.message``) for bad input.
    """
    if operators not in ("policy", "historical"):
        raise ValueError(f"operators must be 'policy' or 'historical', got {operators!r}")
    text, is_path = _source(source)
    raw = _native.run(
        text,
        is_path,
        seed=_u64("seed", seed),
        variant=variant,
        replications=_u64("replications", replications),
        overrides=_overrides(overrides),
        historical=operators == "historical",
        progress=_progress(progress, "run"),
    )
    return RunResult(raw)


def _u64(name: str, value: Optional[int]) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(value.__index__())  # numpy integers
        except (AttributeError, TypeError):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}") from None
    if not 0 <= value < 2**64:
        raise ScenarioError(f"{name}: must be in 0..=18446744073709551615, got {value}", 2, None, [(0, 0, name, "out of range")])
    return value


def sweep(source: Source, jobs: Optional[int] = None, *, progress: Progress = None) -> SweepResult:
    """Runs a sweep file (path or TOML text; a text's ``scenario`` path is relative to the
    current directory), like ``metastable sweep FILE --jobs N``: the same ``runs.csv`` and
    ``points.csv``. ``jobs``: worker threads (default: every CPU)."""
    text, is_path = _source(source)
    return SweepResult(_native.sweep(text, is_path, jobs=_u64("jobs", jobs), progress=_progress(progress, "sweep")))


def map(source: Source, jobs: Optional[int] = None, *, progress: Progress = None) -> MapResult:  # noqa: A001
    """Draws a metastability map (a sweep file with two axes and a ``[map]`` table), like
    ``metastable map FILE``: the same ``runs.csv``, ``points.csv``, ``map.csv``,
    ``boundary.csv`` and ``probes.csv`` (no figure: plot ``cells`` yourself)."""
    text, is_path = _source(source)
    return MapResult(_native.map(text, is_path, jobs=_u64("jobs", jobs), progress=_progress(progress, "map")))
