"""`manage.py oidc_keys …` of the stack under test, wherever its signing keys live."""

import os
from pathlib import Path

import pytest
import requests

from stack.compose import ComposeStack
from stack.local import LocalStack


def oidc_keys(stack, *args: str) -> str:
    """Run it against the local test stack's key directory, or in a one-off auth_server_setup container of
    the Compose stack of `make test-stack` (the one service that mounts the key volume writable)."""
    if isinstance(stack, LocalStack):
        done = stack.manage("auth_server", "oidc_keys", *args, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout
    project = os.environ.get("COMPOSE_TEST_PROJECT")
    if not project:
        pytest.skip("rotating keys needs the local test stack or the Compose stack of `make test-stack`")
    compose = ComposeStack(Path(os.environ["STACK_ENV_FILE"]), project=project)
    return compose.run("run", "--rm", "--no-deps", "-T", "auth_server_setup", "python", "manage.py", "oidc_keys", *args,
                       capture=True)


def published_kids(stack) -> list[str]:
    return [key["kid"] for key in requests.get(f"{stack.url}/o/.well-known/jwks.json").json()["keys"]]
