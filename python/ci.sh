#!/usr/bin/env bash
# The Python package in CI: builds the abi3 wheel with maturin, installs it with pandas and
# pytest into a fresh venv, and runs python/tests against the release CLI (byte-for-byte).
# Also checks the native crate's formatting and lints (it is its own Cargo workspace, outside
# `cargo clippy --workspace`). Run from anywhere in the checkout; .ci/run calls it after
# `cargo build --release`.
#
#   python/ci.sh                     # venv in target/python-venv, wheel in target/wheels
#   METASTABLE_BIN=/path/to/metastable python/ci.sh
#
# Needs python3 (>= 3.9) with venv and PyPI; as root on Debian it installs python3-venv if the
# venv module is missing. No Python headers or libpython are needed (abi3, no link).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "== apt-get install python3-venv"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  else
    echo "python/ci.sh: python3's venv module is missing (Debian: apt-get install python3-venv)" >&2
    exit 1
  fi
fi

# The same target directory as the root build: third-party crates compiled for the release
# binary are reused (the Python crate is its own workspace, so only it and the project's
# crates are compiled again).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
bin="${METASTABLE_BIN:-$CARGO_TARGET_DIR/release/metastable}"
if [[ ! -x "$bin" ]]; then
  echo "== cargo build --release (the CLI the tests compare against)"
  cargo build --release --locked
fi
export METASTABLE_BIN="$bin" METASTABLE_REQUIRE_CLI=1

echo "== cargo fmt --check / clippy (python/)"
(cd python && cargo fmt --check && cargo clippy --locked --all-targets -- -D warnings)

venv="$CARGO_TARGET_DIR/python-venv"
echo "== venv $venv"
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "maturin>=1.9.4,<2" pandas pytest

echo "== maturin build --release"
start=$SECONDS
rm -rf "$CARGO_TARGET_DIR/wheels"
(cd python && "$venv/bin/maturin" build --release --locked --interpreter "$venv/bin/python" \
  --out "$CARGO_TARGET_DIR/wheels")
echo "   wheel built in $((SECONDS - start)) s: $(ls "$CARGO_TARGET_DIR"/wheels/*.whl)"
"$venv/bin/pip" install --quiet --disable-pip-version-check "$(ls -t "$CARGO_TARGET_DIR"/wheels/metastable-*.whl | head -n 1)"

echo "== pytest python/tests"
cd "$root/python/tests"   # import the installed wheel, not the source folder
set +e
"$venv/bin/python" -m pytest -q -p no:cacheprovider .
code=$?
set -e
if [[ $code -eq 5 ]]; then
  echo "python/ci.sh: pytest collected no tests" >&2
  exit 1
fi
exit $code
