"""Bearer-token authentication (RFC 6750) for the posts API, with scopes in the OpenAPI document.

A token is looked up by its SHA-256 in the worker's memory, then the Redis cache and, on a miss,
introspected at the auth server (RFC 7662): posts/token_cache.py. Failures are raised as exceptions
that posts.api turns into RFC 6750 responses.
"""

import re
from dataclasses import dataclass

from django.conf import settings
from ninja.security.base import AuthBase

from common.revocation import token_digest
from posts import token_cache
from posts.introspection import introspect
from posts.metrics import BEARER_ERRORS

# RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token
_BEARER = re.compile(r"^Bearer +([A-Za-z0-9\-._~+/]+=*) *$", re.IGNORECASE)

SCOPES = {
    "read": "Read posts",
    "write": "Create, change and delete your posts",
    "profile": "See who you are",
}


@dataclass(frozen=True)
class TokenInfo:
    """What the API knows about a valid access token."""

    scopes: frozenset[str]
    client_id: str
    # The user's stable id at the auth server (`sub`); None for a client-credentials token.
    user_id: str | None
    username: str | None
    expires_at: int
    # RFC 8707 resource indicators the token is bound to; empty = not bound to any.
    audiences: tuple[str, ...] = ()

    @classmethod
    def from_introspection(cls, answer: dict) -> "TokenInfo":
        username = answer.get("username")
        aud = answer.get("aud") or ()
        return cls(
            scopes=frozenset(str(answer.get("scope", "")).split()),
            client_id=answer.get("client_id", ""),
            user_id=answer.get("sub") or username,
            username=username,
            expires_at=int(answer.get("exp", 0)),
            audiences=(aud,) if isinstance(aud, str) else tuple(aud),
        )

    def valid_for(self, url: str) -> bool:
        """Whether a token bound to resources (RFC 8707) may be used at `url` (prefix match, as DOT does)."""
        return not self.audiences or any(url.startswith(aud.rstrip("/") + "/") for aud in self.audiences)


class BearerError(Exception):
    """An RFC 6750 error: the status, error code and WWW-Authenticate challenge to answer with."""

    def __init__(self, status: int, error: str | None = None, description: str = "", scope: str | None = None):
        self.status, self.error, self.description, self.scope = status, error, description, scope
        super().__init__(description or error)

    @property
    def challenge(self) -> str:
        # Without any credentials RFC 6750 §3.1 wants the bare challenge, with no error code.
        params = [f'{name}="{value}"' for name, value in
                  (("error", self.error), ("error_description", self.description), ("scope", self.scope)) if value]
        return "Bearer " + ", ".join(params) if params else "Bearer"

    @property
    def body(self) -> dict:
        body = {"detail": self.description or "a bearer token is required"}
        return {"error": self.error, **body} if self.error else body


def bearer_token(request) -> str | None:
    """The token from the Authorization header, None if there is no Bearer credential."""
    if "access_token" in request.GET:
        raise BearerError(400, "invalid_request", "access tokens are accepted only in the Authorization header")
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header.lower().startswith("bearer"):
        return None
    match = _BEARER.match(header)
    if not match:
        raise BearerError(400, "invalid_request", "malformed Authorization header")
    return match.group(1)


def token_info(token: str) -> TokenInfo | None:
    """The token's claims if it is active; None if not. Raises AuthServerUnavailable."""
    return token_cache.check(token_digest(token), lambda: introspect(token), TokenInfo.from_introspection)


class Anonymous:
    """request.auth of an optional-auth operation called without a token."""


ANONYMOUS = Anonymous()


class OAuth2(AuthBase):
    """Ninja auth: requires a valid bearer token with `scope` (and a user, if `user_required`).

    The class name is the security scheme's name in the OpenAPI document.
    """

    openapi_type = "oauth2"

    def __init__(self, scope: str | None = None, *, user_required: bool = False, optional: bool = False):
        self.scope, self.user_required, self.optional = scope, user_required, optional
        base = settings.PUBLIC_URL
        self.openapi_flows = {
            "authorizationCode": {"authorizationUrl": f"{base}/o/authorize/", "tokenUrl": f"{base}/o/token/",
                                  "refreshUrl": f"{base}/o/token/", "scopes": SCOPES},
            "clientCredentials": {"tokenUrl": f"{base}/o/token/", "scopes": SCOPES},
        }
        super().__init__()

    @property
    def required_scopes(self) -> list[str]:
        return [self.scope] if self.scope else []

    def resolve(self, token: str) -> TokenInfo | None:
        return token_info(token)

    def __call__(self, request):
        try:
            return self._authenticate(request)
        except BearerError as refusal:
            BEARER_ERRORS.labels(refusal.error or "missing_token", self.scope or "none").inc()
            raise

    def _authenticate(self, request):
        token = bearer_token(request)
        if token is None:
            if self.optional:
                return ANONYMOUS
            raise BearerError(401)
        info = self.resolve(token)
        if info is None:
            raise BearerError(401, "invalid_token", "the access token is invalid, expired or revoked")
        if not info.valid_for(settings.PUBLIC_URL + request.path):
            raise BearerError(401, "invalid_token", "the access token is meant for another resource")
        if self.scope and self.scope not in info.scopes:
            raise BearerError(403, "insufficient_scope", f"this operation needs the {self.scope} scope",
                              scope=self.scope)
        if self.user_required and info.user_id is None:
            raise BearerError(403, "insufficient_scope",
                              "this operation needs a token issued to a user, not a client-credentials token")
        return info
