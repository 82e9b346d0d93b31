"""`make test-stack`: the Compose stack, built and run for real, under the end-to-end suite.

A throwaway project (own name, volumes and .env with free ports) so that it never touches the
stack of `make up`. Steps: build and start, wait until healthy, run the `e2e` tests over HTTP
(the same ones that run against the local stack), then tests/compose (data survives down + up,
scale-out), and always tear down with the volumes. The images stay, as Docker's build cache.
"""

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stack.compose import ComposeStack
from stack.envfile import ensure_env_file
from stack.local import ROOT, free_port
from stack.harness import ARTIFACTS, TEST_OVERRIDES


def pytest(*args: str, env: dict[str, str]) -> int:
    inherited = {k: v for k, v in os.environ.items() if k != "STACK_URL"}
    return subprocess.run([sys.executable, "-m", "pytest", *args], cwd=ROOT, env={**inherited, **env}).returncode


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="oauth-compose-ci-"))
    env_file = workdir / ".env"
    ensure_env_file(env_file, public_port=free_port())
    # The same nginx rate limits as the suite's local stacks, and free ports for TLS and Prometheus.
    with env_file.open("a") as f:
        f.write("".join(f"{k}={v}\n" for k, v in {**TEST_OVERRIDES, "TLS_PORT": free_port(), "PROMETHEUS_PORT": free_port()}.items()))
    stack = ComposeStack(env_file, project=f"oauth2ci{secrets.token_hex(3)}")
    compose_env = {"STACK_ENV_FILE": str(env_file), "COMPOSE_TEST_PROJECT": stack.project}
    started = time.monotonic()
    try:
        stack.up()
        print(f"compose stack healthy after {time.monotonic() - started:.0f}s at {stack.url}", flush=True)
        e2e = pytest("-m", "e2e", env={**compose_env, "STACK_URL": stack.url})
        # Not under STACK_URL, which would skip them: they drive Docker, not only HTTP.
        compose_only = pytest("tests/compose", env=compose_env)
        return e2e or compose_only
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "compose-stack.log").write_text(stack.logs())
        stack.down(volumes=True)
        shutil.rmtree(workdir, ignore_errors=True)
        print(f"make test-stack: {time.monotonic() - started:.0f}s from build to teardown", flush=True)


if __name__ == "__main__":
    sys.exit(main())
