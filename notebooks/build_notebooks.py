#!/usr/bin/env python3
"""Writes notebooks/*.ipynb from the cell sources below (the .ipynb files are committed).

    python3 notebooks/build_notebooks.py

Edit the lessons here, re-run, and commit both this file and the notebooks.
"""
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent

METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {
        "name": "python",
        "version": "3",
        "mimetype": "text/x-python",
        "file_extension": ".py",
        "codemirror_mode": {"name": "ipython", "version": 3},
        "pygments_lexer": "ipython3",
        "nbconvert_exporter": "python",
    },
}


def cell(kind, src, tags=None):
    src = src.strip("\n")
    lines = [l + "\n" for l in src.split("\n")]
    lines[-1] = lines[-1].rstrip("\n")
    c = {"cell_type": kind, "metadata": {}, "source": lines}
    if tags:
        c["metadata"]["tags"] = tags
    if kind == "code":
        c["execution_count"] = None
        c["outputs"] = []
    return c


def md(src):
    return cell("markdown", src)


def code(src, tags=None):
    return cell("code", src, tags)


def write(name, cells):
    nb = {"cells": cells, "metadata": METADATA, "nbformat": 4, "nbformat_minor": 5}
    for i, c in enumerate(nb["cells"]):
        c["id"] = f"{name[:2]}-{i:02d}"
    (HERE / name).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


PARAMS = '''
# Parameters (papermill: -p seed N). Every assertion message names the seed.
seed = 1
'''

SETUP = '''
import os, re, tomllib
from pathlib import Path

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

import metastable   # the Python package: pip install ./python (notebooks/run.sh installs it)

def repo_root():
    """The metastable checkout: METASTABLE_ROOT, else the first parent of the cwd with scenarios/."""
    if os.environ.get("METASTABLE_ROOT"):
        return Path(os.environ["METASTABLE_ROOT"]).resolve()
    for d in [Path.cwd(), *Path.cwd().parents]:
        if (d / "scenarios").is_dir() and (d / "Cargo.toml").is_file():
            return d
    raise RuntimeError("run from inside the metastable checkout or set METASTABLE_ROOT")

ROOT = repo_root()
OUT = Path(os.environ.get("NOTEBOOK_DATA", ROOT / "target" / "notebooks-out" / "data")) / LESSON / f"seed-{seed}"
OUT.mkdir(parents=True, exist_ok=True)

def run(scenario, **options):
    """metastable.run(SCENARIO, seed=SEED, ...): a path or TOML text; the same tables (and
    bytes) as `metastable run SCENARIO --seed SEED`, as pandas DataFrames."""
    return metastable.run(scenario, seed=seed, **options)

def _pick(frame, r, component):
    """Rows of `component` in `r`: a run result, or (run result, variant) for one of its variants."""
    r, variant = r if isinstance(r, tuple) else (r, None)
    df = getattr(r, frame)
    if variant is not None:
        df = df[df.variant == variant]
    return df[df.component == component]

def windows(r, component):
    return _pick("windows", r, component).set_index("window_start_s")

def summary(r, component):
    return _pick("summary", r, component).iloc[0]

def check(cond, msg):
    assert cond, f"[seed {seed}] {msg}"
    print(f"ok   [seed {seed}] {msg}")
'''

# --------------------------------------------------------------------------- lesson 1

