"""CSV bytes (exactly what the CLI writes) → typed pandas DataFrames.

Every table is read with explicit dtypes chosen by column name, never inferred from the data,
so a column has the same dtype in every run: identifiers and verdicts are strings, seeds
``uint64``, run/point counters ``int64``, flags ``bool``, everything else ``float64``. A cell
the CLI leaves empty (a metric that does not apply to a component's kind, a recovery that never
happened) is NaN. Counts that apply to only some component kinds (``timeouts``, ``retries``, …)
are therefore ``float64`` too: pandas' ``int64`` has no NaN (they are exact up to 2⁵³).
Floats are parsed exactly (``float_precision="round_trip"`` before pandas 3, the default from
3 on), so each is the very double the simulator wrote (Rust's shortest round-trip form).
"""

from __future__ import annotations

import csv
import io
import os
from typing import Dict, Iterable, Optional, Sequence, Tuple, Union

import pandas as pd

# Columns that hold text in every table.
_STR = {
    "scenario",
    "variant",
    "component",
    "kind",
    "stop_reason",
    "stop",
    "verdict",
    "verdict_reason",
    "loop",
    "loop_evidence",
    "broke_baseline_loop",
    "class",
    "status",
    "quantity",
    "seeds",
}
# Integer columns that are never empty.
_INT = {
    "run",
    "point",
    "replication",
    "events",
    "runs",
    "n",
    "probes",
    "stable",
    "recovered",
    "metastable",
    "no_trigger",
    "recovering",
    "undetermined",
}
_UINT = {"seed"}
_BOOL = {"majority_metastable"}
# Per-table exceptions: incident.csv of one run mixes numbers and booleans in a column.
_TABLE_STR = {"incident": {"measured", "published"}}
# Tables whose count columns may be empty.
_TABLE_FLOAT = {"incident_replications": {"runs", "n"}}

# pandas < 3 parses floats with a fast parser that may miss the nearest double by an ulp unless
# asked for round-trip precision; pandas 3 parses exactly by default (and deprecates the option).
_ROUND_TRIP = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}

TABLES = (
    "windows",
    "summary",
    "comparison",
    "incident",
    "incident_replications",
    "replications",
    "runs",
    "points",
    "map",
    "boundary",
    "probes",
)


def _dtype(table: str, column: str, axes: Dict[str, str]) -> str:
    if column in axes:
        return {"int": "int64", "float": "float64"}.get(axes[column], "str")
    if column in _TABLE_STR.get(table, ()):
        return "str"
    if column in _TABLE_FLOAT.get(table, ()):
        return "float64"
    if column in _STR:
        return "str"
    if column in _UINT:
        return "uint64"
    if column in _INT or (table == "points" and column.endswith("_n")):
        return "int64"
    if column in _BOOL:
        return "bool"
    return "float64"


def dtypes(table: str, header: Sequence[str], axes: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """The dtype of each column of ``table`` (one of :data:`TABLES`)."""
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r} (known: {', '.join(TABLES)})")
    return {c: _dtype(table, c, axes or {}) for c in header}


def frame(data: bytes, table: str, axes: Optional[Dict[str, str]] = None) -> pd.DataFrame:
    """Parses CSV ``data`` of ``table`` with its explicit dtypes."""
    text = data.decode("utf-8")
    first = text.split("\n", 1)[0]
    header = next(csv.reader([first]), [])
    if table == "incident" and header and header[0] == "variant":
        table = "incident_replications"
    return pd.read_csv(
        io.StringIO(text),
        dtype=dtypes(table, header, axes),
        keep_default_na=False,
        na_values=[""],
        **_ROUND_TRIP,
    )


def read_table(
    path: Union[str, os.PathLike],
    table: Optional[str] = None,
    axes: Optional[Iterable[Tuple[str, str]]] = None,
) -> pd.DataFrame:
    """Reads a CSV file the CLI wrote (``windows.csv``, ``runs.csv``, …) with the dtypes the
    package uses, so it compares equal to the matching DataFrame. ``table`` defaults to the
    file's stem (``map.csv`` → ``map``); ``axes`` are ``(name, "int"|"float"|"str")`` pairs
    for a sweep's axis columns (default: their values decide)."""
    name = table or os.path.splitext(os.path.basename(os.fspath(path)))[0]
    with open(path, "rb") as f:
        data = f.read()
    return frame(data, name, dict(axes) if axes is not None else _guess_axes(data, name))


def _guess_axes(data: bytes, table: str) -> Dict[str, str]:
    """A sweep table's axis columns (after ``seed`` up to ``verdict`` in runs.csv, after
    ``point`` up to ``runs`` in points.csv; the first one or two columns of the map's tables),
    typed by their cells."""
    header = next(csv.reader([data.decode("utf-8").split("\n", 1)[0]]), [])
    if table == "runs" and "seed" in header and "verdict" in header:
        names = header[header.index("seed") + 1 : header.index("verdict")]
    elif table == "points" and "point" in header and "runs" in header:
        names = header[header.index("point") + 1 : header.index("runs")]
    elif table in ("map", "probes"):
        names = header[:2]
    elif table == "boundary":
        names = header[:1]
    else:
        return {}
    cells = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    out: Dict[str, str] = {}
    for column in names:
        values = list(cells[column])
        if all(_is_int(c) for c in values):
            out[column] = "int"
        elif all(_is_float(c) for c in values):
            out[column] = "float"
        else:
            out[column] = "str"
    return out


def _is_int(s: str) -> bool:
    try:
        int(s)
        return True
    except ValueError:
        return False


def _is_float(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False
