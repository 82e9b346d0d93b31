"""`make bench-tls`: the client-credentials token endpoint over TLS, on a throwaway stack, in one run.

It starts its own local stack with a certificate as `make certs` makes one (ECDSA P-256) and HTTPS
on nginx with the settings of nginx/templates/default.conf.template, and measures with wrk
(loadtest/token.lua), closed loop, tokens per second and the stack's CPU time per token:

  (a) keep-alive: every wrk connection sends its requests one after another on one TLS connection;
  (b) a new TLS connection per request with a full handshake (session resumption turned off on the
      server for this measurement: wrk offers its previous session whenever the server allows one);
  (c) a new TLS connection per request, resuming the previous session (the shipped configuration);

and, to say what each TLS setting gives, the same stack with one setting changed: an RSA-2048
certificate instead of ECDSA P-256 (full handshakes), session tickets instead of the shared cache
(resumed handshakes), and plain HTTP with keep-alive as the floor. Each configuration is applied
by rewriting the stack's rendered nginx configuration and reloading nginx (a bench-only change);
every measurement checks first that the server does what the variant says (certificate kind,
resumption or not). Variants run in interleaved rounds; the tables give each variant's best round,
as `make bench` does, and what a setting gives as the median over rounds of the ratio of its two
variants measured in the same round.

Tokens per core is tokens per CPU-second of the whole stack (nginx, gunicorn, Postgres, Redis):
the load generator shares the machine, so tokens/s divided by the machine's cores would count its
CPU too. It is set beside Keycloak's published sizing figure (one vCPU per 120 client-credentials
grants per second, each client one request on a new TLS connection, measured on ARM; up to 2x on
x86): a published figure, not a run on this machine.

Writes loadtest/reports/bench-tls.md and appends the figures to loadtest/results.jsonl.

    python -m loadtest.bench_tls [--duration 6] [--rounds 5] [--connections 16]
"""

# loadtest.bench imports locust, which patches the standard library for gevent: it must come first.
from loadtest.bench import (BENCH_OVERRIDES, REPORTS, RESULTS, cpu_seconds, cpu_spent, machine,  # isort: skip
                            settle, stack_processes, throwaway_stack)

import argparse
import base64
import json
import os
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from loadtest import steal
from stack.local import ROOT, LocalStack

# Keycloak's sizing guide ("Concepts for sizing CPU and memory resources"): one vCPU for every 120
# client-credentials grants per second, most of it spent on new TLS connections.
KEYCLOAK_GRANTS_PER_VCPU = 120
LUA = ROOT / "loadtest" / "token.lua"


@dataclass
class Variant:
    key: str
    label: str
    tls: bool = True
    new_connection: bool = False
    # Lines of the rendered nginx configuration replaced for this variant: {shipped line: variant's}.
    nginx: dict[str, str] = field(default_factory=dict)
    rsa: bool = False
    # What the server must do, checked before each measurement (None: not checked).
    resumes: bool | None = None


# Every variant logs whether each request's TLS session was resumed ("r"), so that the report says
# how many of wrk's handshakes were: wrk decides on its own whether to offer a session.
LOG_RESUMPTION = {"'\"user_agent\":\"$log_user_agent\"}';":
                  "'\"user_agent\":\"$log_user_agent\",\"resumed\":\"$ssl_session_reused\"}';"}
NO_RESUMPTION = {"ssl_session_cache shared:TLS:10m;": "ssl_session_cache off;"}
TICKETS = {"ssl_session_cache shared:TLS:10m;": "ssl_session_cache off;",
           "ssl_session_tickets off;": "ssl_session_tickets on;"}

VARIANTS = [
    Variant("http_keepalive", "plain HTTP, keep-alive (no TLS)", tls=False),
    Variant("tls_keepalive", "(a) TLS, keep-alive", resumes=True),
    Variant("tls_new_full", "(b) TLS, new connection per request, full handshake", new_connection=True,
            nginx=NO_RESUMPTION, resumes=False),
    Variant("tls_new_resumed", "(c) TLS, new connection per request, session resumed", new_connection=True,
            resumes=True),
    Variant("tls_new_full_rsa", "(b) with an RSA-2048 certificate instead of ECDSA P-256", new_connection=True,
            nginx=NO_RESUMPTION, rsa=True, resumes=False),
    Variant("tls_new_tickets", "(c) resumed from session tickets instead of the shared cache",
            new_connection=True, nginx=TICKETS, resumes=True),
]


