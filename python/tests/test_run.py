"""metastable.run: typed DataFrames equal to the CLI's CSVs, determinism, overrides, variants,
replications, errors, progress and the GIL."""

import threading
import time

import numpy as np
import pandas as pd
import pytest

import metastable

# A small M/M/1 (ρ = 0.8) with a 5 s outage: about 1 000 events, milliseconds.
MM1 = """
[scenario]
name = "tiny"
duration_s = 60.0
warmup_s = 5.0
seed = 7

[[sources]]
name = "users"
target = "server"
rate_per_s = 8.0

[[services]]
name = "server"
servers = 1
service_time = { dist = "exponential", mean_ms = 100.0 }

[[triggers]]
from_s = 20.0
to_s = 25.0
action = "outage"
target = "server"
"""


def test_types_of_every_column():
    r = metastable.run(MM1)
    assert r.seed == 7, "the scenario's seed is the default"
    w, s = r.windows, r.summary
    assert isinstance(w, pd.DataFrame) and isinstance(s, pd.DataFrame)
    assert w["seed"].dtype == np.uint64 and (w["seed"] == 7).all()
    for c in ("variant", "component", "kind"):
        assert pd.api.types.is_string_dtype(w[c]), c
    for c in ("window_start_s", "window_end_s", "goodput_per_s", "timeouts", "call_ok_ms_p99"):
        assert w[c].dtype == np.float64, c
    assert s["events"].dtype == np.int64 and s["events"].iloc[0] > 500
    assert pd.api.types.is_string_dtype(s["verdict"])
    # Absent values are NaN: a service has no timeouts column of its own, a source no queue.
    server = w[w["component"] == "server"]
    assert server["timeouts"].isna().all(), "timeouts does not apply to a service"
    assert server["queue_len_mean"].notna().all()
    assert len(w) == 60 * 2, "60 windows × 2 components (users, server)"
    assert r.verdict in {"stable", "recovered", "recovering", "metastable", "undetermined"}
    assert r.explanation.startswith(f"verdict: {r.verdict}"), r.explanation
    assert r.comparison is None and r.incident is None and r.replications is None


def test_same_seed_same_frames_other_seed_other_frames():
    a, b = metastable.run(MM1, seed=11), metastable.run(MM1, seed=11)
    pd.testing.assert_frame_equal(a.windows, b.windows)
    assert a.csv == b.csv
    c = metastable.run(MM1, seed=12)
    assert not a.windows.equals(c.windows), "seeds 11 and 12 gave the same windows"


def test_frames_equal_the_cli_csv(cli, root, tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(MM1)
    out = cli("run", str(path), "--seed", "3")
    r = metastable.run(path, seed=3)
    for name in ("windows.csv", "summary.csv"):
        assert (out / name).read_bytes() == r.csv[name], f"{name} differs from the CLI (seed 3)"
    pd.testing.assert_frame_equal(r.windows, metastable.read_table(out / "windows.csv"))
    pd.testing.assert_frame_equal(r.summary, metastable.read_table(out / "summary.csv"))
    # The summary's verdict lines are the CLI's.
    assert r.explanation in r.text


def test_shipped_scenario_with_variants_and_incident_equals_the_cli(cli, root):
    scenario = root / "scenarios" / "hotos-2021-cache.toml"
    out = cli("run", str(scenario), "--seed", "2")
    r = metastable.run(str(scenario), seed=2)
    assert r.variants[0] == "baseline" and len(r.variants) > 1
    for rel, data in r.csv.items():
        assert (out / rel).read_bytes() == data, f"{rel} differs from the CLI (seed 2)"
    pd.testing.assert_frame_equal(r.comparison, metastable.read_table(out / "comparison.csv"))
    pd.testing.assert_frame_equal(r.incident, metastable.read_table(out / "incident.csv"))
    for v in r.variants:
        mine = r.windows[r.windows["variant"] == v].reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, metastable.read_table(out / v / "windows.csv"))
    assert list(r.comparison["variant"]) == r.variants
    assert dict(zip(r.comparison["variant"], r.comparison["verdict"])) == r.verdicts
    assert r.comparison["events"].dtype == np.int64


