"""Liveness and readiness probes for the local stack, Compose and load balancers.

/healthz: the process answers. /readyz: it can reach what it serves from, Postgres (when the service
has a database) and Redis, through the same connections its requests use.
"""

import redis
from django.db import connection
from django.http import JsonResponse

from common.cache import redis_client


def healthz(request):
    return JsonResponse({"status": "ok"})


def readyz(request):
    checks = {}
    # A service without a database (the demo) has Django's placeholder backend instead.
    if connection.settings_dict["ENGINE"] != "django.db.backends.dummy":
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            checks["postgres"] = "ok"
        except Exception as exc:  # any failure means "not ready", reported, never raised
            checks["postgres"] = f"error: {exc.__class__.__name__}"
    try:
        redis_client().ping()
        checks["redis"] = "ok"
    except redis.RedisError as exc:
        checks["redis"] = f"error: {exc.__class__.__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)
