"""Audit events as structured JSON log lines (one object per line, with the request id)."""

import json
import logging
from datetime import datetime, timezone

logger = logging.getLogger("audit")


class JsonFormatter(logging.Formatter):
    def format(self, record):
        line = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
            **getattr(record, "event", {}),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def audit(event: str, **fields):
    """Log one audit event, e.g. audit("token_issued", grant="client_credentials", client=...)."""
    logger.info(event, extra={"event": {"event": event, **fields}})


def _login_succeeded(sender, request, user, **kwargs):
    audit("login_succeeded", user=user.get_username(), user_id=user.pk)


def _login_failed(sender, credentials, request=None, **kwargs):
    # Django has already masked the password in `credentials`; only the username is kept.
    audit("login_failed", user=credentials.get("username", ""))


def _logged_out(sender, request, user, **kwargs):
    audit("logout", user=user.get_username() if user else None)


def connect_auth_signals():
    from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

    user_logged_in.connect(_login_succeeded)
    user_login_failed.connect(_login_failed)
    user_logged_out.connect(_logged_out)