@dataclass
class Result:
    rps: float
    requests: int
    errors: int
    p50: float
    p99: float
    cpu_ms: float  # the stack's CPU time per token
    resumed: float | None = None  # the share of requests on a resumed TLS session

    @property
    def per_core(self) -> float:
        """Tokens per CPU-second of the stack."""
        return 1000 / self.cpu_ms if self.cpu_ms else 0.0


# ---- nginx variants ---------------------------------------------------------------------------
def rsa_certificate(stack: LocalStack) -> Path:
    folder = stack.state / "certs-rsa"
    if not (folder / "localhost.crt").exists():
        folder.mkdir(exist_ok=True)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", folder / "localhost.key",
                        "-out", folder / "localhost.crt"], check=True, capture_output=True)
    return folder


def configure(stack: LocalStack, variant: Variant):
    """The stack's nginx as shipped, with the variant's changes, reloaded."""
    stack.render_nginx()
    conf = stack.state / "nginx" / "conf.d" / "default.conf"
    text = conf.read_text()
    for shipped, changed in {**LOG_RESUMPTION, **variant.nginx}.items():
        if shipped not in text:
            raise SystemExit(f"nginx/templates/default.conf.template no longer has {shipped!r}: update {__file__}")
        text = text.replace(shipped, changed)
    conf.write_text(text)
    if variant.rsa:
        listen = stack.state / "nginx" / "tls" / "listen.conf"
        listen.write_text(listen.read_text().replace(str(stack.tls_certs.resolve()), str(rsa_certificate(stack))))
    nginx_conf = stack.state / "nginx" / "nginx.conf"
    subprocess.run(["nginx", "-t", "-q", "-p", nginx_conf.parent, "-c", nginx_conf], check=True)
    os.kill(stack.pid("nginx"), signal.SIGHUP)
    # The old workers finish their connections and exit; the new ones serve what was written.
    time.sleep(1.5)


def check(stack: LocalStack, variant: Variant):
    """The server does what the variant says: its certificate's kind, and resumption or not."""
    if not variant.tls:
        return
    context = ssl.create_default_context(cafile=stack.tls_certs / "localhost.crt")
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # the RSA variant's is another
    context.maximum_version = ssl.TLSVersion.TLSv1_2  # the suite's name says the certificate's kind
    session = None
    for attempt in range(2):
        with socket.create_connection(("localhost", stack.ports.tls), timeout=10) as raw, \
                context.wrap_socket(raw, server_hostname="localhost", session=session) as sock:
            kind = sock.cipher()[0].split("-")[1]
            reused, session = sock.session_reused, sock.session
    expected = "RSA" if variant.rsa else "ECDSA"
    if kind != expected or (variant.resumes is not None and reused != variant.resumes):
        raise SystemExit(f"{variant.label}: the server's certificate is {kind} (expected {expected}), "
                         f"session resumed: {reused} (expected {variant.resumes})")


# ---- measuring ----------------------------------------------------------------------------------
def run_wrk(stack: LocalStack, variant: Variant, seconds: float, connections: int) -> Result:
    env = stack.env
    basic = base64.b64encode(f"{env['LOADTEST_CLIENT_ID']}:{env['LOADTEST_CLIENT_SECRET']}".encode()).decode()
    url = (f"https://localhost:{stack.ports.tls}" if variant.tls else f"http://localhost:{stack.ports.public}") + "/o/token/"
    settle(stack)
    access_log = stack.log("nginx-access")
    log_offset = access_log.stat().st_size
    before = cpu_seconds(stack_processes(stack))
    done = subprocess.run(["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds:.0f}s", "-s", LUA, url],
                          capture_output=True, text=True,
                          env={**os.environ, "BENCH_AUTHORIZATION": f"Basic {basic}",
                               "BENCH_NEW_CONNECTION": "1" if variant.new_connection else "0"})
    cpu, _ = cpu_spent(stack, before)
    found = re.search(r"^BENCH_RESULT (\{.*\})$", done.stdout, re.M)
    if done.returncode or not found:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    r = json.loads(found.group(1))
    errors = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
    with access_log.open("rb") as f:
        f.seek(log_offset)
        logged = [json.loads(line) for line in f.read().splitlines() if b'"/o/token/"' in line]
    resumed = sum(e.get("resumed") == "r" for e in logged) / len(logged) if variant.tls and logged else None
    return Result(r["requests"] / (r["duration_us"] / 1e6), r["requests"], errors, r["p50_us"] / 1000,
                  r["p99_us"] / 1000, 1000 * cpu / max(r["requests"], 1), resumed)


