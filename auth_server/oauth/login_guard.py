"""How django-axes sees this deployment: the client's address behind nginx, and the lockout answer.

Policy (settings.AXES_*, docs/auth-server.md "Sign-in lockout"): failures are counted per username
AND address, and a lock ends after a cool-off. Guessing one account's password from one address
stops there, while the same user signing in from anywhere else is not affected, so nobody can lock
another person out by failing on purpose.
"""

from django.conf import settings
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

from oauth.audit import audit
from oauth.metrics import LOGIN_LOCKOUTS


def client_ip(request) -> str:
    # nginx overwrites X-Real-IP with the connection's address; gunicorn is reachable only through it.
    return request.META.get("HTTP_X_REAL_IP") or request.META.get("REMOTE_ADDR", "")


def username(request, credentials=None) -> str | None:
    # Django's sign-in forms don't limit the username's length, axes stores 255 characters of it
    # (a longer one failed with a database error); no account's name is longer than 150.
    name = (credentials or request.POST).get("username")
    return name[:255] if name is not None else None


def cool_off_seconds() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def lockout_response(request, original_response=None, credentials=None):
    """429 with Retry-After and a page in the site's look (sign-in or admin sign-in alike)."""
    minutes = -(-cool_off_seconds() // 60)
    response = render(request, "registration/locked_out.html", {"minutes": minutes}, status=429)
    response["Retry-After"] = str(cool_off_seconds())
    add_never_cache_headers(response)
    return response


def user_locked_out(sender, request, username, ip_address, **kwargs):
    audit("login_locked_out", user=username)
    LOGIN_LOCKOUTS.inc()


def connect_signals():
    from axes.signals import user_locked_out as locked_out

    locked_out.connect(user_locked_out)