def test_one_variant(root):
    scenario = root / "scenarios" / "hotos-2021-cache.toml"
    full = metastable.run(scenario, seed=2)
    v = full.variants[1]
    one = metastable.run(scenario, seed=2, variant=v)
    assert one.variants == [v] and one.comparison is None
    pd.testing.assert_frame_equal(
        one.windows, full.windows[full.windows["variant"] == v].reset_index(drop=True)
    )


def test_replications_equal_the_cli(cli, root):
    scenario = root / "scenarios" / "hotos-retry.toml"
    out = cli("run", str(scenario), "--seed", "4", "--replications", "2")
    r = metastable.run(scenario, seed=4, replications=2)
    assert r.csv["replications.csv"] == (out / "replications.csv").read_bytes()
    reps = r.replications
    assert list(reps["seed"]) == [4, 5] and reps["seed"].dtype == np.uint64
    assert r.windows.empty and r.verdict is None


def test_overrides_are_the_variant_paths():
    edited = MM1.replace("servers = 1", "servers = 2")
    a = metastable.run(MM1, seed=5, overrides={"services[server].servers": 2})
    b = metastable.run(edited, seed=5)
    pd.testing.assert_frame_equal(a.windows, b.windows)
    c = metastable.run(MM1, seed=5, overrides={"services[0].servers": np.int64(2), "triggers[0].to_s": 30})
    assert c.windows["window_end_s"].max() == 60.0
    # A whole inline table, and a float written as an int.
    d = metastable.run(MM1, seed=5, overrides={"scenario.duration_s": 30, "sources[users].rate_per_s": 4})
    assert d.windows["window_end_s"].max() == 30.0


@pytest.mark.parametrize(
    "text, field, line",
    [
        (MM1.replace("servers = 1", "servers = -3"), "services[0].servers", 15),
        (MM1.replace('target = "server"\nrate', 'target = "nope"\nrate'), "sources[0].target", 10),
        (MM1.replace("duration_s = 60.0", "duration_s = 60.0\nbogus = 1"), "scenario.bogus", 5),
    ],
)
def test_errors_name_file_line_and_field(text, field, line):
    with pytest.raises(metastable.ScenarioError) as e:
        metastable.run(text)
    err = e.value
    assert err.exit_code == 2
    assert err.file == "<text>"
    assert err.field == field, err.message
    assert err.line == line, err.message
    assert f"<text>:{line}:" in err.message
    assert isinstance(err, ValueError) and isinstance(err, metastable.MetastableError)


