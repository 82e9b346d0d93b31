"""The settings every service reads the same way: each service's settings.py starts with
`from common.settings import *` and adds its own.

Required in the environment: SECRET_KEY, PUBLIC_URL (the URL users reach through nginx), REDIS_URL.
Each may also come from a file named by NAME_FILE (common/environment.py).
"""

from common.environment import env
from common.logs import logging_config

SECRET_KEY = env("SECRET_KEY")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
PUBLIC_URL = env("PUBLIC_URL").rstrip("/")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
# Forms are posted from pages of the public URL only.
CSRF_TRUSTED_ORIGINS = [PUBLIC_URL]
# The service's Redis user and database are in the URL (redis/users.acl.template); common/cache.py
# turns it into the service's CACHES.
REDIS_URL = env("REDIS_URL")

USE_TZ = True
TIME_ZONE = "UTC"
# nginx overwrites X-Forwarded-Proto from the real connection, so it can be trusted here.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = logging_config(env("LOG_LEVEL", default="INFO"))

# Requests and SQL statements are timed only where /metrics is served (common/gunicorn_conf.py):
# METRICS_BIND empty turns that off, for `make bench` to compare (our own counters still count).
METRICS_ENABLED = bool(env("METRICS_BIND", default=""))
METRICS_MIDDLEWARE = ["common.metrics.RequestMetricsMiddleware"] if METRICS_ENABLED else []
# Latency buckets of django-prometheus's histograms (observability/metrics.yml): around the hot
# paths' figures; 0.25 s is the token-endpoint alert's threshold and must stay a boundary.
PROMETHEUS_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                              float("inf"))
