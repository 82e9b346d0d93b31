# gunicorn settings, from the environment so the local stack and the container share this file.
import multiprocessing
import os

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
# Workers are recycled now and then (a guard against leaks); 0 turns it off, as benchmarks do.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 10000))
max_requests_jitter = 1000
graceful_timeout = 10
timeout = 30
# nginx writes the access log (with the request id); the app logs its own structured events.
accesslog = None
errorlog = "-"
# gunicorn's runtime control socket is unused here, and its default path (~/.gunicorn) would be
# shared by every service on one machine and missing for the containers' home-less user.
control_socket_disable = True
