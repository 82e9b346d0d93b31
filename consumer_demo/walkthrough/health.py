"""Liveness and readiness probes."""

import redis
from django.conf import settings
from django.http import JsonResponse


def healthz(request):
    return JsonResponse({"status": "ok"})


def readyz(request):
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        return JsonResponse({"status": "unavailable", "checks": {"redis": f"error: {exc.__class__.__name__}"}}, status=503)
    return JsonResponse({"status": "ok", "checks": {"redis": "ok"}})
