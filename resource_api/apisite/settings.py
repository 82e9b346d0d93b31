"""Settings of the posts API, all read from the environment.

Required: SECRET_KEY, PUBLIC_URL, REDIS_URL (read by common/settings.py), DATABASE_URL (the posts
database), AUTH_INTERNAL_URL, INTROSPECTION_CLIENT_ID, INTROSPECTION_CLIENT_SECRET, TOKEN_CACHE_KEY.
Everything else has a documented default below.
"""

from pathlib import Path

from common.cache import redis_cache
from common.settings import *  # noqa: F403  SECRET_KEY, PUBLIC_URL, REDIS_URL, LOGGING, ...
from common.settings import METRICS_MIDDLEWARE, REDIS_URL, env

BASE_DIR = Path(__file__).resolve().parent.parent

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",
    # Its Swagger UI files, served from STATIC_ROOT like ours (/api/docs, posts/docs.py).
    "ninja",
    "posts",
]
MIDDLEWARE = [
    "common.request_id.RequestIdMiddleware",
    # Request counts and latency per view (common/metrics.py): outside everything that makes an answer.
    *METRICS_MIDDLEWARE,
    # Outermost but the request id: Django's and Ninja's own error pages become JSON.
    "posts.api.JsonErrorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
ROOT_URLCONF = "apisite.urls"
WSGI_APPLICATION = "apisite.wsgi.application"
# Only the pages of the API docs (posts/templates/); everything else answers JSON.
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}]

# Django's PostgreSQL backend with a cheaper connection health check (common/postgresql/base.py).
DATABASES = {"default": env.db("DATABASE_URL", engine="common.postgresql")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=300)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Server-side parameter binding lets psycopg prepare what a connection runs again and again (from
# the 5th time): Postgres then skips parsing and planning it (docs/performance.md). Django leaves
# it off for transaction-pooling proxies such as PgBouncer, which this stack doesn't put in between.
DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)

# Token validation (RFC 7662 introspection at the auth server, cached in Redis: posts/token_cache.py).
AUTH_INTERNAL_URL = env("AUTH_INTERNAL_URL").rstrip("/")
INTROSPECTION_CLIENT_ID = env("INTROSPECTION_CLIENT_ID")
INTROSPECTION_CLIENT_SECRET = env("INTROSPECTION_CLIENT_SECRET")
# Seconds to wait for the auth server (connect, then read); past that the API answers 503.
INTROSPECTION_CONNECT_TIMEOUT = env.float("INTROSPECTION_CONNECT_TIMEOUT", default=0.5)
INTROSPECTION_READ_TIMEOUT = env.float("INTROSPECTION_READ_TIMEOUT", default=2.0)
# Ceiling on how long an active answer is cached (it never outlives the token itself).
TOKEN_CACHE_MAX_TTL = env.int("TOKEN_CACHE_MAX_TTL", default=300)
# How long an inactive answer is cached, so a flood of bad tokens does not reach the auth server.
TOKEN_CACHE_INACTIVE_TTL = env.int("TOKEN_CACHE_INACTIVE_TTL", default=30)
# Redis answers in well under a millisecond; past this the request carries on without the cache
# (and does not use it again until the next revocation heartbeat).
REDIS_TIMEOUT = env.float("REDIS_TIMEOUT", default=0.1)
# Every Redis connection of the process (Django's cache, the token cache, the revocation listener)
# comes from this cache's pool; its keys are posts_api:* (redis/users.acl.template).
CACHES = {"default": redis_cache(REDIS_URL, key_prefix="posts_api", timeout=REDIS_TIMEOUT)}
# The key of the cache entries' MAC (posts/token_cache.py): only the API holds it, so an entry
# written by anyone else who can write to Redis is ignored.
TOKEN_CACHE_KEY = env("TOKEN_CACHE_KEY").encode()
# The cache is trusted for at most this many seconds after the auth server's latest revocation
# heartbeat; the heartbeat carries the auth server's REVOCATION_FRESHNESS, and the smaller one counts.
REVOCATION_FRESHNESS = env.float("REVOCATION_FRESHNESS", default=1.0)
# Each worker answers from memory the tokens it checked, at most this many (0: never)...
TOKEN_MEMORY_SIZE = env.int("TOKEN_MEMORY_SIZE", default=10000)
# ...for at most this many seconds after the latest heartbeat (which carries the auth server's
# REVOCATION_MEMORY_WINDOW, its revocations' wait; the smaller one counts).
TOKEN_MEMORY_WINDOW = env.float("TOKEN_MEMORY_WINDOW", default=0.1)
# Seconds a client is told to wait (Retry-After) when a dependency is down.
RETRY_AFTER_SECONDS = env.int("RETRY_AFTER_SECONDS", default=5)
POSTS_PAGE_SIZE = env.int("POSTS_PAGE_SIZE", default=20)
# The public client Swagger UI at /api/docs signs readers in with (seeded by the auth server's seed_demo).
API_DOCS_CLIENT_ID = env("API_DOCS_CLIENT_ID", default="posts-api-docs")

STATIC_URL = "/static/resource_api/"
STATIC_ROOT = env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
