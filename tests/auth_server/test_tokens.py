"""Token endpoint, refresh rotation, scopes per client, revocation (RFC 7009) and introspection (RFC 7662)."""

import time
from datetime import timedelta

import pytest
import requests

from stack import flows
from tests.auth_server.conftest import sha256


@pytest.fixture(scope="module")
def demo_session(stack):
    return flows.login(stack.url, stack.env["DEMO_USERNAME"], stack.env["DEMO_PASSWORD"])


@pytest.fixture(scope="module")
def api_client(stack):
    return flows.Client(stack.env["API_CLIENT_ID"], stack.env["API_CLIENT_SECRET"])


def introspect(stack, api_client, token):
    return requests.post(f"{stack.url}/o/introspect/", data={"token": token}, auth=api_client.auth)


def userinfo(stack, token):
    return requests.get(f"{stack.url}/o/userinfo/", headers={"Authorization": f"Bearer {token}"})


# ---- refresh tokens (RFC 9700 §4.14) --------------------------------------------------------------
@pytest.mark.e2e
def test_refresh_rotates_and_retires_the_old_pair(stack, demo, demo_session, issue):
    first = issue(demo_session)
    r = flows.refresh(stack.url, demo, first["refresh_token"])
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert userinfo(stack, first["access_token"]).status_code == 401
    assert userinfo(stack, second["access_token"]).status_code == 200


@pytest.mark.e2e
def test_refresh_token_reuse_revokes_the_family(stack, demo, demo_session, issue):
    first = issue(demo_session)
    second = flows.refresh(stack.url, demo, first["refresh_token"]).json()
    third = flows.refresh(stack.url, demo, second["refresh_token"]).json()

    reuse = flows.refresh(stack.url, demo, first["refresh_token"])
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    assert userinfo(stack, third["access_token"]).status_code == 401
    assert flows.refresh(stack.url, demo, third["refresh_token"]).status_code == 400


def test_refresh_tokens_expire(stack, auth_orm, demo, demo_session, issue):
    from django.conf import settings
    from django.utils import timezone
    from oauth2_provider.models import get_access_token_model

    tokens = issue(demo_session)
    lifetime = settings.OAUTH2_PROVIDER["REFRESH_TOKEN_EXPIRE_SECONDS"]
    assert 0 < lifetime <= 90 * 24 * 3600
    # A refresh token lives REFRESH_TOKEN_EXPIRE_SECONDS past its access token's expiry: age it.
    get_access_token_model().objects.filter(token_checksum=sha256(tokens["access_token"])).update(
        expires=timezone.now() - timedelta(seconds=lifetime + 1)
    )
    r = flows.refresh(stack.url, demo, tokens["refresh_token"])
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


