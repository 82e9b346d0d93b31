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
