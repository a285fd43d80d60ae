#!/usr/bin/env bash
# The HTML report in a real browser: runs a shipped replay (Azure Front Door, ~1 s) and a
# small sweep, writes their reports with `metastable report`, opens each in headless Chromium
# at `report.html#selftest` (the page's own self-test: charts drawn, moving the cursor changes
# the state table, the step buttons and the variant toggles work, no script error or
# console.error) and checks that the DOM says SELFTEST PASS. Keeps screenshots under
# target/browser/ as test artefacts.
#
#   tests/browser/run.sh          # from the repository; builds target/release/metastable if
#                                 # it is missing
#
# (Azure Front Door with `run --record-state`, a retry storm behind a circuit breaker, one of
# its runs alone, a sweep.)
#
# Environment: METASTABLE (default target/release/metastable), CHROMIUM (default: chromium on
# PATH), KEEP=1 keeps the temporary directory (it is always kept on failure).
#
# Installs Debian's chromium with apt-get when it is missing and we are root; skips (exit 0,
# with a message) when it is missing and we cannot install it.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
bin="${METASTABLE:-$repo/target/release/metastable}"
art="${CARGO_TARGET_DIR:-$repo/target}/browser"
log() { printf '[browser-test] %s\n' "$*"; }

chromium="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}"
if [[ -z "$chromium" ]]; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    log "installing chromium from Debian's packages"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    chromium="$(command -v chromium)"
  else
    log "SKIP: chromium is not installed and this is not root (run: sudo $0, or apt-get install chromium)"
    exit 0
  fi
fi
log "browser: $("$chromium" --version 2>/dev/null || echo "$chromium")"
if [[ ! -x "$bin" ]]; then
  log "building the release binary"
  cargo build --release --locked
fi

tmp="$(mktemp -d)"
keep() { log "kept $tmp"; }
trap 'rc=$?; if [[ $rc -ne 0 || -n "${KEEP:-}" ]]; then keep; else rm -rf "$tmp"; fi' EXIT
mkdir -p "$art"

"$bin" run scenarios/azure-afd-2025-10-29.toml --out "$tmp/azure" --record-state --quiet
"$bin" run scenarios/retry-storm.toml --variant circuit-breaker --out "$tmp/breaker" --record-state --quiet
"$bin" sweep sweeps/dns-race-frequency.toml --out "$tmp/sweep" --jobs 2 --quiet
"$bin" report "$tmp/azure"
"$bin" report "$tmp/azure/baseline" --out "$tmp/single.html"
"$bin" report "$tmp/sweep"
"$bin" report "$tmp/breaker"

# A bad directory: exit 2 and nothing written.
set +e
"$bin" report "$tmp/nothing-here" --out "$tmp/bad.html" 2>/dev/null
rc=$?
set -e
if [[ $rc -ne 2 || -e "$tmp/bad.html" ]]; then
  log "FAIL: a missing directory gave exit $rc (want 2) or wrote a page"
  exit 1
fi

browse() { # browse FLAGS... URL: headless, no network, a fresh profile each time
  timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --no-first-run \
    --user-data-dir="$tmp/profile" --disable-background-networking \
    --virtual-time-budget=3000 "$@" 2>>"$tmp/chromium.log"
}

fail=0
for page in azure/report.html single.html sweep/report.html breaker/report.html; do
  dom="$tmp/${page//\//_}.dom"
  browse --dump-dom "file://$tmp/$page#selftest" >"$dom"
  result="$(tr '\n' '\036' <"$dom" | grep -a -o '<pre id="selftest-result">[^<]*' | sed 's/<pre id="selftest-result">//' | tr '\036' '\n' || true)"
  if [[ "$result" == "SELFTEST PASS"* ]]; then
    log "PASS $page ($(stat -c %s "$tmp/$page") bytes)"
  else
    log "FAIL $page"
    fail=1
  fi
  printf '%s\n' "$result" | sed 's/^/    /'
done

browse --window-size=1600,2000 --hide-scrollbars --screenshot="$art/report.png" \
  "file://$tmp/azure/report.html#selftest" >/dev/null
browse --window-size=1600,1100 --hide-scrollbars --screenshot="$art/sweep.png" \
  "file://$tmp/sweep/report.html" >/dev/null
browse --window-size=1600,1000 --hide-scrollbars --screenshot="$art/breaker.png" \
  "file://$tmp/breaker/report.html#selftest" >/dev/null
cp "$tmp/azure/report.html" "$art/report.html"
log "screenshots: $art/report.png, $art/sweep.png, $art/breaker.png; page: $art/report.html"
exit $fail
