"""`make bench`: side-by-side measurements on a throwaway stack, in one run on one machine.

It starts its own local stack (Postgres, Redis, the services and nginx as processes, on free ports,
in a temporary directory) and measures, through nginx:

  (a) the client-credentials token endpoint with this project's client-secret hashing (salted
      SHA-256) against DOT's default, Django's PBKDF2 (a second client whose secret is stored
      with `pbkdf2_sha256`, 1,000,000 iterations);
  (b) GET /api/posts/ with the token checked as shipped (each API worker's memory, then Redis),
      against the same list without authentication (/api/_bench/noauth/posts/), and against a
      database lookup of the token per request, as stock DOT validates (/api/_bench/dblookup/posts/):
      routes of loadtest/benchapi, which only this stack installs; and GET /api/public/
      (authentication optional) with a valid token against the same URL without one;
  (c) latency percentiles of each at one fixed request rate;
  (d) what the Prometheus metrics cost: the token endpoint and the cached post list with the
      services' request and SQL timing on (as shipped) and off (METRICS_BIND empty), in
      interleaved rounds, the two services restarted between them;
  (e) revocation lag under that load: tokens issued, used and revoked while users read the cached
      post list, the lag read from the API workers' histogram in the stack's Prometheus, and the
      token tried again as soon as each revocation is answered (it must be refused).

What the server saw from (a) to (e) (tokens by grant, cache hits, introspections, errors by code)
is read from the stack's Prometheus too (loadtest/server_side.py) and goes into the report; (d)
runs last, since restarting the services starts their counters again.

Peak throughput is measured closed-loop (every user sends its next request as soon as the answer
arrives), in interleaved rounds so that background noise hits every variant alike. The load
generator (locust's FastHttpUser, in this process) shares the machine with the stack: the ratios
are the result, the absolute numbers belong to this machine.

The bench stack lifts nginx's rate limit on /o/token/ (AUTH_RATE_LIMIT, normally 20r/s per client
address): with it, the token endpoint would measure the limit, not the server.

Writes loadtest/reports/bench.md (tables, ratios, machine), loadtest/reports/bench.png and
bench-server.png, and appends the figures to loadtest/results.jsonl (kept in git).

    python -m loadtest.bench [--duration 6] [--rounds 5] [--users 16] [--rate REQUESTS_PER_S] [--metrics-rounds 3]
"""

# locust patches the standard library for gevent: it must come first.
from locust import FastHttpUser, constant  # isort: skip
from locust.env import Environment  # isort: skip

import argparse
import contextlib
import json
import os
import platform
import runpy
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import gevent
import psutil
import requests

from loadtest import server_side, steal
from loadtest.pacing import paced
from stack.envfile import generated_values
from stack.local import ROOT, LocalStack, Ports

REPORTS = ROOT / "loadtest" / "reports"
# Every run's figures, one JSON object per line, kept in git: the history docs/performance.md
# does not retell.
RESULTS = ROOT / "loadtest" / "results.jsonl"

# PBKDF2 tokens come out in waves: the 8 worker threads (2 × 4) each hash one secret, share the two
# cores, and finish together, every ~1.3 s. A 6 s window holds 4 or 5 waves, i.e. 5.3 or 6.7
# tokens/s for the same server: ±11 % from where the window falls. Over 30 s it is ±2 %.
PBKDF2_SECONDS = 30
# The services whose request and SQL timing (d) switches off and on.
METRICS_SERVICES = ("auth_server", "resource_api")
RESTART_WARMUP_SECONDS = 6
# (e): long enough for some 40 revocations, each heard by every API worker.
LAG_SECONDS = 20
POSTS_KEYS = ("api_cached", "api_noauth", "api_dblookup")
PUBLIC_KEYS = ("api_public_token", "api_public_anonymous")

BENCH_OVERRIDES = {
    # nginx's per-address limit on /o/token/ would cap the measurement at 20 requests/s.
    "AUTH_RATE_LIMIT": "100000r/s",
    "AUTH_RATE_BURST": "100000",
    # One token serves the whole run; the API's cache keeps it for TOKEN_CACHE_MAX_TTL anyway.
    "ACCESS_TOKEN_EXPIRE_SECONDS": "3600",
    # A worker recycled mid-measurement would take its CPU time (and a restart) into the numbers,
    # and a Postgres backend replaced mid-measurement would take its CPU time out of them.
    "GUNICORN_MAX_REQUESTS": "0",
    "DB_CONN_MAX_AGE": "3600",
}


