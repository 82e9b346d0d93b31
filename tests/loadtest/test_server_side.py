"""loadtest/server_side.py's PromQL against a real Prometheus, scraping counters this test moves."""

import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from loadtest import server_side

pytestmark = pytest.mark.skipif(not shutil.which("prometheus"), reason="needs Debian's prometheus (make dev)")


class Exposition(BaseHTTPRequestHandler):
    counters: dict[str, float] = {}

    def do_GET(self):
        body = "".join(f"{series} {value}\n" for series, value in self.counters.items()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def prometheus(tmp_path):
    exposition = ThreadingHTTPServer(("127.0.0.1", 0), Exposition)
    threading.Thread(target=exposition.serve_forever, daemon=True).start()
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: auth_server\n    static_configs: [{{targets: ['127.0.0.1:{exposition.server_port}']}}]\n")
    process = subprocess.Popen(
        ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "prometheus did not start"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(10)
        exposition.shutdown()


def scraped(url: str, query: str, timeout: float = 30):
    """Wait until Prometheus holds a sample of `query` (its first scrape waits for target discovery)."""
    deadline = time.monotonic() + timeout
    while not requests.get(f"{url}/api/v1/query", params={"query": query}, timeout=5).json()["data"]["result"]:
        assert time.monotonic() < deadline, f"prometheus never scraped {query}"
        time.sleep(0.2)


def bucket(le: str, count: float) -> tuple[str, float]:
    return f'oauth_revocation_lag_seconds_bucket{{le="{le}"}}', count


def test_counts_and_quantiles_cover_exactly_the_window(prometheus, tmp_path):
    Exposition.counters = {
        'oauth_tokens_issued_total{grant_type="client_credentials",client_type="confidential"}': 10,
        'oauth_token_cache_lookups_total{result="hit"}': 100,
        **dict([bucket("0.01", 0), bucket("0.1", 0), bucket("1", 0), bucket("+Inf", 0)]),
    }
    scraped(prometheus, "oauth_tokens_issued_total")  # before the window
    start = time.time()
    Exposition.counters.update({
        'oauth_tokens_issued_total{grant_type="client_credentials",client_type="confidential"}': 40,
        'oauth_tokens_issued_total{grant_type="client_credentials",client_type="public"}': 2,
        # A series born in the window counts from zero.
        'oauth_tokens_issued_total{grant_type="refresh_token",client_type="public"}': 5,
        'oauth_token_cache_lookups_total{result="hit"}': 190,
        'oauth_token_cache_lookups_total{result="miss"}': 10,
        'oauth_token_cache_lookups_total{result="memory"}': 100,
        **dict([bucket("0.01", 90), bucket("0.1", 100), bucket("1", 100), bucket("+Inf", 100)]),
    })
    time.sleep(3)
    end = time.time()

    found = server_side.read(prometheus, start, end, settle=2)

    assert found.error is None
    assert found.counts["tokens issued"] == {"client_credentials": 32, "refresh_token": 5}
    assert found.counts["token cache lookups"] == {"memory": 100, "hit": 90, "miss": 10}
    assert found.cache_hit_ratio == pytest.approx(0.95)
    assert found.counts["introspections"] == {}
    lag = found.quantiles["revocation lag"]
    assert lag["p50"] == pytest.approx(0.01 * 50 / 90)  # linear within the first bucket, as Prometheus does
    assert 0.01 < lag["p99"] <= 0.1
    assert found.series["tokens/s by grant"]

    report = "\n".join(server_side.markdown(found))
    assert "| tokens issued | client_credentials | 32 |" in report and "Token cache hit ratio (memory or Redis): 95.0%" in report
    assert server_side.plot(found, tmp_path / "server.png").stat().st_size > 0


def test_an_unreachable_prometheus_is_said_not_raised():
    found = server_side.read(f"http://127.0.0.1:{free_port()}", time.time() - 10, time.time(), settle=0)
    assert found.error and "could not be read" in found.error
    assert found.error in "\n".join(server_side.markdown(found))
    assert server_side.plot(found, None) is None
