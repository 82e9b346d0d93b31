"""Settings of the consumer demo, all read from the environment.

Required: SECRET_KEY, PUBLIC_URL, REDIS_URL (sessions; read by common/settings.py), AUTH_INTERNAL_URL,
API_INTERNAL_URL, OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET, OAUTH_REDIRECT_URI, DEVICE_CLIENT_ID.
Optional: BACKCHANNEL_TIMEOUT (seconds, default 5), REDIS_TIMEOUT (seconds, default 1).
"""

from pathlib import Path

from common.cache import redis_cache
from common.settings import *  # noqa: F403  SECRET_KEY, PUBLIC_URL, REDIS_URL, LOGGING, ...
from common.settings import METRICS_MIDDLEWARE, PUBLIC_URL, REDIS_URL, env

BASE_DIR = Path(__file__).resolve().parent.parent

INSTALLED_APPS = [
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "walkthrough",
]
MIDDLEWARE = [
    "common.request_id.RequestIdMiddleware",
    # Request counts and latency per view (common/metrics.py): outside everything that makes an answer.
    *METRICS_MIDDLEWARE,
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "walkthrough.problems.ProblemMiddleware",
]
ROOT_URLCONF = "demosite.urls"
WSGI_APPLICATION = "demosite.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    },
]

# No database: the demo keeps its per-visitor state (tokens, timeline) in Redis-backed sessions.
DATABASES = {}
# Past this a page says the session store is unavailable (503) rather than waiting on Redis.
REDIS_TIMEOUT = env.float("REDIS_TIMEOUT", default=1.0)
# Keys prefixed demo: (the only ones its Redis user may touch, redis/users.acl.template).
CACHES = {"default": redis_cache(REDIS_URL, key_prefix="demo", timeout=REDIS_TIMEOUT)}
SESSION_ENGINE = "django.contrib.sessions.backends.cache"
# The auth server lives on the same host (cookies ignore ports): distinct names keep both sessions.
SESSION_COOKIE_NAME = "demo_session"
CSRF_COOKIE_NAME = "demo_csrftoken"
SESSION_COOKIE_AGE = 24 * 3600
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = PUBLIC_URL.startswith("https://")
X_FRAME_OPTIONS = "DENY"
CSRF_FAILURE_VIEW = "walkthrough.problems.csrf_failure"

STATIC_URL = "/static/consumer_demo/"
STATIC_ROOT = env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
SECURE_REFERRER_POLICY = "no-referrer"

# The demo is a confidential client of the auth server. The browser is sent to PUBLIC_URL; the
# demo's own calls (token, JWKS, userinfo, revocation, posts API) go straight to the services.
OAUTH_CLIENT_ID = env("OAUTH_CLIENT_ID")
OAUTH_CLIENT_SECRET = env("OAUTH_CLIENT_SECRET")
OAUTH_REDIRECT_URI = env("OAUTH_REDIRECT_URI")
# The device chapter's public client (RFC 8628), seeded by the auth server like the demo's own.
DEVICE_CLIENT_ID = env("DEVICE_CLIENT_ID")
OAUTH_ISSUER = f"{PUBLIC_URL}/o"
AUTH_INTERNAL_URL = env("AUTH_INTERNAL_URL").rstrip("/")
API_INTERNAL_URL = env("API_INTERNAL_URL").rstrip("/")
BACKCHANNEL_TIMEOUT = env.float("BACKCHANNEL_TIMEOUT", default=5.0)
