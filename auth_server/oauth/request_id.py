"""The request id that nginx assigns (X-Request-ID), carried into every log line."""

import contextvars
import logging
import re

_request_id = contextvars.ContextVar("request_id", default="-")
_VALID = re.compile(r"^[A-Za-z0-9-]{1,64}$")


def current_request_id() -> str:
    return _request_id.get()


class RequestIdMiddleware:
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
        # django.request logs the response after the middleware has returned: it passes the request.
        request = getattr(record, "request", None)
        record.request_id = getattr(request, "request_id", None) or _request_id.get()
        return True
