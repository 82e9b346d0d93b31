"""Request and response rules that hold for every view of the authorization server."""

import base64
import binascii
import json
import logging
import re
from urllib.parse import unquote_plus

import redis
from django.contrib.auth.models import AnonymousUser
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from django.shortcuts import render

logger = logging.getLogger(__name__)

# Endpoints that speak JSON to clients (RFC 6749 §5.2 errors); people get pages everywhere else.
JSON_ENDPOINTS = frozenset(("/o/token", "/o/revoke_token", "/o/introspect", "/o/userinfo", "/o/device-authorization"))
# Seconds a client is told to wait (Retry-After) when Postgres or Redis is down.
RETRY_AFTER_SECONDS = 5


def speaks_json(request) -> bool:
    # Without the slash too: Django's redirect to the slashed path goes to a client as well.
    return request.path.rstrip("/") in JSON_ENDPOINTS


def oauth_error(error: str, description: str, status: int) -> JsonResponse:
    return JsonResponse({"error": error, "error_description": description}, status=status)


class SeeOtherAfterPostMiddleware:
    """A redirect answering a POST is a 303, never a 302 or 307 (RFC 9700 §4.12).

    With 307 a browser would re-send the POSTed credentials (password, consent form) to wherever
    the redirect points, e.g. the client's redirect URI; 303 turns the follow-up into a GET.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.method == "POST" and response.status_code in (302, 307):
            response.status_code = 303
        return response


class RejectUnreadableMiddleware:
    """Input no view can read correctly is refused here once, before any view.

    A NUL character is in no OAuth parameter (RFC 6749 Appendix A) and Postgres can't store one:
    DOT guards a few lookups against it, but a NUL in a code, a client id or Basic credentials
    still reached Postgres and failed as a server error. A `%` not followed by two hex digits in
    the query string made oauthlib raise (500); Django reads such a query, but only by guessing.
    """

    MALFORMED_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if self.MALFORMED_PERCENT.search(request.META.get("QUERY_STRING", "")):
            return self._refuse(request, "The query string has a malformed percent-encoding.")
        if self._has_nul(request):
            return self._refuse(request, "NUL characters are not allowed.")
        return self.get_response(request)

    @staticmethod
    def _refuse(request, description):
        if speaks_json(request):
            return oauth_error("invalid_request", description, 400)
        # A page, not a redirect: the redirect URI itself is among what could not be read.
        return render(request, "400.html", status=400)

    @staticmethod
    def _has_nul(request):
        parameters = [*request.GET.lists(), *request.POST.lists()]
        if any("\x00" in key or any("\x00" in v for v in values) for key, values in parameters):
            return True
        scheme, _, credentials = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme == "Basic":
            try:
                decoded = base64.b64decode(credentials).decode("latin-1")
            except binascii.Error:
                return False  # not Basic credentials at all: DOT answers invalid_client
            return "\x00" in unquote_plus(decoded)
        return False


class JsonAnswersMiddleware:
    """What the token, revocation, introspection and userinfo endpoints answer is JSON, and no markup.

    DOT's views pass on oauthlib's JSON without a Content-Type, so Django's default (text/html)
    went out with it, and Django answers these paths with pages of its own (405, an unreadable
    request's 400, 500). Here an answer that is JSON says so; an error that isn't becomes an
    RFC 6749 §5.2 error; an empty answer (OPTIONS, a revocation, the redirect to the slashed path)
    claims no type. `<`, `>` and `&` are escaped in the JSON (`\\u003c`, ...), so an error
    description that repeats what the client sent holds no markup either.
    """

    CONTENT_TYPE = "application/json"
    ERRORS = {401: "invalid_client", 403: "access_denied", 500: "server_error", 503: "temporarily_unavailable"}
    MARKUP = ((b"<", rb"\u003c"), (b">", rb"\u003e"), (b"&", rb"\u0026"))

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not speaks_json(request) or response.streaming:
            return response
        content = original = response.content
        if not response.get("Content-Type", "").startswith(self.CONTENT_TYPE):
            if not content.startswith(b"{"):  # not oauthlib's JSON: Django's, or nothing
                if response.status_code < 400:
                    if not content:
                        del response["Content-Type"]
                    return response
                content = self._error(response)
            response["Content-Type"] = self.CONTENT_TYPE
        for markup, escaped in self.MARKUP:
            content = content.replace(markup, escaped)
        if content != original:
            response.content = content
            if response.has_header("Content-Length"):
                response["Content-Length"] = str(len(content))
        return response

    def _error(self, response) -> bytes:
        status = response.status_code
        error = self.ERRORS.get(status, "server_error" if status >= 500 else "invalid_request")
        return json.dumps({"error": error, "error_description": f"{response.reason_phrase}."}).encode()


class ServiceUnavailableMiddleware:
    """Postgres or Redis down: 503 + Retry-After, in JSON for clients and as a page for people.

    Django would answer 500 with its error page, and a client would not know that the same request
    may well succeed in a moment. Any view's database or Redis error ends up here, so no view needs
    to know about outages.
    """

    UNAVAILABLE = (OperationalError, InterfaceError, redis.ConnectionError, redis.TimeoutError)

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, self.UNAVAILABLE):
            return None
        what = "Redis" if isinstance(exception, redis.RedisError) else "database"
        logger.error("%s unavailable: %r", what, exception)
        if speaks_json(request):
            response = oauth_error("temporarily_unavailable",
                                   "The authorization server is temporarily unavailable; retry shortly.", 503)
        else:
            # The signed-in user can't be looked up now: the page is rendered as for anyone.
            response = render(request, "503.html", {"user": AnonymousUser()}, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
