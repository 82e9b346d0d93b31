"""The request id that nginx assigns (X-Request-ID): kept for the request, and put on every log line.

The consumer demo also passes it on to the services it calls, so one id follows a click through all
three logs.
"""

import contextvars
import logging
import re

_request_id = contextvars.ContextVar("request_id", default="-")
# nginx sends $request_id (32 hex digits) or the client's own; anything else is not logged.
_VALID = re.compile(r"^[A-Za-z0-9-]{1,64}$")


def current_request_id() -> str:
    return _request_id.get()


class RequestIdMiddleware:
    """Outermost middleware: sets `request.request_id` and the id for log lines written meanwhile."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # From META: `request.headers` would build a dict of every header, 2 % of a token request.
        value = request.META.get("HTTP_X_REQUEST_ID", "")
        request.request_id = value if _VALID.match(value) else "-"
        token = _request_id.set(request.request_id)
        try:
            return self.get_response(request)
        finally:
            _request_id.reset(token)


class RequestIdFilter(logging.Filter):
    def filter(self, record):
        # django.request logs a 4xx/5xx answer ("Unauthorized: /api/...") after this middleware has
        # returned, so the context holds no id any more; it passes the request along instead.
        request = getattr(record, "request", None)
        record.request_id = getattr(request, "request_id", None) or _request_id.get()
        return True
