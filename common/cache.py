"""Redis, configured once per service: Django's cache on django-redis, and the process's client.

Every use of Redis in a service (its Django cache, the consumer demo's sessions, the API's token
cache and revocation listener, the auth server's revocation markers and relay) goes through the one
connection pool django-redis keeps for the cache's URL, so a worker has one pool and one set of
timeouts, which the service's settings state.
"""

import functools

import redis
from django_redis import get_redis_connection
from redis.backoff import NoBackoff
from redis.retry import Retry


def redis_cache(url: str, *, key_prefix: str, timeout: float) -> dict:
    """A CACHES entry: Redis at `url` (its user and database included), keys under `key_prefix:`.

    `timeout` bounds connecting and every reply, and nothing is retried: with Redis stalled, a
    request must pay one bounded wait, then carry on (or fail) without it.
    """
    return {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": url,
        # Each service's Redis user may touch only its own keys (redis/users.acl.template).
        "KEY_PREFIX": key_prefix,
        "OPTIONS": {
            "SOCKET_TIMEOUT": timeout,
            "SOCKET_CONNECT_TIMEOUT": timeout,
            "CONNECTION_POOL_KWARGS": {"retry": Retry(NoBackoff(), 0), "socket_keepalive": True},
        },
    }


@functools.cache
def redis_client() -> redis.Redis:
    """The process's Redis client: django-redis's, on the default cache's pool (thread-safe).

    Created on first use, after gunicorn forked the worker.
    """
    return get_redis_connection("default")
