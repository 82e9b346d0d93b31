"""The local stack: Postgres, Redis, the three Django services, nginx, and Prometheus with the
exporters of nginx, Postgres and Redis, as plain processes.

`make up STACK=local` runs it with its state in `.state/` and nginx on PUBLIC_PORT; the test suite
runs the same code in a temporary directory on free ports. What runs, configured how, set up how,
is stack/wiring.yaml, which Compose follows too. Postgres runs under pg_ctl; every other
long-running process runs under supervisord, which restarts it when it dies (the table is
`LocalStack.programs`). `down` stops supervisord with its processes, then Postgres.

    python -m stack.local up|down|status [--state DIR]
"""

import argparse
import contextlib
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import xmlrpc.client
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from string import Template

import psutil
from supervisor.xmlrpc import Faults, SupervisorTransport

from stack import wiring
from stack.envfile import ensure_env_file, public_url

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
    # nginx's HTTPS port, served only when the stack has a certificate (LocalStack.tls_certs).
    tls: int = 8443
    # Monitoring, all on 127.0.0.1 (docs/observability.md, "Scrape targets").
    prometheus: int = 9090
    # The Django services' /metrics (each gunicorn master's own port).
    auth_metrics: int = 9101
    api_metrics: int = 9102
    demo_metrics: int = 9103
    # nginx's stub_status (nginx/templates/status.conf.template) and the exporters.
    nginx_status: int = 18081
    nginx_exporter: int = 9113
    postgres_exporter: int = 9187
    redis_exporter: int = 9121

    @classmethod
    def free(cls) -> "Ports":
        chosen: list[int] = []
        while len(chosen) < len(fields(cls)):
            if (port := free_port()) not in chosen:
                chosen.append(port)
        return cls(*chosen)


# Redis users and the .env key of each one's password (redis/users.acl.template).
REDIS_PASSWORDS = {"default": "REDIS_PASSWORD", "auth_server": "REDIS_AUTH_PASSWORD",
                   "resource_api": "REDIS_API_PASSWORD", "consumer_demo": "REDIS_DEMO_PASSWORD",
                   "monitoring": "REDIS_MONITORING_PASSWORD"}

# Prometheus's configuration (a template) and rules, and the exporters' Postgres role.
PROMETHEUS_DIR = ROOT / "observability" / "prometheus"
MONITORING_SQL = ROOT / "observability" / "postgres" / "monitoring.sql"

# The Django services (stack/wiring.yaml) and the field of Ports each listens on here; its metrics
# port is the field with "_metrics" appended.
SERVICES = {"auth_server": "auth", "resource_api": "api", "consumer_demo": "demo"}
assert SERVICES.keys() == wiring.SERVICES.keys()


@dataclass
class Program:
    """A long-running process run by supervisord: started, and restarted whenever it exits."""
    argv: list[str]
    cwd: Path = ROOT
    # Set on top of the environment supervisord was started with.
    env: dict[str, str] = field(default_factory=dict)
    # True once it serves; without one, supervisord's RUNNING (alive for `startsecs`) is enough.
    ready: Callable[[], bool] | None = None


# The pg_hba.conf of the stack's cluster: a password (SCRAM) on the socket and over TCP, for every
# role including the superuser.
PG_HBA = """\
# Written by stack/local.py, which replaces any other content on every start.
local all all scram-sha-256
host  all all 127.0.0.1/32 scram-sha-256
"""


