"""metastable.sweep and metastable.map on a tiny sweep: typed frames equal to the CLI's CSVs."""

import numpy as np
import pandas as pd
import pytest

import metastable

SCENARIO = """
[scenario]
name = "tiny-retry"
duration_s = 120.0
warmup_s = 10.0
seed = 1

[[clients]]
name = "web"
target = "db"
rate_per_s = 20.0
timeout_ms = 1000.0
retry = { max_attempts = 2 }

[[services]]
name = "db"
servers = 3
service_time = { dist = "exponential", mean_ms = 100.0 }

[[triggers]]
from_s = 30.0
to_s = 40.0
action = "partition"
target = "db"
"""

SWEEP = """
[sweep]
scenario = "tiny-retry.toml"
replications = 2
seed = 1

[[axes]]
name = "rate_per_s"
path = "clients[web].rate_per_s"
values = [10.0, 26.5]

[[axes]]
name = "max_attempts"
path = "clients[web].retry.max_attempts"
values = [1, 2]
"""

MAP = """
[sweep]
scenario = "tiny-retry.toml"
replications = 2
seed = 1

[set]
"triggers[0].action" = "slowdown"
"triggers[0].value" = 2.0

[[axes]]
name = "rate_per_s"
path = "clients[web].rate_per_s"
values = [10.0, 27.0]

[[axes]]
name = "slowdown_end_s"
path = "triggers[0].to_s"
values = [31.0, 60.0, 100.0]

[map]
tolerance = 5.0
max_probes = 3
"""


@pytest.fixture
def files(tmp_path):
    (tmp_path / "tiny-retry.toml").write_text(SCENARIO)
    (tmp_path / "sweep.toml").write_text(SWEEP)
    (tmp_path / "map.toml").write_text(MAP)
    return tmp_path


def test_sweep_frames_are_typed_and_equal_the_cli(files, cli):
    s = metastable.sweep(files / "sweep.toml", jobs=2)
    runs, points = s.runs, s.points
    assert len(runs) == 8 and len(points) == 4
    assert s.axes == [("rate_per_s", "float"), ("max_attempts", "int")]
    assert runs["seed"].dtype == np.uint64 and runs["run"].dtype == np.int64
    assert runs["rate_per_s"].dtype == np.float64 and runs["max_attempts"].dtype == np.int64
    assert pd.api.types.is_string_dtype(runs["verdict"])
    assert points["recovery_s_n"].dtype == np.int64 and points["success_ratio_mean"].dtype == np.float64
    out = cli("sweep", str(files / "sweep.toml"), "--jobs", "1")
    for name in ("runs.csv", "points.csv"):
        assert (out / name).read_bytes() == s.csv[name], f"{name} differs from the CLI"
    pd.testing.assert_frame_equal(runs, metastable.read_table(out / "runs.csv", axes=s.axes))
    pd.testing.assert_frame_equal(points, metastable.read_table(out / "points.csv", axes=s.axes))


def test_sweep_is_the_same_with_any_number_of_threads(files):
    one = metastable.sweep(files / "sweep.toml", jobs=1)
    two = metastable.sweep(files / "sweep.toml", jobs=2)
    assert one.csv == two.csv


def test_sweep_progress_counts_runs(files):
    seen = []
    metastable.sweep(files / "sweep.toml", jobs=1, progress=lambda d, t, s: seen.append((d, t, s)))
    assert seen[-1] == (8.0, 8, "done")


def test_sweep_errors_name_the_sweep_file(files):
    bad = SWEEP.replace("replications = 2", "replications = 0")
    (files / "bad.toml").write_text(bad)
    with pytest.raises(metastable.ScenarioError) as e:
        metastable.sweep(files / "bad.toml")
    assert e.value.file == str(files / "bad.toml")
    assert e.value.field == "sweep.replications" and e.value.line == 4, e.value.message
    (files / "axis.toml").write_text(SWEEP.replace("clients[web].rate_per_s", "clients[nope].rate_per_s"))
    with pytest.raises(metastable.ScenarioError) as e:
        metastable.sweep(files / "axis.toml")
    assert e.value.exit_code == 2 and "nope" in e.value.message


def test_map_frames_equal_the_cli(files, cli):
    m = metastable.map(files / "map.toml", jobs=2)
    cells = m.cells
    assert len(cells) == 6
    assert cells["majority_metastable"].dtype == bool
    assert pd.api.types.is_string_dtype(cells["class"])
    assert len(m.boundary) == 2
    out = cli("map", str(files / "map.toml"), "--jobs", "1")
    for name in ("runs.csv", "points.csv", "map.csv", "boundary.csv", "probes.csv"):
        assert (out / name).read_bytes() == m.csv[name], f"{name} differs from the CLI"
    pd.testing.assert_frame_equal(cells, metastable.read_table(out / "map.csv", axes=m.axes))
    pd.testing.assert_frame_equal(m.boundary, metastable.read_table(out / "boundary.csv", axes=m.axes))
    pd.testing.assert_frame_equal(m.probes, metastable.read_table(out / "probes.csv", axes=m.axes))


def test_sweep_from_text_resolves_the_scenario_from_the_working_directory(files, monkeypatch):
    monkeypatch.chdir(files)
    a = metastable.sweep(SWEEP, jobs=1)
    b = metastable.sweep(files / "sweep.toml", jobs=1)
    assert a.csv["runs.csv"] == b.csv["runs.csv"]
