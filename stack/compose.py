"""The Docker Compose stack (docker-compose.yml): build, start, wait until healthy, stop.

`make up` uses it when a Docker engine answers (stack/__main__.py); `make test-stack` runs a
throwaway copy of it (stack/compose_ci.py). Works with `docker compose` (v2) and with
`docker-compose` 1.29, whichever is installed.
"""

import hashlib
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
# Keys of .env that Postgres, Redis, the exporters and Grafana read from files (docker/postgres/initdb.d,
# redis/, observability/postgres/).
SERVER_SECRETS = ["POSTGRES_PASSWORD", "AUTH_DB_PASSWORD", "POSTS_DB_PASSWORD",
                  "REDIS_PASSWORD", "REDIS_AUTH_PASSWORD", "REDIS_API_PASSWORD", "REDIS_DEMO_PASSWORD",
                  "POSTGRES_MONITORING_PASSWORD", "REDIS_MONITORING_PASSWORD", "GRAFANA_ADMIN_PASSWORD"]
# What the `locust` service (the loadtest profile) signs in with.
LOCUST_KEYS = ["LOADTEST_CLIENT_ID", "LOADTEST_CLIENT_SECRET", "DEMO_CLIENT_ID", "DEMO_CLIENT_SECRET",
               "DEMO_USERNAME", "DEMO_PASSWORD"]
# The label of every image built from docker/service/Dockerfile, its build stage included.
IMAGE_LABEL = "oauth2-reference.service"
# nginx's input besides its environment: the template it renders at start, the TLS snippet and certificate.
NGINX_CONFIG = [ROOT / "nginx" / "templates", ROOT / "nginx" / "certs"]


def places(service: str) -> dict[str, str]:
    """Where the Compose stack puts what stack/wiring.yaml names in {braces}, as seen from `service`."""
    return {"postgres": "postgres:5432", "redis": "redis:6379",
            **{name: f"{spec['host']}:{spec['port']}" for name, spec in wiring.SERVICES.items()},
            "hosts": f"localhost,127.0.0.1,{wiring.SERVICES[service]['host']}",
            # Every interface of the container, on the stack's internal network: no port is published.
            "metrics": f"0.0.0.0:{wiring.SERVICES[service]['metrics_port']}",
            "static": "/srv/static", "oidc": "/var/lib/oidc"}


def secret_name(service: str, key: str) -> str:
    """The Compose secret (and file under /run/secrets) holding `service`'s variable `key`."""
    return f"{service}_{key.lower()}"


def secret_files(env: dict[str, str]) -> dict[str, str]:
    """Every Compose secret's content: each service's variables that carry a secret (stack/wiring.py),
    rendered for the containers, and the passwords Postgres and Redis read. Stops on a missing one."""
    files = {}
    for key in SERVER_SECRETS:
        if not env.get(key):
            raise SystemExit(f"{key} is missing or empty in .env: delete its line and `make up` generates it")
        files[key.lower()] = env[key]
    for service in wiring.SERVICES:
        try:
            rendered = wiring.service_env(service, places(service), env, bootstrap=True)
        except KeyError as missing:
            raise SystemExit(f"{missing.args[0]} (needed by {service})") from None
        for key in wiring.secret_keys(service, bootstrap=True):
            files[secret_name(service, key)] = rendered[key]
    # redis_exporter's password file is a JSON map from the address it scrapes to the password.
    files["redis_exporter_passwords"] = json.dumps({"redis://redis:6379": env["REDIS_MONITORING_PASSWORD"]})
    # The locust profile's credentials, in .env's format (loadtest/locustfile.py reads LOADTEST_ENV_FILE).
    files["locust_env"] = "".join(f"{key}={env[key]}\n" for key in LOCUST_KEYS)
    return files