def measure_all(stack: LocalStack, seconds: float, rounds: int, connections: int) -> dict[str, list[Result]]:
    """Every variant once per round, interleaved, so that other work on the machine hits all alike."""
    runs: dict[str, list[Result]] = {v.key: [] for v in VARIANTS}
    for n in range(rounds):
        for v in VARIANTS:
            configure(stack, v)
            check(stack, v)
            r = run_wrk(stack, v, seconds, connections)
            runs[v.key].append(r)
            print(f"  round {n + 1}  {v.label:58} {r.rps:8.1f} tokens/s  {r.cpu_ms:5.2f} CPU ms/token  "
                  f"p99 {r.p99:5.1f} ms  errors {r.errors}  resumed {percent(r.resumed)}", flush=True)
    configure(stack, Variant("shipped", "shipped"))
    return runs


def best(runs: dict[str, list[Result]]) -> dict[str, Result]:
    """Each variant's best round (highest tokens/s, lowest CPU per token): other work on the machine
    only ever slows a round down."""
    return {key: replace(max(rs, key=lambda r: r.rps), cpu_ms=min(r.cpu_ms for r in rs)) for key, rs in runs.items()}


def paired(runs: dict[str, list[Result]], without: str, with_: str) -> tuple[float, float]:
    """What a setting gives: the median over rounds of the ratio of its two variants measured one
    after the other in the same round (tokens/s, and CPU per token inverted), which a noisy machine
    blurs less than the ratio of two best rounds taken at different times."""
    pairs = list(zip(runs[without], runs[with_]))
    return (statistics.median(b.rps / a.rps for a, b in pairs),
            statistics.median(a.cpu_ms / b.cpu_ms for a, b in pairs))


# ---- the report ---------------------------------------------------------------------------------
# What each setting gave: (setting, without it, with it).
CHANGES = [
    ("ECDSA P-256 certificate instead of RSA-2048 (full handshakes)", "tls_new_full_rsa", "tls_new_full"),
    ("Session resumption from the shared cache, against none", "tls_new_full", "tls_new_resumed"),
    ("Shared cache without tickets, against session tickets (nginx's default)", "tls_new_tickets", "tls_new_resumed"),
    ("Keep-alive, against a new connection with a full handshake per request", "tls_new_full", "tls_keepalive"),
    ("TLS, against plain HTTP (both keep-alive)", "http_keepalive", "tls_keepalive"),
]


def percent(share: float | None) -> str:
    return "n/a" if share is None else f"{100 * share:.0f} %"


