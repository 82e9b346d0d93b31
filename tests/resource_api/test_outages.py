"""Failures of Redis, the auth server and the posts database, and recovery without intervention.

Every test restores what it stopped in `finally`, so the session's stack stays whole.
"""

import contextlib
import os
import signal
import uuid

import pytest
import requests

from stack import flows
from tests.resource_api.helpers import (CACHE_PREFIX, api_workers, heartbeats_reach_every_worker, introspections,
                                        sha256, wait_until)


@pytest.fixture
def fresh_tokens(user_tokens):
    """Valid user tokens issued before anything is stopped (issuing needs the auth server)."""
    return [user_tokens("profile read write")["access_token"] for _ in range(2)]


def assert_unavailable(response: requests.Response):
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) > 0
    assert "WWW-Authenticate" not in response.headers


def api_log(stack) -> str:
    return stack.log("resource_api").read_text()


@contextlib.contextmanager
def auth_server_hung(stack):
    """Every auth-server process frozen: connections are accepted by the kernel and never answered."""
    group = os.getpgid(stack.pid("auth_server"))
    os.killpg(group, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(group, signal.SIGCONT)


def test_redis_down_every_request_introspects_and_recovers(api, stack, fresh_tokens, redis_client):
    cached_token, revoked_token = fresh_tokens
    assert api.get("/posts/", cached_token).status_code == 200
    log_start = len(api_log(stack))
    stack.stop_redis()
    try:
        for _ in range(2):
            assert api.get("/posts/", cached_token).status_code == 200
        assert api.post("/posts/", cached_token, json={"title": "during a Redis outage", "body": ""}).status_code == 201
        assert api.get("/posts/", "unknown-token").status_code == 401
        # Correct, not only available: a token revoked now is refused at once.
        assert api.get("/posts/", revoked_token).status_code == 200
        client = flows.demo_client(stack)
        assert requests.post(f"{stack.url}/o/revoke_token/", data={"token": revoked_token},
                             auth=client.auth).status_code == 200
        assert api.get("/posts/", revoked_token).status_code == 401
        assert "token cache unavailable" in api_log(stack)[log_start:]
    finally:
        stack.start_redis()
    # Every worker's revocation listener reconnects by itself, and trusts the cache at the next heartbeat.
    assert heartbeats_reach_every_worker(stack, redis_client)
    before = introspections(redis_client)
    for _ in range(3):
        assert api.get("/posts/", cached_token).status_code == 200
    assert introspections(redis_client) <= before + 1  # cached again (after at most one request)
    assert redis_client.exists(CACHE_PREFIX + sha256(cached_token))


def test_listener_reconnects_after_its_connection_is_killed(api, stack, fresh_tokens, redis_client):
    token = fresh_tokens[0]
    assert heartbeats_reach_every_worker(stack, redis_client)
    assert api.get("/posts/", token).status_code == 200
    assert redis_client.client_kill_filter(_type="pubsub") >= len(api_workers(stack))
    assert heartbeats_reach_every_worker(stack, redis_client)
    before = introspections(redis_client)
    for _ in range(4):
        assert api.get("/posts/", token).status_code == 200
    assert introspections(redis_client) == before  # the cache is in use again, in every worker


def test_auth_server_down_cached_tokens_work_others_get_503(api, stack, fresh_tokens):
    cached_token, new_token = fresh_tokens
    assert api.get("/posts/", cached_token).status_code == 200
    stack.stop_service("auth_server")
    try:
        assert api.get("/posts/", cached_token).status_code == 200
        assert api.get("/me/", cached_token).status_code == 200
        assert_unavailable(api.get("/posts/", new_token))
        assert_unavailable(api.get("/posts/", f"unknown-{uuid.uuid4()}"))
        assert_unavailable(api.get("/public/", new_token))
        assert api.get("/posts/").status_code == 401  # no token: nothing to ask the auth server
    finally:
        stack.start_service("auth_server")
    assert api.get("/posts/", new_token).status_code == 200  # not remembered as invalid
    assert api.get("/posts/", f"unknown-{uuid.uuid4()}").status_code == 401


def test_auth_server_hung_answers_503_after_a_bounded_wait(api, stack, fresh_tokens):
    cached_token, new_token = fresh_tokens
    assert api.get("/posts/", cached_token).status_code == 200
    with auth_server_hung(stack):
        assert api.get("/posts/", cached_token).status_code == 200
        assert_unavailable(api.get("/posts/", new_token))
    assert wait_until(lambda: api.get("/posts/", new_token).status_code == 200, timeout=10)


def test_posts_database_down_is_503_and_recovers(api, stack, fresh_tokens):
    token = fresh_tokens[0]
    assert api.get("/posts/", token).status_code == 200
    stack.stop_postgres()
    try:
        assert_unavailable(api.get("/posts/", token))
        assert_unavailable(api.post("/posts/", token, json={"title": "lost?", "body": ""}))
        assert api.get("/me/", token).status_code == 200  # needs no database
        assert "posts database unavailable" in api_log(stack)
    finally:
        stack.start_postgres()
    assert api.get("/posts/", token).status_code == 200
    assert api.post("/posts/", token, json={"title": "after the outage", "body": ""}).status_code == 201
