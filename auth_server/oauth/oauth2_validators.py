import base64
import binascii
from urllib.parse import parse_qs, unquote_plus, urlsplit

from oauth2_provider.models import get_refresh_token_model
from oauth2_provider.oauth2_validators import OAuth2Validator as BaseValidator
from oauthlib.oauth2.rfc6749 import errors

from common.revocation import token_digest
from oauth import known_clients
from oauth.audit import audit
from oauth.revocation import revocation_reason

RefreshToken = get_refresh_token_model()


class OAuth2Validator(BaseValidator):
    """DOT's validator, with this deployment's stricter rules (see the methods below)."""

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
    def _load_application(self, client_id, request):
        # DOT reuses a client already on the request; loading it here takes the faster query, or a
        # remembered row (oauth/known_clients.py). DOT still checks it (and, for an unknown
        # client_id, looks again and answers as it always does).
        if not request.client:
            request.client = known_clients.load(client_id)
        return super()._load_application(client_id, request)

    def authenticate_client(self, request, *args, **kwargs):
        authenticated = super().authenticate_client(request, *args, **kwargs)
        if not authenticated and known_clients.forget(self._claimed_client_id(request)):
            # A remembered row said no (oauth/known_clients.py): the stored one decides.
            request.client = None
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

    def _claimed_client_id(self, request):
        """The client id the caller claimed (the secret is never looked at), cut to a loggable size."""
        claimed = request.client_id
        if not claimed and (basic := self._extract_basic_auth(request)):
            try:
                claimed = unquote_plus(base64.b64decode(basic, validate=True).decode().split(":", 1)[0])
            except (binascii.Error, UnicodeDecodeError):
                claimed = "(undecodable)"
        return claimed[:100] if claimed else None

    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs):
        valid = super().validate_grant_type(client_id, grant_type, client, request, *args, **kwargs)
        if not valid and self._read_stored_client(request):
            valid = super().validate_grant_type(client_id, grant_type, request.client, request, *args, **kwargs)
        return valid

    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs):
        valid = super().validate_scopes(client_id, scopes, client, request, *args, **kwargs)
        if not valid and self._read_stored_client(request):
            valid = super().validate_scopes(client_id, scopes, request.client, request, *args, **kwargs)
        return valid

    @staticmethod
    def _read_stored_client(request):
        """A remembered client row said no: read the stored one to ask again (oauth/known_clients.py).

        False if the no came from the stored row (it stands) or the client no longer exists.
        """
        client_id = request.client.client_id
        if not known_clients.forget(client_id):
            return False
        request.client = known_clients.load(client_id)
        return request.client is not None

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
        if "refresh_token" not in token:
            # Client credentials: one INSERT, atomic by itself. DOT's transaction around it would
            # only add a BEGIN and a COMMIT round trip to Postgres.
            self._save_bearer_token(token, request, *args, **kwargs)
        else:
            # Rotation deletes the access token issued with the refresh token that is being used.
            with revocation_reason("refresh_token_rotated"):
                super().save_bearer_token(token, request, *args, **kwargs)
        audit(
            "token_issued",
            grant=request.grant_type,
            client_id=request.client.client_id,
            user=request.user.get_username() if request.user else None,
            scopes=token.get("scope", ""),
            token_sha256=token_digest(token["access_token"]),
        )
