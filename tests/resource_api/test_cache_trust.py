"""The token cache under attack and under Redis faults: it is trusted only while it provably has every
revocation, and nothing written to Redis by anyone but the API makes a token acceptable.

Each test restores what it stopped in `finally`, so the session's stack stays whole.
"""

import concurrent.futures
import contextlib
import json
import os
import shutil
import signal
import time
import uuid

import pytest
import redis
import requests

from stack import flows
from tests.resource_api.helpers import (CACHE_PREFIX, api_workers, heartbeats_reach_every_worker, introspections,
                                        sha256, wait_until)

REVOKED_PREFIX = "oauth2:revoked:"


@pytest.fixture
def api_redis(stack):
    """Redis as the API's own user: the most an attacker who stole the API's Redis password could do."""
    client = redis.Redis.from_url(stack.redis_url("resource_api"))
    yield client
    client.close()


def revoke(stack, token: str) -> float:
    """Revoke at the revocation endpoint; returns how long the answer took."""
    started = time.monotonic()
    answer = requests.post(f"{stack.url}/o/revoke_token/", data={"token": token},
                           auth=flows.demo_client(stack).auth, timeout=30)
    assert answer.status_code == 200, answer.text
    return time.monotonic() - started


@contextlib.contextmanager
def redis_paused(stack):
    pid = stack.pid("redis")
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


@contextlib.contextmanager
def relay_stopped(stack):
    stack.stop_relay()
    try:
        yield
    finally:
        stack.start_relay()


def forged_entry(answer: dict) -> bytes:
    return b"0" * 64 + b"." + json.dumps(answer).encode()


def test_forged_cache_entry_for_a_made_up_token_is_refused(api, stack, api_redis, redis_client):
    assert heartbeats_reach_every_worker(stack, redis_client)
    made_up = f"made-up-{uuid.uuid4()}"
    victim = {"active": True, "scope": "profile read write", "exp": int(time.time()) + 300,
              "client_id": stack.env["DEMO_CLIENT_ID"], "username": stack.env["ADMIN_USERNAME"], "sub": "1"}
    for entry in (json.dumps(victim).encode(), forged_entry(victim)):
        api_redis.set(CACHE_PREFIX + sha256(made_up), entry, ex=60)
        for _ in range(len(api_workers(stack)) * 2):
            assert api.get("/me/", made_up).status_code == 401
            assert api.post("/posts/", made_up, json={"title": "forged", "body": ""}).status_code == 401
    assert "invalid MAC" in stack.log("resource_api").read_text()


def test_a_genuine_entry_moved_to_another_tokens_key_is_refused(api, stack, user_tokens, api_redis, redis_client):
    """The MAC covers the token's digest: an entry is good for its own token only."""
    assert heartbeats_reach_every_worker(stack, redis_client)
    genuine = user_tokens("profile read write")["access_token"]
    assert api.get("/me/", genuine).status_code == 200
    entry = api_redis.get(CACHE_PREFIX + sha256(genuine))
    assert entry
    made_up = f"made-up-{uuid.uuid4()}"
    api_redis.set(CACHE_PREFIX + sha256(made_up), entry, ex=60)
    for _ in range(len(api_workers(stack)) * 2):
        assert api.get("/me/", made_up).status_code == 401


def test_a_genuine_entry_put_back_after_its_token_expired_is_refused(api, stack, user_tokens, api_redis,
                                                                      redis_client, auth_orm):
    """An entry copied while the token lived, written back once it (and any marker) expired."""
    from datetime import timedelta

    from django.utils import timezone
    from oauth2_provider.models import get_access_token_model

    assert heartbeats_reach_every_worker(stack, redis_client)
    token = user_tokens("profile read")["access_token"]
    # Long enough that the cache keeps it (its TTL is the whole seconds left), short enough to wait out.
    get_access_token_model().objects.filter(token_checksum=sha256(token)).update(
        expires=timezone.now() + timedelta(seconds=4))
    assert api.get("/me/", token).status_code == 200
    entry = api_redis.get(CACHE_PREFIX + sha256(token))
    assert entry
    expires = json.loads(entry.partition(b".")[2])["exp"]  # whole seconds, rounded down
    time.sleep(max(0.0, expires - time.time()) + 1.5)
    assert not redis_client.exists(CACHE_PREFIX + sha256(token))
    api_redis.set(CACHE_PREFIX + sha256(token), entry, ex=60)
    for _ in range(len(api_workers(stack)) * 2):
        assert api.get("/me/", token).status_code == 401


