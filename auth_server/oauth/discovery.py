"""The server's metadata: one document, served as OpenID Connect discovery and as RFC 8414 metadata.

OIDC clients read `/o/.well-known/openid-configuration`, OAuth clients
`/.well-known/oauth-authorization-server/o`; both get the same fields, built here from what the
server is configured to do (tests/auth_server/test_discovery.py checks each against the endpoints).
DOT builds the two documents separately, and its OIDC one lacks the revocation and introspection
endpoints and the grant types (so OIDC's default, which includes implicit, applied) and offers
HS256, which this server never signs with.
"""

from django.http import JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET
from oauth2_provider.settings import oauth2_settings

from oauth.server import GRANT_TYPES, RESPONSE_TYPES

# Client authentication each endpoint takes (RFC 8414 §2). "none": public clients (the device
# client) send only their client_id. Introspection is for resource servers, HTTP Basic only
# (views.IntrospectTokenView).
CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
INTROSPECTION_AUTH_METHODS = ["client_secret_basic"]


def metadata() -> dict:
    issuer = oauth2_settings.OIDC_ISS_ENDPOINT
    origin = issuer.removesuffix("/o")

    def url(name: str) -> str:
        return origin + reverse(f"oauth2_provider:{name}")

    scopes = oauth2_settings.SCOPES_BACKEND_CLASS()
    return {
        "issuer": issuer,
        "authorization_endpoint": url("authorize"),
        "token_endpoint": url("token"),
        "device_authorization_endpoint": url("device-authorization"),
        "revocation_endpoint": url("revoke-token"),
        "introspection_endpoint": url("introspect"),
        "userinfo_endpoint": url("user-info"),
        "end_session_endpoint": url("rp-initiated-logout"),
        "jwks_uri": url("jwks-info"),
        "scopes_supported": scopes.get_available_scopes(),
        "response_types_supported": list(RESPONSE_TYPES),
        "response_modes_supported": ["query"],
        "grant_types_supported": list(GRANT_TYPES),
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": INTROSPECTION_AUTH_METHODS,
        # RFC 9207: every answer to the client's redirect URI carries iss (views.AuthorizationView).
        "authorization_response_iss_parameter_supported": True,
        # OpenID Connect
        "subject_types_supported": oauth2_settings.OIDC_SUBJECT_TYPES_SUPPORTED,
        # Only RS256: no client may have HS256 (models.Application.clean).
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": sorted(set(oauth2_settings.OAUTH2_VALIDATOR_CLASS().get_discovery_claims(None))),
        "prompt_values_supported": ["none", "login"],
    }


@require_GET
def metadata_view(request):
    response = JsonResponse(metadata())
    # Public, the same for everyone: any web client may read it (as DOT's own views allow).
    response["Access-Control-Allow-Origin"] = "*"
    return response
