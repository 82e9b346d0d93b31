"""RFC 6750: how the API answers missing, malformed, invalid and under-scoped bearer tokens."""

import pytest
import requests

from stack import flows

pytestmark = pytest.mark.e2e

PROTECTED = [("GET", "/posts/"), ("POST", "/posts/"), ("GET", "/posts/1/"), ("PATCH", "/posts/1/"),
             ("DELETE", "/posts/1/"), ("GET", "/me/")]


@pytest.mark.parametrize("method, path", PROTECTED)
def test_no_token_is_401_with_a_bare_bearer_challenge(api, method, path):
    response = api.request(method, path)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "error" not in response.json()


def test_another_scheme_counts_as_no_token(api):
    response = api.get("/posts/", headers={"Authorization": "Basic ZGVtbzpkZW1v"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("method, path", [*PROTECTED, ("GET", "/public/")])
def test_unknown_token_is_401_invalid_token(api, method, path):
    response = api.request(method, path, "unknown-token-value")
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer error="invalid_token"'), challenge
    assert response.json()["error"] == "invalid_token"


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Bearer a b", "Bearer t\u00f6ken", "Bearer ab==cd"])
def test_malformed_bearer_header_is_400_invalid_request(api, header):
    response = api.get("/posts/", headers={"Authorization": header.encode("utf-8")})
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_request"')


def test_token_in_query_string_is_refused(api, demo_token):
    response = api.get("/posts/", params={"access_token": demo_token})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert "Authorization header" in response.json()["detail"]


@pytest.mark.parametrize("scope, method, path, needed", [
    ("profile", "GET", "/posts/", "read"),
    ("read", "POST", "/posts/", "write"),
    ("read", "PATCH", "/posts/1/", "write"),
    ("read", "DELETE", "/posts/1/", "write"),
    ("write", "GET", "/posts/1/", "read"),
    ("read write", "GET", "/me/", "profile"),
])
def test_missing_scope_is_403_insufficient_scope_naming_it(api, user_tokens, scope, method, path, needed):
    token = user_tokens(scope)["access_token"]
    response = api.request(method, path, token, json={"title": "t", "body": "b"})
    assert response.status_code == 403, response.text
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer error="insufficient_scope", error_description="this operation needs the {needed} scope", '
        f'scope="{needed}"')
    assert response.json()["error"] == "insufficient_scope"



@pytest.mark.parametrize("resource, status", [("{url}/api/", 200), ("{url}/api", 200), ("{url}/", 200),
                                              ("{url}/apix/", 401), ("https://other.example/api/", 401)])
def test_token_bound_to_another_resource_is_refused(api, stack, resource, status):
    """RFC 8707: a token issued for another resource server must not work here."""
    client = flows.loadtest_client(stack)
    issued = requests.post(f"{stack.url}/o/token/", auth=client.auth, data={
        "grant_type": "client_credentials", "scope": "read", "resource": resource.format(url=stack.url)})
    assert issued.status_code == 200, issued.text
    response = api.get("/posts/", issued.json()["access_token"])
    assert response.status_code == status, response.text
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
