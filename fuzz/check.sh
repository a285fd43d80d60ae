#!/usr/bin/env bash
# Checks that the cargo-fuzz targets build (called by .ci/run). With a nightly toolchain and
# cargo-fuzz installed, builds them as cargo-fuzz does (sanitizer coverage, libFuzzer);
# otherwise type-checks them with the default toolchain (`cargo check`), which also compiles
# libFuzzer's C++ sources. Running a campaign needs nightly + cargo-fuzz: docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")"
if cargo +nightly --version >/dev/null 2>&1 && cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz: cargo +nightly fuzz build (every target)"
  cargo +nightly fuzz build
else
  echo "fuzz: no nightly with cargo-fuzz; cargo check of the targets instead"
  cargo check --locked --bins
fi
