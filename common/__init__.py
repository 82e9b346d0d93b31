"""Plumbing every service of this deployment shares (one implementation each).

    settings       what every service's settings.py starts from
    request_id     X-Request-ID: middleware, log filter, the current id
    logs           JSON log lines (python-json-logger) and the LOGGING setting
    health         /healthz and /readyz
    postgresql     Django's PostgreSQL backend with a health check that costs no round trip
    cache          the Django cache on django-redis, and the process's Redis client taken from it
    revocation     the revocation contract's Redis names and the token digest
    gunicorn_conf  gunicorn's settings; each service's gunicorn.conf.py states what differs
    entrypoint     the containers' entrypoint: wait for Postgres and Redis, then run the command
"""
