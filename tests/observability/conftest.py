"""Prometheus's own checker, promtool (Debian package `prometheus`, installed by `make dev`)."""

import shutil
import subprocess
from pathlib import Path

import pytest

from observability.contract import HERE

PROMETHEUS = HERE / "prometheus"


@pytest.fixture(scope="session")
def promtool():
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is missing: run `make dev` (Debian package `prometheus`)")

    def run(*args: str | Path, cwd: Path | None = None) -> str:
        result = subprocess.run([path, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=60)
        assert result.returncode == 0, f"promtool {' '.join(map(str, args))}:\n{result.stdout}{result.stderr}"
        return result.stdout

    return run
