"""The local stack: Postgres, Redis, the three Django services and nginx as plain processes.

`make up STACK=local` runs it with its state in `.state/` and nginx on PUBLIC_PORT; the test suite
runs the same code in a temporary directory on free ports. Every process is started by this module
and remembered by a pid file in the state directory, so `down` stops exactly those processes.

    python -m stack.local up|down|status [--state DIR]
"""

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from stack.envfile import ensure_env_file

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_for(check, what: str, timeout: float = 60.0, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    tail = log.read_text()[-3000:] if log and log.exists() else ""
    raise RuntimeError(f"timed out waiting for {what}\n{tail}")


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


def run(cmd: list[str]) -> str:
    """Run a command; on failure raise with what it printed, so `make up` says why."""
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


def postgres_bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))), None)
    if not found:
        sys.exit(f"{name} not found: install PostgreSQL (Debian: apt-get install postgresql)")
    return str(found)


@dataclass
class Ports:
    public: int = 8080
    auth: int = 8001
    api: int = 8002
    demo: int = 8003
    postgres: int = 15432
    redis: int = 16379

    @classmethod
    def free(cls) -> "Ports":
        return cls(*(free_port() for _ in range(6)))


# The three Django services: directory, WSGI module, and which port they listen on.
SERVICES = {
    "auth_server": ("authsite.wsgi", "auth"),
    "resource_api": ("apisite.wsgi", "api"),
    "consumer_demo": ("demosite.wsgi", "demo"),
}


