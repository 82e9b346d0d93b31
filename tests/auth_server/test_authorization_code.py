"""Authorization code + PKCE through nginx, and the RFC 9700 rules of the authorization endpoint."""

import secrets
from urllib.parse import urlencode

import pytest
import requests

from stack import flows


@pytest.fixture(scope="module")
def demo_session(stack):
    return flows.login(stack.url, stack.env["DEMO_USERNAME"], stack.env["DEMO_PASSWORD"])


def authorize_page(session, stack, request, **overrides):
    return session.get(f"{stack.url}/o/authorize/?{urlencode(request.params(**overrides))}", allow_redirects=False)


def assert_error_page(response):
    """RFC 9700 §4.1.2.1: a bad client or redirect URI gets a page for the user, never a redirect."""
    assert 400 <= response.status_code < 500, response.status_code
    assert "Location" not in response.headers
    assert "text/html" in response.headers["Content-Type"]
    assert "can't be completed" in response.text


# ---- PKCE (RFC 9700 §2.1.1) ---------------------------------------------------------------------
@pytest.mark.e2e
def test_s256_flow_issues_tokens(stack, demo, demo_session):
    request = flows.AuthorizationRequest(demo)
    params = flows.code_from(flows.authorize(demo_session, stack.url, request))
    assert params["state"] == request.state
    assert params["iss"] == f"{stack.url}/o"  # RFC 9207, mix-up defence
    tokens = flows.exchange_code(stack.url, request, params["code"]).json()
    assert tokens["token_type"] == "Bearer" and tokens["refresh_token"] and tokens["id_token"]
    assert 0 < tokens["expires_in"] <= 600  # short-lived access tokens


@pytest.mark.e2e
@pytest.mark.parametrize("method", ["plain", None], ids=["plain", "missing"])
def test_plain_or_missing_challenge_rejected(stack, demo, demo_session, method):
    request = flows.AuthorizationRequest(demo, challenge_method=method)
    params = flows.code_from(flows.authorize(demo_session, stack.url, request))
    assert params["error"] == "invalid_request" and "code" not in params


@pytest.mark.e2e
def test_wrong_code_verifier_rejected(stack, demo, demo_session):
    request = flows.AuthorizationRequest(demo)
    code = flows.code_from(flows.authorize(demo_session, stack.url, request))["code"]
    r = flows.exchange_code(stack.url, request, code, code_verifier=secrets.token_urlsafe(64))
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


@pytest.mark.e2e
def test_missing_code_verifier_rejected(stack, demo, demo_session):
    request = flows.AuthorizationRequest(demo)
    code = flows.code_from(flows.authorize(demo_session, stack.url, request))["code"]
    r = flows.exchange_code(stack.url, request, code, code_verifier=None)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def grant_without_challenge(auth_orm, stack, demo):
    """A code as a server without PKCE would have issued it (the authorization endpoint won't)."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from oauth2_provider.models import get_application_model, get_grant_model

    code = secrets.token_urlsafe(24)
    get_grant_model().objects.create(
        application=get_application_model().objects.get(client_id=demo.client_id),
        user=get_user_model().objects.get(username=stack.env["DEMO_USERNAME"]),
        code=code, expires=timezone.now() + timezone.timedelta(seconds=60),
        redirect_uri=demo.redirect_uri, scope="read",
    )
    return code


@pytest.mark.parametrize("verifier", [secrets.token_urlsafe(64), None], ids=["verifier-sent", "no-verifier"])
def test_code_issued_without_challenge_rejected(stack, auth_orm, demo, verifier):
    """PKCE downgrade (RFC 9700 §2.1.1): a verifier for a challenge-less code means it was stripped."""
    code = grant_without_challenge(auth_orm, stack, demo)
    request = flows.AuthorizationRequest(demo, code_verifier=verifier or "")
    r = flows.exchange_code(stack.url, request, code, code_verifier=verifier)
    assert r.status_code == 400, r.text
    assert r.json()["error"] in ("invalid_grant", "invalid_request")


# ---- codes are single-use, and a replay revokes what the code gave (RFC 9700 §4.2.4) -------------
@pytest.mark.e2e
def test_code_replay_rejected_and_tokens_revoked(stack, demo, demo_session):
    request = flows.AuthorizationRequest(demo)
    code = flows.code_from(flows.authorize(demo_session, stack.url, request))["code"]
    tokens = flows.exchange_code(stack.url, request, code).json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert requests.get(f"{stack.url}/o/userinfo/", headers=bearer).status_code == 200

    replay = flows.exchange_code(stack.url, request, code)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert requests.get(f"{stack.url}/o/userinfo/", headers=bearer).status_code == 401
    assert flows.refresh(stack.url, demo, tokens["refresh_token"]).status_code == 400


@pytest.mark.e2e
def test_code_replay_revokes_tokens_refreshed_since(stack, demo, demo_session):
    request = flows.AuthorizationRequest(demo)
    code = flows.code_from(flows.authorize(demo_session, stack.url, request))["code"]
    first = flows.exchange_code(stack.url, request, code).json()
    refreshed = flows.refresh(stack.url, demo, first["refresh_token"]).json()
    flows.exchange_code(stack.url, request, code)
    bearer = {"Authorization": f"Bearer {refreshed['access_token']}"}
    assert requests.get(f"{stack.url}/o/userinfo/", headers=bearer).status_code == 401


# ---- redirect URIs (RFC 9700 §2.1, §4.1) ----------------------------------------------------------
@pytest.mark.e2e
@pytest.mark.parametrize("change", [
    lambda uri: uri + "x",
    lambda uri: uri.rstrip("/"),
    lambda uri: uri + "?next=https://evil.example/",
    lambda uri: uri.replace("localhost", "127.0.0.1"),
    lambda uri: uri.replace("http://", "https://"),
    lambda uri: "https://evil.example/callback/",
    lambda uri: uri.replace("/callback/", "/callback/../evil/"),
    lambda uri: uri.upper(),
], ids=["suffix", "no-slash", "query", "host", "scheme", "other-site", "dot-segments", "case"])
def test_redirect_uri_must_match_exactly(stack, demo, demo_session, change):
    request = flows.AuthorizationRequest(demo)
    assert_error_page(authorize_page(demo_session, stack, request, redirect_uri=change(demo.redirect_uri)))


@pytest.mark.e2e
def test_unknown_client_gets_error_page(stack, demo, demo_session):
    request = flows.AuthorizationRequest(demo)
    assert_error_page(authorize_page(demo_session, stack, request, client_id="no-such-client"))


@pytest.mark.e2e
def test_mismatched_redirect_uri_errors_even_before_login(stack, demo):
    """A visitor who isn't signed in yet is sent to the login page, never off-site."""
    request = flows.AuthorizationRequest(demo)
    page = requests.get(f"{stack.url}/o/authorize/?{urlencode(request.params(redirect_uri='https://evil.example/'))}",
                        allow_redirects=False)
    assert page.headers["Location"].startswith("/accounts/login/?next=")