def test_the_api_user_cannot_forge_or_remove_revocation_markers(stack, api_redis, user_tokens):
    """Least privilege (redis/users.acl.template): markers and events are the auth server's to write."""
    digest = sha256(user_tokens("read")["access_token"])
    for attempt in (lambda: api_redis.set(REVOKED_PREFIX + digest, 1),
                    lambda: api_redis.delete(REVOKED_PREFIX + digest),
                    lambda: api_redis.publish("oauth2:revocations:heartbeat", f"{time.time() + 3600}"),
                    lambda: api_redis.flushdb()):
        with pytest.raises(redis.exceptions.NoPermissionError):
            attempt()
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(port=stack.ports.redis).get("anything")  # no anonymous access at all


def test_revocation_during_a_redis_stall_is_never_accepted(api, stack, user_tokens, redis_client):
    """Redis paused while the token is revoked: the marker cannot be set, the event is lost. Yet no
    worker accepts the token once the revocation is answered, during the stall or after it."""
    assert heartbeats_reach_every_worker(stack, redis_client)
    token, other = (user_tokens("profile read write")["access_token"] for _ in range(2))
    for _ in range(4):  # cached as active in Redis, seen by every worker
        assert api.get("/posts/", token).status_code == 200
    with redis_paused(stack), concurrent.futures.ThreadPoolExecutor() as pool:
        answered = pool.submit(revoke, stack, token)
        took = answered.result(timeout=30)
        # Held until no worker trusts a heartbeat from before the commit (REVOCATION_FRESHNESS, 1 s).
        assert took >= 1.0
        for _ in range(6):
            started = time.monotonic()
            assert api.get("/posts/", token).status_code == 401
            assert api.get("/posts/", other).status_code == 200  # introspected, without waiting on Redis
            assert time.monotonic() - started < 2
    # Redis is back with the cached "active" answer and no marker until the relay copies it.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        assert api.get("/posts/", token).status_code == 401
    assert redis_client.exists(REVOKED_PREFIX + sha256(token))


def test_without_heartbeats_the_cache_is_bypassed(api, stack, user_tokens, redis_client, auth_orm):
    """A token's end that Redis never heard of (here its expiry moved by a queryset update, which sends
    no signal) is seen at once while heartbeats are missing, because every request asks the auth server."""
    from datetime import timedelta

    from django.utils import timezone
    from oauth2_provider.models import get_access_token_model

    assert heartbeats_reach_every_worker(stack, redis_client)
    token = user_tokens("read")["access_token"]
    assert api.get("/posts/", token).status_code == 200
    before = introspections(redis_client)
    with relay_stopped(stack):
        time.sleep(1.3)  # REVOCATION_FRESHNESS and a little
        for _ in range(3):
            assert api.get("/posts/", token).status_code == 200
        assert introspections(redis_client) == before + 3
        get_access_token_model().objects.filter(token_checksum=sha256(token)).update(
            expires=timezone.now() - timedelta(seconds=1))  # no marker, no event: only the database knows
        for _ in range(len(api_workers(stack)) * 2):
            assert api.get("/posts/", token).status_code == 401
    assert heartbeats_reach_every_worker(stack, redis_client)
    fresh = user_tokens("read")["access_token"]
    assert api.get("/posts/", fresh).status_code == 200
    before = introspections(redis_client)
    assert api.get("/posts/", fresh).status_code == 200
    assert introspections(redis_client) == before  # heartbeats again: the cache is used again


def test_redis_restarted_empty_gets_every_live_marker_back(api, stack, user_tokens, redis_client):
    token = user_tokens("read")["access_token"]
    revoke(stack, token)
    assert redis_client.exists(REVOKED_PREFIX + sha256(token))
    stack.stop_redis()
    shutil.rmtree(stack.state / "redis" / "appendonlydir", ignore_errors=True)
    stack.start_redis()
    # Every revocation still live is copied back before the relay's first heartbeat.
    assert heartbeats_reach_every_worker(stack, redis_client)
    assert redis_client.exists(REVOKED_PREFIX + sha256(token))
    assert redis_client.get("oauth2:revocations:epoch").decode() == redis_client.info("server")["run_id"]
    for _ in range(4):
        assert api.get("/posts/", token).status_code == 401


def test_a_stalled_redis_costs_requests_a_bounded_wait(api, stack, user_tokens, redis_client):
    """While Redis is paused, requests go on by introspection and none waits long on Redis."""
    assert heartbeats_reach_every_worker(stack, redis_client)
    token = user_tokens("read")["access_token"]
    assert api.get("/posts/", token).status_code == 200
    with redis_paused(stack):
        slowest = 0.0
        for _ in range(20):
            started = time.monotonic()
            assert api.get("/posts/", token).status_code == 200
            slowest = max(slowest, time.monotonic() - started)
    # REDIS_TIMEOUT is 0.1 s, paid at most once per worker before it stops trusting Redis.
    assert slowest < 1.5, slowest
    assert wait_until(lambda: heartbeats_reach_every_worker(stack, redis_client), timeout=10)
