#!/usr/bin/env python3
"""Checks the image archive deploy/k8s/build-image.sh wrote, and runs the Indexed Job's and the
merge Job's command lines, as the manifests give them, inside the image's own filesystem.

    python3 deploy/k8s/test_image.py ARCHIVE REPO WORKDIR

Called by deploy/k8s/test.sh (which installs PyYAML). As root, each command runs chroot'ed
into the extracted image as user 65532 in the container's workingDir, with the container's env
plus JOB_COMPLETION_INDEX: the image holds nothing but the static binary and the files, so a
missing library, file or permission fails here as it would in the pod. Not root: the same
commands outside a chroot, /results mapped to the extracted image's results/.

Prints one line per check and `k8s-image: N passed, M failed`; exit 1 if any failed.
"""

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile

import yaml

UID = 65532
tally = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    tally["passed" if ok else "failed"] += 1
    print(("ok: " if ok else "FAILED: ") + name + (f" ({detail})" if detail else ""))
    return ok


def read_archive(path):
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def check_layout(files):
    """The OCI layout and the docker manifest agree and every blob is what its name says."""
    blobs_ok = all(
        hashlib.sha256(data).hexdigest() == name.rsplit("/", 1)[1]
        for name, data in files.items()
        if name.startswith("blobs/sha256/")
    )
    check("every blob's sha256 is its name", blobs_ok)
    check("oci-layout 1.0.0", json.loads(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"})
    index = json.loads(files["index.json"])
    (entry,) = index["manifests"]
    blob = lambda d: "blobs/sha256/" + d.split(":", 1)[1]  # noqa: E731
    manifest_bytes = files[blob(entry["digest"])]
    check("index.json → manifest (digest, size)", len(manifest_bytes) == entry["size"])
    check(
        "index.json names the image for containerd (ctr/k3s/kind import)",
        entry["annotations"]["io.containerd.image.name"] == "docker.io/library/metastable:0.1.0",
    )
    manifest = json.loads(manifest_bytes)
    config_bytes = files[blob(manifest["config"]["digest"])]
    (layer_desc,) = manifest["layers"]
    layer = files[blob(layer_desc["digest"])]
    check(
        "manifest → config and layer (sizes)",
        len(config_bytes) == manifest["config"]["size"] and len(layer) == layer_desc["size"],
    )
    config = json.loads(config_bytes)
    check(
        "config's diff_id is the (uncompressed) layer's digest",
        config["rootfs"]["diff_ids"] == [layer_desc["digest"]],
    )
    c = config["config"]
    check(
        "config: user 65532, workdir /opt/metastable, PATH /usr/local/bin",
        c["User"] == f"{UID}:{UID}"
        and c["WorkingDir"] == "/opt/metastable"
        and "PATH=/usr/local/bin" in c["Env"],
    )
    (docker,) = json.loads(files["manifest.json"])
    check(
        "docker-archive manifest.json → the same config and layer, tag metastable:0.1.0",
        docker["Config"] == blob(manifest["config"]["digest"])
        and docker["Layers"] == [blob(layer_desc["digest"])]
        and docker["RepoTags"] == ["metastable:0.1.0"],
    )
    return layer, entry["digest"]


def is_static_elf(data):
    """An x86-64 ELF executable with no PT_INTERP (no dynamic loader, so no shared library)."""
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return False
    phoff = int.from_bytes(data[32:40], "little")
    phentsize = int.from_bytes(data[54:56], "little")
    phnum = int.from_bytes(data[56:58], "little")
    for i in range(phnum):
        p_type = int.from_bytes(data[phoff + i * phentsize : phoff + i * phentsize + 4], "little")
        if p_type == 3:  # PT_INTERP
            return False
    return True


def check_contents(layer, repo):
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        binary = tar.extractfile(members["usr/local/bin/metastable"]).read()
    names = sorted(members)
    want = sorted(
        f"opt/metastable/{d}/{f}"
        for d in ("scenarios", "sweeps")
        for f in os.listdir(os.path.join(repo, d))
        if f.endswith(".toml")
    )
    files = sorted(n for n in names if n.startswith("opt/") and members[n].isfile())
    check("the layer holds every scenario and sweep, and no other file under /opt", files == want)
    others = [n for n in names if members[n].isfile() and not n.startswith("opt/")]
    check("the only other file is /usr/local/bin/metastable", others == ["usr/local/bin/metastable"])
    check("the binary is static (no ELF interpreter)", is_static_elf(binary))
    check(
        "owners 0:0, one timestamp",
        {(m.uid, m.gid) for m in members.values()} == {(0, 0)}
        and len({m.mtime for m in members.values()}) == 1,
    )
    print(f"   layer: {len(layer)} bytes, binary {len(binary)} bytes, {len(files)} files under /opt")


def chroot_runner(rootfs, root):
    """Runs a manifest container's command in the extracted image (chroot as user 65532 when
    root; else outside it, /results mapped to the image's results/)."""

    def run(container, env_extra):
        env = container_env(container, env_extra)
        cmd = list(container["command"])
        workdir = container.get("workingDir", "/opt/metastable")
        if root:

            def enter():
                os.chroot(rootfs)
                os.chdir(workdir)
                os.setgroups([])
                os.setgid(UID)
                os.setuid(UID)

            p = subprocess.run(cmd, env=env, preexec_fn=enter, capture_output=True, text=True)
        else:
            cmd[0] = os.path.join(rootfs, "usr/local/bin", cmd[0])
            res = os.path.join(rootfs, "results")
            cmd = [res + a[len("/results"):] if a.startswith("/results") else a for a in cmd]
            cwd = os.path.join(rootfs, workdir.lstrip("/"))
            p = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
        return p.returncode, p.stderr

    return run


def podman_runner(podman, results):
    """Runs a manifest container as a container of the loaded image, as a kubelet would ask
    its runtime to: the manifest's command (replacing the entrypoint), env, workingDir, user,
    read-only root filesystem, /tmp an emptyDir (tmpfs here), /results the volume (a host
    directory here), no network."""

    def run(container, env_extra):
        env = container_env(container, env_extra)
        env.pop("PATH")
        env.pop("HOME")
        sc = container.get("securityContext", {})
        cmd = podman + [
            "run", "--rm", "--network=none",
            "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096",
            "--user", f"{UID}:{UID}", "--tmpfs", "/tmp", "-v", f"{results}:/results",
            "-w", container.get("workingDir", "/opt/metastable"),
            "--entrypoint", json.dumps(container["command"]),
        ]
        if sc.get("readOnlyRootFilesystem"):
            cmd.append("--read-only")
        if sc.get("capabilities", {}).get("drop") == ["ALL"]:
            cmd += ["--cap-drop", "ALL"]
        for k, v in sorted(env.items()):
            cmd += ["-e", f"{k}={v}"]
        p = subprocess.run(cmd + [container["image"]], capture_output=True, text=True)
        return p.returncode, p.stderr

    return run


def container_env(container, env_extra):
    env = {"PATH": "/usr/local/bin", "HOME": "/tmp"}
    for e in container.get("env", []):
        env[e["name"]] = e["value"]
    env.update(env_extra)
    return env


def snapshot(rootfs):
    out = []
    for d, dirs, files in os.walk(rootfs):
        rel = os.path.relpath(d, rootfs)
        if rel.split(os.sep)[0] in ("results", "tmp"):
            continue
        out.extend(os.path.join(rel, f) for f in files)
        out.extend(os.path.join(rel, x) for x in dirs)
    return sorted(out)


def manifests(repo):
    docs = [d for d in yaml.safe_load_all(open(os.path.join(repo, "deploy/k8s/sweep-indexed-job.yaml"))) if d]
    job = next(d for d in docs if d["kind"] == "Job")
    (merge,) = [d for d in yaml.safe_load_all(open(os.path.join(repo, "deploy/k8s/sweep-merge-job.yaml"))) if d]
    (sweep_c,) = job["spec"]["template"]["spec"]["containers"]
    (merge_c,) = merge["spec"]["template"]["spec"]["containers"]
    return job["spec"], sweep_c, merge_c


def host_path(results, arg):
    return os.path.join(results, arg[len("/results/"):])


def check_jobs(label, run, results, repo, reference):
    """The Indexed Job's pods 0..N-1, a retried pod, an index past the count, the merge Job,
    and a merge with a shard missing, each run by `run`; `results` is the host directory the
    pods see as /results."""
    spec, sweep_c, merge_c = manifests(repo)
    n = spec["completions"]
    codes = []
    for i in range(n):
        code, err = run(sweep_c, {"JOB_COMPLETION_INDEX": str(i)})
        codes.append(code)
        if code != 0:
            print(f"   index {i}: exit {code}: {err.strip()}")
    check(f"{label}: pods 0..{n - 1}, the sweep command exits 0", codes == [0] * n)
    shard_dir = host_path(results, sweep_c["command"][sweep_c["command"].index("--out") + 1])
    shards = sorted(f for f in os.listdir(shard_dir) if f.endswith(".csv")) if os.path.isdir(shard_dir) else []
    check(
        f"{label}: one shard file per index (JOB_COMPLETION_INDEX i → shard i of {n})",
        shards == [f"shard-{i:04}-of-{n:04}.csv" for i in range(n)],
        ", ".join(shards[:2]) + ", …",
    )
    if not shards:
        return
    first = open(os.path.join(shard_dir, shards[0]), "rb").read()
    code, _ = run(sweep_c, {"JOB_COMPLETION_INDEX": "0"})
    again = open(os.path.join(shard_dir, shards[0]), "rb").read()
    check(f"{label}: a retried pod (index 0 again) exits 0 with the same shard", code == 0 and first == again)
    code, err = run(sweep_c, {"JOB_COMPLETION_INDEX": str(n)})
    check(f"{label}: an index past the count ({n}) is refused with exit 2", code == 2, first_line(err))
    code, err = run(merge_c, {})
    check(f"{label}: the merge Job's command exits 0", code == 0, err.strip())
    merged = host_path(results, merge_c["command"][merge_c["command"].index("--out") + 1])
    for name in ("runs.csv", "points.csv"):
        a = os.path.join(merged, name)
        b = os.path.join(reference, name)
        same = os.path.exists(a) and os.path.exists(b) and open(a, "rb").read() == open(b, "rb").read()
        check(f"{label}: merged {name} is byte-identical to the unsharded sweep's", same)
    # A missing shard: merge refuses (exit 2) and writes nothing.
    os.remove(os.path.join(shard_dir, shards[-1]))
    for name in ("runs.csv", "points.csv"):
        if os.path.exists(os.path.join(merged, name)):
            os.remove(os.path.join(merged, name))
    code, err = run(merge_c, {})
    check(
        f"{label}: with a shard missing, the merge exits 2 and writes nothing",
        code == 2 and not os.path.exists(os.path.join(merged, "runs.csv")),
        first_line(err),
    )


def kube_play(podman, repo, reference, workdir):
    """The manifests themselves, played by `podman kube play` (podman's reading of Kubernetes
    YAML: the PVC becomes a named volume, the pod template a pod): the PVC as written; the
    Indexed Job's pod template as pods 0..N-1, each with JOB_COMPLETION_INDEX=i as the Job
    controller sets it; then the merge Job's pod template."""
    spec, _, _ = manifests(repo)
    docs = [d for d in yaml.safe_load_all(open(os.path.join(repo, "deploy/k8s/sweep-indexed-job.yaml"))) if d]
    pvc = next(d for d in docs if d["kind"] == "PersistentVolumeClaim")
    job = next(d for d in docs if d["kind"] == "Job")
    (merge,) = [d for d in yaml.safe_load_all(open(os.path.join(repo, "deploy/k8s/sweep-merge-job.yaml"))) if d]
    name = pvc["metadata"]["name"]
    subprocess.run(podman + ["pod", "rm", "-f", "-a"], capture_output=True)
    subprocess.run(podman + ["volume", "rm", "-f", name], capture_output=True)

    def play(doc, path):
        with open(path, "w") as f:
            yaml.safe_dump(doc, f)
        return subprocess.run(podman + ["kube", "play", "--network", "none", path], capture_output=True, text=True)

    p = play(pvc, os.path.join(workdir, "pvc.yaml"))
    check("kube play: the PVC as written becomes a volume", p.returncode == 0, first_line(p.stderr))

    def run_pod(job_doc, pod_name, index):
        template = json.loads(json.dumps(job_doc["spec"]["template"]))
        (c,) = template["spec"]["containers"]
        if index is not None:
            c.setdefault("env", []).append({"name": "JOB_COMPLETION_INDEX", "value": str(index)})
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod_name, "labels": template["metadata"]["labels"]}, "spec": template["spec"]}
        p = play(pod, os.path.join(workdir, f"{pod_name}.yaml"))
        if p.returncode != 0:
            return None, first_line(p.stderr)
        w = subprocess.run(podman + ["wait", f"{pod_name}-{c['name']}"], capture_output=True, text=True)
        logs = subprocess.run(podman + ["logs", f"{pod_name}-{c['name']}"], capture_output=True, text=True)
        subprocess.run(podman + ["pod", "rm", "-f", pod_name], capture_output=True)
        try:
            return int(w.stdout.strip()), first_line(logs.stderr)
        except ValueError:
            return None, first_line(w.stderr)

    n = spec["completions"]
    codes = [run_pod(job, f"metastable-sweep-{i}", i) for i in range(n)]
    check(f"kube play: the Job's pod template as pods 0..{n - 1}, each exits 0", [c for c, _ in codes] == [0] * n, codes[0][1])
    code, err = run_pod(merge, "metastable-merge", None)
    check("kube play: the merge Job's pod template exits 0", code == 0, err)
    m = subprocess.run(podman + ["volume", "inspect", name, "--format", "{{.Mountpoint}}"], capture_output=True, text=True)
    volume = m.stdout.strip()
    _, _, merge_c = manifests(repo)
    merged = host_path(volume, merge_c["command"][merge_c["command"].index("--out") + 1]) if volume else ""
    for f in ("runs.csv", "points.csv"):
        a, b = os.path.join(merged, f), os.path.join(reference, f)
        same = os.path.exists(a) and open(a, "rb").read() == open(b, "rb").read()
        check(f"kube play: {f} on the volume is byte-identical to the unsharded sweep's", same)
    subprocess.run(podman + ["volume", "rm", "-f", name], capture_output=True)


