"""An independent OpenID Connect / OAuth 2.0 client library against the running stack.

Each test is one thing a client written with requests_oauth2client does, from discovery to the
end of the session; none of the project's own client code is involved.
"""

import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from requests_oauth2client import (
    AuthorizationResponse,
    DeviceAuthorizationPoolingJob,
    InvalidGrant,
    MissingIssuer,
    OAuth2Client,
)
from requests_oauth2client.tokens import MismatchingIdTokenNonce

from stack import flows

pytestmark = pytest.mark.e2e


def test_discovery_gives_every_endpoint(stack, issuer, demo_client):
    for name in ("authorization_endpoint", "token_endpoint", "revocation_endpoint", "introspection_endpoint",
                 "userinfo_endpoint"):
        assert getattr(demo_client, name).startswith(f"{issuer}/"), name
    assert demo_client.authorization_response_iss_parameter_supported is True
    assert demo_client.authorization_server_jwks  # fetched from jwks_uri
    # RFC 8414's document gives the same client.
    rfc8414 = OAuth2Client.from_discovery_endpoint(
        f"{stack.url}/.well-known/oauth-authorization-server/o", issuer=issuer, client_id="x", testing=True)
    for name in ("token_endpoint", "revocation_endpoint", "introspection_endpoint", "userinfo_endpoint"):
        assert getattr(rfc8414, name) == getattr(demo_client, name)


def test_code_flow_with_pkce_and_a_verified_id_token(stack, issuer, demo_client, sign_in):
    # The library reads authorization_response_iss_parameter_supported from discovery but leaves it to
    # the caller to hold a request to it (1.8.0).
    request = demo_client.authorization_request(
        scope="openid profile email read",
        authorization_response_iss_parameter_supported=demo_client.authorization_response_iss_parameter_supported)
    assert request.code_challenge_method == "S256"
    response = sign_in(request)
    # RFC 9207: discovery promised iss, so the library demands it, and it matched.
    assert response.iss == issuer
    with pytest.raises(MissingIssuer):
        request.validate_callback(f"{demo_client.redirect_uri}?{urlencode({'code': 'x', 'state': request.state})}")
    # validate=True: signature through the JWKS, iss, aud, nonce, expiry (OIDC Core §3.1.3.7).
    token = demo_client.authorization_code(response, validate=True)
    claims = token.id_token.claims
    assert token.id_token.alg == "RS256"
    assert claims["iss"] == issuer and claims["aud"] == demo_client.client_id and claims["nonce"] == request.nonce
    assert claims["preferred_username"] == stack.env["DEMO_USERNAME"]

    userinfo = demo_client.userinfo(token)
    assert userinfo["sub"] == claims["sub"] and userinfo["email"] == claims["email"]

    # The same checks refuse this ID token for another sign-in (another nonce).
    other_sign_in = AuthorizationResponse(code=response.code, nonce=demo_client.authorization_request().nonce,
                                          issuer=issuer, redirect_uri=response.redirect_uri)
    with pytest.raises(MismatchingIdTokenNonce):
        token.validate_id_token(demo_client, other_sign_in)


def test_refresh_rotates_and_reuse_is_refused(demo_client, sign_in):
    token = demo_client.authorization_code(sign_in(demo_client.authorization_request(scope="openid read")))
    renewed = demo_client.refresh_token(token)
    assert renewed.refresh_token and renewed.refresh_token != token.refresh_token
    assert renewed.access_token != token.access_token
    with pytest.raises(InvalidGrant):
        demo_client.refresh_token(token.refresh_token)  # the spent one
    # Reuse revoked the whole family: the newest refresh token is dead too.
    with pytest.raises(InvalidGrant):
        demo_client.refresh_token(renewed.refresh_token)


def test_client_credentials_and_introspection(stack, new_client, resource_server):
    loadtest = new_client(stack.env["LOADTEST_CLIENT_ID"], stack.env["LOADTEST_CLIENT_SECRET"])
    token = loadtest.client_credentials(scope="read")
    assert token.scope == "read" and token.refresh_token is None
    answer = resource_server.introspect_token(token)
    assert answer["active"] is True and answer["client_id"] == loadtest.client_id and answer["scope"] == "read"
    assert resource_server.introspect_token("not-a-token") == {"active": False}


def test_device_grant(stack, issuer, new_client, browser):
    # The library reads every endpoint from discovery but this one (1.8.0): the client passes it on.
    discovery = requests.get(f"{issuer}/.well-known/openid-configuration").json()
    tv = new_client(stack.env["DEVICE_CLIENT_ID"],  # public: no secret
                    device_authorization_endpoint=discovery["device_authorization_endpoint"])
    authorization = tv.authorize_device(scope="read")
    assert authorization.verification_uri == f"{stack.url}/o/device/"
    job = DeviceAuthorizationPoolingJob(tv, authorization)
    assert job() is None  # authorization_pending

    page = browser.get(authorization.verification_uri_complete)
    confirmation = flows.submit_form(browser, page, {})
    assert authorization.user_code in confirmation.text
    flows.submit_form(browser, confirmation, {}, submit="allow")

    token = None
    deadline = time.monotonic() + 60
    while token is None and time.monotonic() < deadline:
        token = job()
    assert token is not None and token.scope == "read"
    posts = requests.get(f"{stack.url}/api/posts/", auth=token)
    assert posts.status_code == 200


def test_revocation(stack, demo_client, resource_server, sign_in):
    token = demo_client.authorization_code(sign_in(demo_client.authorization_request(scope="openid read")))
    assert requests.get(f"{stack.url}/api/posts/", auth=token).status_code == 200
    assert demo_client.revoke_access_token(token) is True
    assert resource_server.introspect_token(token)["active"] is False
    assert requests.get(f"{stack.url}/api/posts/", auth=token).status_code == 401
    assert demo_client.revoke_refresh_token(token) is True
    with pytest.raises(InvalidGrant):
        demo_client.refresh_token(token)


def test_end_session(stack, issuer, demo_client, resource_server, browser, sign_in):
    """RP-initiated logout: the library has no helper, so the client builds the URL from discovery."""
    token = demo_client.authorization_code(sign_in(demo_client.authorization_request(scope="openid read")))
    end_session = requests.get(f"{issuer}/.well-known/openid-configuration").json()["end_session_endpoint"]
    params = {"id_token_hint": str(token.id_token), "post_logout_redirect_uri": f"{stack.url}/", "state": "bye",
              "client_id": demo_client.client_id}
    page = browser.get(f"{end_session}?{urlencode(params)}")
    done = flows.submit_form(browser, page, {}, submit="allow", allow_redirects=False)
    location = urlsplit(done.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{stack.url}/"
    assert parse_qs(location.query)["state"] == ["bye"]
    assert resource_server.introspect_token(token)["active"] is False  # the user's tokens went with the session
    assert "/accounts/login/" in browser.get(f"{stack.url}/o/authorized_tokens/").url