# ---- the throwaway stack ------------------------------------------------------------------------
@contextlib.contextmanager
def throwaway_stack(overrides: dict[str, str], tls: bool = False):
    """`tls`: with a certificate of its own, as `make certs` makes one, and HTTPS on `ports.tls`."""
    ports = Ports.free()
    state = Path(tempfile.mkdtemp(prefix="oauth-bench-stack-"))
    stack = LocalStack(state, generated_values(ports.public), ports, overrides,
                       tls_certs=state / "certs" if tls else None)
    if tls:
        subprocess.run([ROOT / "docker" / "make-certs.sh", stack.tls_certs], check=True, capture_output=True)
    # resource_api with the bench-only routes (loadtest/benchapi): the post list without
    # authentication, and with a lookup of the token in the auth server's table per request.
    stack.service_overrides = {"resource_api": {
        "DJANGO_SETTINGS_MODULE": "loadtest.benchapi.settings", "PYTHONPATH": str(ROOT),
        "BENCH_AUTH_DATABASE_URL": stack.database_url("auth")}}
    try:
        print(f"starting a throwaway stack in {state} ...", flush=True)
        stack.up()
        yield stack
    finally:
        stack.down()
        shutil.rmtree(state, ignore_errors=True)


def add_pbkdf2_client(stack: LocalStack) -> tuple[str, str]:
    """A client-credentials client whose secret is stored the way stock DOT stores it."""
    client_id, secret = secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    code = (
        "from django.contrib.auth.hashers import make_password\n"
        "from oauth2_provider.models import get_application_model\n"
        "get_application_model().objects.create(\n"
        f"    client_id={client_id!r}, name='Bench: DOT default PBKDF2', client_type='confidential',\n"
        "    authorization_grant_type='client-credentials', redirect_uris='', allowed_scopes='read',\n"
        f"    client_secret=make_password({secret!r}, hasher='pbkdf2_sha256'))\n"
    )
    stack.manage("auth_server", "shell", "-c", code)
    return client_id, secret


def seed_posts(stack: LocalStack, count: int = 200):
    """Enough posts that the list returns a full page, as it would in use."""
    code = (
        "from posts.models import Post\n"
        f"Post.objects.bulk_create([Post(author='1', author_name='bench', title=f'Post {{i}}',"
        f" body='Benchmark post. ' * 20) for i in range({count})])\n"
    )
    stack.manage("resource_api", "shell", "-c", code)


# ---- measuring ----------------------------------------------------------------------------------
@dataclass
class Variant:
    key: str
    label: str
    short: str  # for the chart
    method: str
    path: str
    data: dict | None = None
    auth: tuple[str, str] | None = None
    headers: dict = field(default_factory=dict)
    # A variant that answers a few requests per second needs a longer window than `--duration`
    # for its count to mean anything (see PBKDF2_SECONDS).
    min_seconds: float = 0


@dataclass
class Result:
    rps: float
    requests: int
    failures: int
    p50: float
    p95: float
    p99: float
    # CPU time the stack's processes spent per request: unlike req/s, hardly moved by whatever
    # else runs on the machine.
    cpu_ms: float


def stack_processes(stack: LocalStack) -> list[psutil.Process]:
    """Every process of the stack that serves requests: gunicorn, nginx, Redis and Postgres, with
    their children. Prometheus and the exporters run too, as shipped, but their CPU time (scrapes and
    rules every 5 s, whatever the traffic) is not a request's."""
    supervised = [p for p in psutil.Process(int((stack.state / "run" / "supervisord.pid").read_text())).children()
                  if not _monitoring(p)]
    postmaster = psutil.Process(int((stack.state / "postgres" / "postmaster.pid").read_text().split()[0]))
    roots = [*supervised, postmaster]
    return [p for root in roots for p in (root, *root.children(recursive=True))]


def _monitoring(process: psutil.Process) -> bool:
    with contextlib.suppress(psutil.Error):
        return any(Path(part).name.startswith("prometheus") for part in process.cmdline()[:1])
    return False