@dataclass
class LocalStack:
    state: Path
    env: dict[str, str]
    ports: Ports = field(default_factory=Ports)
    # Extra environment for every service (the tests use it to shorten lifetimes, for example).
    overrides: dict[str, str] = field(default_factory=dict)

    # ---- derived locations -------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://localhost:{self.ports.public}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.ports.redis}/0"

    def database_url(self, name: str) -> str:
        password = self.env["AUTH_DB_PASSWORD" if name == "auth" else "POSTS_DB_PASSWORD"]
        return f"postgres://{name}:{password}@127.0.0.1:{self.ports.postgres}/{name}"

    def service_url(self, service: str) -> str:
        return f"http://127.0.0.1:{getattr(self.ports, SERVICES[service][1])}"

    def log(self, name: str) -> Path:
        return self.state / "logs" / f"{name}.log"

    def pidfile(self, name: str) -> Path:
        return self.state / "run" / f"{name}.pid"

    # ---- environment of each service -----------------------------------------------------------
    def service_env(self, service: str) -> dict[str, str]:
        e = self.env
        common = {
            "PUBLIC_URL": self.url,
            "ALLOWED_HOSTS": "localhost,127.0.0.1",
            "STATIC_ROOT": str(self.state / "static" / service),
            "GUNICORN_BIND": f"127.0.0.1:{getattr(self.ports, SERVICES[service][1])}",
            "PYTHONUNBUFFERED": "1",
            # Explicit, not inherited: the test process may have another service's settings loaded.
            "DJANGO_SETTINGS_MODULE": SERVICES[service][0].replace(".wsgi", ".settings"),
        }
        auth_internal = self.service_url("auth_server")
        specific = {
            "auth_server": {
                "SECRET_KEY": e["AUTH_SECRET_KEY"],
                "DATABASE_URL": self.database_url("auth"),
                "REDIS_URL": self.redis_url,
                "OIDC_KEY_FILE": str(self.state / "oidc" / "private.pem"),
                **{k: e[k] for k in e if k.startswith(("DEMO_", "API_CLIENT_", "LOADTEST_", "ADMIN_", "LOGIN_"))},
            },
            "resource_api": {
                "SECRET_KEY": e["API_SECRET_KEY"],
                "DATABASE_URL": self.database_url("posts"),
                "REDIS_URL": self.redis_url,
                "AUTH_INTERNAL_URL": auth_internal,
                "INTROSPECTION_CLIENT_ID": e["API_CLIENT_ID"],
                "INTROSPECTION_CLIENT_SECRET": e["API_CLIENT_SECRET"],
            },
            "consumer_demo": {
                "SECRET_KEY": e["DEMO_SECRET_KEY"],
                "REDIS_URL": f"redis://127.0.0.1:{self.ports.redis}/1",
                "AUTH_INTERNAL_URL": auth_internal,
                "API_INTERNAL_URL": self.service_url("resource_api"),
                "OAUTH_CLIENT_ID": e["DEMO_CLIENT_ID"],
                "OAUTH_CLIENT_SECRET": e["DEMO_CLIENT_SECRET"],
                "OAUTH_REDIRECT_URI": e["DEMO_REDIRECT_URI"],
            },
        }[service]
        return {**os.environ, **common, **specific, **self.overrides}

    def manage(self, service: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run a Django management command of `service` against this stack."""
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT / service, env=self.service_env(service),
            check=check, capture_output=True, text=True,
        )

    # ---- Postgres --------------------------------------------------------------------------
    def _as_postgres(self, cmd: list[str]) -> list[str]:
        # Postgres refuses to run as root; on a root shell run it as the postgres user.
        return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd

    def _psql(self, sql: str, db: str = "postgres") -> str:
        return run(self._as_postgres(["psql", "-h", str(self.state / "postgres-socket"), "-p", str(self.ports.postgres),
                                      "-U", "postgres", "-d", db, "-tAq", "-v", "ON_ERROR_STOP=1", "-c", sql])).strip()

    def start_postgres(self):
        data, sock, log = self.state / "postgres", self.state / "postgres-socket", self.log("postgres")
        data.mkdir(exist_ok=True)
        sock.mkdir(exist_ok=True)
        log.touch()
        if os.geteuid() == 0:
            for path in (data, sock, log):
                shutil.chown(path, "postgres", "postgres")
        if not (data / "PG_VERSION").exists():
            run(self._as_postgres([postgres_bin("initdb"), "-D", str(data), "-U", "postgres",
                                   "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8"]))
        if not port_open(self.ports.postgres):
            options = (f"-p {self.ports.postgres} -k {sock} -c listen_addresses=127.0.0.1 "
                       "-c synchronous_commit=off -c max_connections=200")
            run(self._as_postgres([postgres_bin("pg_ctl"), "-D", str(data), "-l", str(log),
                                   "-o", options, "-w", "-t", "60", "start"]))
        for name, password in (("auth", self.env["AUTH_DB_PASSWORD"]), ("posts", self.env["POSTS_DB_PASSWORD"])):
            if not self._psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{name}'"):
                self._psql(f"CREATE ROLE {name} LOGIN")
            self._psql(f"ALTER ROLE {name} PASSWORD '{password}'")
            if not self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'"):
                self._psql(f"CREATE DATABASE {name} OWNER {name}")

    def stop_postgres(self):
        if (self.state / "postgres" / "postmaster.pid").exists():
            subprocess.run(self._as_postgres([postgres_bin("pg_ctl"), "-D", str(self.state / "postgres"),
                                              "-m", "fast", "-w", "stop"]), capture_output=True)

    # ---- Redis -----------------------------------------------------------------------------
    def start_redis(self):
        if port_open(self.ports.redis):
            return
        (self.state / "redis").mkdir(exist_ok=True)
        subprocess.run(["redis-server", "--port", str(self.ports.redis), "--bind", "127.0.0.1",
                        "--dir", str(self.state / "redis"), "--daemonize", "yes",
                        "--pidfile", str(self.pidfile("redis")), "--logfile", str(self.log("redis")),
                        "--save", "", "--appendonly", "no"], check=True)
        wait_for(lambda: port_open(self.ports.redis), "redis", log=self.log("redis"))

    def stop_redis(self):
        self._kill("redis")
        wait_for(lambda: not port_open(self.ports.redis), "redis to stop")

    # ---- Django services ---------------------------------------------------------------------
    def prepare(self, service: str):
        """Migrations, static files and first-start set-up; all idempotent."""
        steps = {
            "auth_server": [["migrate", "--noinput"], ["ensure_oidc_key"], ["seed_demo"]],
            "resource_api": [["migrate", "--noinput"]],
            "consumer_demo": [],
        }[service]
        for args in [*steps, ["collectstatic", "--noinput", "--clear"]]:
            done = self.manage(service, *args, check=False)
            if done.returncode:
                raise RuntimeError(f"{service}: manage.py {' '.join(args)} failed\n{done.stdout}\n{done.stderr}")

    def start_service(self, service: str):
        port = getattr(self.ports, SERVICES[service][1])
        if not port_open(port):
            with self.log(service).open("ab") as log:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", SERVICES[service][0]],
                    cwd=ROOT / service, env=self.service_env(service),
                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                )
            self.pidfile(service).write_text(str(proc.pid))
        wait_for(lambda: http_ok(f"{self.service_url(service)}/readyz"), f"{service} /readyz",
                 log=self.log(service))

    def stop_service(self, service: str):
        self._kill(service)

    # ---- nginx -----------------------------------------------------------------------------
    def render_nginx(self):
        conf = self.state / "nginx"
        for sub in ("conf.d", "tmp", "tls"):
            (conf / sub).mkdir(parents=True, exist_ok=True)
        values = {
            "NGINX_PORT": str(self.ports.public),
            "AUTH_UPSTREAM": f"127.0.0.1:{self.ports.auth}",
            "API_UPSTREAM": f"127.0.0.1:{self.ports.api}",
            "DEMO_UPSTREAM": f"127.0.0.1:{self.ports.demo}",
            "STATIC_ROOT": str(self.state / "static"),
            "NGINX_ACCESS_LOG": str(self.log("nginx-access")),
            "STATE_DIR": str(conf),
            # Holds no TLS snippet: the local stack serves plain HTTP only.
            "NGINX_TLS_DIR": str(conf / "tls"),
            **nginx_settings(self.env, self.overrides),
        }
        render_template(ROOT / "nginx/templates/default.conf.template", conf / "conf.d/default.conf", values)
        render_template(ROOT / "nginx/local.conf.template", conf / "nginx.conf", values)
        return conf / "nginx.conf"

    def start_nginx(self):
        main = self.render_nginx()
        if self.pidfile("nginx").exists() and port_open(self.ports.public):
            subprocess.run(["nginx", "-p", str(main.parent), "-c", str(main), "-s", "reload"], check=True)
            return
        out = subprocess.run(["nginx", "-p", str(main.parent), "-c", str(main)], capture_output=True, text=True)
        if out.returncode:
            raise RuntimeError(f"nginx failed to start: {out.stderr}")
        wait_for(lambda: port_open(self.ports.public), "nginx", log=self.log("nginx-error"))

    def stop_nginx(self):
        self._kill("nginx")

    # ---- the whole stack -----------------------------------------------------------------------
    def up(self):
        for d in ("logs", "run", "static", "oidc"):
            (self.state / d).mkdir(parents=True, exist_ok=True)
        # Postgres runs as another user when we are root: it must be able to reach its directory.
        self.state.chmod(0o755)
        self.start_postgres()
        self.start_redis()
        for service in SERVICES:
            self.prepare(service)
        for service in SERVICES:
            self.start_service(service)
        self.start_nginx()
        wait_for(lambda: http_ok(f"{self.url}/o/.well-known/openid-configuration"), "nginx -> auth_server",
                 log=self.log("nginx-error"))

    def down(self):
        self.stop_nginx()
        for service in SERVICES:
            self.stop_service(service)
        if self.pidfile("redis").exists():
            self.stop_redis()
        self.stop_postgres()

    def status(self) -> dict[str, bool]:
        checks = {
            "postgres": port_open(self.ports.postgres),
            "redis": port_open(self.ports.redis),
            **{s: http_ok(f"{self.service_url(s)}/readyz") for s in SERVICES},
            "nginx": port_open(self.ports.public),
        }
        return checks

    def _kill(self, name: str, timeout: float = 15.0):
        pidfile = self.pidfile(name)
        if not pidfile.exists():
            return
        pid = int(pidfile.read_text().strip() or 0)
        try:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                _reap(pid)
                os.kill(pid, 0)
                time.sleep(0.05)
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        pidfile.unlink(missing_ok=True)


def _reap(pid: int):
    """Collect `pid` if it is our own exited child (the test harness starts gunicorn directly)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def nginx_settings(env: dict, overrides: dict) -> dict[str, str]:
    """Tunable nginx values (rate limits), from the environment with documented defaults."""
    defaults = {"AUTH_RATE_LIMIT": "20r/s", "AUTH_RATE_BURST": "40",
                "SIGN_IN_RATE_LIMIT": "10r/m", "SIGN_IN_RATE_BURST": "10"}
    return {k: overrides.get(k) or env.get(k) or v for k, v in defaults.items()}


def render_template(src: Path, dst: Path, values: dict[str, str]):
    """Substitute ${NAME} for the given names only, as the nginx image's envsubst step does."""
    text = re.sub(r"\$\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), src.read_text())
    dst.write_text(text)


def print_welcome(what: str, url: str, env: dict[str, str]):
    """What `make up` prints once the stack (local or Compose) is healthy."""
    print(f"\n{what} is up: {url}\n")
    print(f"  consumer demo      {url}/")
    print(f"  authorization      {url}/o/.well-known/openid-configuration")
    print(f"  posts API          {url}/api/openapi.json")
    print(f"  admin              {url}/admin/   ({env['ADMIN_USERNAME']} / {env['ADMIN_PASSWORD']})")
    print(f"  demo user          {env['DEMO_USERNAME']} / {env['DEMO_PASSWORD']}")
    print("\nCredentials and client ids are in .env. Stop with `make down`.")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--state", type=Path, default=ROOT / ".state")
    args = parser.parse_args()
    env = ensure_env_file(ROOT / ".env")
    stack = LocalStack(args.state, env, Ports(public=int(env["PUBLIC_PORT"])))
    if args.command == "up":
        stack.up()
        print_welcome("The local stack", stack.url, env)
    elif args.command == "down":
        stack.down()
        print("local stack stopped (data kept in .state/)")
    else:
        for name, ok in stack.status().items():
            print(f"{name:15} {'up' if ok else 'down'}")


if __name__ == "__main__":
    main()
