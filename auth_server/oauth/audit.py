"""Audit events as structured log lines: JSON objects with the request id (common/logs.py)."""

import logging

from oauth.metrics import LOGINS

logger = logging.getLogger("audit")


def audit(event: str, **fields):
    """Log one audit event, e.g. audit("token_issued", grant="client_credentials", client=...).

    The line carries `event` and each field at its top level.
    """
    logger.info(event, extra={"event": event, **fields})


def _login_succeeded(sender, request, user, **kwargs):
    audit("login_succeeded", user=user.get_username(), user_id=user.pk)
    LOGINS.labels("succeeded").inc()


def _login_failed(sender, credentials, request=None, **kwargs):
    # Django has already masked the password in `credentials`; only the username is kept.
    audit("login_failed", user=credentials.get("username", ""))
    LOGINS.labels("failed").inc()


def _logged_out(sender, request, user, **kwargs):
    audit("logout", user=user.get_username() if user else None)


def connect_auth_signals():
    from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

    user_logged_in.connect(_login_succeeded)
    user_login_failed.connect(_login_failed)
    user_logged_out.connect(_logged_out)
