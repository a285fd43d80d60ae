#!/usr/bin/env bash
# Runs the Rust API's examples (examples/load_and_run.rs, compare_designs.rs, sweep_in_code.rs)
# in release and checks what they print: the verdicts HotOS 2021 §2.1 describes (one retry at
# 280 QPS stays down after a 10 s partition in every seed; without retries it recovers in every
# seed), bad input answered with exit code 2 and a message naming the file, and a sweep run in
# code whose runs.csv and points.csv are byte-identical to `metastable sweep`'s.
#
#   tests/examples/run.sh          # from anywhere; builds what it needs with cargo
#
# Seeds: load_and_run uses the file's seed (1); compare_designs seeds 1..=5; the sweep its
# file's (seed 1, common random numbers, 5 replications).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

passed=0
failed=0
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

check() { # NAME COMMAND... : run, record pass or fail
    local name="$1"
    shift
    if "$@"; then
        passed=$((passed + 1))
        echo "ok: $name"
    else
        failed=$((failed + 1))
        echo "FAILED: $name"
    fi
}
has() { grep -qE -- "$2" "$1" || { echo "  missing /$2/ in $1:"; sed 's/^/  | /' "$1"; return 1; }; }
exits() { # CODE FILE COMMAND... : the command exits with CODE; its stderr goes to FILE
    local code="$1" err="$2" rc=0
    shift 2
    "$@" >/dev/null 2>"$err" || rc=$?
    [ "$rc" -eq "$code" ] || { echo "  exit code $rc, expected $code"; return 1; }
}

cargo build --release --locked --examples --bin metastable
bin="${CARGO_TARGET_DIR:-target}/release"
ex="$bin/examples"

"$ex/load_and_run" >"$tmp/load.out"
check "load_and_run: hotos-retry seed 1 is metastable" has "$tmp/load.out" '^verdict of hotos-retry \(seed 1\): metastable$'
check "load_and_run: the tables' rows (300 windows × 2 components; 2 components)" has "$tmp/load.out" '^windows\.csv: 600 rows, summary\.csv: 2 rows$'
check "load_and_run: a missing file is exit 2, named" exits 2 "$tmp/missing.err" "$ex/load_and_run" "$tmp/no-such.toml"
check "load_and_run: ... and the message names it" has "$tmp/missing.err" "no-such\.toml"
sed 's/^servers = 30$/servers = 0/' scenarios/hotos-retry.toml >"$tmp/bad.toml"
check "load_and_run: a bad field is exit 2" exits 2 "$tmp/bad.err" "$ex/load_and_run" "$tmp/bad.toml"
check "load_and_run: ... with file:line:col: field" has "$tmp/bad.err" 'bad\.toml:[0-9]+:[0-9]+: services\[0\]\.servers: '

"$ex/compare_designs" >"$tmp/compare.out"
check "compare_designs: one retry stays down in 5 of 5 seeds" has "$tmp/compare.out" '^one-retry +5/5 +0/5 +0 '
check "compare_designs: no retry recovers in 5 of 5 seeds" has "$tmp/compare.out" '^no-retry +0/5 +5/5 +0 '

"$ex/sweep_in_code" "$tmp/sweep-in-code" >"$tmp/sweep.out"
check "sweep_in_code: the loop and the runner agree run for run" has "$tmp/sweep.out" '^sweep runner: 60 runs, verdicts equal to the loop.s$'
"$bin/metastable" sweep sweeps/hotos-retry-load.toml --out "$tmp/sweep-cli" --quiet
check "sweep_in_code: runs.csv is metastable sweep's, byte for byte" cmp "$tmp/sweep-in-code/runs.csv" "$tmp/sweep-cli/runs.csv"
check "sweep_in_code: points.csv is metastable sweep's, byte for byte" cmp "$tmp/sweep-in-code/points.csv" "$tmp/sweep-cli/points.csv"

echo "examples: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
