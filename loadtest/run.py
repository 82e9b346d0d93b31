"""Run one locust scenario headless for a bounded time, write CSV and HTML reports, check thresholds.

    python -m loadtest.run --scenario api --duration 1m --users 20 [--rate 300] [--host URL]

Reports go to loadtest/reports/<scenario>_*.csv and <scenario>.html; what the server saw in the same
window, read from the stack's Prometheus (loadtest/server_side.py), to <scenario>_server.md and
<scenario>_server.png. The exit status is non-zero when any threshold of loadtest/thresholds.toml is
missed, so CI and scripts can rely on it.
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import time
import tomllib
from collections import Counter
from pathlib import Path

from loadtest import server_side, steal

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REPORTS = HERE / "reports"

SCENARIOS = {
    "token": ["TokenEndpointUser"],
    "refresh": ["RefreshingUser"],
    "api": ["ApiUser"],
    "journey": ["JourneyUser"],
    "invalid": ["InvalidTokenUser"],
    "mixed": ["TokenEndpointUser", "RefreshingUser", "ApiUser", "JourneyUser", "InvalidTokenUser"],
}


def thresholds_for(scenario: str, path: Path) -> dict:
    config = tomllib.loads(path.read_text())
    section = config.get(scenario, {})
    limits = {k: v for k, v in {**config.get("default", {}), **section}.items() if k != "requests"}
    return {"Aggregated": limits, **section.get("requests", {})}


def final_stats(json_file: Path) -> dict[str, dict]:
    """Per request name, and "Aggregated": count, failures and response-time histogram of the whole run.

    Read from locust's JSON file, written after the last request (the CSV files can lag a second).
    """
    stats = {}
    total = {"num_requests": 0, "num_failures": 0, "response_times": Counter()}
    for e in json.loads(json_file.read_text()):
        entry = {"num_requests": e["num_requests"], "num_failures": e["num_failures"],
                 "response_times": Counter({int(ms): n for ms, n in e["response_times"].items()})}
        stats[e["name"]] = entry
        for key in total:
            total[key] += entry[key]
    return {**stats, "Aggregated": total}


def percentile(response_times: Counter, fraction: float) -> int:
    """The response time (ms) that `fraction` of the requests finished within, computed exactly as
    locust computes it (this module does not import locust, which patches the standard library)."""
    total = sum(response_times.values())
    counted = 0
    for ms in sorted(response_times, reverse=True):
        counted += response_times[ms]
        if total - counted <= total * fraction:
            return ms
    return 0


def measured(entry: dict) -> dict[str, float]:
    return {
        "max_error_rate": entry["num_failures"] / entry["num_requests"],
        "p95_ms": percentile(entry["response_times"], 0.95),
        "p99_ms": percentile(entry["response_times"], 0.99),
    }


def table(stats: dict[str, dict]) -> str:
    lines = [f"{'request':52} {'count':>8} {'fail':>6} {'p95 ms':>7} {'p99 ms':>7}"]
    for name, entry in stats.items():
        values = measured(entry)
        lines.append(f"{name[:52]:52} {entry['num_requests']:>8} {entry['num_failures']:>6} "
                     f"{values['p95_ms']:>7} {values['p99_ms']:>7}")
    return "\n".join(lines)


def check(stats: dict[str, dict], thresholds: dict) -> list[str]:
    """Every missed threshold, as a readable line."""
    missed = []
    for name, limits in thresholds.items():
        if not stats.get(name, {}).get("num_requests"):
            missed.append(f"{name}: no requests were made")
            continue
        values = measured(stats[name])
        missed += [f"{name}: {key} = {values[key]:g} > {limit:g}" for key, limit in limits.items() if values[key] > limit]
    return missed


def progress_line(history: Path) -> str | None:
    """The latest "Aggregated" row of locust's history CSV (rates and p95 over its last 10 s), as a line."""
    try:
        with history.open(newline="") as f:
            rows = [row for row in csv.DictReader(f) if row.get("Name") == "Aggregated"]
    except OSError:
        return None
    if not rows:
        return None
    row = rows[-1]
    return (f"  users {row['User Count']:>4}  {float(row['Requests/s']):8.1f} req/s  "
            f"{float(row['Failures/s']):6.1f} failures/s  p95 {row['95%']:>5} ms  "
            f"total {row['Total Request Count']} requests, {row['Total Failure Count']} failed")