def write_secrets(env: dict[str, str], directory: Path):
    """Write the secret files Compose mounts under /run/secrets. The directory is the owner's only
    (0700); the files are world-readable (0644) because Compose 1.29 mounts them with their host
    mode and owner, and each container reads its own as an unprivileged user. A file is rewritten
    only when its content changed (in place, so running containers see the new value)."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    for name, content in secret_files(env).items():
        path = directory / name
        if not path.exists() or path.read_text() != content:
            path.write_text(content)
        path.chmod(0o644)


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
    def state(self) -> Path:
        """Files the stack generates from .env, beside it: the secrets, what nginx last loaded."""
        return self.env_file.parent / ".state" / "compose"

    @property
    def prometheus_url(self) -> str:
        """Prometheus, published on the loopback interface only (docker-compose.yml)."""
        return f"http://localhost:{self.env.get('PROMETHEUS_PORT') or 9090}"

    @property
    def environ(self) -> dict[str, str]:
        """Compose's environment: PUBLIC_URL resolved (stack/envfile.py), which .env need not hold,
        and the directory of the secret files, written from .env first."""
        env = self.env
        write_secrets(env, self.state / "secrets")
        return {**os.environ, "PUBLIC_URL": env["PUBLIC_URL"].rstrip("/"),
                "STACK_SECRETS_DIR": str(self.state / "secrets")}

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
            self.build()
        before = self.upstreams()
        self.run("up", "--detach", "--remove-orphans", *scale_options(scale or {}))
        self.wait_healthy(timeout)
        self.reload_nginx_if_changed(before)

    def build(self):
        """Build the services' images with the builder's progress shown, then remove the untagged
        images earlier builds left (replaced images; build stages, which only docker-compose 1.29's
        legacy builder keeps as images). With that builder the current build stage is tagged
        <image>:build first (an instant, cached build): it is its cache of the pip install."""
        print("building the images (docker/service/Dockerfile)", flush=True)
        self.run("build")
        if self.legacy_builder():
            for service in wiring.SERVICES:
                subprocess.run(["docker", "build", "--quiet", "--file", "docker/service/Dockerfile", "--target", "build",
                                "--build-arg", f"SERVICE={service}", "--tag", f"oauth2-reference/{service}:build", "."],
                               cwd=ROOT, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "DOCKER_BUILDKIT": "0"})
        subprocess.run(["docker", "image", "prune", "--force", "--filter", f"label={IMAGE_LABEL}"],
                       check=True, stdout=subprocess.DEVNULL)

    def legacy_builder(self) -> bool:
        """docker-compose 1.x builds with the engine's legacy builder (BuildKit only if told)."""
        if self.command != ["docker-compose"] or os.environ.get("DOCKER_BUILDKIT") == "1":
            return False
        version = subprocess.run([*self.command, "version", "--short"], capture_output=True, text=True).stdout
        return version.strip().lstrip("v").startswith("1.")

    def scale(self, replicas: dict[str, int], timeout: float = 300):
        """Change the number of replicas of running services, leaving everything else as it is."""
        before = self.upstreams()
        self.run("up", "--detach", "--no-deps", "--no-recreate", *scale_options(replicas), *replicas)
        self.wait_healthy(timeout)
        self.reload_nginx_if_changed(before)

    def upstreams(self) -> tuple[str, dict[str, list[str]], str]:
        """What nginx serves from: its container, the addresses of every replica it proxies to
        (resolved when it loads its configuration), and its configuration files' digest."""
        nginx = [c["Id"] for c in self.containers("nginx") if c["State"]["Status"] == "running"]
        return (nginx[0] if nginx else "",
                {service: sorted(self.replica_addresses(service, running=True)) for service in wiring.SERVICES},
                config_digest())

    def reload_nginx_if_changed(self, before: tuple[str, dict[str, list[str]], str]):
        """Reload nginx only if it runs the same container as before while the replicas or its
        configuration changed (a container Compose just started loaded them already): a reload
        ends the idle keepalive connections of every client."""
        after = self.upstreams()
        loaded = self.state / "nginx-loaded"
        record = f"{after[0]} {after[2]}"
        if after[0] == before[0] and (after[1] != before[1] or loaded.exists() and loaded.read_text() != record):
            self.reload_nginx(rerender=loaded.exists() and loaded.read_text() != record)
        else:
            self.wait_nginx()
        loaded.parent.mkdir(parents=True, exist_ok=True)
        loaded.write_text(record)

    def reload_nginx(self, rerender: bool = False):
        """nginx resolves a service name to its replicas' addresses when it loads its configuration:
        reloading makes it pick up replicas added or replaced since it started. `rerender`: the
        template changed, so render it again first (the image does that only when it starts)."""
        if rerender:
            self.run("exec", "-T", "nginx", "/docker-entrypoint.d/20-envsubst-on-templates.sh", quiet=True)
        self.run("exec", "-T", "nginx", "nginx", "-s", "reload", quiet=True)
        self.wait_nginx()

    def wait_nginx(self):
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

    def replica_addresses(self, service: str, running: bool = False) -> set[str]:
        return {network["IPAddress"] for c in self.containers(service)
                if not running or c["State"]["Status"] == "running"
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


def config_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(p for directory in NGINX_CONFIG if directory.exists() for p in directory.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(ROOT)}\0".encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def scale_options(replicas: dict[str, int]) -> list[str]:
    return [f"--scale={service}={n}" for service, n in replicas.items()]
