"""DOT's glue between Django requests and oauthlib, refusing repeated parameters."""

from oauth2_provider import oauth2_backends
from oauthlib.oauth2.rfc6749 import errors


class OAuthLibCore(oauth2_backends.OAuthLibCore):
    """RFC 6749 §3.1, §3.2: parameters "MUST NOT be included more than once".

    DOT passes oauthlib only the last value of a repeated form parameter, so two `grant_type`s,
    `code`s or `token`s went unnoticed. They get `invalid_request` here (`resource` may repeat:
    RFC 8707).
    """

    def create_token_response(self, request):
        return self._repeated_parameters(request) or super().create_token_response(request)

    def create_revocation_response(self, request):
        return self._repeated_parameters(request) or super().create_revocation_response(request)

    @staticmethod
    def _repeated_parameters(request):
        repeated = sorted(key for key, values in request.POST.lists() if len(values) > 1 and key != "resource")
        if not repeated:
            return None
        error = errors.InvalidRequestError(description=f"Repeated parameter: {', '.join(repeated)}.")
        return "", {"Content-Type": "application/json", "Cache-Control": "no-store"}, error.json, error.status_code
