import base64
import binascii
from datetime import timedelta
from urllib.parse import parse_qs, unquote_plus, urlsplit

from django.db.models import F
from django.urls import Resolver404, resolve
from django.utils import timezone
from oauth2_provider.models import get_device_grant_model, get_refresh_token_model
from oauth2_provider.oauth2_validators import OAuth2Validator as BaseValidator
from oauthlib.oauth2.rfc6749 import errors
from oauthlib.oauth2.rfc8628.grant_types import DeviceCodeGrant

from common.revocation import token_digest
from oauth import hot_path, signing_keys
from oauth.audit import audit
from oauth.metrics import CLIENT_AUTHENTICATION_ENDPOINTS, CLIENT_AUTHENTICATION_FAILURES, token_issued
from oauth.revocation import revocation_reason
from oauth.server import RESPONSE_TYPES

RefreshToken = get_refresh_token_model()
DeviceGrant = get_device_grant_model()
# RFC 8628 §3.5: each poll that comes too early adds this to the device's interval.
SLOW_DOWN_SECONDS = 5


class OAuth2Validator(hot_path.RememberedClients, BaseValidator):
    """DOT's validator, with this deployment's stricter rules (see the methods below), on the hot
    path's remembered client rows (oauth/hot_path.py)."""

    # ---- OpenID Connect claims (the scope each needs is in DOT's oidc_claim_scope) ----------------
    def get_additional_claims(self):
        return {
            "preferred_username": lambda request: request.user.get_username(),
            "name": lambda request: request.user.get_full_name(),
            "given_name": lambda request: request.user.first_name,
            "family_name": lambda request: request.user.last_name,
            "email": lambda request: request.user.email,
        }

    # ---- client authentication -----------------------------------------------------------------
    def authenticate_client(self, request, *args, **kwargs):
        authenticated = super().authenticate_client(request, *args, **kwargs)
        if not authenticated:
            self._audit_client_failure(request)
        return authenticated

    def authenticate_client_id(self, client_id, request, *args, **kwargs):
        # Reached when no credentials were sent: fails for confidential clients.
        authenticated = super().authenticate_client_id(client_id, request, *args, **kwargs)
        if not authenticated:
            self._audit_client_failure(request)
        return authenticated

    def _audit_client_failure(self, request):
        audit("client_authentication_failed", client_id=self._claimed_client_id(request))
        try:
            url_name = resolve(urlsplit(request.uri).path).url_name
        except Resolver404:
            url_name = None
        CLIENT_AUTHENTICATION_FAILURES.labels(CLIENT_AUTHENTICATION_ENDPOINTS.get(url_name, "other")).inc()

    def _claimed_client_id(self, request):
        """The client id the caller claimed (the secret is never looked at), cut to a loggable size."""
        claimed = request.client_id
        if not claimed and (basic := self._extract_basic_auth(request)):
            try:
                claimed = unquote_plus(base64.b64decode(basic, validate=True).decode().split(":", 1)[0])
            except (binascii.Error, UnicodeDecodeError):
                claimed = "(undecodable)"
        return claimed[:100] if claimed else None

    # ---- OpenID Connect prompt=none (Core §3.1.2.1) ---------------------------------------------
    # oauthlib asks these while it validates an OpenID request with prompt=none, and raised
    # NotImplementedError (500). Nothing there says who is signed in (DOT passes oauthlib no user),
    # so the view answers, for OpenID and plain OAuth requests alike: DOT's handle_no_permission
    # with login_required when no one is signed in, oauth/views.py's AuthorizationView with
    # consent_required where it would show the consent page. Only what needs no page gets a code.
    def validate_silent_login(self, request):
        return True

    def validate_silent_authorization(self, request):
        return True

    # ---- ID tokens (keys: oauth/signing_keys.py) -------------------------------------------------
    def finalize_id_token(self, id_token, token, token_handler, request):
        # DOT asks the client for its key twice, once for the kid, once to sign.
        with signing_keys.pinned():
            return super().finalize_id_token(id_token, token, token_handler, request)

    def _get_key_for_token(self, token):
        # An ID token coming back (id_token_hint at logout, prompt=none) may be signed by a key
        # rotated out since: every published key is tried by the token's kid, not just the active one.
        key = super()._get_key_for_token(token)
        if key is not None and key.key_type == "RSA":  # an RS256 client (HS256 ones use their secret)
            return signing_keys.current().verification_keys()
        return key

    # ---- bearer tokens ---------------------------------------------------------------------------
    def validate_bearer_token(self, token, scopes, request):
        # RFC 9700 §4.3.2 / RFC 6750 §5.3: never in the query string. DOT checks this for protected
        # views, but oauthlib's userinfo endpoint reads `access_token` from the query by itself.
        if "access_token" in parse_qs(urlsplit(request.uri).query, keep_blank_values=True):
            request.oauth2_error = {
                "error": "invalid_request",
                "error_description": "Access tokens are accepted only in the Authorization header.",
            }
            return False
        return super().validate_bearer_token(token, scopes, request)

    # ---- the authorization endpoint --------------------------------------------------------------
    def validate_response_type(self, client_id, response_type, client, request, *args, **kwargs):
        # oauthlib's code grant takes every response type that contains "code" (hybrid ones too) and
        # asks here: those are as unknown to this server as implicit ones (oauth/server.py).
        if response_type not in RESPONSE_TYPES:
            raise errors.UnsupportedResponseTypeError(request=request)
        return super().validate_response_type(client_id, response_type, client, request, *args, **kwargs)

    # ---- authorization codes ---------------------------------------------------------------------
    def get_code_challenge(self, code, request):
        challenge = super().get_code_challenge(code, request)
        # RFC 9700 §2.1.1 (PKCE downgrade): a verifier for a code issued without a challenge means
        # someone stripped the challenge from the authorization request.
        if challenge is None and request.code_verifier is not None:
            raise errors.InvalidGrantError(
                description="code_verifier sent for a code issued without a code_challenge.", request=request
            )
        return challenge

    def save_authorization_code(self, client_id, code, request, *args, **kwargs):
        # The consent form carries the challenge in a hidden field: DOT would issue a code without
        # one if it were removed there. No challenge, no code (PKCE is required, RFC 9700 §2.1.1).
        if not request.code_challenge:
            raise errors.InvalidRequestError(description="Code challenge required.", request=request)
        super().save_authorization_code(client_id, code, request, *args, **kwargs)

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        if super().validate_code(client_id, code, client, request, *args, **kwargs):
            return True
        self._revoke_tokens_issued_from(code)
        return False

    def invalidate_authorization_code(self, client_id, code, request, *args, **kwargs):
        try:
            super().invalidate_authorization_code(client_id, code, request, *args, **kwargs)
        except errors.InvalidGrantError:
            # Two exchanges of one code raced and the other one won: this is a replay as well.
            self._revoke_tokens_issued_from(code)
            raise

    @staticmethod
    def _revoke_tokens_issued_from(code):
        """RFC 6749 §4.1.2 / RFC 9700 §4.2.4: a replayed code revokes everything issued from it."""
        families = RefreshToken.objects.filter(code_checksum=token_digest(code)).values_list("token_family", flat=True)
        with revocation_reason("authorization_code_replay"):
            for family in set(families):
                RefreshToken.revoke_family(family)

    # ---- device authorization grant (RFC 8628 §3.4, §3.5) ------------------------------------------
    def validate_device_code(self, client_id, code, request, *args, **kwargs):
        """Where the device's request stands; oauthlib turns each answer into the RFC's error.

        None (invalid_grant): an unknown code, another client's, or one already exchanged. A pending
        request polled sooner than its interval after the previous poll is `slow_down`, and the
        interval grows. An approved one is taken by the first poll (deleted): a code is exchanged once.
        """
        grant = DeviceGrant.objects.filter(device_code=code).select_related("user").first()
        if grant is None or grant.client_id != request.client.client_id:
            return None
        if grant.is_expired():
            return DeviceCodeGrant.DEVICE_CODE_EXPIRED
        if grant.status == grant.DENIED:
            return DeviceCodeGrant.DEVICE_CODE_DENIED
        if grant.status == grant.AUTHORIZED:
            if not (grant.user and grant.user.is_active):
                return None
            # Of two polls racing for one approval, only the one that deletes it gets tokens.
            if not DeviceGrant.objects.filter(pk=grant.pk, status=grant.AUTHORIZED).delete()[0]:
                return None
            request.user = grant.user
            request.scopes = grant.scope.split()
            return DeviceCodeGrant.DEVICE_CODE_AUTHORIZED
        now = timezone.now()
        pending = DeviceGrant.objects.filter(pk=grant.pk)
        if pending.filter(last_checked__lte=now - timedelta(seconds=grant.interval)).update(last_checked=now):
            return DeviceCodeGrant.DEVICE_CODE_PENDING
        pending.update(last_checked=now, interval=F("interval") + SLOW_DOWN_SECONDS)
        return DeviceCodeGrant.DEVICE_CODE_SLOW_DOWN

    # ---- refresh tokens --------------------------------------------------------------------------
    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        # The only revocation that can happen here is DOT's reuse protection revoking the family.
        with revocation_reason("refresh_token_reuse"):
            return super().validate_refresh_token(refresh_token, client, request, *args, **kwargs)

    # ---- issuing ---------------------------------------------------------------------------------
    def _save_bearer_token(self, token, request, *args, **kwargs):
        # Inside DOT's transaction: the code's checksum is stored with the tokens issued from it.
        super()._save_bearer_token(token, request, *args, **kwargs)
        if request.grant_type == "authorization_code" and token.get("refresh_token"):
            RefreshToken.objects.filter(
                token_checksum=token_digest(token["refresh_token"]), revoked__isnull=True
            ).update(code_checksum=token_digest(request.code))

    def save_bearer_token(self, token, request, *args, **kwargs):
        if "refresh_token" in token:
            # Rotation deletes the access token issued with the refresh token that is being used.
            with revocation_reason("refresh_token_rotated"):
                super().save_bearer_token(token, request, *args, **kwargs)
        else:
            super().save_bearer_token(token, request, *args, **kwargs)
        audit(
            "token_issued",
            grant=request.grant_type,
            client_id=request.client.client_id,
            user=request.user.get_username() if request.user else None,
            scopes=token.get("scope", ""),
            token_sha256=token_digest(token["access_token"]),
        )
        token_issued(request.grant_type, request.client.client_type)
