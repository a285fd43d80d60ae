"""Shared fixtures: the repository, the CLI binary (for byte-for-byte comparisons) and a runner
for it. The binary is METASTABLE_BIN, else target/release/metastable; tests that need it are
skipped without it (python/ci.sh builds it first, so CI never skips them)."""

import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def root() -> pathlib.Path:
    return ROOT


@pytest.fixture(scope="session")
def cli_bin() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("METASTABLE_BIN", ROOT / "target" / "release" / "metastable"))
    if not path.is_file():
        if os.environ.get("METASTABLE_REQUIRE_CLI"):
            pytest.fail(f"no metastable binary at {path} (METASTABLE_REQUIRE_CLI is set)")
        pytest.skip(f"no metastable binary at {path}: build it with cargo build --release or set METASTABLE_BIN")
    return path


@pytest.fixture
def cli(cli_bin, tmp_path):
    """cli("run", FILE, "--seed", "1") → the output directory (the command must succeed)."""

    def run(*args: str) -> pathlib.Path:
        out = tmp_path / "out"
        cmd = [str(cli_bin), *args, "--out", str(out), "--quiet"]
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, f"{' '.join(cmd)} exited {done.returncode}: {done.stderr}"
        return out

    return run
