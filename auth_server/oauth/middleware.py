"""Request and response rules that hold for every view of the authorization server."""

import base64
import binascii
from urllib.parse import unquote_plus

from django.http import JsonResponse
from django.shortcuts import render


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


class RejectNulMiddleware:
    """A NUL character is in no OAuth parameter (RFC 6749 Appendix A) and Postgres can't store one.

    DOT guards a few lookups against it, but a NUL in a code, a client id or Basic credentials
    still reaches Postgres and fails as a server error. Refused here once, before any view.
    """

    # Endpoints that speak JSON to clients get an RFC 6749 §5.2 error; people get a page.
    JSON_ENDPOINTS = ("/o/token/", "/o/revoke_token/", "/o/introspect/", "/o/userinfo/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not self._has_nul(request):
            return self.get_response(request)
        if request.path in self.JSON_ENDPOINTS:
            return JsonResponse({"error": "invalid_request", "error_description": "NUL characters are not allowed."},
                                status=400)
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
