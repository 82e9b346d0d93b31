"""resource_api's settings for `make bench`'s stack: the product's, plus the bench-only routes
(loadtest/benchapi/routes.py) and the auth server's database they read."""

from apisite.settings import *  # noqa: F403

ROOT_URLCONF = "loadtest.benchapi.urls"
DATABASES["auth"] = {**env.db("BENCH_AUTH_DATABASE_URL"), "CONN_MAX_AGE": 3600, "CONN_HEALTH_CHECKS": True}  # noqa: F405
