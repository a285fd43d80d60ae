#!/usr/bin/env python3
"""Writes the metastable container image as one archive, without a container engine.

    deploy/k8s/oci_image.py --binary STATIC_BINARY --repo . --out target/k8s/metastable-image.tar
                            [--tag metastable:0.1.0] [--epoch SOURCE_DATE_EPOCH]

The image has one layer and no base: the static binary at /usr/local/bin/metastable, the
repository's scenarios/ and sweeps/ under /opt/metastable, an empty /results (the volume's mount
point) and /tmp. It runs as user 65532 in /opt/metastable.

The archive is an OCI image layout (oci-layout, index.json, blobs/sha256/...) that also carries
the docker-archive manifest.json, as `docker save` writes since Docker 25: `docker load`,
`podman load`, `ctr -n k8s.io images import`, `k3s ctr images import` and
`kind load image-archive` all read it (deploy/k8s/README.md).

Reproducible: every timestamp is SOURCE_DATE_EPOCH (default: the last commit's time), owners
are 0:0, entries are sorted, the layer is an uncompressed tar and the JSON is canonical (sorted
keys, no spaces), so the same binary and files give the same bytes and the same image digest.
Standard library only.
"""

import argparse
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import time

UID = 65532


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def tar_bytes(entries, epoch):
    """A tar of `entries` [(path, mode, data or None for a directory)], sorted, owned by 0:0."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, mode, data in sorted(entries, key=lambda e: e[0]):
            info = tarfile.TarInfo(path)
            info.mode = mode
            info.mtime = epoch
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def layer_entries(binary, repo):
    entries = [
        ("usr", 0o755, None),
        ("usr/local", 0o755, None),
        ("usr/local/bin", 0o755, None),
        ("opt", 0o755, None),
        ("opt/metastable", 0o755, None),
        ("results", 0o777, None),
        ("tmp", 0o1777, None),
    ]
    with open(binary, "rb") as f:
        entries.append(("usr/local/bin/metastable", 0o755, f.read()))
    for folder in ("scenarios", "sweeps"):
        entries.append((f"opt/metastable/{folder}", 0o755, None))
        for name in sorted(os.listdir(os.path.join(repo, folder))):
            path = os.path.join(repo, folder, name)
            if name.endswith(".toml") and os.path.isfile(path):
                with open(path, "rb") as f:
                    entries.append((f"opt/metastable/{folder}/{name}", 0o644, f.read()))
    return entries


def image(binary, repo, tag, epoch):
    """The archive's bytes and the image's manifest digest."""
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
    layer = tar_bytes(layer_entries(binary, repo), epoch)
    layer_digest = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = canonical(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": created,
            "config": {
                "Entrypoint": ["/usr/local/bin/metastable"],
                "Cmd": ["--help"],
                "Env": ["PATH=/usr/local/bin"],
                "WorkingDir": "/opt/metastable",
                "User": f"{UID}:{UID}",
                "Labels": {"org.opencontainers.image.title": "metastable"},
            },
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
            "history": [{"created": created, "created_by": "deploy/k8s/oci_image.py"}],
        }
    )
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    manifest = canonical(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer_digest,
                    "size": len(layer),
                }
            ],
        }
    )
    manifest_digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    name, _, version = tag.partition(":")
    full = name if "/" in name else f"docker.io/library/{name}"
    index = canonical(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": manifest_digest,
                    "size": len(manifest),
                    "annotations": {
                        "io.containerd.image.name": f"{full}:{version or 'latest'}",
                        "org.opencontainers.image.ref.name": version or "latest",
                    },
                }
            ],
        }
    )
    blob = lambda d: "blobs/sha256/" + d.split(":", 1)[1]  # noqa: E731
    docker_manifest = canonical(
        [{"Config": blob(config_digest), "RepoTags": [tag], "Layers": [blob(layer_digest)]}]
    )
    outer = [
        ("blobs", 0o755, None),
        ("blobs/sha256", 0o755, None),
        (blob(layer_digest), 0o644, layer),
        (blob(config_digest), 0o644, config),
        (blob(manifest_digest), 0o644, manifest),
        ("index.json", 0o644, index),
        ("manifest.json", 0o644, docker_manifest),
        ("oci-layout", 0o644, canonical({"imageLayoutVersion": "1.0.0"})),
    ]
    return tar_bytes(outer, epoch), manifest_digest


def default_epoch(repo):
    env = os.environ.get("SOURCE_DATE_EPOCH")
    if env:
        return int(env)
    try:
        out = subprocess.run(
            ["git", "-C", repo, "log", "-1", "--format=%ct"],
            capture_output=True,
            text=True,
            check=True,
        )
        return int(out.stdout.strip())
    except (OSError, subprocess.CalledProcessError, ValueError):
        return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--binary", required=True, help="a statically linked metastable")
    p.add_argument("--repo", default=".", help="the repository (scenarios/, sweeps/)")
    p.add_argument("--out", required=True, help="the archive to write")
    p.add_argument("--tag", default="metastable:0.1.0")
    p.add_argument("--epoch", type=int, help="timestamps (default: SOURCE_DATE_EPOCH, else the last commit's time)")
    a = p.parse_args()
    epoch = a.epoch if a.epoch is not None else default_epoch(a.repo)
    try:
        data, digest = image(a.binary, a.repo, a.tag, epoch)
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        tmp = a.out + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, a.out)
    except OSError as e:
        print(f"oci_image.py: {e}", file=sys.stderr)
        return 2
    print(f"{a.out}: {a.tag} {digest} ({len(data)} bytes, SOURCE_DATE_EPOCH={epoch})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
