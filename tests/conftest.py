"""The test harness: one real stack per test session.

By default it starts the local stack (Postgres, Redis, the three services and nginx as processes)
in a temporary directory on free ports, with freshly generated secrets, and stops it afterwards.
With STACK_URL set (e.g. http://localhost:8080, the Compose stack) it uses that running stack and
its .env instead, and runs only the tests marked `e2e`, which need nothing but HTTP.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from dotenv import dotenv_values

from stack.envfile import generated_values
from stack.harness import ARTIFACTS, TEST_OVERRIDES
from stack.local import ROOT, LocalStack, Ports



class ExternalStack:
    """A stack started elsewhere (Compose): reachable over HTTP only."""

    def __init__(self, url: str, env: dict[str, str]):
        self.url = url.rstrip("/")
        self.env = env

    @property
    def prometheus_url(self) -> str:
        """Prometheus, published on the loopback interface (docker-compose.yml)."""
        return f"http://127.0.0.1:{self.env.get('PROMETHEUS_PORT') or 9090}"


def pytest_collection_modifyitems(config, items):
    if os.environ.get("STACK_URL"):
        skip = pytest.mark.skip(reason="needs the local stack's processes (STACK_URL is set)")
        for item in items:
            if "e2e" not in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def stack():
    if url := os.environ.get("STACK_URL"):
        # STACK_ENV_FILE: the .env of that stack when it is not the repository's (make test-stack).
        yield ExternalStack(url, dotenv_values(os.environ.get("STACK_ENV_FILE", ROOT / ".env")))
        return
    ports = Ports.free()
    # Not under pytest's tmp_path: that is private to root, and Postgres runs as its own user.
    state = Path(tempfile.mkdtemp(prefix="oauth-test-stack-"))
    local = LocalStack(state, generated_values(ports.public), ports, TEST_OVERRIDES, tls_certs=state / "certs")
    try:
        # A certificate of its own, as `make certs` makes one: HTTPS on ports.tls (tests/test_tls.py).
        subprocess.run([ROOT / "docker" / "make-certs.sh", local.tls_certs], check=True, capture_output=True)
        local.up()
        yield local
    finally:
        local.down()
        # Keep the logs of every process for whoever reads a failed run.
        shutil.copytree(state / "logs", ARTIFACTS / "stack-logs", dirs_exist_ok=True)
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
def auth_orm(_auth_django):
    """Django (auth_server's settings) in this process, pointed at the test stack's database.

    For what HTTP cannot set up or show: users and clients with special settings, rows in the token
    tables, deletions outside any view. Model signals fire here exactly as in the server.
    Each test starts on a fresh connection: an earlier test may have restarted Postgres, and Django
    checks a persistent connection's health only around requests, which this process never serves.
    """
    from django.db import connections

    connections.close_all()
    return _auth_django


@pytest.fixture(scope="session")
def _auth_django(stack):
    if isinstance(stack, ExternalStack):
        pytest.skip("needs the local stack's database")
    # Its bootstrap's environment: the server's, plus the seeded users and clients (tests run seed_demo).
    os.environ.update(stack.service_env("auth_server", bootstrap=True))
    os.environ["DJANGO_SETTINGS_MODULE"] = "authsite.settings"
    sys.path.insert(0, str(ROOT / "auth_server"))
    import django

    django.setup()
    return django