@pytest.mark.e2e
def test_refresh_cannot_widen_scope(stack, demo, demo_session, issue):
    tokens = issue(demo_session, scope="openid read")
    r = requests.post(f"{stack.url}/o/token/", auth=demo.auth, data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "scope": "openid read write"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"


@pytest.mark.e2e
def test_refresh_token_is_bound_to_its_client(stack, demo_session, issue):
    tokens = issue(demo_session)
    other = flows.loadtest_client(stack)
    r = flows.refresh(stack.url, other, tokens["refresh_token"])
    assert r.status_code in (400, 401) and "access_token" not in r.json()


# ---- client credentials and per-client scopes ------------------------------------------------------
@pytest.mark.e2e
def test_client_credentials(stack):
    r = flows.client_credentials_token(stack.url, flows.loadtest_client(stack), scope="read write")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer" and "refresh_token" not in body
    assert set(body["scope"].split()) == {"read", "write"}


@pytest.mark.e2e
@pytest.mark.parametrize("scope", ["profile", "openid", "email", "introspection", "read admin"])
def test_loadtest_client_gets_only_read_write(stack, scope):
    r = flows.client_credentials_token(stack.url, flows.loadtest_client(stack), scope=scope)
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"


@pytest.mark.e2e
def test_loadtest_client_default_scope(stack):
    r = requests.post(f"{stack.url}/o/token/", data={"grant_type": "client_credentials"},
                      auth=flows.loadtest_client(stack).auth)
    assert r.status_code == 200 and r.json()["scope"] == "read"


@pytest.mark.e2e
@pytest.mark.parametrize("scope", ["read", "write", "read introspection"])
def test_api_client_gets_only_introspection(stack, api_client, scope):
    r = flows.client_credentials_token(stack.url, api_client, scope=scope)
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"


@pytest.mark.e2e
def test_user_clients_never_get_introspection(stack, demo, demo_session):
    params = flows.code_from(flows.authorize(demo_session, stack.url,
                                             flows.AuthorizationRequest(demo, scope="openid introspection")))
    assert params["error"] == "invalid_scope"


# ---- bearer tokens only in the header (RFC 9700 §4.3.2, RFC 6750 §5.3) ------------------------------
@pytest.mark.e2e
def test_access_token_in_query_string_refused(stack, demo_session, issue):
    token = issue(demo_session)["access_token"]
    assert userinfo(stack, token).status_code == 200
    r = requests.get(f"{stack.url}/o/userinfo/", params={"access_token": token})
    assert r.status_code in (400, 401), r.text
    assert "sub" not in r.text


# ---- revocation (RFC 7009) --------------------------------------------------------------------------
@pytest.mark.e2e
@pytest.mark.parametrize("which", ["access_token", "refresh_token"])
def test_revocation_ends_access_and_refresh(stack, demo, demo_session, issue, which):
    tokens = issue(demo_session)
    r = requests.post(f"{stack.url}/o/revoke_token/", auth=demo.auth,
                      data={"token": tokens[which], "token_type_hint": which})
    assert r.status_code == 200
    assert userinfo(stack, tokens["access_token"]).status_code == 401
    assert flows.refresh(stack.url, demo, tokens["refresh_token"]).status_code == 400


@pytest.mark.e2e
def test_revocation_by_another_client_does_nothing(stack, demo_session, issue):
    tokens = issue(demo_session)
    r = requests.post(f"{stack.url}/o/revoke_token/", auth=flows.loadtest_client(stack).auth,
                      data={"token": tokens["access_token"]})
    assert r.status_code == 200  # RFC 7009 §2.2: no hint whether the token exists
    assert userinfo(stack, tokens["access_token"]).status_code == 200


@pytest.mark.e2e
def test_revocation_needs_client_authentication(stack, demo, demo_session, issue):
    tokens = issue(demo_session)
    r = requests.post(f"{stack.url}/o/revoke_token/", auth=(demo.client_id, "wrong-secret"),
                      data={"token": tokens["access_token"]})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    assert userinfo(stack, tokens["access_token"]).status_code == 200


# ---- introspection (RFC 7662) --------------------------------------------------------------------------
@pytest.mark.e2e
def test_introspection_of_a_user_token(stack, api_client, demo, demo_session, issue):
    tokens = issue(demo_session, scope="openid profile read")
    answer = introspect(stack, api_client, tokens["access_token"]).json()
    sub = requests.get(f"{stack.url}/o/userinfo/",
                       headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()["sub"]
    assert answer == {
        "active": True, "scope": "openid profile read", "exp": answer["exp"], "client_id": demo.client_id,
        "username": stack.env["DEMO_USERNAME"], "sub": sub, "token_type": "Bearer",
    }
    assert time.time() < answer["exp"] <= time.time() + 600


@pytest.mark.e2e
def test_introspection_of_a_client_credentials_token(stack, api_client):
    loadtest = flows.loadtest_client(stack)
    token = flows.client_credentials_token(stack.url, loadtest, scope="read write").json()["access_token"]
    answer = introspect(stack, api_client, token).json()
    assert answer["active"] is True and answer["client_id"] == loadtest.client_id
    assert answer["token_type"] == "Bearer" and "username" not in answer and "sub" not in answer


@pytest.mark.e2e
@pytest.mark.parametrize("token", ["not-a-token", "x" * 2000, "é"])
def test_introspection_of_unknown_tokens(stack, api_client, token):
    r = introspect(stack, api_client, token)
    assert r.status_code == 200 and r.json() == {"active": False}


@pytest.mark.e2e
def test_introspection_of_a_revoked_token(stack, api_client, demo, demo_session, issue):
    tokens = issue(demo_session)
    requests.post(f"{stack.url}/o/revoke_token/", auth=demo.auth, data={"token": tokens["access_token"]})
    assert introspect(stack, api_client, tokens["access_token"]).json() == {"active": False}


@pytest.mark.e2e
@pytest.mark.parametrize("credentials", ["demo", "loadtest", "wrong-secret", "none", "bearer"])
def test_introspection_only_for_the_api_client(stack, api_client, demo, demo_session, issue, credentials):
    token = issue(demo_session)["access_token"]
    kwargs = {
        "demo": {"auth": demo.auth},
        "loadtest": {"auth": flows.loadtest_client(stack).auth},
        "wrong-secret": {"auth": (api_client.client_id, "wrong")},
        "none": {},
        "bearer": {"headers": {"Authorization": f"Bearer {token}"}},
    }[credentials]
    r = requests.post(f"{stack.url}/o/introspect/", data={"token": token}, **kwargs)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    assert "active" not in r.json()


@pytest.mark.e2e
def test_introspection_refuses_get(stack, api_client, demo_session, issue):
    token = issue(demo_session)["access_token"]
    r = requests.get(f"{stack.url}/o/introspect/", params={"token": token}, auth=api_client.auth)
    assert r.status_code == 405


# ---- storage and audience ---------------------------------------------------------------------------
def test_tokens_are_stored_only_as_hashes(auth_orm, demo_session, issue):
    """RFC 9700 token storage: a database dump holds no usable token."""
    from oauth2_provider.models import get_access_token_model, get_refresh_token_model

    tokens = issue(demo_session)
    access = get_access_token_model().objects.get(token_checksum=sha256(tokens["access_token"]))
    refresh = get_refresh_token_model().objects.get(token_checksum=sha256(tokens["refresh_token"]))
    assert access.token == "" and refresh.token == ""


@pytest.mark.e2e
def test_audience_restricted_token(stack, api_client, demo, demo_session):
    """RFC 9700 §2.3 / RFC 8707: a token can be bound to one resource server, which introspection tells."""
    audience = f"{stack.url}/api/"
    request = flows.AuthorizationRequest(demo, scope="read")
    params = flows.code_from(flows.authorize(demo_session, stack.url, request, resource=audience))
    tokens = flows.exchange_code(stack.url, request, params["code"]).json()
    assert introspect(stack, api_client, tokens["access_token"]).json()["aud"] == [audience]

    r = requests.post(f"{stack.url}/o/token/", auth=demo.auth, data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "resource": "https://other.example/"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_target"


@pytest.mark.e2e
def test_unbound_token_has_no_audience(stack, api_client, demo_session, issue):
    assert "aud" not in introspect(stack, api_client, issue(demo_session)["access_token"]).json()