def cpu_seconds(processes: list[psutil.Process]) -> dict[psutil.Process, float]:
    """CPU time so far of each process that is still running."""
    seconds = {}
    for p in processes:
        with contextlib.suppress(psutil.Error):
            times = p.cpu_times()
            seconds[p] = times.user + times.system
    return seconds


def cpu_spent(stack: LocalStack, since: dict[psutil.Process, float]) -> tuple[float, dict[psutil.Process, float]]:
    """CPU seconds the stack spent since `since`, and the new snapshot.

    The processes are listed again: a Postgres backend started in between (a new connection) spent
    all of its CPU time in between.
    """
    now = cpu_seconds(stack_processes(stack))
    return sum(seconds - since.get(p, 0.0) for p, seconds in now.items()), now


def user_class(variant: Variant, host: str, rate_per_user: float | None):
    def call(user):
        user.client.request(variant.method, variant.path, data=variant.data, auth=variant.auth,
                            headers=variant.headers, name=variant.key)

    return type(f"Bench_{variant.key}", (FastHttpUser,), {
        "host": host,
        "tasks": [call],
        "wait_time": paced(rate_per_user) if rate_per_user else constant(0),
        # PBKDF2 queues requests for seconds: waiting is part of what is measured, not a failure.
        "network_timeout": 120.0,
        "connection_timeout": 10.0,
    })


@contextlib.contextmanager
def load(variant: Variant, stack: LocalStack, users: int, warmup: float = 2, rate: float | None = None):
    """Locust users sending `variant` until the block ends; statistics start after the warm-up."""
    env = Environment(user_classes=[user_class(variant, stack.url, rate / users if rate else None)])
    runner = env.create_local_runner()
    runner.start(users, spawn_rate=users)
    gevent.sleep(warmup)
    env.stats.reset_all()
    try:
        yield env
    finally:
        runner.quit()


class Meter:
    """Requests, latencies and the stack's CPU time from now until `result()`."""

    def __init__(self, env: Environment, stack: LocalStack):
        self.env, self.stack = env, stack
        env.stats.reset_all()
        self.started, self.cpu = time.monotonic(), cpu_seconds(stack_processes(stack))

    def result(self) -> Result:
        total = self.env.stats.total
        elapsed, (cpu, _) = time.monotonic() - self.started, cpu_spent(self.stack, self.cpu)
        return Result(total.num_requests / elapsed, total.num_requests, total.num_failures,
                      total.get_response_time_percentile(0.5), total.get_response_time_percentile(0.95),
                      total.get_response_time_percentile(0.99), 1000 * cpu / max(total.num_requests, 1))


def settle(stack: LocalStack, idle_cores: float = 0.05, interval: float = 0.25, timeout: float = 60):
    """Wait until the stack uses less than `idle_cores` over `interval` seconds.

    When a measurement ends, the server still works through the requests it had accepted: after
    PBKDF2, 16 hashes, i.e. 2-3 s of both cores. Measured into the next variant's window, they
    cost it up to a sixth of its requests and showed as CPU time it did not spend.
    """
    deadline, snapshot = time.monotonic() + timeout, cpu_seconds(stack_processes(stack))
    while time.monotonic() < deadline:
        gevent.sleep(interval)
        spent, snapshot = cpu_spent(stack, snapshot)
        if spent < idle_cores * interval:
            return


def measure(variant: Variant, stack: LocalStack, users: int, seconds: float, warmup: float = 2,
            rate: float | None = None) -> Result:
    settle(stack)
    with load(variant, stack, users, warmup, rate) as env:
        meter = Meter(env, stack)
        gevent.sleep(seconds)
        return meter.result()


def peak(variants: list[Variant], stack: LocalStack, users: int, seconds: float, rounds: int) -> dict[str, Result]:
    """Closed-loop throughput of each variant, best of interleaved rounds.

    Other processes on the machine can only slow a round down, never speed it up, so the best
    round (highest req/s, lowest CPU time per request) is the closest to what the stack can do.
    """
    runs: dict[str, list[Result]] = {v.key: [] for v in variants}
    for n in range(rounds):
        for v in variants:
            r = measure(v, stack, users, max(seconds, v.min_seconds), warmup=2)
            runs[v.key].append(r)
            print(f"  round {n + 1}  {v.label:48} {r.rps:8.1f} req/s  p99 {r.p99:6.0f} ms  "
                  f"{r.cpu_ms:6.2f} CPU ms/request  failures {r.failures}", flush=True)
    return {key: replace(max(rs, key=lambda r: r.rps), cpu_ms=min(r.cpu_ms for r in rs)) for key, rs in runs.items()}


