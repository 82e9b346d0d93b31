"""Settings of the authorization server, all read from the environment.

Required: SECRET_KEY, PUBLIC_URL, REDIS_URL (read by common/settings.py), DATABASE_URL.
Everything else has a documented default below.
"""

from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from common.cache import redis_cache
from common.settings import *  # noqa: F403  SECRET_KEY, PUBLIC_URL, REDIS_URL, LOGGING, ...
from common.settings import METRICS_MIDDLEWARE, PUBLIC_URL, REDIS_URL, env

BASE_DIR = Path(__file__).resolve().parent.parent

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "oauth2_provider",
    "axes",
    "oauth",
]

MIDDLEWARE = [
    "common.request_id.RequestIdMiddleware",
    # Request counts and latency per view (common/metrics.py): outside everything that makes an answer.
    *METRICS_MIDDLEWARE,
    # Outermost but the request id: it sees every answer of the JSON endpoints, Django's own too.
    "oauth.middleware.JsonAnswersMiddleware",
    # Postgres or Redis down: 503 + Retry-After (it turns a view's exception into the answer).
    "oauth.middleware.ServiceUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "oauth.middleware.RejectUnreadableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Login and consent must never be framed (clickjacking); nginx adds CSP frame-ancestors 'none'.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "oauth.middleware.SeeOtherAfterPostMiddleware",
    "oauth.revocation.RevocationReasonMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "authsite.urls"
WSGI_APPLICATION = "authsite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Persistent connections: opening a connection per request costs more than the token lookup.
# Django's PostgreSQL backend with a cheaper connection health check (common/postgresql/base.py).
DATABASES = {"default": env.db("DATABASE_URL", engine="common.postgresql")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=300)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Server-side parameter binding lets psycopg prepare what a connection runs again and again (from
# the 5th time): Postgres then skips parsing and planning it (docs/performance.md). Django leaves
# it off for transaction-pooling proxies such as PgBouncer, which this stack doesn't put in between.
DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)

# Revocation events (oauth/revocation.py). Resource servers trust their Redis cache for at most
# REVOCATION_FRESHNESS seconds after the relay's latest heartbeat; the same value tells a revocation
# whose marker Redis did not take how long to hold its answer. Both services must agree on it.
REVOCATION_FRESHNESS = env.float("REVOCATION_FRESHNESS", default=1.0)
# Resource servers' workers answer from memory for at most this long after the latest heartbeat
# (0: never); every revocation's answer waits as long, so that none of them still accepts the token.
REVOCATION_MEMORY_WINDOW = env.float("REVOCATION_MEMORY_WINDOW", default=0.1)
# Half the memory window: one late heartbeat does not end a worker's trust.
REVOCATION_HEARTBEAT_INTERVAL = env.float("REVOCATION_HEARTBEAT_INTERVAL", default=0.05)
# Redis answers in well under a millisecond; past this a revocation stops waiting for it.
REVOCATION_REDIS_TIMEOUT = env.float("REVOCATION_REDIS_TIMEOUT", default=0.25)
# Every Redis connection of the process (Django's cache, revocation markers, the relay) comes from
# this cache's pool; its keys are auth_server:*, the markers oauth2:* (redis/users.acl.template).
CACHES = {"default": redis_cache(REDIS_URL, key_prefix="auth_server", timeout=REVOCATION_REDIS_TIMEOUT)}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Users' passwords keep Django's PBKDF2. Client secrets, always machine-generated with 384 bits of
# entropy or more, use a salted SHA-256 (see docs/auth-server.md, "Client secrets").
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "oauth.hashers.ClientSecretSHA256Hasher",
]

LANGUAGE_CODE = "en-us"
USE_I18N = True

STATIC_URL = "/static/auth_server/"
STATIC_ROOT = env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Sign-in lockout (django-axes; its backend comes first and only refuses locked-out attempts).
# Failures count per username AND address, and a lock ends after the cool-off, so a guesser can
# lock only themselves out (oauth/login_guard.py, docs/auth-server.md "Sign-in lockout").
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# A refused attempt during a lock doesn't extend it: Retry-After stays an upper bound.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "oauth.login_guard.client_ip"
AXES_USERNAME_CALLABLE = "oauth.login_guard.username"
AXES_LOCKOUT_CALLABLE = "oauth.login_guard.lockout_response"
# The audit log already has every sign-in (oauth/audit.py); axes keeps only the failure counts.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/o/authorized_tokens/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

