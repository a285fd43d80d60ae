#!/usr/bin/env bash
# Builds the metastable container image without a container engine or a base image: a
# statically linked release binary, then deploy/k8s/oci_image.py writes the image archive
# (OCI layout + docker-archive manifest) to target/k8s/metastable-image.tar.
#
#   deploy/k8s/build-image.sh [TAG]        # default TAG metastable:0.1.0
#
# Then load it into the cluster's container runtime (deploy/k8s/README.md), e.g.
#   k3s ctr images import target/k8s/metastable-image.tar
#   kind load image-archive target/k8s/metastable-image.tar
#   docker load -i target/k8s/metastable-image.tar
#
# Reproducible: the binary is built with --locked, paths remapped and symbols stripped, and
# the archive's timestamps are SOURCE_DATE_EPOCH (default: the last commit's time). The same
# commit and Rust toolchain give the same bytes. Needs: cargo, Debian's libc6-dev (libc.a, for
# the static glibc link), python3.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
tag="${1:-metastable:0.1.0}"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
triple=x86_64-unknown-linux-gnu
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}"
cargo_home="${CARGO_HOME:-$HOME/.cargo}"

# --target keeps RUSTFLAGS off build scripts and proc macros (they run on the host).
RUSTFLAGS="-C target-feature=+crt-static --remap-path-prefix=$repo=/src --remap-path-prefix=$cargo_home=/cargo" \
    CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_PROFILE_RELEASE_STRIP=symbols \
    cargo build --release --locked --target "$triple" --bin metastable
bin="$target_dir/$triple/release/metastable"

python3 "$repo/deploy/k8s/oci_image.py" --binary "$bin" --repo "$repo" \
    --out "$target_dir/k8s/metastable-image.tar" --tag "$tag"
