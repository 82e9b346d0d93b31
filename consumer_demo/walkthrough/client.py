"""The demo as a confidential OAuth 2.0 / OpenID Connect client.

Authlib does the protocol work (authorization URL with PKCE S256, state and nonce; the token,
refresh and revocation requests; ID token checks, with joserfc verifying the signature). This module
only says where each request goes and writes every exchange to the visitor's timeline. The browser is
sent to the public URL; the demo's own calls go straight to the services (AUTH_/API_INTERNAL_URL).
"""

from contextlib import contextmanager

import requests
from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_uri
from authlib.integrations.requests_client import OAuth2Auth, OAuth2Session, OAuthError
from authlib.oidc.core import CodeIDToken
from django.conf import settings
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from common.request_id import current_request_id

from .timeline import Timeline

# What each scope lets the demo do, in the order the start page lists them.
SCOPES = {
    "openid": "Sign you in: the auth server returns an ID token saying who you are.",
    "profile": "See your username and name (the posts API's /api/me/ needs it).",
    "email": "See your email address.",
    "read": "Read posts on your behalf.",
    "write": "Create posts on your behalf.",
}
# openid is always asked for: the ID token and the logout at the auth server depend on it.
REQUIRED_SCOPES = ["openid"]
ID_TOKEN_ALGORITHMS = ["RS256"]
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def auth_url(path: str) -> str:
    return f"{settings.AUTH_INTERNAL_URL}/o/{path}"


class Unreachable(Exception):
    """A service did not answer (down, or too slow)."""

    def __init__(self, service: str, entry: dict):
        super().__init__(service)
        self.service = service
        self.entry = entry


class Refused(Exception):
    """The auth server answered with an OAuth error (RFC 6749 §5.2), e.g. invalid_grant, or failed."""

    def __init__(self, error: str, description: str | None, entry: dict | None):
        super().__init__(error)
        self.error = error
        self.description = description or ""
        self.entry = entry

    @property
    def server_failed(self) -> bool:
        return self.error.startswith("HTTP ")


class InvalidIdToken(Exception):
    """The ID token failed a check: its signature, issuer, audience, expiry, nonce or at_hash."""


