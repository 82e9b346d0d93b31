"""The Docker Compose stack (docker-compose.yml): build, start, wait until healthy, stop.

`make up` uses it when a Docker engine answers (stack/__main__.py); `make test-stack` runs a
throwaway copy of it (stack/compose_ci.py). Works with `docker compose` (v2) and with
`docker-compose` 1.29, whichever is installed.
"""

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from stack import wiring
from stack.envfile import ensure_env_file
from stack.local import ROOT, http_ok

# Containers that run once and exit: each service's `manage.py bootstrap`, and the Postgres role of
# the exporter (observability/postgres/monitoring.sql); every other one keeps running.
ONE_SHOTS = {f"{service}_setup" for service in wiring.SERVICES} | {"postgres_exporter_setup"}
# Prometheus and the exporters (docs/observability.md), beside the stack's own services.
MONITORING = {"prometheus", "nginx_exporter", "postgres_exporter", "redis_exporter"}


def places(service: str) -> dict[str, str]:
    """Where the Compose stack puts what stack/wiring.yaml names in {braces}, as seen from `service`."""
    return {"postgres": "postgres:5432", "redis": "redis:6379",
            **{name: f"{spec['host']}:{spec['port']}" for name, spec in wiring.SERVICES.items()},
            "hosts": f"localhost,127.0.0.1,{wiring.SERVICES[service]['host']}",
            "static": "/srv/static", "oidc": "/var/lib/oidc"}


def compose_command() -> list[str] | None:
    """`docker compose` (v2) if the plugin is there, else `docker-compose` (v1), else None."""
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def engine_answers() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except subprocess.TimeoutExpired:
        return False


@dataclass
class ComposeStack:
    env_file: Path = ROOT / ".env"
    # None: Compose's default (the repository's directory name), what a bare `docker compose` uses.
    project: str | None = None
    command: list[str] = field(default_factory=lambda: compose_command() or ["docker-compose"])

    @property
    def env(self) -> dict[str, str]:
        return ensure_env_file(self.env_file)

    @property
    def url(self) -> str:
        return self.env["PUBLIC_URL"].rstrip("/")

    @property
    def prometheus_url(self) -> str:
        """Prometheus, published on the loopback interface only (docker-compose.yml)."""
        return f"http://localhost:{self.env.get('PROMETHEUS_PORT') or 9090}"

    @property
    def environ(self) -> dict[str, str]:
        """Compose's environment: PUBLIC_URL resolved (stack/envfile.py), which .env need not hold."""
        return {**os.environ, "PUBLIC_URL": self.url}

    def argv(self, *args: str) -> list[str]:
        project = ["--project-name", self.project] if self.project else []
        return [*self.command, "--project-directory", str(ROOT), "--file", str(ROOT / "docker-compose.yml"),
                "--env-file", str(self.env_file), *project, *args]

    def run(self, *args: str, capture: bool = False, quiet: bool = False) -> str:
        """Run a Compose command; `capture` returns its output, `quiet` shows it only if it fails."""
        done = subprocess.run(self.argv(*args), cwd=ROOT, text=True, env=self.environ,
                              stdout=subprocess.PIPE if capture or quiet else None,
                              stderr=subprocess.PIPE if quiet else None)
        if done.returncode:
            shown = f"\n{done.stdout}{done.stderr}" if quiet else ""
            raise RuntimeError(f"{' '.join(self.argv(*args))} failed ({done.returncode}){shown}")
        return done.stdout or ""

    # ---- lifecycle -------------------------------------------------------------------------------
    def up(self, scale: dict[str, int] | None = None, build: bool = True, timeout: float = 300):
        self.env  # creates .env on the first run
        if build:
            self.run("build", quiet=True)
        self.run("up", "--detach", "--remove-orphans", *scale_options(scale or {}))
        self.wait_healthy(timeout)
        self.reload_nginx()

    def scale(self, replicas: dict[str, int], timeout: float = 300):
        """Change the number of replicas of running services, leaving everything else as it is."""
        self.run("up", "--detach", "--no-deps", "--no-recreate", *scale_options(replicas), *replicas)
        self.wait_healthy(timeout)
        self.reload_nginx()

    def reload_nginx(self):
        """nginx resolves a service name to its replicas' addresses when it loads its configuration:
        reloading makes it pick up replicas added or replaced since it started."""
        self.run("exec", "-T", "nginx", "nginx", "-s", "reload", quiet=True)
        deadline = time.monotonic() + 30
        while not http_ok(f"{self.url}/o/.well-known/openid-configuration"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.url} does not answer through nginx\n{self.logs('nginx')}")
            time.sleep(0.2)

    def down(self, volumes: bool = False):
        self.run("down", "--remove-orphans", *(["--volumes"] if volumes else []), quiet=True)

    def logs(self, *services: str) -> str:
        return self.run("logs", "--no-color", *services, capture=True)

    # ---- state -----------------------------------------------------------------------------------
    def containers(self, service: str | None = None) -> list[dict]:
        """`docker inspect` of every container of the project (of one service), exited ones included."""
        ids = self.run("ps", "--all", "--quiet", *([service] if service else []), capture=True).split()
        return json.loads(subprocess.run(["docker", "inspect", *ids], capture_output=True, text=True,
                                         check=True).stdout) if ids else []

    def replica_addresses(self, service: str) -> set[str]:
        return {network["IPAddress"] for c in self.containers(service)
                for network in c["NetworkSettings"]["Networks"].values()}

    def problems(self) -> list[str]:
        """What keeps the stack from being healthy: one line per container that is not ready yet."""
        found = []
        for c in self.containers():
            service, state = c["Config"]["Labels"]["com.docker.compose.service"], c["State"]
            if service in ONE_SHOTS:
                if state["Status"] != "exited" or state["ExitCode"]:
                    found.append(f"{service}: {state['Status']} (exit code {state['ExitCode']})")
            elif state["Status"] != "running":
                found.append(f"{service}: {state['Status']}")
            elif state.get("Health", {}).get("Status", "healthy") != "healthy":
                found.append(f"{service}: {state['Health']['Status']}")
        return found

    def wait_healthy(self, timeout: float):
        deadline = time.monotonic() + timeout
        while problems := self.problems():
            if time.monotonic() > deadline:
                raise RuntimeError("the stack did not become healthy:\n  " + "\n  ".join(problems)
                                   + "\n" + self.logs()[-6000:])
            time.sleep(1)


def scale_options(replicas: dict[str, int]) -> list[str]:
    return [f"--scale={service}={n}" for service, n in replicas.items()]
