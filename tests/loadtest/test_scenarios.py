"""Every locust scenario runs against the stack without a single failure (a short, paced run).

The scenarios call the API the way its clients do: when the API, the flows or the error formats
change, this is where the load tests notice.
"""

import json
import re
import subprocess
import sys

import pytest

from stack.local import ROOT

# One request each scenario cannot do without, by its name in locust's statistics.
EVIDENCE = {
    "TokenEndpointUser": "/o/token/ [client_credentials]",
    "RefreshingUser": "/o/token/ [refresh_token]",
    "ApiUser": "POST /api/posts/",
    "InvalidTokenUser": "GET /api/posts/ [new invalid token]",
    "JourneyUser": "/o/token/ [authorization_code]",
}


@pytest.mark.e2e
def test_every_scenario_runs_without_failures(stack, tmp_path):
    env_file = tmp_path / "loadtest.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in {**stack.env, "PUBLIC_URL": stack.url}.items()))
    report = tmp_path / "mixed"
    done = subprocess.run(
        [sys.executable, "-m", "locust", "-f", "loadtest/locustfile.py", "--headless", "--users", "5",
         "--spawn-rate", "5", "--run-time", "6s", "--stop-timeout", "10", "--json-file", str(report),
         "--exit-code-on-error", "1", *EVIDENCE,
         # One user of each class (the weights alone could leave a class out of 5 users).
         "--config-users", json.dumps([{"user_class_name": name, "fixed_count": 1} for name in EVIDENCE])],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        # Paced well under the stack's rate limit on /o/token/; refreshing every 2 s to see rotation.
        env={"PATH": "/usr/bin:/bin", "LOADTEST_ENV_FILE": str(env_file), "LOADTEST_RATE_PER_USER": "3",
             "LOADTEST_REFRESH_EVERY": "2"},
    )
    stats = {e["name"]: e for e in json.loads(report.with_suffix(".json").read_text())}
    failures = {name: e["num_failures"] for name, e in stats.items() if e["num_failures"]}
    assert done.returncode == 0 and not failures, f"{failures}\n{done.stderr[-3000:]}"
    missing = [f"{cls}: {name}" for cls, name in EVIDENCE.items() if not stats.get(name, {}).get("num_requests")]
    assert not missing, f"scenarios that did not get through: {missing}"


@pytest.mark.e2e
def test_make_loadtest_reports_progress_and_the_server_side(stack, tmp_path):
    env_file = tmp_path / "loadtest.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in {**stack.env, "PUBLIC_URL": stack.url}.items()))
    done = subprocess.run(
        [sys.executable, "-m", "loadtest.run", "--scenario", "token", "--duration", "12s", "--users", "2",
         "--rate", "10", "--prometheus", stack.prometheus_url],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "LOADTEST_ENV_FILE": str(env_file)},
    )
    progress = [line for line in done.stdout.splitlines() if "req/s" in line and "p95" in line]
    assert len(progress) >= 1, done.stdout[-3000:] + done.stderr[-3000:]
    assert "total" in progress[-1] and "failed" in progress[-1]
    # What the server saw in the same window, from the stack's Prometheus: about 10 tokens/s for 12 s.
    issued = re.search(r"\| tokens issued \| client_credentials \| ([\d,]+) \|", done.stdout)
    assert issued, done.stdout[-3000:]
    assert 30 <= int(issued.group(1).replace(",", "")) <= 200, issued.group(0)
