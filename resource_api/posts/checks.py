"""Configuration that must hold before the API answers anything (Django's system checks)."""

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security)
def token_cache(app_configs, **kwargs):
    errors = []
    if len(settings.TOKEN_CACHE_KEY) < 32:
        errors.append(checks.Error("TOKEN_CACHE_KEY is shorter than 32 bytes: cache entries' MACs would be "
                                   "guessable.", hint="Set API_TOKEN_CACHE_KEY in .env (make up generates one).",
                                   id="posts.E001"))
    if not 0 < settings.REVOCATION_FRESHNESS <= 5:
        errors.append(checks.Error("REVOCATION_FRESHNESS must be more than 0 and at most 5 seconds: it bounds "
                                   "how long a revoked token can be served from the cache.", id="posts.E002"))
    if settings.TOKEN_CACHE_MAX_TTL <= 0 or settings.TOKEN_CACHE_INACTIVE_TTL < 0:
        errors.append(checks.Error("TOKEN_CACHE_MAX_TTL must be positive and TOKEN_CACHE_INACTIVE_TTL not "
                                   "negative.", id="posts.E003"))
    if settings.TOKEN_MEMORY_SIZE < 0 or not 0 <= settings.TOKEN_MEMORY_WINDOW <= 1:
        errors.append(checks.Error("TOKEN_MEMORY_SIZE must not be negative and TOKEN_MEMORY_WINDOW must be from 0 to "
                                   "1 s: it bounds how long a worker answers from memory after a heartbeat.",
                                   id="posts.E004"))
    return errors