def x(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b else "n/a"


def write_report(info: dict, runs: dict[str, list[Result]], args) -> str:
    labels = {v.key: v.label for v in VARIANTS}
    results = best(runs)
    lines = [
        "# Token endpoint over TLS",
        "",
        f"`make bench-tls` on {time.strftime('%Y-%m-%d %H:%M %Z')}: one throwaway stack, nginx with the TLS settings "
        f"of `nginx/templates/default.conf.template` and an ECDSA P-256 certificate, wrk with {args.connections} "
        f"closed-loop connections on 2 threads, best of {args.rounds} interleaved rounds of {args.duration:.0f} s. "
        "The load generator runs on the same machine. *Stack CPU* is the CPU time of all the stack's processes "
        "(nginx, gunicorn, Postgres, Redis) per token; *tokens per core* is tokens per CPU-second of the stack.",
        "",
        "| connection | tokens/s | stack CPU ms/token | tokens per core | × Keycloak's 120/vCPU | tokens/s per machine core | on a resumed session | p50 ms | p99 ms | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    cores = os.cpu_count() or 1
    for key in ("http_keepalive", "tls_keepalive", "tls_new_full", "tls_new_resumed"):
        r = results[key]
        lines.append(f"| {labels[key]} | {r.rps:,.1f} | {r.cpu_ms:.2f} | {r.per_core:,.0f} "
                     f"| {r.per_core / KEYCLOAK_GRANTS_PER_VCPU:.2f}× | {r.rps / cores:,.0f} | {percent(r.resumed)} "
                     f"| {r.p50:.1f} | {r.p99:.1f} | {r.errors} |")
    full = results["tls_new_full"]
    lines += [
        "",
        f"**A new TLS connection per request (full handshake): {full.per_core:,.0f} tokens per core, "
        f"{full.per_core / KEYCLOAK_GRANTS_PER_VCPU:.2f}× Keycloak's published 120 grants/s per vCPU** "
        "(its figure is for the same pattern: each client one request on a new TLS connection). Caveat: "
        "Keycloak's is a published sizing figure, measured on ARM (up to 2× on x86), not a run on this machine; "
        "it counts Keycloak's CPU only, while tokens per core here count the database's too. *Tokens/s per "
        f"machine core* (tokens/s ÷ {cores} cores) is the lower bound with the load generator's CPU on the same cores.",
        "",
        "## What each TLS setting gives (same run)",
        "",
        f"Ratios of the two variants measured in the same round, median of {args.rounds} rounds "
        "(best rounds' figures beside them); by CPU per token, >1× means the setting costs the stack less.",
        "",
        "| setting | without: tokens/s, CPU ms/token | with: tokens/s, CPU ms/token | × tokens/s | × by stack CPU per token |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for label, without, with_ in CHANGES:
        a, b = results[without], results[with_]
        by_rps, by_cpu = paired(runs, without, with_)
        lines.append(f"| {label} | {a.rps:,.1f}, {a.cpu_ms:.2f} | {b.rps:,.1f}, {b.cpu_ms:.2f} "
                     f"| {by_rps:.2f}× | {by_cpu:.2f}× |")
    lines += ["", "The variants with one nginx setting changed, on a resumed session: "
              + "; ".join(f"{labels[key]}: {percent(results[key].resumed)}" for key in ("tls_new_full_rsa", "tls_new_tickets"))
              + "."]
    lines += ["", "## Machine", "", "| | |", "| --- | --- |", *[f"| {k} | {v} |" for k, v in info.items()], ""]
    return "\n".join(lines)


def record(info: dict, steal_percent: float | None, runs: dict[str, list[Result]], args) -> dict:
    results = best(runs)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "auth_server", "nginx", "stack", "docker"],
                           cwd=ROOT).returncode != 0
    entry = {
        "bench": "tls",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": commit.stdout.strip() + ("+changes" if dirty else ""),
        "cpu": info["CPU"], "cores": int(info["cores"]), "cpu_steal_percent": steal_percent and round(steal_percent, 1),
        "connections": args.connections, "rounds": args.rounds, "seconds": args.duration,
        "rps": {k: round(r.rps, 1) for k, r in results.items()},
        "cpu_ms": {k: round(r.cpu_ms, 3) for k, r in results.items()},
        "tokens_per_core": {k: round(r.per_core, 1) for k, r in results.items()},
        "resumed": {k: r.resumed and round(r.resumed, 3) for k, r in results.items()},
        "settings_x_rps_x_cpu": {f"{with_}/{without}": [round(v, 3) for v in paired(runs, without, with_)]
                                 for _, without, with_ in CHANGES},
        "x_keycloak_120_per_vcpu": {k: round(r.per_core / KEYCLOAK_GRANTS_PER_VCPU, 2) for k, r in results.items()},
    }
    with RESULTS.open("a") as f:
        f.write(json.dumps(entry) + "\n")
    return entry


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=6, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds; the best one counts")
    parser.add_argument("--connections", type=int, default=16, help="concurrent closed-loop connections")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: `make dev` installs it (Debian: apt-get install wrk)")
    REPORTS.mkdir(exist_ok=True)
    info = machine()
    began, cpu_at_start = time.monotonic(), steal.cpu_times()
    with throwaway_stack(BENCH_OVERRIDES, tls=True) as stack:
        runs = measure_all(stack, args.duration, args.rounds, args.connections)
    steal_percent = steal.steal_percent(cpu_at_start)
    info["CPU steal during the run"] = steal.describe(steal_percent)
    md = REPORTS / "bench-tls.md"
    report = write_report(info, runs, args)
    md.write_text(report)
    record(info, steal_percent, runs, args)
    print(f"\n{report}\nwritten: {md}, a line in {RESULTS.relative_to(ROOT)} (in {time.monotonic() - began:.0f} s)")


if __name__ == "__main__":
    main()
