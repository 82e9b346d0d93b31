"""Each way the auth server ends a token early reaches the API within a second
(docs/architecture.md, "Revocation-event contract")."""

import time

import pytest
import requests

from stack import flows
from tests.resource_api.helpers import sha256

pytestmark = pytest.mark.e2e  # all but the ORM deletion need nothing but HTTP


def rejected_within(api, token: str, seconds: float = 1.0) -> float | None:
    """Seconds until the API refused `token`, or None if it still accepted it after `seconds`."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if api.get("/posts/", token).status_code == 401:
            return time.monotonic() - start
        time.sleep(0.02)
    return None


def assert_revoked_everywhere(api, token: str):
    assert rejected_within(api, token) is not None, "the API still accepts the token after 1 s"
    # Several requests, spread over the API's workers: none of them still has the token.
    for _ in range(8):
        response = api.get("/posts/", token)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


def cached(api, token: str) -> str:
    assert api.get("/posts/", token).status_code == 200
    assert api.get("/posts/", token).status_code == 200
    return token


def test_revocation_endpoint(api, stack, user_tokens):
    token = cached(api, user_tokens("read")["access_token"])
    client = flows.demo_client(stack)
    response = requests.post(f"{stack.url}/o/revoke_token/", data={"token": token, "token_type_hint": "access_token"},
                             auth=client.auth)
    assert response.status_code == 200, response.text
    assert_revoked_everywhere(api, token)


def test_refresh_rotation_ends_the_previous_access_token(api, stack, user_tokens):
    tokens = user_tokens("read")
    cached(api, tokens["access_token"])
    assert flows.refresh(stack.url, flows.demo_client(stack), tokens["refresh_token"]).status_code == 200
    assert_revoked_everywhere(api, tokens["access_token"])


def test_refresh_token_reuse_revokes_the_family(api, stack, user_tokens):
    client = flows.demo_client(stack)
    first = user_tokens("read")
    second = flows.refresh(stack.url, client, first["refresh_token"]).json()
    cached(api, second["access_token"])
    reuse = flows.refresh(stack.url, client, first["refresh_token"])
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    assert_revoked_everywhere(api, second["access_token"])


def test_deletion_through_the_orm(api, user_tokens, auth_orm):
    from oauth2_provider.models import get_access_token_model

    token = cached(api, user_tokens("read")["access_token"])
    deleted, _ = get_access_token_model().objects.filter(
        token_checksum=sha256(token)).delete()
    assert deleted
    assert_revoked_everywhere(api, token)
