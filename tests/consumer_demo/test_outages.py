"""What the demo shows when a service is down or a token has expired (local stack processes only)."""

import hashlib
import pickle
import time
from datetime import timedelta

import redis

from tests.consumer_demo.conftest import heading, text_of


def test_posts_api_down_is_explained_and_recovers(visitor, stack):
    visitor.signed_in()
    stack.stop_service("resource_api")
    try:
        page = visitor.post("/posts/list/")
        assert page.status_code == 503
        assert heading(page) == "The posts API did not answer"
        assert "could not connect" in text_of(page)
        assert "Back to where you were" in page.text and 'href="/posts/"' in page.text
    finally:
        stack.start_service("resource_api")
    assert "The API answered 200" in text_of(visitor.post("/posts/list/"))


def test_auth_server_down_at_the_token_exchange_is_explained_and_retryable(visitor, stack):
    url = visitor.callback_url()
    stack.stop_service("auth_server")
    try:
        page = visitor.get(url)
        assert page.status_code == 503
        assert heading(page) == "The auth server did not answer"
        assert "/o/token/" in page.text
        assert "Try again" in page.text
    finally:
        stack.start_service("auth_server")
    retried = visitor.get(url)
    assert retried.status_code == 200, "the code was never spent: reloading the callback finishes the sign-in"


class DemoSession:
    """The visitor's session as the demo stores it (Django's cache sessions in Redis, pickled)."""

    def __init__(self, stack, visitor):
        self.redis = redis.Redis.from_url(stack.service_env("consumer_demo")["REDIS_URL"])
        self.key = f"demo:1:django.contrib.sessions.cache{visitor.http.cookies['demo_session']}"

    def load(self) -> dict:
        return pickle.loads(self.redis.get(self.key))

    def save(self, data: dict):
        self.redis.set(self.key, pickle.dumps(data), keepttl=True)


def test_expired_access_token_is_explained_and_a_refresh_recovers(visitor, stack, auth_orm):
    from django.utils import timezone
    from oauth2_provider.models import get_access_token_model

    visitor.signed_in()
    session = DemoSession(stack, visitor)
    data = session.load()
    # Age the token where it lives (the auth server) and where the demo remembers its expiry.
    checksum = hashlib.sha256(data["tokens"]["access_token"].encode()).hexdigest()
    aged = get_access_token_model().objects.filter(token_checksum=checksum)
    assert aged.update(expires=timezone.now() - timedelta(seconds=1)) == 1
    data["tokens"]["expires_at"] = time.time() - 1
    session.save(data)

    page = text_of(visitor.post("/posts/list/"))
    assert "401 Unauthorized" in page and "The access token expired at" in page
    assert "expired at" in text_of(visitor.get("/tokens/")), "the token card says so too"
    assert "New tokens" in text_of(visitor.post("/tokens/refresh/"))
    assert "The API answered 200" in text_of(visitor.post("/posts/list/"))


def test_session_store_down_is_explained_and_recovers(visitor, stack):
    visitor.signed_in()
    visitor.get("/")  # the CSRF cookie, while the session store still answers
    stack.stop_redis()
    try:
        # Django reads an unreachable cache session as empty; saving the next step is what fails.
        page = visitor.post("/start/", {"scope": ["read"]}, allow_redirects=False)
        assert page.status_code == 503
        assert page.headers["Retry-After"] == "5"
        assert heading(page) == "The demo's session store is unavailable"
        assert "Traceback" not in page.text
    finally:
        stack.start_redis()
    assert visitor.get("/").status_code == 200
