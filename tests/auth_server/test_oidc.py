"""OpenID Connect and server metadata: discovery, JWKS, RS256 ID tokens, userinfo, logout, RFC 8414."""

import os
import stat
from urllib.parse import urlencode

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from stack import flows


@pytest.fixture(scope="module")
def demo_session(stack):
    return flows.login(stack.url, stack.env["DEMO_USERNAME"], stack.env["DEMO_PASSWORD"])


@pytest.fixture(scope="module")
def discovery(stack):
    return requests.get(f"{stack.url}/o/.well-known/openid-configuration").json()


@pytest.mark.e2e
@pytest.mark.parametrize("headers", [
    {"X-Forwarded-Host": "evil.example"},
    {"X-Forwarded-Proto": "https"},
    {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https", "X-Forwarded-Port": "443"},
    {"Forwarded": "host=evil.example;proto=https"},
])
def test_issuer_cannot_be_changed_by_forwarded_headers(stack, headers):
    for path in ("/o/.well-known/openid-configuration", "/.well-known/oauth-authorization-server/o"):
        document = requests.get(f"{stack.url}{path}", headers=headers).json()
        assert document["issuer"] == f"{stack.url}/o"
        assert all("evil.example" not in str(v) and "https://" not in str(v) for v in document.values())


@pytest.mark.e2e
def test_id_token_is_rs256_and_verifies_against_jwks(stack, demo, demo_session, discovery):
    request = flows.AuthorizationRequest(demo, scope="openid profile email")
    code = flows.code_from(flows.authorize(demo_session, stack.url, request))["code"]
    tokens = flows.exchange_code(stack.url, request, code).json()
    jwks = requests.get(discovery["jwks_uri"]).json()
    assert [k["kty"] for k in jwks["keys"]] == ["RSA"] and "d" not in jwks["keys"][0]

    id_token = jwt.decode(tokens["id_token"], KeySet.import_key_set(jwks), registry=JWSRegistry(algorithms=["RS256"]))
    claims = id_token.claims
    jwt.JWTClaimsRegistry(exp={"essential": True}, iat={"essential": True}).validate(claims)
    assert id_token.header["alg"] == "RS256" and id_token.header["kid"] == jwks["keys"][0]["kid"]
    assert claims["iss"] == f"{stack.url}/o"
    assert claims["aud"] == demo.client_id
    assert claims["nonce"] == request.nonce

    assert claims["preferred_username"] == stack.env["DEMO_USERNAME"] and claims["email"]

    info = requests.get(discovery["userinfo_endpoint"], headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 200
    assert info.json()["sub"] == claims["sub"] and info.json()["email"] == claims["email"]


@pytest.mark.e2e
def test_userinfo_needs_a_valid_token(stack, discovery):
    assert requests.get(discovery["userinfo_endpoint"]).status_code == 401
    r = requests.get(discovery["userinfo_endpoint"], headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401 and "invalid_token" in r.headers.get("WWW-Authenticate", r.text)


def test_signing_key_is_kept_private_and_across_restarts(stack):
    key_file = stack.state / "oidc" / "private.pem"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    before = key_file.read_bytes()
    stack.manage("auth_server", "ensure_oidc_key")
    assert key_file.read_bytes() == before


def test_rp_initiated_logout_signs_out_and_revokes(stack, demo, user_session, issue):
    _, session = user_session
    tokens = issue(session)
    params = {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": f"{stack.url}/", "state": "s1"}
    page = session.get(f"{stack.url}/o/logout/?{urlencode(params)}")
    assert page.status_code == 200 and "Consumer demo" in page.text
    done = flows.submit_form(session, page, {}, submit="allow", allow_redirects=False)
    assert done.status_code == 303 and done.headers["Location"] == f"{stack.url}/?state=s1"
    assert requests.get(f"{stack.url}/o/userinfo/",
                        headers={"Authorization": f"Bearer {tokens['access_token']}"}).status_code == 401
    assert flows.refresh(stack.url, demo, tokens["refresh_token"]).status_code == 400
    assert "/accounts/login/" in session.get(f"{stack.url}/o/authorized_tokens/").url


@pytest.mark.e2e
def test_rp_initiated_logout_refuses_unregistered_redirect(stack, demo, demo_session):
    request = flows.AuthorizationRequest(demo)
    code = flows.code_from(flows.authorize(demo_session, stack.url, request))["code"]
    id_token = flows.exchange_code(stack.url, request, code).json()["id_token"]
    params = {"id_token_hint": id_token, "post_logout_redirect_uri": "https://evil.example/"}
    r = demo_session.get(f"{stack.url}/o/logout/?{urlencode(params)}", allow_redirects=False)
    assert 400 <= r.status_code < 500 and "Location" not in r.headers


# ---- prompt=none (OpenID Connect Core §3.1.2.1, errors §3.1.2.6) ----------------------------------
def silent(session, stack, client, scope="openid read", **overrides):
    """An authorization request with prompt=none; returns the answer and the request's parameters."""
    request = flows.AuthorizationRequest(client, scope=scope)
    answer = session.get(f"{stack.url}/o/authorize/?{urlencode(request.params(**{'prompt': 'none', **overrides}))}",
                         allow_redirects=False)
    return answer, request


def assert_sent_back(answer, stack, request, **expected):
    """A redirect to the client's registered redirect URI, with its state and this server's iss."""
    assert answer.status_code == 302, (answer.status_code, answer.text[:300])
    assert answer.headers["Location"].startswith(request.client.redirect_uri + "?")
    params = flows.code_from(answer)
    assert params["state"] == request.state and params["iss"] == f"{stack.url}/o"
    for key, value in expected.items():
        assert params[key] == value, params
    return params


@pytest.mark.e2e
@pytest.mark.parametrize("scope", ["openid profile read", "read"], ids=["openid", "plain-oauth"])
def test_prompt_none_never_shows_the_consent_page(stack, demo, demo_session, scope):
    # This deployment asks consent every time (REQUEST_APPROVAL_PROMPT "force").
    answer, request = silent(demo_session, stack, demo, scope=scope)
    assert_sent_back(answer, stack, request, error="consent_required")


@pytest.mark.e2e
@pytest.mark.parametrize("scope", ["openid profile read", "read"], ids=["openid", "plain-oauth"])
def test_prompt_none_signed_out_gets_login_required(stack, demo, scope):
    answer, request = silent(requests.Session(), stack, demo, scope=scope)
    assert_sent_back(answer, stack, request, error="login_required")


@pytest.mark.e2e
def test_prompt_none_with_another_value_is_invalid(stack, demo, demo_session):
    answer, request = silent(demo_session, stack, demo, prompt="none login")
    assert_sent_back(answer, stack, request, error="invalid_request")


@pytest.mark.e2e
def test_prompt_none_for_an_unregistered_redirect_uri_shows_an_error_page(stack, demo, demo_session):
    answer, _ = silent(demo_session, stack, demo, redirect_uri="https://evil.example/cb")
    assert answer.status_code == 400 and "Location" not in answer.headers


def test_prompt_none_for_a_client_that_skips_consent_gets_a_code(stack, demo_session, other_origin_client):
    client = other_origin_client(skip_authorization=True)
    answer, request = silent(demo_session, stack, client, scope="openid profile read")
    code = assert_sent_back(answer, stack, request)["code"]
    tokens = flows.exchange_code(stack.url, request, code)
    assert tokens.status_code == 200 and "id_token" in tokens.json()
