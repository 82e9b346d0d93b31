"""The shared log format and request ids (common/logs.py, common/request_id.py), in this process: no stack."""

import json
import logging
import sys
from types import SimpleNamespace

from common.logs import JsonFormatter
from common.request_id import RequestIdFilter, RequestIdMiddleware


def record(message="hello", *args, exc_info=None, **extra) -> logging.LogRecord:
    made = logging.LogRecord("django.request", logging.WARNING, __file__, 1, message, args, exc_info)
    made.__dict__.update(extra)
    return made


def formatted(made: logging.LogRecord) -> dict:
    RequestIdFilter().filter(made)
    line = JsonFormatter().format(made)
    assert "\n" not in line
    return json.loads(line.encode("ascii"))  # raises on anything beyond ASCII


def test_a_line_has_the_fields_of_every_service_and_only_ascii():
    entry = formatted(record("Unauthorized: %s", "/api/p\u00f6sts/\u202e", status_code=401))
    assert list(entry)[:5] == ["time", "logger", "level", "request_id", "message"]
    assert entry["time"].endswith("+00:00") and entry["level"] == "warning" and entry["logger"] == "django.request"
    assert entry["message"] == "Unauthorized: /api/p\u00f6sts/\u202e" and entry["status_code"] == 401


def test_extra_fields_stand_at_the_top_level_but_the_request_object_does_not():
    request = SimpleNamespace(request_id="abc-123", path="/x")
    entry = formatted(record("token_revoked", event="token_revoked", token_sha256="0" * 64, request=request))
    assert entry["event"] == "token_revoked" and entry["token_sha256"] == "0" * 64
    assert "request" not in entry


def test_an_exception_is_one_field():
    try:
        raise ValueError("bad \u00e9")
    except ValueError:
        entry = formatted(record("failed", exc_info=sys.exc_info()))
    assert entry["exception"].startswith("Traceback") and "ValueError: bad \u00e9" in entry["exception"]


def test_the_request_id_comes_from_the_request_after_the_middleware_returned():
    request = SimpleNamespace(META={"HTTP_X_REQUEST_ID": "0123abcd"})
    seen = {}
    RequestIdMiddleware(lambda r: seen.setdefault("inside", formatted(record("inside"))))(request)
    assert seen["inside"]["request_id"] == "0123abcd"
    # django.request's 4xx line: written after the middleware returned, with the request attached.
    assert formatted(record("Unauthorized: /api/posts/", request=request))["request_id"] == "0123abcd"
    assert formatted(record("no request"))["request_id"] == "-"


def test_a_request_id_that_is_not_plain_is_not_kept():
    for value in ["", "a b", "x" * 65, "id\n{\"forged\": 1}", "\u00e9t\u00e9"]:
        request = SimpleNamespace(META={"HTTP_X_REQUEST_ID": value})
        RequestIdMiddleware(lambda r: None)(request)
        assert request.request_id == "-"
