"""The Docker Compose stack that `make test-stack` started (stack/compose_ci.py).

These tests drive Docker itself (stop and start the stack, scale services, read nginx's log), so
they run only there; anywhere else they are skipped.
"""

import os
from pathlib import Path

import pytest

from stack.compose import ComposeStack


@pytest.fixture(scope="session")
def compose() -> ComposeStack:
    project = os.environ.get("COMPOSE_TEST_PROJECT")
    if not project:
        pytest.skip("needs the Compose stack of `make test-stack`")
    return ComposeStack(Path(os.environ["STACK_ENV_FILE"]), project=project)