def set_metrics(stack: LocalStack, on: bool):
    """Restart auth_server and resource_api with request and SQL timing on, or off (an empty
    METRICS_BIND: our own counters still count, as they cost an increment each)."""
    for service in METRICS_SERVICES:
        overrides = stack.service_overrides.setdefault(service, {})
        if on:
            overrides.pop("METRICS_BIND", None)
        else:
            overrides["METRICS_BIND"] = ""
    stack.start_supervisor()  # supervisorctl update: stops exactly the programs whose settings changed
    for service in METRICS_SERVICES:
        stack.start(service)


def metrics_cost(variants: list[Variant], stack: LocalStack, users: int, seconds: float, rounds: int
                 ) -> dict[str, dict[str, Result]]:
    """Each variant's best round with metrics on and off: {"on": {key: Result}, "off": {...}}."""
    runs: dict[str, dict[str, list[Result]]] = {"on": {v.key: [] for v in variants}, "off": {v.key: [] for v in variants}}
    for n in range(rounds):
        for state in ("off", "on"):  # ends as shipped
            set_metrics(stack, state == "on")
            for v in variants:
                # Restarted workers are slow for their first seconds (imports, connections, caches).
                r = measure(v, stack, users, seconds, warmup=RESTART_WARMUP_SECONDS)
                runs[state][v.key].append(r)
                print(f"  round {n + 1}  metrics {state:3}  {v.label:44} {r.rps:8.1f} req/s  "
                      f"{r.cpu_ms:6.2f} CPU ms/request  failures {r.failures}", flush=True)
    return {state: {key: replace(max(rs, key=lambda r: r.rps), cpu_ms=min(r.cpu_ms for r in rs))
                    for key, rs in by_key.items()} for state, by_key in runs.items()}


@dataclass
class Lag:
    """(e): what Prometheus saw over the window, and the tries of each token right after its
    revocation was answered that were not refused."""

    server: server_side.ServerSide
    revoked: int = 0
    tries: int = 0
    accepted: int = 0


def revocation_lag(variant: Variant, stack: LocalStack, users: int, seconds: float, every: float = 0.5,
                   uses: int = 6) -> Lag:
    """`variant` under load while, every `every` s, a new token is used `uses` times (so the API
    workers hold it), revoked, and tried `uses` times again as soon as the revocation is answered."""
    client = (stack.env["LOADTEST_CLIENT_ID"], stack.env["LOADTEST_CLIENT_SECRET"])
    revoked = tries = accepted = 0
    settle(stack)
    with load(variant, stack, users, warmup=2), requests.Session() as http:
        start = time.time()
        while time.time() < start + seconds:
            token = http.post(f"{stack.url}/o/token/", data={"grant_type": "client_credentials", "scope": "read"},
                              auth=client, timeout=10).json()["access_token"]
            bearer = {"Authorization": f"Bearer {token}"}
            for _ in range(uses):
                http.get(f"{stack.url}/api/posts/", headers=bearer, timeout=10)
            http.post(f"{stack.url}/o/revoke_token/", data={"token": token}, auth=client, timeout=10).raise_for_status()
            revoked += 1
            for _ in range(uses):
                tries += 1
                accepted += http.get(f"{stack.url}/api/posts/", headers=bearer, timeout=10).status_code != 401
            gevent.sleep(every)
        end = time.time()
    return Lag(server_side.read(stack.prometheus_url, start, end), revoked, tries, accepted)