def test_error_in_a_file_names_the_path(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(MM1.replace("servers = 1", "servers = 0"))
    with pytest.raises(metastable.ScenarioError) as e:
        metastable.run(bad)
    assert e.value.file == str(bad) and e.value.line == 15 and e.value.field == "services[0].servers"
    with pytest.raises(metastable.ScenarioError) as e:
        metastable.run(str(tmp_path / "missing.toml"))
    assert e.value.exit_code == 2 and e.value.file == str(tmp_path / "missing.toml")
    assert e.value.line is None


def test_bad_overrides_variants_and_counts_are_input_errors():
    with pytest.raises(metastable.ScenarioError) as e:
        metastable.run(MM1, overrides={"services[nope].servers": 2})
    assert e.value.field == "services[nope].servers" and e.value.line is None
    assert "entries: server" in e.value.message
    with pytest.raises(metastable.ScenarioError) as e:
        metastable.run(MM1, overrides={"services[server].servers": "many"})
    assert e.value.field == "services[0].servers", e.value.message
    with pytest.raises(metastable.ScenarioError) as e:
        metastable.run(MM1, variant="nope")
    assert e.value.exit_code == 2 and "baseline" in e.value.message
    with pytest.raises(metastable.ScenarioError):
        metastable.run(MM1, replications=0)
    with pytest.raises(metastable.ScenarioError):
        metastable.run(MM1, seed=-1)
    with pytest.raises(TypeError):
        metastable.run(MM1, overrides={"services[server].servers": object()})
    with pytest.raises(TypeError):
        metastable.run(MM1, overrides=[("services[server].servers", 2)])


def test_progress_callback_sees_every_run():
    calls = []
    metastable.run(MM1, replications=3, progress=lambda done, total, stage: calls.append((done, total, stage)))
    assert calls, "the callback was never called"
    done, total, stage = calls[-1]
    assert (total, stage) == (3, "done") and done == pytest.approx(3.0)
    assert all(d <= t + 1e-9 for d, t, _ in calls)


def test_a_failing_progress_callback_raises_its_error():
    def boom(done, total, stage):
        raise RuntimeError("from the callback")

    with pytest.raises(RuntimeError, match="from the callback"):
        metastable.run(MM1, progress=boom)


def test_runs_release_the_gil():
    """Another Python thread keeps running while a run simulates."""
    # About 5 million events (≈ 0.5–2 s) in 100 s windows.
    long = MM1.replace("duration_s = 60.0", "duration_s = 200000.0\nwindow_ms = 100000.0")
    ticks = 0
    done = threading.Event()

    def count():
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0.001)

    t = threading.Thread(target=count)
    t.start()
    start = time.monotonic()
    try:
        metastable.run(long, progress=False)
    finally:
        done.set()
        t.join()
    elapsed = time.monotonic() - start
    # Holding the GIL for the whole run would leave the counter near 0; sleeping 1 ms per tick
    # bounds it by elapsed / 1 ms. Ask for a tenth of that.
    assert ticks >= 0.1 * elapsed / 0.001 * 0.5, f"{ticks} ticks in {elapsed:.2f} s"


def test_floats_are_the_doubles_the_simulator_wrote():
    """Every float cell parses to exactly float(text): no ulp lost on the way into pandas."""
    import csv
    import io

    r = metastable.run(MM1, seed=9)
    rows = list(csv.DictReader(io.StringIO(r.csv["windows.csv"].decode())))
    w = r.windows
    checked = 0
    for column in w.columns:
        if w[column].dtype != np.float64:
            continue
        for i, row in enumerate(rows):
            cell = row[column]
            if cell == "":
                assert np.isnan(w[column].iloc[i]), (column, i)
            else:
                assert w[column].iloc[i] == float(cell), (column, i, cell)
                checked += 1
    assert checked > 1000


def test_errors_are_the_clis_errors(cli_bin, tmp_path):
    """The same bad file: the CLI exits 2 and prints `error: ` + the exception's message."""
    import subprocess

    bad = tmp_path / "bad.toml"
    bad.write_text(MM1.replace("servers = 1", "servers = -3").replace('"server"\nrate', '"nope"\nrate'))
    done = subprocess.run([str(cli_bin), "run", str(bad), "--out", str(tmp_path / "o")], capture_output=True, text=True)
    with pytest.raises(metastable.ScenarioError) as e:
        metastable.run(bad)
    assert done.returncode == e.value.exit_code == 2
    assert done.stderr.strip() == f"error: {e.value.message}"
    assert len(e.value.issues) == 2, e.value.issues
    assert not (tmp_path / "o").exists(), "the CLI wrote nothing; neither does the package"


def test_progress_is_silent_outside_notebooks_unless_asked(capsys):
    metastable.run(MM1)
    assert capsys.readouterr().err == ""
    metastable.run(MM1.replace("duration_s = 60.0", "duration_s = 20000.0\nwindow_ms = 10000.0"), progress=True)
    err = capsys.readouterr().err
    assert "run" in err, err   # tqdm when installed, else a text line


def test_a_file_that_is_not_utf8_names_its_line(cli_bin, tmp_path):
    import subprocess

    bad = tmp_path / "latin1.toml"
    bad.write_bytes(MM1.replace('name = "tiny"', 'name = "t\xe9"').encode("latin-1"))
    with pytest.raises(metastable.ScenarioError) as e:
        metastable.run(bad)
    assert (e.value.line, e.value.field) == (3, "(encoding)"), e.value.message
    done = subprocess.run([str(cli_bin), "check", str(bad)], capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.strip() == f"error: {e.value.message}"
