"""gunicorn settings shared by the three services, from the environment so that the local stack and
the containers run the same ones. Each service's gunicorn.conf.py imports them and states only what
differs (its WSGI application, its per-worker start-up, its answer to unparseable requests).
"""

import gc
import glob
import json
import multiprocessing
import os
import shutil
import tempfile

from gunicorn import util

__all__ = ["bind", "workers", "threads", "keepalive", "worker_tmp_dir", "max_requests", "max_requests_jitter",
           "graceful_timeout", "timeout", "accesslog", "errorlog", "control_socket_disable", "post_worker_init",
           "when_ready", "post_fork", "child_exit", "on_exit"]

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count()))
# Threads (gthread workers) overlap one request's database and Redis round trips with another's CPU
# work, and keep nginx's upstream connections alive, which sync workers close after each request.
# Measured with `make bench`: see docs/performance.md.
threads = int(os.environ.get("GUNICORN_THREADS", 4))
# Longer than nginx's upstream keepalive_timeout (60 s): nginx must never reuse a connection that
# gunicorn is closing, or a POST sent on it fails with 502.
keepalive = 75
worker_tmp_dir = os.environ.get("GUNICORN_TMP_DIR") or None
# Workers are not recycled: their memory stays flat under load, and each recycling made the API's
# p99 about 200 ms for 10 s at 70 % load on 2 cores (docs/performance.md). GUNICORN_MAX_REQUESTS=N
# recycles a worker after about N requests, as a guard against a leak.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 0))
max_requests_jitter = max_requests // 10
graceful_timeout = 10
timeout = 30
# nginx writes the access log (with the request id); the app logs its own structured events.
accesslog = None
errorlog = "-"
# gunicorn's runtime control socket is unused here, and its default path (~/.gunicorn) would be
# shared by every service on one machine and missing for the containers' home-less user.
control_socket_disable = True


# ---- Prometheus metrics (common/metrics.py) ---------------------------------------------------------
# host:port where the master serves the merged samples of all its workers at /metrics; none if unset.
# Never the public port: the local stack binds it to loopback, the containers to their internal network.
metrics_bind = os.environ.get("METRICS_BIND", "")
_own_metrics_dir = None
_metrics_server = None


def _prepare_metrics_dir():
    """prometheus-client's multiprocess mode: each worker writes its values to files in
    PROMETHEUS_MULTIPROC_DIR, which must start empty (files of an earlier run would be added in).
    Set before any worker imports prometheus-client, which picks its mode at import."""
    global _own_metrics_dir
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        os.makedirs(path, exist_ok=True)
        for stale in glob.glob(os.path.join(path, "*.db")):
            os.remove(stale)
    else:
        # A tmpfs in the containers (GUNICORN_TMP_DIR=/dev/shm): the values are memory-mapped files.
        path = _own_metrics_dir = tempfile.mkdtemp(prefix="gunicorn-metrics-", dir=worker_tmp_dir)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = path


if metrics_bind:
    _prepare_metrics_dir()


def when_ready(server):
    """The master serves /metrics (every worker's samples, merged) from a thread of its own."""
    global _metrics_server
    if not metrics_bind:
        return
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    host, _, port = metrics_bind.rpartition(":")  # host:port, [v6 address]:port
    _metrics_server, _ = start_http_server(int(port), host.strip("[]") or "0.0.0.0", registry)
    server.log.info("serving metrics on http://%s/metrics", metrics_bind)


def post_fork(server, worker):
    # A worker inherits the master's metrics socket; only the master answers on it.
    if _metrics_server is not None:
        _metrics_server.socket.close()


def child_exit(server, worker):
    if metrics_bind:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _own_metrics_dir:
        shutil.rmtree(_own_metrics_dir, ignore_errors=True)


def post_worker_init(worker):
    # What the worker has loaded lives as long as the worker: the garbage collector need not scan it
    # again. Without this a full collection held the GIL for 40-90 ms (docs/performance.md).
    gc.freeze()


def answer_unparseable_requests_with(body):
    """gunicorn's own answer to a request it can't parse (too many headers, a control character in
    one, ...), which never reaches Django: `body(status, reason)` as JSON, like every other error of
    an API here, instead of gunicorn's HTML page, which quotes the request."""

    def write_error(sock, status_int, reason, mesg):
        data = json.dumps(body(status_int, reason)).encode()
        head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\n\r\n")
        util.write_nonblock(sock, head.encode("latin-1") + data)

    util.write_error = write_error