L1 = [
    md('''
# Lesson 1 — a retry storm: why retries keep a system down after the trigger is gone

A *metastable failure* (Bronson et al., HotOS 2021) is one that outlives its trigger: a
feedback loop — here, retries — keeps the system in the bad state after the cause is gone.
This lesson runs the `metastable` simulator from Python (`import metastable`: each run returns
the tables the CLI writes as pandas DataFrames) and **asserts** each claim against its numbers,
with tolerances derived from the maths below.

1. The HotOS 2021 §2.1 retry example: 280 QPS stays failed after a 10 s partition, 140 QPS heals.
2. Why: in the failed state every request costs two attempts, so the database is offered
   2λ; it can drain only if 2λ < C. The stable/vulnerable boundary is
   C_stable = C / w* = 300 / 2 = 150 QPS (Huang et al., OSDI 2022, Thm 2, with w* = 2 attempts
   for one retry). We check the queue's growth (or drain) rate 2λ − C on both sides of 150.
3. The retry-storm design variants: jitter alone does not help; bounded retries, a breaker,
   LIFO and CoDel do.
'''),
    code(PARAMS, tags=["parameters"]),
    code('LESSON = "01-retry-storm"\n' + SETUP),
    md('''
## 1. The HotOS retry example

`scenarios/hotos-retry.toml`: a database of 30 servers × 100 ms (capacity C = 300 QPS, FIFO,
unbounded queue, no deadline propagation — it serves work whose caller has gone). The web tier
sends λ = 280 QPS, times out after 1 s and retries once. A 10 s network partition at t = 60 s
holds every request and retry sent meanwhile and delivers them all at once when it heals (TCP
retransmits: the paper's "every lost packet is retransmitted"). `hotos-retry-140.toml` is the
same system at λ = 140 QPS. Nothing is scripted after the partition.
'''),
    code('''
scen = {lam: ROOT / "scenarios" / name for lam, name in [(280, "hotos-retry.toml"), (140, "hotos-retry-140.toml")]}
cfg = tomllib.loads(scen[280].read_text())
db = cfg["services"][0]
C = db["servers"] / (db["service_time"]["mean_ms"] / 1000.0)   # 30 / 0.1 s = 300 QPS
TIMEOUT_S = cfg["clients"][0]["timeout_ms"] / 1000.0
ATTEMPTS = cfg["clients"][0]["retry"]["max_attempts"]          # w* = 2
TRIG_END = cfg["triggers"][0]["to_s"]
print(f"capacity C = {C:.0f} QPS, timeout {TIMEOUT_S} s, w* = {ATTEMPTS} attempts, C_stable = C/w* = {C/ATTEMPTS:.0f} QPS")

runs = {lam: run(path) for lam, path in scen.items()}
web = {lam: windows(d, "web") for lam, d in runs.items()}
dbw = {lam: windows(d, "db") for lam, d in runs.items()}
summ = {lam: summary(d, "web") for lam, d in runs.items()}
for lam in runs:
    print(f"λ = {lam}: verdict {summ[lam].verdict}, recovery {summ[lam].recovery_s} s")

fig, ax = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
for lam, style in [(280, "C3"), (140, "C0")]:
    w, d = web[lam], dbw[lam]
    ax[0].plot(w.index, w.successes / w.first_tries, style, label=f"λ = {lam} QPS")
    ax[1].plot(w.index, w.attempts / w.first_tries, style)
    ax[2].plot(d.index, d.queue_len_mean, style)
for a in ax:
    a.axvspan(cfg["triggers"][0]["from_s"], TRIG_END, color="0.85")
ax[0].set_ylabel("success ratio"); ax[1].set_ylabel("attempts / first tries"); ax[2].set_ylabel("db queue")
ax[2].set_yscale("symlog"); ax[2].set_xlabel("time (s)"); ax[0].legend()
fig.suptitle(f"HotOS 2021 §2.1 retry example, 10 s partition (seed {seed})")
fig.tight_layout(); fig.savefig(OUT / "hotos.png"); plt.show()
'''),
    md('''
### What happens at 280 QPS

When the partition heals, the ≈ 2λ × 10 s = 5 600 requests and retries it held arrive at once:
about 19 s of the database's work. The queue grows, waits pass
the 1 s timeout, so **every** request times out, is retried, and the retry times out too. In
that state:

* amplification (attempts ÷ first tries) = w* = 2 exactly, up to the one-second lag between a
  first try and its retry;
* the database still completes C = 300 QPS (all servers busy), but every completion is for a
  caller that left: goodput ≈ 0, wasted work ≈ 100 %;
* the queue grows at 2λ − C = 260 requests/s, so waits only get longer: the state sustains
  itself. Nothing external is wrong any more.

Tolerances: over the 200 windows from t = 100 s, first tries are Poisson with mean
≈ 56 000 (σ ≈ 240, 0.4 %); the boundary lag adds at most 1 s × λ / 56 000 = 0.5 %. So ±0.05 on
amplification is > 10σ. The queue's net rate (arrivals − completions) / 200 s has σ ≈ 2 /s
(Poisson arrivals doubled by retries, plus service noise); ±10 % of 260 is > 10σ.
'''),
    code('''
lam = 280
w, d = web[lam].loc[100:], dbw[lam].loc[100:]
span = len(w)
amp = w.attempts.sum() / w.first_tries.sum()
succ = w.successes.sum() / w.first_tries.sum()
growth = (d.arrivals.sum() - d.completions.sum()) / span
served = d.completions.sum() / span
wasted = d.wasted.sum() / d.completions.sum()

check(summ[lam].verdict == "metastable", f"λ = 280: verdict metastable (got {summ[lam].verdict})")
check(succ < 0.02, f"λ = 280, t ≥ 100 s: success ratio {succ:.3f} < 0.02 — failed long after the partition healed at {TRIG_END:.0f} s")
check(abs(amp - ATTEMPTS) < 0.05, f"λ = 280, t ≥ 100 s: amplification {amp:.3f} ≈ w* = {ATTEMPTS} (±0.05)")
check(abs(served - C) < 0.05 * C, f"λ = 280, t ≥ 100 s: db completes {served:.1f}/s ≈ C = {C:.0f}/s (±5 %): busy, yet")
check(wasted > 0.98, f"λ = 280, t ≥ 100 s: {wasted:.1%} of the db's completions are wasted (> 98 %)")
expected = ATTEMPTS * lam - C
check(abs(growth - expected) < 0.10 * expected,
      f"λ = 280: queue grows {growth:.1f}/s ≈ w*·λ − C = {expected:.0f}/s (±10 %)")
'''),
    md('''
### What happens at 140 QPS

The same partition also drives the 140 QPS system into the all-retried state (amplification 2
during it), and it releases ≈ 2 800 requests at once. But the retried load 2λ = 280 QPS is
below C = 300 QPS, so the backlog drains at ≈ C − 2λ = 20/s; once it is under one timeout's
worth of work (C × 1 s) waits fall below the timeout, retries stop and the system is back.
Fluid estimate: (2 800 − 300) / 20 ≈ 125 s — a slow but sure drain. Nothing was changed but λ.
'''),
    code('''
lam = 140
w = web[lam]
during = w.loc[61:TRIG_END - 1]
FLUID_S = (2 * lam * (TRIG_END - cfg["triggers"][0]["from_s"]) - C * TIMEOUT_S) / (C - 2 * lam)
after = w.loc[TRIG_END + summ[lam].recovery_s + 5:]
amp_out = during.attempts.sum() / during.first_tries.sum()
succ_after = after.successes.sum() / after.first_tries.sum()
check(abs(amp_out - ATTEMPTS) < 0.1, f"λ = 140, during the partition: amplification {amp_out:.2f} ≈ {ATTEMPTS} (±0.1): the same retry loop")
check(summ[lam].verdict == "recovered", f"λ = 140: verdict recovered (got {summ[lam].verdict})")
check(0.5 * FLUID_S <= summ[lam].recovery_s <= 2 * FLUID_S, f"λ = 140: recovery {summ[lam].recovery_s} s within 0.5–2× the fluid estimate {FLUID_S:.0f} s")
check(succ_after > 0.97, f"λ = 140, from 5 s after the recovery: success ratio {succ_after:.3f} > 0.97")
check(ATTEMPTS * lam < C < ATTEMPTS * 280,
      f"theory: w*·140 = {ATTEMPTS*140} < C = {C:.0f} < w*·280 = {ATTEMPTS*280}; C_stable = C/w* = {C/ATTEMPTS:.0f} QPS")
'''),
    md('''
## 2. The boundary C_stable = C / w* = 150 QPS, measured

Huang et al. (OSDI 2022, Theorem 2): with at most w* attempts per request, a system of
capacity C is *stable* (every trigger heals) below C / w*, and *vulnerable* above it: a large
enough trigger leaves it failed. The mechanism is the rate at which the all-retried state
drains: **2λ − C**. We run λ = 160 (just above 150) and λ = 140 (just below) with the same,
deliberately large trigger — a 3× database slowdown (C drops to 100 QPS) for 20 s, derived
from `hotos-retry.toml` with the horizon stretched to 600 s — and measure that rate directly.
Predicted: +20 requests/s at 160 (the queue never drains: metastable), −20 /s at 140 (it drains,
slowly: only 20 QPS of "hidden capacity").

While stuck (success ratio ≤ 0.1 in every window), the queue's net rate over n windows has
σ ≈ √(4λn + Cn) / n ≈ 3.3 /s for n = 80 at λ = 140; we require n ≥ 40 and allow ±10 /s
(≥ 2.2σ at n = 40, 3σ at n = 80, 7σ for the 500 windows at λ = 160), which still separates +20
from −20.
'''),
    code('''
base_text = scen[280].read_text()

def variant_text(lam, factor, to_s, duration_s):
    t = base_text
    for old, new in [("rate_per_s = 280.0", f"rate_per_s = {lam:.1f}"),
                     ('action = "partition"', f'action = "slowdown"\\nvalue = {factor:.1f}'),
                     ("to_s = 70.0", f"to_s = {to_s:.1f}"),
                     ("duration_s = 300.0", f"duration_s = {duration_s:.1f}"),
                     ('name = "hotos-retry"', f'name = "hotos-retry-{lam}-slowdown"')]:
        assert t.count(old) == 1, f"hotos-retry.toml changed: expected one '{old}'"
        t = t.replace(old, new)
    return t

SLOW_TO, HORIZON = 80.0, 600.0
bruns = {}
for lam in (160, 140):
    bruns[lam] = run(variant_text(lam, 3.0, SLOW_TO, HORIZON))   # the TOML text itself

fig, ax = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
rates = {}
for lam, style in [(160, "C3"), (140, "C0")]:
    w, d = windows(bruns[lam], "web"), windows(bruns[lam], "db")
    ok_w = w.successes / w.first_tries
    after = ok_w.loc[SLOW_TO + 10:]
    # the stuck span: from 10 s after the trigger until the first window where calls succeed again
    stuck_idx = after.index[: (after > 0.1).values.argmax()] if (after > 0.1).any() else after.index
    n = len(stuck_idx)
    rate = (d.loc[stuck_idx].arrivals.sum() - d.loc[stuck_idx].completions.sum()) / n
    rates[lam] = (rate, n)
    s = summary(bruns[lam], "web")
    print(f"λ = {lam}: verdict {s.verdict}, recovery {s.recovery_s} s, stuck windows {n}, queue net rate {rate:+.1f}/s")
    ax[0].plot(d.index, d.queue_len_mean, style, label=f"λ = {lam}: net {rate:+.1f}/s (theory {ATTEMPTS*lam - C:+.0f})")
    ax[1].plot(w.index, w.successes / w.first_tries, style)
for a in ax:
    a.axvspan(60, SLOW_TO, color="0.85")
ax[0].set_ylabel("db queue"); ax[1].set_ylabel("success ratio"); ax[1].set_xlabel("time (s)"); ax[0].legend()
fig.suptitle(f"3× slowdown for 20 s on either side of C/2 = 150 QPS (seed {seed})")
fig.tight_layout(); fig.savefig(OUT / "boundary.png"); plt.show()
'''),
    code('''
for lam in (160, 140):
    rate, n = rates[lam]
    theory = ATTEMPTS * lam - C
    check(n >= 40, f"λ = {lam}: stuck for {n} ≥ 40 windows after the slowdown (enough to measure the rate)")
    check(abs(rate - theory) < 10, f"λ = {lam}: queue net rate while stuck {rate:+.1f}/s ≈ w*·λ − C = {theory:+.0f}/s (±10)")
s160, s140 = summary(bruns[160], "web"), summary(bruns[140], "web")
check(s160.verdict == "metastable", f"λ = 160 > C/2: the slowdown leaves it metastable (got {s160.verdict})")
check(s140.verdict == "recovered", f"λ = 140 < C/2: the same slowdown heals (got {s140.verdict}, after {s140.recovery_s} s)")
'''),
    md('''
## 3. Designs against the retry storm (`scenarios/retry-storm.toml`)

8 servers × 10 ms (800 req/s), 600 first tries/s doubling to 1200/s for 30 s, a 200 ms
timeout and up to 4 attempts with full-jitter backoff. The variants change one design each and
run with the same seed (common random numbers); `comparison.csv` has one row per variant.

* **Jitter does not help** (`baseline` has full jitter, `no-jitter` has none): jitter spreads
  retries in time but does not remove them — the offered work w*·λ is the same.
* `drop-expired` is not enough either: FIFO still serves work that waited almost the whole
  timeout.
* **Bounding the retries** (`no-retries`, the AWS `retry-quota`) or cutting them off
  (`circuit-breaker`) lowers w* to ≈ 1 while failing, so w*·λ < C and the backlog drains.
* **Serving fresh work first** (`lifo`, `codel`) keeps the latest callers inside their timeout,
  so they succeed and do not retry.
'''),
    code('''
rs = run(ROOT / "scenarios" / "retry-storm.toml")
cmp = rs.comparison.set_index("variant")
print(cmp[["verdict", "recovery_s", "success_ratio", "amplification", "wasted_fraction"]].to_string())

fig, ax = plt.subplots(1, 2, figsize=(12, 4))
colors = cmp.verdict.map({"metastable": "C3", "recovered": "C2", "stable": "C0"}).fillna("0.5")
ax[0].barh(cmp.index, cmp.success_ratio, color=colors)
ax[0].set_xlabel("success ratio (red: metastable, green: recovered)")
for v in cmp.index:
    w = windows((rs, v), "users")
    ax[1].plot(w.index, w.successes / w.first_tries, label=v, lw=1)
ax[1].axvspan(60, 90, color="0.85"); ax[1].set_xlabel("time (s)"); ax[1].set_ylabel("success ratio")
ax[1].legend(fontsize=7)
fig.suptitle(f"retry-storm design variants (seed {seed})")
fig.tight_layout(); fig.savefig(OUT / "retry-storm.png"); plt.show()
'''),
    md('''
Assertions. Verdicts come from `comparison.csv`. While stuck, nearly every call uses all 4
attempts, so over the summary period (40 s before the spike at 1, 210 s after it at ≈ 4) the
amplification of a metastable design is ≈ (40 + 4·240) / 280 ≈ 3.6: we require > 3. A design
that heals retries little: < 1.5 (LIFO and CoDel still retry the requests that waited through
the spike, ≈ 1.35).
'''),
    code('''
expected = {
    "baseline": "metastable",      # full jitter
    "no-jitter": "metastable",
    "drop-expired": "metastable",
    "no-retries": "recovered",
    "retry-quota": "recovered",
    "circuit-breaker": "recovered",
    "lifo": "recovered",
    "codel": "recovered",
}
check(set(cmp.index) == set(expected), f"variants in comparison.csv: {sorted(cmp.index)}")
for v, verdict in expected.items():
    check(cmp.loc[v, "verdict"] == verdict, f"{v}: verdict {cmp.loc[v, 'verdict']} (expected {verdict})")
    if verdict == "metastable":
        check(cmp.loc[v, "amplification"] > 3, f"{v}: amplification {cmp.loc[v, 'amplification']:.2f} > 3 (stuck near 4 attempts per call)")
    else:
        check(cmp.loc[v, "amplification"] < 1.5, f"{v}: amplification {cmp.loc[v, 'amplification']:.2f} < 1.5")
        check(cmp.loc[v, "success_ratio"] > cmp.loc["baseline", "success_ratio"] + 0.3,
              f"{v}: success ratio {cmp.loc[v, 'success_ratio']:.2f} beats the jittered baseline's {cmp.loc['baseline', 'success_ratio']:.2f} by > 0.3")
check(abs(cmp.loc["no-jitter", "success_ratio"] - cmp.loc["baseline", "success_ratio"]) < 0.05,
      "jitter alone changes the success ratio by < 0.05: "
      f"{cmp.loc['baseline', 'success_ratio']:.3f} (full jitter) vs {cmp.loc['no-jitter', 'success_ratio']:.3f} (none)")
'''),
    md('''
## Takeaways

* A metastable failure is a state, not an event: after the trigger, the retry loop (w* = 2
  attempts per request) offers 2λ to a database that serves C, and the queue moves at 2λ − C.
* Below C / w* (150 QPS here) that rate is negative whatever the trigger: stable. Above it, a
  big enough trigger sticks: vulnerable. The "hidden capacity" C − w*·λ is what heals it.
* Fixes must lower w* while failing (bounded retries, budgets, breakers) or keep fresh callers
  inside their timeout (LIFO, CoDel); spreading the same retries in time (jitter) does not.
'''),
]

