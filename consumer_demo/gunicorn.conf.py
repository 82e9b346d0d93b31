# gunicorn settings, from the environment so the local stack and the container share this file.
import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count()))
threads = int(os.environ.get("GUNICORN_THREADS", 1))
worker_tmp_dir = os.environ.get("GUNICORN_TMP_DIR") or None
max_requests = 10000
max_requests_jitter = 1000
graceful_timeout = 10
timeout = 30
# nginx writes the access log (with the request id); the app logs its own structured events.
accesslog = None
errorlog = "-"
# gunicorn's runtime control socket is unused here, and its default path (~/.gunicorn) would be
# shared by every service on one machine and missing for the containers' home-less user.
control_socket_disable = True
