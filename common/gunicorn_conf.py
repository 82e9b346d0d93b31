"""gunicorn settings shared by the three services, from the environment so that the local stack and
the containers run the same ones. Each service's gunicorn.conf.py imports them and states only what
differs (its WSGI application, its per-worker start-up, its answer to unparseable requests).
"""

import gc
import json
import multiprocessing
import os

from gunicorn import util

__all__ = ["bind", "workers", "threads", "keepalive", "worker_tmp_dir", "max_requests", "max_requests_jitter",
           "graceful_timeout", "timeout", "accesslog", "errorlog", "control_socket_disable", "post_worker_init"]

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