# --------------------------------------------------------------------------- lesson 2

L2 = [
    md('''
# Lesson 2 — a restart herd: the GCP 2025-06-12 Service Control incident

A bad policy made Google Cloud's Service Control crash-loop in every region for ~40 minutes.
After the red button removed the trigger, small regions recovered, but in us-central1 the
restarting tasks overloaded the regional Spanner table they load at startup — a *herd* — and
the region stayed down until operators throttled task creation and added database capacity
(`scenarios/gcp-2025-06-12.toml`; the header documents the model and what is inferred).

This lesson asserts, against the simulator's output:

1. the small regions heal by themselves; us-central1 stays down without operator actions
   (`without-operator-actions/`, `incident.csv`);
2. the herd threshold — a store of rate μ, a restart delay d and a load timeout T — is
   N* = μ·(d + T) tasks: N > N* stays down, N ≤ μ·d heals; checked per region from
   `windows.csv`;
3. the published fix, randomized exponential restart backoff, removes the herd.
'''),
    code(PARAMS, tags=["parameters"]),
    code('LESSON = "02-restart-herd"\n' + SETUP),
    md('''
## Run the replay

`run` on the baseline also runs the counterfactual without the operator actions
(variant `without-operator-actions`) and fills `incident` (the CLI's `incident.csv`). We run
the baseline and the `jittered-backoff` variant (`variant=`) side by side, in two Python
threads (a run releases the GIL); the third variant is not needed here.
The operators act at their published times (`operators="historical"`: the red button at
11:29, the us-central1 throttle at the file's 12:39), so the spans below are fixed; by default
the operators are policies that act when they observe the herd (README, "Incident replays").
'''),
    code('''
SCEN = ROOT / "scenarios" / "gcp-2025-06-12.toml"
cfg = tomllib.loads(SCEN.read_text())
# Runs release the GIL: two Python threads run the two variants at once.
from concurrent.futures import ThreadPoolExecutor
with ThreadPoolExecutor(2) as pool:
    futures = {v: pool.submit(run, SCEN, variant=v, operators="historical")
               for v in ("baseline", "jittered-backoff")}
    R = {v: f.result() for v, f in futures.items()}
RUNS = {"baseline": (R["baseline"], "baseline"),
        "without-operator-actions": (R["baseline"], "without-operator-actions"),
        "jittered-backoff": R["jittered-backoff"]}
incident = R["baseline"].incident.set_index("quantity")
cmp = R["baseline"].comparison.set_index("variant")
print(incident.to_string()); print(cmp[["verdict", "recovery_s", "success_ratio", "wasted_fraction"]].to_string())

HIST = [a for a in cfg["actions"] if a.get("historical")]
TRIG_FROM = cfg["triggers"][0]["from_s"]
TRIG_END = min(a["at_s"] for a in HIST if a.get("removes_trigger"))     # the red button
ACTION_AT = min(a["at_s"] for a in HIST if not a.get("removes_trigger"))  # throttle + capacity
HORIZON = cfg["scenario"]["duration_s"]
'''),
    md('''
## The herd threshold

A region has N tasks. While the policy is bad, each task crashes on its next request, waits
d = 1 s (constant: no randomization) and loads its state from the store with a timeout of
T = 1 s; the store serves μ loads/s and does not cancel loads whose task gave up.

* If every load completes fast, a down task tries once per ≈ d seconds: N/d loads/s. If
  **N ≤ μ·d** the loads never queue: the first round after the red button brings every task up.
* If every load times out, a task tries once per d + T seconds at most: at least N/(d + T)
  loads/s even in the slowest cycle. If **N > N* = μ·(d + T)** the store is offered more than
  it can serve even then, its queue grows past μ·T, every load waits longer than T and is
  wasted, and nothing ever comes up: the herd sustains itself after the trigger is gone.

The scenario's numbers, read from the file:
'''),
    code('''
def region_params(region):
    sc = next(s for s in cfg["services"] if s["name"] == f"service-control-{region}")
    store = next(s for s in cfg["services"] if s["name"] == sc["crash_loop"]["store"])
    mu = store["servers"] / (store["service_time"]["mean_ms"] / 1000.0)
    d = sc["crash_loop"]["base_ms"] / 1000.0
    T = sc["crash_loop"]["timeout_ms"] / 1000.0
    return dict(tasks=sc["servers"], mu=mu, delay_s=d, timeout_s=T, herd=mu * (d + T), safe=mu * d)

REGIONS = [c["name"].removeprefix("api-") for c in cfg["clients"]]
params = pd.DataFrame({r: region_params(r) for r in REGIONS}).T
params["prediction"] = ["herd: stays down" if p.tasks > p.herd else ("heals" if p.tasks <= p.safe else "depends")
                        for p in params.itertuples()]
print(params.to_string())
'''),
    md('''
## Per-region success ratio (from `windows.csv`)

Success ratio of a span = successful calls ÷ first tries of the region's API client. Before the
trigger it is ≈ 1; while the policy is bad it is ≈ 0 everywhere. We compare the span from 5
minutes after the red button to the operators' action (or the end of the run, without them).
With ≥ 100 000 calls per region in each span, the sampling error is far below the thresholds
used (≥ 0.95 for "healed", ≤ 0.05 for "down"): the outcome is all-or-nothing.
'''),
    code('''
def success_ratio(variant, region, t0, t1):
    w = windows(RUNS[variant], f"api-{region}").loc[t0:t1 - 1]
    return w.successes.sum() / w.first_tries.sum()

def region_table(variant, t1):
    return pd.Series({r: success_ratio(variant, r, TRIG_END + 300, t1) for r in REGIONS})

table = pd.DataFrame({
    "before trigger": pd.Series({r: success_ratio("baseline", r, cfg["scenario"]["warmup_s"], TRIG_FROM) for r in REGIONS}),
    "during trigger": pd.Series({r: success_ratio("baseline", r, TRIG_FROM + 60, TRIG_END) for r in REGIONS}),
    "after, no operators": region_table("without-operator-actions", HORIZON),
    "after, with operators (before they act)": region_table("baseline", ACTION_AT),
    "after, with operators (after they act)": pd.Series({r: success_ratio("baseline", r, ACTION_AT + 300, HORIZON) for r in REGIONS}),
    "after, jittered backoff": region_table("jittered-backoff", HORIZON),
})
print(pd.concat([params[["tasks", "herd", "prediction"]], table.round(3)], axis=1).to_string())

fig, ax = plt.subplots(3, 1, figsize=(10, 8), sharex=True)
for i, v in enumerate(["without-operator-actions", "baseline", "jittered-backoff"]):
    for r in REGIONS:
        w = windows(RUNS[v], f"api-{r}")
        ax[i].plot(w.index / 60, w.successes / w.first_tries, label=r, lw=1.2 if r == "us-central1" else 0.8)
    ax[i].axvspan(TRIG_FROM / 60, TRIG_END / 60, color="0.85")
    if v == "baseline":
        ax[i].axvline(ACTION_AT / 60, color="k", ls="--", lw=0.8)
    ax[i].set_ylabel("success ratio"); ax[i].set_title(v, fontsize=9)
ax[0].legend(fontsize=7); ax[-1].set_xlabel("time (min)")
fig.suptitle(f"GCP 2025-06-12 replay per region (seed {seed})")
fig.tight_layout(); fig.savefig(OUT / "regions.png"); plt.show()
'''),
    code('''
for r in REGIONS:
    p = params.loc[r]
    check(table.loc[r, "before trigger"] > 0.95, f"{r}: success {table.loc[r, 'before trigger']:.3f} > 0.95 before the trigger")
    check(table.loc[r, "during trigger"] < 0.05, f"{r}: success {table.loc[r, 'during trigger']:.3f} < 0.05 while crash-looping")
    after = table.loc[r, "after, no operators"]
    if p.tasks > p.herd:
        check(after < 0.05, f"{r}: N = {p.tasks:.0f} > μ(d+T) = {p.herd:.0f}: stays down without operators (success {after:.3f} < 0.05)")
    else:
        check(p.tasks <= p.safe, f"{r}: N = {p.tasks:.0f} ≤ μ·d = {p.safe:.0f} (the unambiguous side)")
        check(after > 0.95, f"{r}: N = {p.tasks:.0f} ≤ μ·d = {p.safe:.0f}: heals by itself (success {after:.3f} > 0.95)")
check((params.tasks > params.herd).sum() == 1 and params.loc["us-central1"].tasks > params.loc["us-central1"].herd,
      "only us-central1 is above its herd threshold")
'''),
    md('''
### The herd, measured in us-central1

Without operators, from the red button to the end: all N tasks stay down; the restarts offer
the store at least N/(d + T) loads/s (more, because a load rejected by the store's full queue
comes back after d alone), well above μ; the store's queue sits at its capacity, so a load waits
≈ queue/μ ≫ T, and the store serves at full speed for nobody: its goodput is ≈ 0. The small
regions' stores, in the same span, are idle.
'''),
    code('''
r = "us-central1"; p = params.loc[r]
v = "without-operator-actions"
sc = windows(RUNS[v], f"service-control-{r}").loc[TRIG_END + 300:]
st = windows(RUNS[v], f"spanner-{r}").loc[TRIG_END + 300:]
span_s = (sc.window_end_s - sc.index).sum()
restart_rate = sc.restarts.sum() / span_s
down = sc.tasks_down_mean.mean()
store_goodput = st.goodput.sum() / span_s
store_served = st.completions.sum() / span_s
wait_s = st.queue_len_mean.mean() / p.mu
check(down > 0.99 * p.tasks, f"{r}: {down:.0f} of {p.tasks:.0f} tasks down on average after the red button")
check(restart_rate > p.tasks / (p.delay_s + p.timeout_s) * 0.95,
      f"{r}: restart loads {restart_rate:.0f}/s ≥ N/(d+T) = {p.tasks/(p.delay_s+p.timeout_s):.0f}/s (−5 %) > μ = {p.mu:.0f}/s")
check(abs(store_served - p.mu) < 0.05 * p.mu, f"{r}: the store serves {store_served:.0f}/s ≈ μ = {p.mu:.0f}/s (±5 %): saturated")
check(store_goodput < 0.01 * p.mu, f"{r}: store goodput {store_goodput:.2f}/s ≈ 0: every load answered after its task gave up")
check(wait_s > 5 * p.timeout_s, f"{r}: a load waits ≈ queue/μ = {wait_s:.1f} s ≫ T = {p.timeout_s:.0f} s")
for r2 in REGIONS:
    if r2 == r:
        continue
    st2 = windows(RUNS[v], f"spanner-{r2}").loc[TRIG_END + 300:]
    check(st2.arrivals.sum() == 0, f"{r2}: no restart loads after recovery ({st2.arrivals.sum():.0f})")
'''),
    md('''
## The incident report, and the fix

`incident.csv` compares the run with the published figures: the trigger lasts 40 min and the
system does **not** heal by itself (published: us-central1 needed operators). With the
operators' actions, us-central1 comes back only after they act (their time is not published;
the scenario puts it at t = 120 min, see its header), so the measured tail is shorter than the
published 140 min.

The published fix is randomized exponential backoff on restarts. With full jitter the restarts
of one round spread over an ever longer interval, the offered load N/(spread) falls below μ,
loads complete within T, tasks come up and leave the herd, and the region recovers at once
after the red button, without any operator.
'''),
    code('''
m = incident["measured"]; pub = incident["published"]
check(str(m["heals_by_itself"]).lower() == "false" and str(pub["heals_by_itself"]).lower() == "false",
      f"incident.csv: heals by itself measured {m['heals_by_itself']}, published {pub['heals_by_itself']}")
check(abs(float(m["trigger_min"]) - (TRIG_END - TRIG_FROM) / 60) < 0.5, f"incident.csv: trigger {m['trigger_min']} min = 40 min")
check(cmp.loc["without-operator-actions", "verdict"] == "metastable",
      f"comparison.csv: without operators verdict {cmp.loc['without-operator-actions', 'verdict']} (expected metastable)")
check(cmp.loc["baseline", "verdict"] == "recovered" and cmp.loc["baseline", "recovery_s"] >= ACTION_AT - TRIG_END,
      f"baseline recovers {cmp.loc['baseline', 'recovery_s']:.0f} s after the red button, not before the operators act ({ACTION_AT - TRIG_END:.0f} s)")
t_op = table.loc["us-central1", "after, with operators (after they act)"]
check(t_op > 0.95, f"us-central1: success {t_op:.3f} > 0.95 once the operators throttle restarts and add store capacity")

js = summary(RUNS["jittered-backoff"], "api-us-central1")
check(js.verdict in ("recovered", "stable"), f"jittered-backoff: verdict {js.verdict} (recovered)")
check(js.recovery_s <= 300, f"jittered-backoff: recovery {js.recovery_s} s ≤ 5 min after the red button, no operator")
jb = table.loc["us-central1", "after, jittered backoff"]
check(jb > 0.95, f"jittered-backoff: us-central1 success {jb:.3f} > 0.95 after the red button")
'''),
    md('''
## Takeaways

* A restart herd is a retry storm whose "requests" are task restarts: N tasks restarting in
  step every d + T seconds offer N/(d + T) loads/s to a store of rate μ. Above N* = μ(d + T)
  the store's queue outgrows the timeout and every load is wasted; the region stays down after
  the bad config is gone.
* The same incident, the same code: regions of 200 tasks (N* = 500) healed at once, the region
  of 2 000 tasks (N* = 1 000) did not. Size alone decided.
* Randomized exponential backoff (or a restart throttle ≤ μ) keeps the offered load below μ:
  the fix Google published.
'''),
]

write("01-retry-storm.ipynb", L1)
write("02-restart-herd.ipynb", L2)
print("wrote 01-retry-storm.ipynb, 02-restart-herd.ipynb")