@dataclass
class LocalStack:
    state: Path
    env: dict[str, str]
    ports: Ports = field(default_factory=Ports)
    # Extra environment for every service (the tests use it to shorten lifetimes, for example).
    overrides: dict[str, str] = field(default_factory=dict)
    # Extra environment for one service, by service name (`make bench` gives resource_api its routes).
    service_overrides: dict[str, dict[str, str]] = field(default_factory=dict)
    # A folder with localhost.crt and localhost.key (docker/make-certs.sh writes one): nginx then
    # serves HTTPS on ports.tls too, with the TLS settings of the one nginx template.
    tls_certs: Path | None = None

    # ---- derived locations -------------------------------------------------------------------
    @property
    def url(self) -> str:
        """PUBLIC_URL: what users reach, and what every URL the services hand out names."""
        return public_url(self.env)

    def places(self, service: str) -> dict[str, str]:
        """Where this stack puts what stack/wiring.yaml names in {braces}, for `service`."""
        return {"postgres": f"127.0.0.1:{self.ports.postgres}", "redis": f"127.0.0.1:{self.ports.redis}",
                **{name: f"127.0.0.1:{self.port(name)}" for name in SERVICES},
                "hosts": "localhost,127.0.0.1", "metrics": f"127.0.0.1:{self.metrics_port(service)}",
                "static": str(self.state / "static"), "oidc": str(self.state / "oidc")}

    def port(self, service: str) -> int:
        return getattr(self.ports, SERVICES[service])

    def metrics_port(self, service: str) -> int:
        """Where `service`'s gunicorn master serves /metrics (127.0.0.1 only)."""
        return getattr(self.ports, SERVICES[service] + "_metrics")

    def metrics_url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.metrics_port(service)}/metrics"

    def redis_url(self, user: str = "default", db: int = 0) -> str:
        """A Redis URL as `user` (redis/users.acl.template); `default` is the operators' account."""
        password = self.env[REDIS_PASSWORDS[user]]
        return f"redis://{user}:{password}@127.0.0.1:{self.ports.redis}/{db}"

    def database_url(self, name: str) -> str:
        password = self.env["AUTH_DB_PASSWORD" if name == "auth" else "POSTS_DB_PASSWORD"]
        return f"postgres://{name}:{password}@127.0.0.1:{self.ports.postgres}/{name}"

    def service_url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.port(service)}"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.prometheus}"

    def log(self, name: str) -> Path:
        return self.state / "logs" / f"{name}.log"

    @property
    def supervisor_conf(self) -> Path:
        return self.state / "run" / "supervisord.conf"

    # ---- environment of each service -----------------------------------------------------------
    def service_env(self, service: str, bootstrap: bool = False) -> dict[str, str]:
        return {**os.environ, **self.service_settings(service, bootstrap)}

    def service_settings(self, service: str, bootstrap: bool = False) -> dict[str, str]:
        """What `service` is configured with (stack/wiring.yaml), on top of the environment it inherits;
        `bootstrap`: what its `manage.py bootstrap` is."""
        return {**self._process_env(service),
                **wiring.service_env(service, self.places(service), self._wiring_values, bootstrap), **self.overrides,
                **self.service_overrides.get(service, {})}

    def worker_settings(self, worker: str) -> dict[str, str]:
        service = wiring.WORKERS[worker]["service"]
        return {**self._process_env(service),
                **wiring.worker_env(worker, self.places(service), self._wiring_values), **self.overrides}

    @property
    def _wiring_values(self) -> dict[str, str]:
        return {**self.env, "PUBLIC_URL": self.url}

    def _process_env(self, service: str) -> dict[str, str]:
        """What running as a local process takes, where the containers have it from their image."""
        return {
            "GUNICORN_BIND": f"127.0.0.1:{self.port(service)}",
            "PYTHONUNBUFFERED": "1",
            # Explicit, not inherited: the test process may have another service's settings loaded.
            "DJANGO_SETTINGS_MODULE": wiring.SERVICES[service]["wsgi"].replace(".wsgi", ".settings"),
            # `python` in a declared command (a worker's shell loop) is this interpreter.
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)]),
        }

    def manage(self, service: str, *args: str, check: bool = True, bootstrap: bool = False
               ) -> subprocess.CompletedProcess:
        """Run a Django management command of `service` against this stack."""
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT / service, env=self.service_env(service, bootstrap),
            check=check, capture_output=True, text=True,
        )

    # ---- Postgres --------------------------------------------------------------------------
    def _as_postgres(self, cmd: list[str]) -> list[str]:
        # Postgres refuses to run as root; on a root shell run it as the postgres user.
        return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd

    def _psql(self, sql: str, db: str = "postgres") -> str:
        done = subprocess.run(
            ["psql", "-h", str(self.state / "postgres-socket"), "-p", str(self.ports.postgres), "-U", "postgres",
             "-d", db, "-w", "-tAq", "-v", "ON_ERROR_STOP=1", "-c", sql],
            env={**os.environ, "PGPASSWORD": self.env["POSTGRES_PASSWORD"]}, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"psql failed ({done.returncode}): {done.stderr}")
        return done.stdout.strip()

    def start_postgres(self):
        data, sock, log = self.state / "postgres", self.state / "postgres-socket", self.log("postgres")
        data.mkdir(exist_ok=True)
        sock.mkdir(exist_ok=True)
        # The socket is for Postgres's own user (and root) alone: other local accounts cannot even
        # reach it to try a password.
        sock.chmod(0o700)
        log.touch()
        if os.geteuid() == 0:
            for path in (data, sock, log):
                shutil.chown(path, "postgres", "postgres")
        if not (data / "PG_VERSION").exists():
            self._initdb(data)
        if not port_open(self.ports.postgres):
            # Default synchronous_commit: a commit is on disk before the services acknowledge it.
            options = f"-p {self.ports.postgres} -k {sock} -c listen_addresses=127.0.0.1 -c max_connections=200"
            run(self._as_postgres([postgres_bin("pg_ctl"), "-D", str(data), "-l", str(log),
                                   "-o", options, "-w", "-t", "60", "start"]))
        # The superuser's password is the one in .env. A cluster set up by an earlier version of this
        # file trusts the socket; this lets us in to set the password before pg_hba.conf demands it.
        self._psql(f"ALTER ROLE postgres PASSWORD '{self.env['POSTGRES_PASSWORD']}'")
        hba = data / "pg_hba.conf"
        if hba.read_text() != PG_HBA:
            hba.write_text(PG_HBA)
            self._psql("SELECT pg_reload_conf()")
        for name, password in (("auth", self.env["AUTH_DB_PASSWORD"]), ("posts", self.env["POSTS_DB_PASSWORD"])):
            if not self._psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{name}'"):
                self._psql(f"CREATE ROLE {name} LOGIN")
            self._psql(f"ALTER ROLE {name} PASSWORD '{password}'")
            if not self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'"):
                self._psql(f"CREATE DATABASE {name} OWNER {name}")
        # The exporter's role; its password reaches psql through the environment only.
        done = subprocess.run(
            ["psql", "-h", str(self.state / "postgres-socket"), "-p", str(self.ports.postgres), "-U", "postgres",
             "-d", "postgres", "-w", "-qX", "-f", str(MONITORING_SQL)],
            env={**os.environ, "PGPASSWORD": self.env["POSTGRES_PASSWORD"],
                 "POSTGRES_MONITORING_PASSWORD": self.env["POSTGRES_MONITORING_PASSWORD"]},
            capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"{MONITORING_SQL.name} failed ({done.returncode}): {done.stderr}")

    def _initdb(self, data: Path):
        # initdb reads the superuser's password from a file that Postgres's user can read.
        pwfile = self.state / "postgres-password"
        pwfile.touch(mode=0o600)
        try:
            pwfile.write_text(self.env["POSTGRES_PASSWORD"] + "\n")
            if os.geteuid() == 0:
                shutil.chown(pwfile, "postgres", "postgres")
            run(self._as_postgres([postgres_bin("initdb"), "-D", str(data), "-U", "postgres", "-E", "UTF8",
                                   "--auth=scram-sha-256", f"--pwfile={pwfile}"]))
        finally:
            pwfile.unlink(missing_ok=True)

    def stop_postgres(self, mode: str = "fast"):
        """Stop Postgres; `mode` is pg_ctl's: smart, fast or immediate (no shutdown checkpoint, as a crash)."""
        if (self.state / "postgres" / "postmaster.pid").exists():
            subprocess.run(self._as_postgres([postgres_bin("pg_ctl"), "-D", str(self.state / "postgres"),
                                              "-m", mode, "-w", "stop"]), capture_output=True)

    # ---- what supervisord runs ---------------------------------------------------------------
    def programs(self) -> dict[str, Program]:
        """Every long-running process except Postgres, in start order: adding one is adding an entry."""
        nginx_conf = self.state / "nginx" / "nginx.conf"
        return {
            # Users and passwords: redis/users.acl.template, rendered by up(); persistence and
            # eviction as stack/wiring.yaml declares.
            "redis": Program(
                ["redis-server", "--port", str(self.ports.redis), "--bind", "127.0.0.1",
                 "--dir", str(self.state / "redis"), "--aclfile", str(self.state / "redis" / "users.acl"),
                 *wiring.REDIS_ARGS],
                ready=lambda: port_open(self.ports.redis)),
            **{service: Program(
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", spec["wsgi"]],
                cwd=ROOT / service, env=self.service_settings(service),
                ready=lambda service=service, path=spec["health"]: http_ok(f"{self.service_url(service)}{path}"))
               for service, spec in wiring.SERVICES.items()},
            # The revocation relay and the janitor (stack/wiring.yaml).
            **{worker: Program(
                [sys.executable if spec["command"][0] == "python" else spec["command"][0], *spec["command"][1:]],
                cwd=ROOT / spec["service"], env=self.worker_settings(worker))
               for worker, spec in wiring.WORKERS.items()},
            "nginx": Program(
                ["nginx", "-p", str(nginx_conf.parent), "-c", str(nginx_conf), "-g", "daemon off;"],
                ready=lambda: port_open(self.ports.public)),
            # The exporters (Debian's packages), then Prometheus (prometheus.local.yml, rendered by up()).
            # Secrets reach them through the environment, never their command lines.
            "nginx_exporter": Program(
                ["prometheus-nginx-exporter",
                 "-nginx.scrape-uri", f"http://127.0.0.1:{self.ports.nginx_status}/stub_status",
                 "-web.listen-address", f"127.0.0.1:{self.ports.nginx_exporter}"],
                ready=lambda: http_ok(f"http://127.0.0.1:{self.ports.nginx_exporter}/metrics")),
            "postgres_exporter": Program(
                ["prometheus-postgres-exporter", f"--web.listen-address=127.0.0.1:{self.ports.postgres_exporter}"],
                env={"DATA_SOURCE_URI": f"127.0.0.1:{self.ports.postgres}/postgres?sslmode=disable",
                     "DATA_SOURCE_USER": "monitoring",
                     "DATA_SOURCE_PASS": self.env["POSTGRES_MONITORING_PASSWORD"]},
                ready=lambda: http_ok(f"http://127.0.0.1:{self.ports.postgres_exporter}/metrics")),
            "redis_exporter": Program(
                ["prometheus-redis-exporter", "-web.listen-address", f"127.0.0.1:{self.ports.redis_exporter}"],
                env={"REDIS_ADDR": f"redis://127.0.0.1:{self.ports.redis}", "REDIS_USER": "monitoring",
                     "REDIS_PASSWORD": self.env["REDIS_MONITORING_PASSWORD"]},
                ready=lambda: http_ok(f"http://127.0.0.1:{self.ports.redis_exporter}/metrics")),
            "prometheus": Program(
                ["prometheus", f"--config.file={self.state / 'prometheus' / 'prometheus.yml'}",
                 f"--storage.tsdb.path={self.state / 'prometheus' / 'data'}",
                 f"--web.listen-address=127.0.0.1:{self.ports.prometheus}"],
                ready=lambda: http_ok(f"{self.prometheus_url}/-/ready")),
        }

    def render_supervisor_conf(self) -> Path:
        run_dir = self.state / "run"
        sections = [
            ("supervisord", {"logfile": self.log("supervisord"), "pidfile": run_dir / "supervisord.pid"}),
            # Only this user (and root) may control the processes.
            ("unix_http_server", {"file": run_dir / "supervisor.sock", "chmod": "0700"}),
            ("supervisorctl", {"serverurl": f"unix://{run_dir / 'supervisor.sock'}"}),
            ("rpcinterface:supervisor",
             {"supervisor.rpcinterface_factory": "supervisor.rpcinterface:make_main_rpcinterface"}),
        ]
        for name, program in self.programs().items():
            sections.append((f"program:{name}", {
                "command": " ".join(shlex.quote(arg) for arg in program.argv),
                "directory": program.cwd,
                "environment": ",".join(f"{k}={_supervisor_quote(v)}" for k, v in program.env.items()),
                # up() starts each one in order, once what it needs is ready; after that, it is
                # restarted whenever it exits.
                "autostart": "false",
                "autorestart": "true",
                "startsecs": "1",
                "stopasgroup": "true",
                "killasgroup": "true",
                "stopwaitsecs": "15",
                "redirect_stderr": "true",
                "stdout_logfile": self.log(name),
            }))
        text = "".join(f"[{name}]\n" + "".join(f"{k}={str(v).replace('%', '%%')}\n" for k, v in options.items()) + "\n"
                       for name, options in sections)
        conf = self.supervisor_conf
        conf.touch(mode=0o600)  # it holds the services' secrets
        conf.write_text(text)
        return conf

    def _supervisor(self):
        transport = SupervisorTransport(None, None, f"unix://{self.state / 'run' / 'supervisor.sock'}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor

    def supervisor_running(self) -> bool:
        try:
            return self._supervisor().getState()["statename"] == "RUNNING"
        except (OSError, xmlrpc.client.Error):
            return False

    def start_supervisor(self):
        """Start supervisord, or have the running one take up a changed configuration."""
        conf = self.render_supervisor_conf()
        self._stop_unsupervised()
        if self.supervisor_running():
            # Restarts exactly the programs whose configuration changed.
            run([sys.executable, "-m", "supervisor.supervisorctl", "-c", str(conf), "update"])
            return
        run([sys.executable, "-m", "supervisor.supervisord", "-c", str(conf)])
        wait_for(self.supervisor_running, "supervisord", log=self.log("supervisord"))

    def _stop_unsupervised(self):
        """Stop what an earlier version of this file started as daemons with pid files in run/."""
        if self.supervisor_running():
            return
        programs = {name: "gunicorn" for name in SERVICES} | {"redis": "redis-server", "nginx": "nginx"}
        for name, program in programs.items():
            pidfile = self.state / "run" / f"{name}.pid"
            with contextlib.suppress(OSError, ValueError, psutil.Error):
                process = psutil.Process(int(pidfile.read_text()))
                if any(program in part for part in process.cmdline()):  # not a reused pid
                    process.terminate()
                    process.wait(15)
            pidfile.unlink(missing_ok=True)

    def start(self, name: str, timeout: float = 60.0):
        """Have supervisord run `name` (if it does not already) and wait until it is ready."""
        try:
            self._supervisor().startProcess(name, True)
        except xmlrpc.client.Fault as fault:
            if fault.faultCode != Faults.ALREADY_STARTED:
                raise RuntimeError(f"{name} failed to start: {fault.faultString}\n"
                                   f"{self.log(name).read_text()[-3000:]}") from None
        if ready := self.programs()[name].ready:
            wait_for(ready, f"{name} to be ready", timeout, log=self.log(name))

    def stop(self, name: str):
        """Stop `name` until start() is called for it (supervisord does not restart it meanwhile)."""
        if not self.supervisor_running():
            return
        try:
            self._supervisor().stopProcess(name, True)
        except xmlrpc.client.Fault as fault:
            if fault.faultCode != Faults.NOT_RUNNING:
                raise

    def pid(self, name: str) -> int:
        """The process id of `name` as supervisord started it (gunicorn's master, nginx's master); 0 if stopped."""
        return self._supervisor().getProcessInfo(name)["pid"]

    # ---- Redis -----------------------------------------------------------------------------
    def start_redis(self):
        (self.state / "redis").mkdir(exist_ok=True)
        self.start("redis")

    def stop_redis(self):
        self.stop("redis")
        wait_for(lambda: not port_open(self.ports.redis), "redis to stop")

    # ---- Django services ---------------------------------------------------------------------
    def prepare(self, service: str):
        """`manage.py bootstrap` (migrations, keys, seed data, static files), as Compose's set-up does."""
        done = self.manage(service, "bootstrap", check=False, bootstrap=True)
        if done.returncode:
            raise RuntimeError(f"{service}: manage.py bootstrap failed\n{done.stdout}\n{done.stderr}")

    def start_service(self, service: str):
        self.start(service)

    def stop_service(self, service: str):
        self.stop(service)

    def start_relay(self):
        self.start("revocation_relay")

    def stop_relay(self):
        self.stop("revocation_relay")

    # ---- nginx -----------------------------------------------------------------------------
    def render_nginx(self):
        conf = self.state / "nginx"
        for sub in ("conf.d", "tmp", "tls"):
            (conf / sub).mkdir(parents=True, exist_ok=True)
        values = {
            # Loopback only unless PUBLIC_BIND says otherwise: nginx serves plain HTTP here.
            "NGINX_ADDRESS": self.env.get("PUBLIC_BIND") or "127.0.0.1",
            "NGINX_PORT": str(self.ports.public),
            "AUTH_UPSTREAM": f"127.0.0.1:{self.ports.auth}",
            "API_UPSTREAM": f"127.0.0.1:{self.ports.api}",
            "DEMO_UPSTREAM": f"127.0.0.1:{self.ports.demo}",
            "STATIC_ROOT": str(self.state / "static"),
            "NGINX_ACCESS_LOG": str(self.log("nginx-access")),
            "STATE_DIR": str(conf),
            # The TLS snippet when the stack has a certificate; none (plain HTTP only) otherwise.
            "NGINX_TLS_DIR": str(conf / "tls"),
            # X-Forwarded-Proto: the scheme of nginx's own connection (nothing is in front of it).
            "NGINX_FORWARDED_PROTO": "$scheme",
            "NGINX_STATUS_LISTEN": f"127.0.0.1:{self.ports.nginx_status}",
            **nginx_settings(self.env, self.overrides),
        }
        render_template(ROOT / "nginx/templates/default.conf.template", conf / "conf.d/default.conf", values)
        render_template(ROOT / "nginx/templates/status.conf.template", conf / "conf.d/status.conf", values)
        render_template(ROOT / "nginx/local.conf.template", conf / "nginx.conf", values)
        snippet = conf / "tls" / "listen.conf"
        if self.tls_certs:
            # What `make certs` writes for Compose, with this stack's address, port and certificate.
            certs = self.tls_certs.resolve()
            snippet.write_text(f"listen {values['NGINX_ADDRESS']}:{self.ports.tls} ssl;\n"
                               f"ssl_certificate {certs / 'localhost.crt'};\n"
                               f"ssl_certificate_key {certs / 'localhost.key'};\n")
        else:
            snippet.unlink(missing_ok=True)
        return conf / "nginx.conf"

    def start_nginx(self):
        self.render_nginx()
        if self.supervisor_running() and self.pid("nginx"):
            self._supervisor().signalProcess("nginx", "HUP")  # reload the configuration just written
        self.start("nginx")

    def stop_nginx(self):
        self.stop("nginx")

    # ---- Prometheus --------------------------------------------------------------------------
    def render_prometheus(self) -> Path:
        """prometheus.local.yml with this stack's ports (a missing placeholder is an error)."""
        (self.state / "prometheus" / "data").mkdir(parents=True, exist_ok=True)
        p = self.ports
        text = Template((PROMETHEUS_DIR / "prometheus.local.yml").read_text()).substitute(
            RULES_DIR=PROMETHEUS_DIR / "rules", PROMETHEUS_PORT=p.prometheus, AUTH_METRICS_PORT=p.auth_metrics,
            API_METRICS_PORT=p.api_metrics, DEMO_METRICS_PORT=p.demo_metrics, NGINX_EXPORTER_PORT=p.nginx_exporter,
            POSTGRES_EXPORTER_PORT=p.postgres_exporter, REDIS_EXPORTER_PORT=p.redis_exporter)
        conf = self.state / "prometheus" / "prometheus.yml"
        conf.write_text(text)
        return conf

    # ---- the whole stack -----------------------------------------------------------------------
    def up(self):
        for d in ("logs", "run", "static", "oidc", "redis"):
            (self.state / d).mkdir(parents=True, exist_ok=True)
        # Postgres runs as another user when we are root: it must be able to reach its directory.
        self.state.chmod(0o755)
        self.start_postgres()
        self.render_nginx()
        self.render_prometheus()
        render_template(ROOT / "redis/users.acl.template", self.state / "redis" / "users.acl", self.env, private=True)
        self.start_supervisor()
        self.start_redis()
        for service in SERVICES:
            self.prepare(service)
        for name in self.programs():
            if name == "nginx":
                self.start_nginx()
            else:
                self.start(name)
        # On its own port, not PUBLIC_URL, which may name a TLS proxy in front of it.
        wait_for(lambda: http_ok(f"http://localhost:{self.ports.public}/o/.well-known/openid-configuration"),
                 "nginx -> auth_server", log=self.log("nginx-error"))

    def down(self):
        self._stop_unsupervised()
        if self.supervisor_running():
            # supervisord stops every program, then removes its pid file and exits.
            self._supervisor().shutdown()
            wait_for(lambda: not (self.state / "run" / "supervisord.pid").exists(), "supervisord to stop",
                     timeout=120, log=self.log("supervisord"))
        self.stop_postgres()

    def status(self) -> dict[str, bool]:
        checks = {
            "postgres": port_open(self.ports.postgres),
            "redis": port_open(self.ports.redis),
            **{s: http_ok(f"{self.service_url(s)}{spec['health']}") for s, spec in wiring.SERVICES.items()},
            "nginx": port_open(self.ports.public),
            **{name: http_ok(f"http://127.0.0.1:{getattr(self.ports, name)}/metrics")
               for name in ("nginx_exporter", "postgres_exporter", "redis_exporter")},
            "prometheus": http_ok(f"{self.prometheus_url}/-/ready"),
        }
        return checks


def _supervisor_quote(value: str) -> str:
    """A value for supervisord's environment= (its parser takes quotes but no escapes)."""
    if "\n" in value or ('"' in value and "'" in value):
        raise ValueError(f"cannot pass this value through supervisord: {value!r}")
    return f"'{value}'" if '"' in value else f'"{value}"'


def default_tls_certs() -> Path | None:
    """nginx/certs when `make certs` has written a certificate there: `make up STACK=local` serves it."""
    certs = ROOT / "nginx" / "certs"
    return certs if (certs / "localhost.crt").exists() and (certs / "localhost.key").exists() else None


def nginx_settings(env: dict, overrides: dict) -> dict[str, str]:
    """Tunable nginx values (rate limits), from the environment with documented defaults."""
    defaults = {"AUTH_RATE_LIMIT": "20r/s", "AUTH_RATE_BURST": "40",
                "SIGN_IN_RATE_LIMIT": "10r/m", "SIGN_IN_RATE_BURST": "10"}
    return {k: overrides.get(k) or env.get(k) or v for k, v in defaults.items()}


def render_template(src: Path, dst: Path, values: dict[str, str], private: bool = False):
    """Substitute ${NAME} for the given names only, as the nginx image's envsubst step does.

    `private`: the result holds secrets, readable by its owner only, and loses its comment lines
    (for files such as Redis's ACL file, which allows none).
    """
    text = re.sub(r"\$\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), src.read_text())
    if private:
        text = "".join(line for line in text.splitlines(keepends=True) if not line.startswith("#"))
        dst.touch(mode=0o600)
        dst.chmod(0o600)
    dst.write_text(text)


def print_welcome(what: str, url: str, env: dict[str, str], prometheus_url: str):
    """What `make up` prints once the stack (local or Compose) is healthy."""
    print(f"\n{what} is up: {url}\n")
    print(f"  consumer demo      {url}/")
    print(f"  authorization      {url}/o/.well-known/openid-configuration")
    print(f"  posts API          {url}/api/docs   (try it; the document: {url}/api/openapi.json)")
    print(f"  admin              {url}/admin/   ({env['ADMIN_USERNAME']} / {env['ADMIN_PASSWORD']})")
    print(f"  demo user          {env['DEMO_USERNAME']} / {env['DEMO_PASSWORD']}")
    print(f"  Prometheus         {prometheus_url}   (on this machine only)")
    print("\nCredentials and client ids are in .env. Stop with `make down`.")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--state", type=Path, default=ROOT / ".state")
    args = parser.parse_args()
    env = ensure_env_file(ROOT / ".env")
    stack = LocalStack(args.state, env, Ports(public=int(env["PUBLIC_PORT"]), tls=int(env.get("TLS_PORT") or 8443)),
                       tls_certs=default_tls_certs())
    if args.command == "up":
        stack.up()
        print_welcome("The local stack", stack.url, env, f"http://localhost:{stack.ports.prometheus}")
        if stack.tls_certs:
            print(f"HTTPS (the certificate of `make certs`): https://localhost:{stack.ports.tls}/")
    elif args.command == "down":
        stack.down()
        print("local stack stopped (data kept in .state/)")
    else:
        for name, ok in stack.status().items():
            print(f"{name:18} {'up' if ok else 'down'}")


if __name__ == "__main__":
    main()