class Client:
    """One visitor's client for the length of one page request."""

    def __init__(self, timeline: Timeline):
        self.timeline = timeline
        self.entries: list[dict] = []  # what this page request sent, to show next to its result
        self._label = ""
        self.http = OAuth2Session(
            client_id=settings.OAUTH_CLIENT_ID,
            client_secret=settings.OAUTH_CLIENT_SECRET,
            token_endpoint_auth_method="client_secret_basic",
            revocation_endpoint_auth_method="client_secret_basic",
            redirect_uri=settings.OAUTH_REDIRECT_URI,
            code_challenge_method="S256",
            default_timeout=settings.BACKCHANNEL_TIMEOUT,
        )
        if (request_id := current_request_id()) != "-":
            self.http.headers["X-Request-ID"] = request_id
        self.http.hooks["response"].append(self._record)

    def _record(self, response, *args, **kwargs):
        self.entries.append(self.timeline.response(self._label, response))

    @contextmanager
    def _exchange(self, label: str, service: str):
        self._label = label
        try:
            yield
        except (requests.HTTPError, ValueError) as exc:
            # It answered, but with an error page instead of OAuth's JSON (Authlib refuses to parse it).
            status = self.entries[-1]["status"] if self.entries else "?"
            raise Refused(f"HTTP {status}", "The answer was not an OAuth error but an error page.",
                          self.entries[-1] if self.entries else None) from exc
        except requests.RequestException as exc:
            self.entries.append(self.timeline.failure(label, exc.request, exc))
            raise Unreachable(service, self.entries[-1]) from exc
        except OAuthError as exc:
            raise Refused(exc.error, exc.description, self.entries[-1] if self.entries else None) from exc

    # ---- step 1: the authorization request -------------------------------------------------
    def authorization_request(self, scopes: list[str]) -> dict:
        """A fresh login: new state, nonce and PKCE verifier, and the URL that carries them."""
        state, nonce, code_verifier = generate_token(32), generate_token(32), generate_token(64)
        url, _ = self.http.create_authorization_url(
            f"{settings.PUBLIC_URL}/o/authorize/", state=state, code_verifier=code_verifier,
            nonce=nonce, scope=" ".join(scopes),
        )
        self.timeline.browser("Authorization request (your browser is sent to the auth server)", "GET", url)
        return {"url": url, "state": state, "nonce": nonce, "code_verifier": code_verifier, "scope": scopes}

    # ---- step 4: code for tokens, ID token verification ------------------------------------
    def exchange_code(self, flow: dict, callback_url: str,
                      label: str = "Token request: authorization code → tokens") -> dict:
        with self._exchange(label, "auth_server"):
            token = self.http.fetch_token(
                auth_url("token/"), authorization_response=callback_url, state=flow["state"],
                code_verifier=flow["code_verifier"],
            )
        return dict(token)

    def verify_id_token(self, id_token: str, nonce: str, access_token: str) -> dict:
        """Check the ID token against the auth server's published keys (JWKS) and this login."""
        with self._exchange("JWKS: the auth server's public signing keys", "auth_server"):
            keys = self.http.get(auth_url(".well-known/jwks.json"), withhold_token=True)
        if keys.status_code != 200:
            raise InvalidIdToken(f"the JWKS endpoint answered {keys.status_code}")
        try:
            decoded = jwt.decode(id_token, KeySet.import_key_set(keys.json()),
                                 registry=JWSRegistry(algorithms=ID_TOKEN_ALGORITHMS))
            claims = CodeIDToken(
                decoded.claims, decoded.header,
                {"iss": {"essential": True, "value": settings.OAUTH_ISSUER},
                 "aud": {"essential": True, "value": settings.OAUTH_CLIENT_ID}},
                {"nonce": nonce, "client_id": settings.OAUTH_CLIENT_ID, "access_token": access_token},
            )
            claims.validate(leeway=30)
        except (JoseError, ValueError) as exc:
            raise InvalidIdToken(str(exc) or exc.__class__.__name__) from exc
        return {"header": dict(decoded.header), "claims": dict(decoded.claims)}

    def userinfo(self, access_token: str) -> requests.Response:
        with self._exchange("UserInfo: who the access token belongs to", "auth_server"):
            return self.http.get(auth_url("userinfo/"), auth=bearer(access_token))

    # ---- step 5: the posts API -------------------------------------------------------------
    def call_api(self, label: str, method: str, path: str, access_token: str, json=None) -> requests.Response:
        with self._exchange(label, "resource_api"):
            return self.http.request(method, f"{settings.API_INTERNAL_URL}{path}",
                                     auth=bearer(access_token), json=json)

    # ---- step 6: refresh, revoke, log out ----------------------------------------------------
    def refresh(self, refresh_token: str, label: str = "Token request: refresh token → new tokens") -> dict:
        with self._exchange(label, "auth_server"):
            return dict(self.http.refresh_token(auth_url("token/"), refresh_token=refresh_token))

    def revoke(self, token: str, hint: str = "access_token") -> requests.Response:
        with self._exchange(f"Revocation (RFC 7009) of the {hint.replace('_', ' ')}", "auth_server"):
            return self.http.revoke_token(auth_url("revoke_token/"), token=token, token_type_hint=hint)

    # ---- the device chapter: the demo plays a TV, a public client (RFC 8628) -----------------
    # Authlib's client has no device flow, and the TV has no secret: plain form POSTs, no client auth.
    def device_authorization(self, scope: str) -> requests.Response:
        with self._exchange("Device authorization request: the TV asks for codes", "auth_server"):
            return self.http.post(auth_url("device-authorization/"), withhold_token=True,
                                  data={"client_id": settings.DEVICE_CLIENT_ID, "scope": scope})

    def device_poll(self, device_code: str) -> requests.Response:
        with self._exchange("Token request: the TV polls with its device code", "auth_server"):
            return self.http.post(auth_url("token/"), withhold_token=True, data={
                "grant_type": DEVICE_GRANT, "device_code": device_code, "client_id": settings.DEVICE_CLIENT_ID})

    def logout_url(self, id_token: str, state: str) -> str:
        """RP-initiated logout: where the browser goes so the auth server ends its own session."""
        url = add_params_to_uri(f"{settings.PUBLIC_URL}/o/logout/", [
            ("id_token_hint", id_token),
            ("post_logout_redirect_uri", f"{settings.PUBLIC_URL}/"),
            ("client_id", settings.OAUTH_CLIENT_ID),
            ("state", state),
        ])
        self.timeline.browser("End-session request (your browser is sent to the auth server)", "GET", url)
        return url


def bearer(access_token: str) -> OAuth2Auth:
    # A bare OAuth2Auth (no client) sends the token as it is: the demo wants the API's own verdict
    # on an expired or revoked token, not Authlib's refusal to send it.
    return OAuth2Auth({"access_token": access_token, "token_type": "Bearer"})