SECURE_REFERRER_POLICY = "no-referrer"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = PUBLIC_URL.startswith("https://")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Messages (the admin's) live in the session. The default tries a signed cookie first, and setting
# that up cost every request, token requests included, 2.5 % of its CPU.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024

# Token models are swapped before the first migration so `expires` is indexed (DOT #651, #979).
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth.Application"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth.AccessToken"
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oauth.RefreshToken"
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "oauth.IDToken"
OAUTH2_PROVIDER_GRANT_MODEL = "oauth.Grant"

# Device authorization grant (oauth/device.py). A user code is valid this long; a signed-in user,
# or an address, that enters this many wrong codes within the window is refused until it ends.
DEVICE_CODE_EXPIRE_SECONDS = env.int("DEVICE_CODE_EXPIRE_SECONDS", default=600)
DEVICE_CODE_FAILURE_LIMIT = env.int("DEVICE_CODE_FAILURE_LIMIT", default=5)
DEVICE_CODE_FAILURE_ADDRESS_LIMIT = env.int("DEVICE_CODE_FAILURE_ADDRESS_LIMIT", default=20)
DEVICE_CODE_FAILURE_WINDOW_SECONDS = env.int("DEVICE_CODE_FAILURE_WINDOW_SECONDS", default=900)

# Scopes granted only to clients whose allowed_scopes list them.
RESTRICTED_SCOPES = {"introspection"}

# The ID-token signing key; the keys it replaced live next to it (oauth/signing_keys.py). A replaced
# key stays published for OIDC_KEY_RETIRE_AFTER seconds unless `manage.py oidc_keys retire` goes first.
OIDC_KEY_FILE = Path(env("OIDC_KEY_FILE", default=str(BASE_DIR / "oidc-private.pem")))
OIDC_KEY_RETIRE_AFTER = env.int("OIDC_KEY_RETIRE_AFTER", default=24 * 3600)

# django-oauth-toolkit. Every knob that differs from DOT's default says why; docs/auth-server.md
# has the whole picture (and which test shows each rule).
OAUTH2_PROVIDER = {
    "SCOPES": {
        "openid": "Confirm who you are (sign you in)",
        "profile": "See your username and name",
        "email": "See your email address",
        "read": "Read posts on your behalf",
        "write": "Create, change and delete posts on your behalf",
        "introspection": "Check whether access tokens are valid (resource servers only)",
    },
    # Asked for no scope, a client gets these (as far as its allowed_scopes permit).
    "DEFAULT_SCOPES": ["read"],
    # Per-client scope limits (Application.allowed_scopes), see oauth/scopes.py.
    "SCOPES_BACKEND_CLASS": "oauth.scopes.ApplicationScopes",
    # Lifetimes. Access tokens are cached by resource servers and revocable through Redis events,
    # so minutes, not DOT's 10 hours. Refresh tokens die REFRESH_TOKEN_EXPIRE_SECONDS after their
    # last access token expired (DOT's default, None, keeps them forever).
    "ACCESS_TOKEN_EXPIRE_SECONDS": env.int("ACCESS_TOKEN_EXPIRE_SECONDS", default=300),
    "ID_TOKEN_EXPIRE_SECONDS": env.int("ID_TOKEN_EXPIRE_SECONDS", default=300),
    "REFRESH_TOKEN_EXPIRE_SECONDS": env.int("REFRESH_TOKEN_EXPIRE_SECONDS", default=14 * 24 * 3600),
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    # RFC 9700 §4.14: rotate refresh tokens; reusing a retired one revokes its whole family
    # (DOT's default leaves reuse protection off). No grace period: a replay is a replay.
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    # PKCE for every client; S256 only (COMPLIANT_BCP_RFC9700_PKCE_METHOD below).
    "PKCE_REQUIRED": True,
    # Salted SHA-256 instead of PBKDF2 for the server-generated client secrets (oauth/hashers.py).
    "CLIENT_SECRET_HASHER": "client-secret-sha256",
    # The admin's client page has no secret field, only "Reset secret" (oauth/admin.py).
    "APPLICATION_ADMIN_CLASS": "oauth.admin.ApplicationAdmin",
    "OAUTH2_VALIDATOR_CLASS": "oauth.oauth2_validators.OAuth2Validator",
    # Token values: 256 bits from one call to the OS's generator (oauth/hot_path.py).
    "ACCESS_TOKEN_GENERATOR": "oauth.hot_path.random_token",
    "REFRESH_TOKEN_GENERATOR": "oauth.hot_path.random_token",
    # Repeated parameters are refused (oauth/backends.py).
    "OAUTH2_BACKEND_CLASS": "oauth.backends.OAuthLibCore",
    # Only the code, client-credentials, refresh and device grants exist at all (oauth/server.py).
    "OAUTH2_SERVER_CLASS": "oauth.server.Server",
    # Device authorization grant (RFC 8628, oauth/device.py): user codes are entered at
    # PUBLIC_URL/o/device/; a device polls at most every DEVICE_FLOW_INTERVAL seconds (each poll
    # that comes too early adds 5 s: `slow_down`).
    "OAUTH_DEVICE_VERIFICATION_URI": f"{PUBLIC_URL}/o/device/",
    "OAUTH_DEVICE_VERIFICATION_URI_COMPLETE": f"{PUBLIC_URL}/o/device/?user_code={{user_code}}",
    "DEVICE_FLOW_INTERVAL": env.int("DEVICE_FLOW_INTERVAL", default=5),
    # DOT's pre-token hook reads the device grant without checking it exists (a 500 for an unknown
    # device_code); the validator's validate_device_code does that work instead.
    "OAUTH_PRE_TOKEN_VALIDATION": [],
    # Every consent is asked for (DOT's default); the demo client has skip_authorization off too.
    "REQUEST_APPROVAL_PROMPT": "force",
    "OIDC_ENABLED": True,
    # Only the code flow: hybrid response types would put tokens in the front channel.
    "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
    # The issuer is fixed to the public URL, so no request header can change it (behind nginx,
    # Host and X-Forwarded-* would otherwise decide it).
    "OIDC_ISS_ENDPOINT": f"{PUBLIC_URL}/o",
    # RS256 key: generated on first start by `manage.py ensure_oidc_key`, never in git. The key that
    # signs and the ones JWKS publishes are read from OIDC_KEY_FILE's directory at each use
    # (oauth/signing_keys.py), so a rotation needs no restart; this copy only says one exists.
    "OIDC_RSA_PRIVATE_KEY": OIDC_KEY_FILE.read_text() if OIDC_KEY_FILE.exists() else "",
    # RP-initiated logout: asks the user, revokes the user's tokens, redirects only to registered URIs.
    "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
    "OIDC_RP_INITIATED_LOGOUT_ALWAYS_PROMPT": True,
    "OIDC_RP_INITIATED_LOGOUT_DELETE_TOKENS": True,
    "OIDC_RP_INITIATED_LOGOUT_STRICT_REDIRECT_URIS": True,
    # Redirect URIs must be https once the server itself is (RFC 9700 §2.1); the plain-http local
    # stack (http://localhost) needs http ones.
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"] if PUBLIC_URL.startswith("https://") else ["http", "https"],
    # DOT 3.4's RFC 9700 switches, all on (DOT's default only warns).
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    # cleartokens deletes in batches with a pause, so it never holds long locks on the token tables.
    "CLEAR_EXPIRED_TOKENS_BATCH_SIZE": env.int("CLEAR_EXPIRED_TOKENS_BATCH_SIZE", default=5000),
    "CLEAR_EXPIRED_TOKENS_BATCH_INTERVAL": env.float("CLEAR_EXPIRED_TOKENS_BATCH_INTERVAL", default=0.05),
}

# A previous key retired by age before the ID tokens it signed expire would make them unverifiable.
if OIDC_KEY_RETIRE_AFTER < OAUTH2_PROVIDER["ID_TOKEN_EXPIRE_SECONDS"]:
    raise ImproperlyConfigured("OIDC_KEY_RETIRE_AFTER must be at least ID_TOKEN_EXPIRE_SECONDS.")

LOGGING["loggers"]["oauth2_provider"] = {"level": "WARNING"}  # noqa: F405
