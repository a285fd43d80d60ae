#!/usr/bin/env bash
# Executes every notebooks/*.ipynb headless with papermill and fails on any cell error (each
# lesson asserts what it teaches). The lessons use the Python package (`import metastable`):
# this script builds its wheel from python/ with maturin (target/wheels; incremental, seconds
# when nothing changed) and installs it into the venv. Needs python3 (3.11+), cargo and PyPI.
#
#   notebooks/run.sh                  # from anywhere in the checkout
#   SEED=2 notebooks/run.sh           # another seed (papermill -p seed 2)
#   METASTABLE_WHEEL=target/wheels/metastable-….whl notebooks/run.sh   # install this wheel
#
# The venv is target/notebooks-venv (reused when its requirements stamp matches); executed
# notebooks and figures go to target/notebooks-out/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export METASTABLE_ROOT="$root"

venv="$root/target/notebooks-venv"
stamp="$venv/.requirements.txt"
if [[ ! -x "$venv/bin/python" ]] || ! cmp -s notebooks/requirements.txt "$stamp"; then
  echo "== venv: $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r notebooks/requirements.txt
  "$venv/bin/python" -m ipykernel install --sys-prefix --name python3 >/dev/null
  cp notebooks/requirements.txt "$stamp"
fi

# The package, built like python/ci.sh builds it (same target directory, so crates compiled for
# the release binary are reused), or the wheel given.
wheel="${METASTABLE_WHEEL:-}"
if [[ -z "$wheel" ]]; then
  echo "== maturin build --release (python/)"
  rm -f "$root"/target/wheels/metastable-*.whl
  (cd python && CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}" "$venv/bin/maturin" build \
    --release --locked --quiet --interpreter "$venv/bin/python" --out "$root/target/wheels")
  wheel="$(ls -t "$root"/target/wheels/metastable-*.whl | head -n 1)"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheel"

out="$root/target/notebooks-out"
mkdir -p "$out"
export NOTEBOOK_DATA="$out/data"
seed="${SEED:-1}"
failed=0 passed=0
for nb in notebooks/*.ipynb; do
  name="$(basename "$nb")"
  echo "== $name (seed $seed)"
  start=$SECONDS
  if "$venv/bin/papermill" --no-progress-bar --kernel python3 --cwd "$root/notebooks" \
      -p seed "$seed" "$nb" "$out/$name" >"$out/${name%.ipynb}.log" 2>&1; then
    printf '   %s assertions ok' "$(grep -c '"ok   \[seed' "$out/$name" || true)"
    printf ' in %d s -> %s\n' $((SECONDS - start)) "$out/$name"
    passed=$((passed + 1))
  else
    echo "FAILED: $name (log: $out/${name%.ipynb}.log, executed notebook: $out/$name)" >&2
    tail -n 30 "$out/${name%.ipynb}.log" >&2
    failed=$((failed + 1))
  fi
done
echo "notebooks: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