def fixed_rate(variants: list[Variant], stack: LocalStack, rate: float, seconds: float) -> dict[str, Result]:
    results = {}
    users = max(10, int(rate // 10))
    for v in variants:
        results[v.key] = r = measure(v, stack, users, seconds, warmup=2, rate=rate)
        print(f"  {rate:.0f} req/s  {v.label:44} p50 {r.p50:4.0f}  p95 {r.p95:4.0f}  p99 {r.p99:4.0f} ms  "
              f"({r.rps:.0f} req/s achieved, failures {r.failures})", flush=True)
    return results


# ---- the report ---------------------------------------------------------------------------------
def machine() -> dict[str, str]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "?")
    mem_kb = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal")))
    postgres = subprocess.run([str(next(Path("/usr/lib/postgresql").glob("*/bin/postgres"))), "--version"],
                              capture_output=True, text=True).stdout.strip()
    return {
        "CPU": model,
        "cores": str(os.cpu_count()),
        "RAM": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "kernel": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "Postgres": postgres,
        "gunicorn, per service": "{workers} workers × {threads} threads".format(
            **runpy.run_path(str(ROOT / "auth_server" / "gunicorn.conf.py"))),
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def record(info: dict, steal_percent: float | None, token: dict[str, Result], api: dict[str, Result],
           fixed: dict[str, Result], metrics: dict[str, dict[str, Result]], lag: Lag, args) -> dict:
    """Append this run's figures to RESULTS, with the commit and the machine they belong to."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "auth_server", "resource_api", "nginx", "stack"],
                           cwd=ROOT).returncode != 0
    fast, slow, cached, noauth = token["token_fast"], token["token_pbkdf2"], api["api_cached"], api["api_noauth"]
    entry = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": commit.stdout.strip() + ("+changes" if dirty else ""),
        "cpu": info["CPU"], "cores": int(info["cores"]), "cpu_steal_percent": steal_percent and round(steal_percent, 1),
        "users": args.users, "rounds": args.rounds, "seconds": args.duration,
        "token_x_pbkdf2": round(fast.rps / slow.rps, 1), "token_x_pbkdf2_by_cpu": round(slow.cpu_ms / fast.cpu_ms, 1),
        "api_cached_x_noauth": round(cached.rps / noauth.rps, 3),
        "api_cached_x_noauth_by_cpu": round(noauth.cpu_ms / cached.cpu_ms, 3),
        "api_public_token_x_anonymous": round(api["api_public_token"].rps / api["api_public_anonymous"].rps, 3),
        "api_public_token_x_anonymous_by_cpu": round(api["api_public_anonymous"].cpu_ms
                                                     / api["api_public_token"].cpu_ms, 3),
        "rps": {key: round(r.rps, 1) for key, r in {**token, **api}.items()},
        "cpu_ms": {key: round(r.cpu_ms, 3) for key, r in {**token, **api}.items()},
        "fixed_rate": args.rate, "fixed_rate_p99_ms": {key: r.p99 for key, r in fixed.items()},
        "metrics_on_x_off": {key: round(r.rps / metrics["off"][key].rps, 3) for key, r in metrics["on"].items()},
        "metrics_on_x_off_by_cpu": {key: round(metrics["off"][key].cpu_ms / r.cpu_ms, 3)
                                    for key, r in metrics["on"].items()},
        "revocation_lag_ms": {k: round(v * 1000, 1) for k, v in lag.server.quantiles.get("revocation lag", {}).items()},
        "revoked_tokens_accepted_after_the_answer": lag.accepted, "tries_after_the_answer": lag.tries,
    }
    with RESULTS.open("a") as f:
        f.write(json.dumps(entry) + "\n")
    return entry


def ratio(a: float, b: float) -> str:
    return f"{a / b:,.2f}×" if b else "n/a"


def write_report(info: dict, token: dict[str, Result], api: dict[str, Result], fixed: dict[str, Result],
                 metrics: dict[str, dict[str, Result]], lag: Lag, server: server_side.ServerSide,
                 variants: dict[str, Variant], args, png: Path, server_png: Path | None) -> str:
    fast, slow = token["token_fast"], token["token_pbkdf2"]
    lines = [
        "# Benchmark",
        "",
        f"`make bench` on {time.strftime('%Y-%m-%d %H:%M %Z')}: one run, one machine, through nginx, "
        f"{args.users} closed-loop users per measurement, best of {args.rounds} interleaved rounds of "
        f"{args.duration:.0f} s ({PBKDF2_SECONDS} s for PBKDF2). The load generator (locust FastHttpUser) runs on the same "
        "machine. *Server CPU* is the CPU time of all the stack's processes (nginx, gunicorn, Postgres, "
        "Redis) per request: it hardly depends on what else the machine is doing, unlike req/s.",
        "",
        "## (a) Client-credentials token endpoint",
        "",
        "| client secret stored as | req/s | server CPU ms/request | p50 ms | p99 ms | failures |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key, r in token.items():
        lines.append(f"| {variants[key].label} | {r.rps:,.1f} | {r.cpu_ms:,.2f} | {r.p50:.0f} | {r.p99:.0f} "
                     f"| {r.failures} |")
    lines += ["", f"**Throughput: {ratio(fast.rps, slow.rps)}** DOT's default PBKDF2 (target ≥ 100×); "
                  f"CPU cost per request: {ratio(slow.cpu_ms, fast.cpu_ms)} lower.",
              "", "## (b) GET /api/posts/ (a page of 20 posts)", "",
              "| token validation | req/s | × no auth | server CPU ms/request | p50 ms | p99 ms | failures |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    base = api["api_noauth"]
    for key in POSTS_KEYS:
        r = api[key]
        lines.append(f"| {variants[key].label} | {r.rps:,.1f} | {ratio(r.rps, base.rps)} | {r.cpu_ms:.2f} "
                     f"| {r.p50:.0f} | {r.p99:.0f} | {r.failures} |")
    cached = api["api_cached"]
    lines += ["", f"**Token checked as shipped: {ratio(cached.rps, base.rps)}** the throughput without "
                  f"authentication (target ≥ 0.95×); by CPU cost per request {ratio(base.cpu_ms, cached.cpu_ms)}. "
                  f"Against a database lookup per request: {ratio(cached.rps, api['api_dblookup'].rps)} the throughput."]
    with_token, anonymous = api["api_public_token"], api["api_public_anonymous"]
    lines += ["", "GET /api/public/ (authentication optional), the lightest endpoint, where the check weighs most:", "",
              "| request | req/s | × without a token | server CPU ms/request | p50 ms | p99 ms | failures |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for key in PUBLIC_KEYS:
        r = api[key]
        lines.append(f"| {variants[key].label} | {r.rps:,.1f} | {ratio(r.rps, anonymous.rps)} | {r.cpu_ms:.2f} "
                     f"| {r.p50:.0f} | {r.p99:.0f} | {r.failures} |")
    lines += ["", f"**With a valid token: {ratio(with_token.rps, anonymous.rps)}** the throughput without one "
                  f"(target ≥ 0.95×); by CPU cost per request {ratio(anonymous.cpu_ms, with_token.cpu_ms)}."]
    lines += ["", f"## (c) Latency at a fixed rate of {args.rate:.0f} requests/s", "",
              "| endpoint | achieved req/s | p50 ms | p95 ms | p99 ms | failures |",
              "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for key, r in fixed.items():
        lines.append(f"| {variants[key].label} | {r.rps:,.1f} | {r.p50:.0f} | {r.p95:.0f} | {r.p99:.0f} "
                     f"| {r.failures} |")
    if slow.rps < args.rate:
        lines.append(f"| {variants['token_pbkdf2'].label} | cannot sustain it (peak {slow.rps:.1f} req/s) "
                     "| | | | |")
    lines += ["", "## (d) The cost of the Prometheus metrics", "",
              f"Request and SQL timing on (as shipped) and off (`METRICS_BIND` empty), best of {args.metrics_rounds} "
              "interleaved rounds; our own counters count in both.", "",
              "| endpoint | req/s on | req/s off | on × off | CPU ms on | CPU ms off | CPU off ÷ on |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for key in metrics["on"]:
        on, off = metrics["on"][key], metrics["off"][key]
        lines.append(f"| {variants[key].label} | {on.rps:,.1f} | {off.rps:,.1f} | {ratio(on.rps, off.rps)} "
                     f"| {on.cpu_ms:.2f} | {off.cpu_ms:.2f} | {ratio(off.cpu_ms, on.cpu_ms)} |")
    lines += ["", "Target: metrics cost the hot paths at most 5 % of their throughput (on × off ≥ 0.95×)."]
    lines += ["", "## (e) Revocation lag under load", "",
              f"{args.users} users reading the cached post list while, every 0.5 s, a new token was used 6 times (so "
              "the API workers hold it in memory), revoked, and tried 6 more times as soon as the revocation was "
              "answered. The lag is the time from each revocation's commit to each API worker dropping the token "
              "(`oauth_revocation_lag_seconds`, from Prometheus); the answer itself waits 0.15 s, until no worker "
              "may still answer from memory.", ""]
    if lag.server.error:
        lines.append(lag.server.error)
    else:
        figures = lag.server.quantiles.get("revocation lag", {})
        dropped = sum(lag.server.counts.get("revocation events received (all API workers)", {}).values())
        lines.append(f"**Revocation lag: p50 {figures.get('p50', float('nan')) * 1000:.1f} ms, p99 "
                     f"{figures.get('p99', float('nan')) * 1000:.1f} ms** (target p99 ≤ 100 ms) over {dropped:.0f} "
                     f"events received by the API workers, {lag.revoked} revocations. Tries of a token after its "
                     f"revocation was answered: **{lag.accepted} accepted** of {lag.tries}.")
    lines += ["", *server_side.markdown(server)]
    if server_png:
        lines += [f"![server side]({server_png.name})", ""]
    lines += ["", f"![benchmark chart]({png.name})", "", "## Machine", "", "| | |", "| --- | --- |",
              *[f"| {k} | {v} |" for k, v in info.items()], ""]
    return "\n".join(lines)


def chart(token: dict[str, Result], api: dict[str, Result], fixed: dict[str, Result],
          variants: dict[str, Variant], rate: float, png: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 5.2))
    fast, slow = token["token_fast"], token["token_pbkdf2"]
    cached, base = api["api_cached"].rps, api["api_noauth"].rps
    panels = [
        (axes[0], token, f"(a) Token endpoint: SHA-256 {fast.rps / slow.rps:.0f}× PBKDF2 "
                         f"(CPU: {slow.cpu_ms / fast.cpu_ms:.0f}×)", True),
        (axes[1], {k: api[k] for k in POSTS_KEYS}, f"(b) GET /api/posts/: token checked {cached / base:.2f}× no auth",
         False),
    ]
    for ax, results, title, log in panels:
        labels = [variants[k].short for k in results]
        values = [r.rps for r in results.values()]
        bars = ax.bar(labels, values, color=["#2f7ed8", "#f28f43", "#8bbc21", "#910000"][:len(values)])
        ax.bar_label(bars, labels=[f"{v:,.0f}" if v >= 10 else f"{v:.1f}" for v in values], padding=2)
        ax.set_title(title)
        ax.set_ylabel("requests/s (peak, higher is better)" + (", log scale" if log else ""))
        if log:
            ax.set_yscale("log")
        ax.tick_params(axis="x", labelsize=9)
    ax = axes[2]
    keys = list(fixed)
    width = 0.25
    for i, (pct, attr) in enumerate((("p50", "p50"), ("p95", "p95"), ("p99", "p99"))):
        xs = [k + (i - 1) * width for k in range(len(keys))]
        bars = ax.bar(xs, [getattr(fixed[k], attr) for k in keys], width, label=pct)
        ax.bar_label(bars, fmt="%.0f", fontsize=8, padding=1)
    ax.set_xticks(range(len(keys)), [variants[k].short for k in keys], fontsize=9)
    ax.set_title(f"(c) Latency at {rate:.0f} requests/s")
    ax.set_ylabel("milliseconds (lower is better)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=110)


# ---- main ---------------------------------------------------------------------------------------
def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=6, help="seconds per measurement (after 2 s warm-up)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds; the best one counts")
    parser.add_argument("--users", type=int, default=16, help="concurrent closed-loop users")
    parser.add_argument("--metrics-rounds", type=int, default=3, help="rounds of (d), each restarting two services twice")
    parser.add_argument("--rate", type=float, help="requests/s of the fixed-rate latency run "
                        "(default: half the lowest peak measured in (a) and (b), without PBKDF2)")
    args = parser.parse_args()
    REPORTS.mkdir(exist_ok=True)
    info = machine()
    began, cpu_at_start, wall_start = time.monotonic(), steal.cpu_times(), time.time()

    with throwaway_stack(BENCH_OVERRIDES) as stack:
        env, url = stack.env, stack.url
        pbkdf2_client = add_pbkdf2_client(stack)
        seed_posts(stack)
        answer = requests.post(f"{url}/o/token/", data={"grant_type": "client_credentials", "scope": "read"},
                               auth=(env["LOADTEST_CLIENT_ID"], env["LOADTEST_CLIENT_SECRET"]), timeout=10)
        answer.raise_for_status()
        bearer = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        grant = {"grant_type": "client_credentials", "scope": "read"}
        variants = {v.key: v for v in [
            Variant("token_fast", "salted SHA-256 (this project)", "SHA-256", "POST", "/o/token/", grant,
                    (env["LOADTEST_CLIENT_ID"], env["LOADTEST_CLIENT_SECRET"])),
            Variant("token_pbkdf2", "PBKDF2, 1,000,000 iterations (DOT default)", "PBKDF2", "POST", "/o/token/", grant,
                    pbkdf2_client, min_seconds=PBKDF2_SECONDS),
            Variant("api_cached", "worker memory, then Redis (this project)", "checked", "GET", "/api/posts/",
                    headers=bearer),
            Variant("api_noauth", "no authentication", "no auth", "GET", "/api/_bench/noauth/posts/"),
            Variant("api_dblookup", "database lookup per request (stock DOT style)", "DB lookup", "GET",
                    "/api/_bench/dblookup/posts/", headers=bearer),
            Variant("api_public_token", "with a valid token", "public + token", "GET", "/api/public/", headers=bearer),
            Variant("api_public_anonymous", "without a token", "public", "GET", "/api/public/"),
        ]}
        for key in (*POSTS_KEYS, *PUBLIC_KEYS):
            status = requests.get(url + variants[key].path, headers=variants[key].headers, timeout=10).status_code
            if status != 200:
                raise SystemExit(f"{variants[key].path} answers {status}: resource_api runs without loadtest/benchapi")

        print("(a) token endpoint", flush=True)
        token = peak([variants["token_fast"], variants["token_pbkdf2"]], stack, args.users, args.duration, args.rounds)
        print("(b) GET /api/posts/ and /api/public/", flush=True)
        api = peak([variants[k] for k in POSTS_KEYS], stack, args.users, args.duration, args.rounds)
        api |= peak([variants[k] for k in PUBLIC_KEYS], stack, args.users, args.duration, args.rounds)
        print("(c) fixed rate", flush=True)
        fixed_keys = ("token_fast", *POSTS_KEYS)
        args.rate = args.rate or round(min({**token, **api}[k].rps for k in fixed_keys) / 2, -1) or 10
        fixed = fixed_rate([variants[k] for k in fixed_keys], stack, args.rate, args.duration)
        print("(e) revocation lag under load", flush=True)
        lag = revocation_lag(variants["api_cached"], stack, args.users, LAG_SECONDS)
        figures = lag.server.quantiles.get("revocation lag", {})
        print(f"  p50 {figures.get('p50', float('nan')) * 1000:.1f} ms  p99 {figures.get('p99', float('nan')) * 1000:.1f} ms"
              f"  accepted after the answer: {lag.accepted} of {lag.tries}"
              + (f"  ({lag.server.error})" if lag.server.error else ""), flush=True)
        print("server side of (a) to (e) (Prometheus)", flush=True)
        server = server_side.read(stack.prometheus_url, wall_start, time.time())
        server_png = server_side.plot(server, REPORTS / "bench-server.png")
        # Last: it restarts two services, whose counters start again from zero.
        print("(d) metrics on and off", flush=True)
        metrics = metrics_cost([variants["token_fast"], variants["api_cached"]], stack, args.users, args.duration,
                               args.metrics_rounds)

    steal_percent = steal.steal_percent(cpu_at_start)
    info["CPU steal during the run"] = steal.describe(steal_percent)
    png, md = REPORTS / "bench.png", REPORTS / "bench.md"
    chart(token, api, fixed, variants, args.rate, png)
    report = write_report(info, token, api, fixed, metrics, lag, server, variants, args, png, server_png)
    md.write_text(report)
    record(info, steal_percent, token, api, fixed, metrics, lag, args)
    print(f"\n{report}\nwritten: {md}, {png}, a line in {RESULTS.relative_to(ROOT)} "
          f"(in {time.monotonic() - began:.0f} s)")


if __name__ == "__main__":
    main()