def run_with_progress(command: list[str], env: dict, history: Path, every: float = 5.0) -> int:
    """Run locust, printing a line from its statistics every few seconds instead of its tables."""
    history.unlink(missing_ok=True)
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    last = None
    while process.poll() is None:
        time.sleep(0.5)
        if time.monotonic() - (last or 0) >= every:
            last = time.monotonic()
            if line := progress_line(history):
                print(line, flush=True)
    return process.returncode


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=SCENARIOS, default="api")
    parser.add_argument("--duration", default="1m", help="locust run time: 30s, 5m, 1h30m")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--spawn-rate", type=float, default=10)
    parser.add_argument("--rate", type=float, help="total requests/s to pace the users at (default: their own think time)")
    parser.add_argument("--host", help="default: PUBLIC_URL from the environment or .env")
    parser.add_argument("--thresholds", type=Path, default=HERE / "thresholds.toml")
    parser.add_argument("--prometheus", default=os.environ.get("PROMETHEUS_URL", "http://127.0.0.1:9090"),
                        help="the stack's Prometheus, for the server side of the run")
    args = parser.parse_args()

    REPORTS.mkdir(exist_ok=True)
    prefix = REPORTS / args.scenario
    env = dict(os.environ)
    if args.rate:
        env["LOADTEST_RATE_PER_USER"] = str(args.rate / args.users)
    command = [sys.executable, "-m", "locust", "-f", str(HERE / "locustfile.py"), "--headless",
               "--users", str(args.users), "--spawn-rate", str(args.spawn_rate), "--run-time", args.duration,
               "--stop-timeout", "10", "--csv", str(prefix), "--html", f"{prefix}.html", "--only-summary",
               # The history CSV's percentiles then cover the last 10 s, not the run so far.
               "--csv-full-history",
               "--exit-code-on-error", "0", "--json-file", str(prefix), *(["--host", args.host] if args.host else []),
               *SCENARIOS[args.scenario]]
    started, window_start = steal.cpu_times(), time.time()
    print(f"locust: {args.scenario}, {args.users} users, {args.duration}; a line every 5 s", flush=True)
    returncode = run_with_progress(command, env, Path(f"{prefix}_stats_history.csv"))
    stolen, window_end = steal.steal_percent(started), time.time()
    json_file = Path(f"{prefix}.json")
    if returncode or not json_file.exists():
        sys.exit(f"locust failed (exit {returncode})")

    stats = final_stats(json_file)
    print(f"\n{table(stats)}\n\nCPU steal during the run: {steal.describe(stolen)}", flush=True)
    server = server_side.read(args.prometheus, window_start, window_end)
    server_report = "\n".join(server_side.markdown(server))
    Path(f"{prefix}_server.md").write_text(server_report)
    png = server_side.plot(server, Path(f"{prefix}_server.png"))
    print(f"\n{server_report}\nreports: {prefix}_stats.csv, {prefix}.html, {json_file}, {prefix}_server.md"
          + (f", {png}" if png else ""))
    missed = check(stats, thresholds_for(args.scenario, args.thresholds))
    if missed:
        print(f"\nTHRESHOLDS MISSED ({args.thresholds.name}, [{args.scenario}]):\n  " + "\n  ".join(missed))
        sys.exit(1)
    print(f"\nall thresholds of [{args.scenario}] in {args.thresholds.name} met")


if __name__ == "__main__":
    main()
