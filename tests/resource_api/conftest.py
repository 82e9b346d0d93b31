"""Fixtures of the posts-API tests: tokens for the demo user, the admin and the load-test client."""

import pytest
import redis
import requests

from stack import flows


class Api:
    """Calls to the posts API through nginx, as a client would make them."""

    def __init__(self, stack):
        self.base = f"{stack.url}/api"

    def request(self, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(method, f"{self.base}{path}", headers=headers, timeout=10, **kwargs)

    def get(self, path, token=None, **kwargs):
        return self.request("GET", path, token, **kwargs)

    def post(self, path, token=None, **kwargs):
        return self.request("POST", path, token, **kwargs)

    def patch(self, path, token=None, **kwargs):
        return self.request("PATCH", path, token, **kwargs)

    def delete(self, path, token=None, **kwargs):
        return self.request("DELETE", path, token, **kwargs)


@pytest.fixture(scope="session")
def api(stack) -> Api:
    return Api(stack)


@pytest.fixture(scope="session")
def demo_session(stack):
    """The demo user, logged in at the auth server once for the whole session."""
    return flows.login(stack.url, stack.env["DEMO_USERNAME"], stack.env["DEMO_PASSWORD"])


@pytest.fixture(scope="session")
def admin_session(stack):
    return flows.login(stack.url, stack.env["ADMIN_USERNAME"], stack.env["ADMIN_PASSWORD"])


@pytest.fixture(scope="session")
def user_tokens(stack, demo_session):
    """A function returning a fresh token response for the demo user with the given scopes."""
    def issue(scope: str = "profile read write") -> dict:
        return flows.authorization_code_tokens(stack.url, demo_session, flows.demo_client(stack), scope=scope)
    return issue


@pytest.fixture(scope="session")
def demo_token(user_tokens) -> str:
    return user_tokens()["access_token"]


@pytest.fixture(scope="session")
def admin_token(stack, admin_session) -> str:
    return flows.authorization_code_tokens(stack.url, admin_session, flows.demo_client(stack),
                                           scope="profile read write")["access_token"]


@pytest.fixture(scope="session")
def client_token(stack):
    """A function returning a fresh client-credentials token (no user) with the given scopes."""
    def issue(scope: str = "read write") -> str:
        response = flows.client_credentials_token(stack.url, flows.loadtest_client(stack), scope=scope)
        assert response.status_code == 200, response.text
        return response.json()["access_token"]
    return issue


@pytest.fixture(scope="session")
def redis_client(stack):
    if not hasattr(stack, "redis_url"):
        pytest.skip("needs the local stack's Redis")
    return redis.Redis.from_url(stack.redis_url())
