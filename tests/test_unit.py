"""The fast layer (tests/unit) within `make test`: each service's in-process tests, in a process of its own."""

import subprocess
import sys

import pytest

from stack.local import ROOT
from tests.unit import SERVICES


@pytest.mark.parametrize("service", SERVICES)
def test_unit_layer(service):
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                           f"tests/unit/{service}"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]
