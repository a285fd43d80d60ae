#!/usr/bin/env bash
# What CI can test of deploy/k8s without a Kubernetes cluster (none is installable from the
# package registries these machines reach: deploy/k8s/README.md "What is tested"):
#
# 1. the manifests against the Kubernetes JSON schemas, strict (unknown fields rejected), for
#    Kubernetes 1.30 and 1.37 (PyPI's kubernetes-validate ships them; no network at check
#    time), and that the validator rejects a manifest with a misspelt field;
# 2. the image: built by deploy/k8s/build-image.sh (static binary, no base, no engine), rebuilt
#    from the same binary to the same bytes (reproducible), its OCI layout and docker manifest
#    consistent, its contents (deploy/k8s/test_image.py);
# 3. the Indexed Job's and the merge Job's command lines as the manifests give them, run
#    inside the image's filesystem (chroot as user 65532 when root), then as real containers
#    of the loaded image with podman + runc (Debian's, installed when root; the manifest's
#    command, env, workingDir, user, read-only root, a volume at /results): every index's
#    shard, a retried index, an index past the count refused, the merge byte-identical to an
#    unsharded sweep, a missing shard refused; and the manifests' PVC and pod templates
#    played by `podman kube play` (pods 0..N-1 with JOB_COMPLETION_INDEX, then the merge).
#
#   deploy/k8s/test.sh                  # ~1 min after the static build (~3-5 min on 2 cores)
#
# Installs kubernetes-validate (pinned in deploy/k8s/requirements.txt) into a venv under the
# target directory. Needs python3 with venv, cargo, libc6-dev (libc.a).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
work="$target_dir/k8s"
mkdir -p "$work"
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok: $*"; }
bad() { failed=$((failed + 1)); echo "FAILED: $*"; }

# 1. Manifests against the schemas.
venv="$work/venv"
if [ ! -x "$venv/bin/kubernetes-validate" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r deploy/k8s/requirements.txt
fi
for v in 1.30.0 1.37.0; do
    if "$venv/bin/kubernetes-validate" --strict --quiet -k "$v" \
        deploy/k8s/sweep-indexed-job.yaml deploy/k8s/sweep-merge-job.yaml; then
        ok "manifests valid against the Kubernetes $v schemas (strict)"
    else
        bad "manifests against the Kubernetes $v schemas"
    fi
done
sed 's/^  completionMode: Indexed$/  completionMode: Indexed\n  completionz: 8/' \
    deploy/k8s/sweep-indexed-job.yaml >"$work/misspelt.yaml"
if ! "$venv/bin/kubernetes-validate" --strict --quiet "$work/misspelt.yaml" >/dev/null 2>&1; then
    ok "the validator rejects a misspelt field (completionz)"
else
    bad "the validator accepted a misspelt field"
fi

# 2. The image, twice from the same binary.
deploy/k8s/build-image.sh
archive="$work/metastable-image.tar"
python3 deploy/k8s/oci_image.py --binary "$target_dir/x86_64-unknown-linux-gnu/release/metastable" \
    --repo "$repo" --out "$work/again.tar" >/dev/null
if cmp -s "$archive" "$work/again.tar"; then
    ok "the image archive is reproducible ($(sha256sum <"$archive" | cut -c1-16)…, $(stat -c %s "$archive") bytes)"
else
    bad "two builds of the image archive from the same binary differ"
fi

# 2 and 3. Layout, contents, the Jobs' commands in the image: in a chroot, and in real
# containers when podman and runc are there or installable (Debian's; root). podman runs
# without a daemon; its storage (vfs) is under the target directory. runc, not crun: crun
# refuses cgroups v1/hybrid hosts like these machines.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null &&
    ! { command -v podman && command -v runc && command -v catatonit; } >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends podman runc catatonit >/dev/null ||
        echo "note: apt-get install podman runc catatonit failed; the Jobs' commands run in a chroot only"
fi
# Containers here may not raise their open-file and process limits to podman's defaults.
printf '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n' >"$work/containers.conf"
export CONTAINERS_CONF="$work/containers.conf"
if [ "$(id -u)" = 0 ] && command -v podman >/dev/null && command -v runc >/dev/null; then
    export PODMAN="podman --root $work/podman/root --runroot $work/podman/run --storage-driver vfs --runtime runc --cgroup-manager cgroupfs"
fi
rc=0
"$venv/bin/python" deploy/k8s/test_image.py "$archive" "$repo" "$work" || rc=$?
[ "$rc" -eq 0 ] || bad "deploy/k8s/test_image.py (above)"

echo "k8s: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