def first_line(text):
    lines = text.strip().splitlines()
    return lines[0] if lines else ""


def fresh_dir(path, mode=0o777):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    os.chmod(path, mode)  # what fsGroup does for the volume: writable by the pods' user
    return path


def main():
    archive, repo, workdir = sys.argv[1:4]
    files = read_archive(archive)
    layer, digest = check_layout(files)
    print(f"   image digest {digest}")
    check_contents(layer, repo)

    spec, sweep_c, _ = manifests(repo)
    env = {e["name"]: e["value"] for e in sweep_c["env"]}
    check(
        "the Job is Indexed, completions = METASTABLE_SHARD_COUNT",
        spec["completionMode"] == "Indexed" and int(env["METASTABLE_SHARD_COUNT"]) == spec["completions"],
        f"{spec['completions']} shards",
    )
    rootfs = fresh_dir(os.path.join(workdir, "rootfs"), 0o755)
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        try:  # our own archive: keep its modes (/tmp 1777, /results 0777)
            tar.extractall(rootfs, filter="fully_trusted")
        except TypeError:  # Python before 3.11.4 has no filters
            tar.extractall(rootfs)
    binary = os.path.join(rootfs, "usr/local/bin/metastable")

    # The reference: the same sweep unsharded, by the image's binary, outside the image.
    reference = os.path.join(workdir, "unsharded")
    shutil.rmtree(reference, ignore_errors=True)
    p = subprocess.run(
        [binary, "sweep", sweep_c["command"][2], "--out", reference, "--quiet"],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    check("the unsharded reference sweep exits 0", p.returncode == 0, p.stderr.strip())

    root = os.geteuid() == 0
    label = "chroot" if root else "no chroot (not root)"
    before = snapshot(rootfs)
    check_jobs(label, chroot_runner(rootfs, root), os.path.join(rootfs, "results"), repo, reference)
    check(f"{label}: the image's root filesystem is unchanged (only /results and /tmp written)", snapshot(rootfs) == before)

    # In real containers of the image, when deploy/k8s/test.sh found podman and runc.
    podman = os.environ.get("PODMAN")
    if podman:
        podman = podman.split()
        p = subprocess.run(podman + ["load", "-i", archive], capture_output=True, text=True)
        check("podman loads the archive as docker.io/library/metastable:0.1.0", p.returncode == 0 and "metastable:0.1.0" in p.stdout + p.stderr, first_line(p.stderr))
        results = fresh_dir(os.path.join(workdir, "podman-results"))
        check_jobs("podman", podman_runner(podman, results), results, repo, reference)
        kube_play(podman, repo, reference, workdir)
    else:
        print("   podman or runc not available: the Jobs' commands ran in a chroot only")
    print(f"k8s-image: {tally['passed']} passed, {tally['failed']} failed")
    return 1 if tally["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