# ---- grants that are off (RFC 9700 §2.1.2, §2.4) ---------------------------------------------------
@pytest.fixture
def legacy_client(auth_orm, new_user):
    """A client registered (through the ORM, bypassing the forms) for a grant the server must refuse."""
    from oauth2_provider.models import get_application_model

    def create(grant_type):
        secret = secrets.token_urlsafe(48)
        app = get_application_model().objects.create(
            name=f"legacy {grant_type} {secrets.token_hex(4)}", client_type="confidential", authorization_grant_type=grant_type,
            redirect_uris="http://localhost/legacy/", client_secret=secret,
        )
        return flows.Client(app.client_id, secret, "http://localhost/legacy/")

    return create


@pytest.mark.parametrize("response_type", ["token", "id_token", "id_token token"])
def test_implicit_grant_refused(stack, demo_session, legacy_client, response_type):
    client = legacy_client("implicit")
    request = flows.AuthorizationRequest(client, scope="openid read")
    page = authorize_page(demo_session, stack, request, response_type=response_type)
    location = page.headers.get("Location", "")
    assert "access_token" not in location and "id_token=" not in location
    assert page.status_code in (302, 400) and ("error=" in location or page.status_code == 400)


def test_password_grant_refused(stack, legacy_client, new_user):
    client = legacy_client("password")
    user, password = new_user()
    r = requests.post(f"{stack.url}/o/token/", auth=client.auth,
                      data={"grant_type": "password", "username": user.username, "password": password})
    assert r.status_code in (400, 401) and "access_token" not in r.json()
    assert r.json()["error"] in ("unauthorized_client", "unsupported_grant_type")


# ---- consent page ------------------------------------------------------------------------------------
@pytest.mark.e2e
def test_consent_names_client_and_explains_each_scope(stack, demo, demo_session):
    page = authorize_page(demo_session, stack, flows.AuthorizationRequest(demo, scope="openid profile email read write"))
    assert page.status_code == 200
    assert "Consumer demo" in page.text
    for words in ("Confirm who you are", "See your username", "See your email address",
                  "Read posts on your behalf", "Create, change and delete posts"):
        assert words in page.text


@pytest.mark.e2e
def test_denied_consent_redirects_with_access_denied(stack, demo, demo_session):
    params = flows.code_from(flows.authorize(demo_session, stack.url, flows.AuthorizationRequest(demo), allow=False))
    assert params["error"] == "access_denied" and "code" not in params


@pytest.mark.e2e
def test_credential_posts_answer_303(stack, demo):
    """RFC 9700 §4.12: after the login and consent POSTs the browser must not re-POST (no 307), 303 it is."""
    session = requests.Session()
    page = session.get(f"{stack.url}/accounts/login/")
    login = flows.submit_form(session, page, {"username": stack.env["DEMO_USERNAME"],
                                              "password": stack.env["DEMO_PASSWORD"]}, allow_redirects=False)
    assert login.status_code == 303
    consent = flows.authorize(session, stack.url, flows.AuthorizationRequest(demo))
    assert consent.status_code == 303


@pytest.mark.e2e
@pytest.mark.parametrize("path", ["/accounts/login/", "consent"])
def test_login_and_consent_cannot_be_framed(stack, demo, demo_session, path):
    if path == "consent":
        response = authorize_page(demo_session, stack, flows.AuthorizationRequest(demo))
    else:
        response = requests.get(f"{stack.url}{path}")
    assert response.status_code == 200
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.e2e
@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example/"])
def test_login_is_no_open_redirector(stack, target):
    """RFC 9700 §4.11: `next` after sign-in only ever points back into this server."""
    session = requests.Session()
    page = session.get(f"{stack.url}/accounts/login/", params={"next": target})
    done = flows.submit_form(session, page, {"username": stack.env["DEMO_USERNAME"],
                                             "password": stack.env["DEMO_PASSWORD"]}, allow_redirects=False)
    assert done.status_code == 303 and done.headers["Location"] == "/o/authorized_tokens/"
