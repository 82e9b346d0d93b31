"""The introspection cache in Redis: what is cached, for how long, under which key, and how often
the API really calls the auth server (counted by the API's own introspection counter)."""

import time
from datetime import timedelta

import pytest

from tests.resource_api.helpers import (CACHE_PREFIX, api_workers, introspections, publish_revocation, sha256,
                                        wait_until)


def test_second_request_with_same_token_makes_no_introspection_call(api, user_tokens, redis_client):
    token = user_tokens("read")["access_token"]
    before = introspections(redis_client)
    assert api.get("/posts/", token).status_code == 200
    assert introspections(redis_client) == before + 1
    for _ in range(3):
        assert api.get("/posts/", token).status_code == 200
    assert introspections(redis_client) == before + 1


def test_inactive_answer_is_cached_too(api, redis_client):
    before = introspections(redis_client)
    for _ in range(3):
        assert api.get("/posts/", "a-flood-of-this-bad-token").status_code == 401
    assert introspections(redis_client) == before + 1
    assert 0 < redis_client.ttl(CACHE_PREFIX + sha256("a-flood-of-this-bad-token")) <= 30


def test_cache_key_is_the_sha256_and_never_the_token(api, user_tokens, redis_client):
    token = user_tokens("read")["access_token"]
    assert api.get("/posts/", token).status_code == 200
    assert redis_client.exists(CACHE_PREFIX + sha256(token))
    for key in redis_client.scan_iter(count=1000):
        assert token.encode() not in key
        if key.startswith(CACHE_PREFIX.encode()):
            assert token.encode() not in redis_client.get(key)


def test_cache_lifetime_is_capped_by_the_tokens_remaining_lifetime(api, user_tokens, redis_client, auth_orm):
    from django.utils import timezone
    from oauth2_provider.models import get_access_token_model

    token = user_tokens("read")["access_token"]
    get_access_token_model().objects.filter(token_checksum=sha256(token)).update(
        expires=timezone.now() + timedelta(seconds=20))
    assert api.get("/posts/", token).status_code == 200
    assert 0 < redis_client.ttl(CACHE_PREFIX + sha256(token)) <= 20


def test_expired_token_is_401_invalid_token(api, user_tokens, auth_orm):
    from django.utils import timezone
    from oauth2_provider.models import get_access_token_model

    token = user_tokens("read")["access_token"]
    get_access_token_model().objects.filter(token_checksum=sha256(token)).update(
        expires=timezone.now() - timedelta(seconds=1))
    response = api.get("/posts/", token)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


def test_revocation_message_drops_the_cached_answer(api, user_tokens, redis_client, stack):
    """The channel alone (no oauth2:revoked: marker) makes the workers forget the token."""
    token = user_tokens("read")["access_token"]
    assert api.get("/posts/", token).status_code == 200
    key = CACHE_PREFIX + sha256(token)
    assert redis_client.exists(key)
    assert redis_client.publish("oauth2:revocations", sha256(token)) >= len(api_workers(stack))
    assert wait_until(lambda: not redis_client.exists(key))
    before = introspections(redis_client)
    assert api.get("/posts/", token).status_code == 200  # still valid at the auth server: asked again
    assert introspections(redis_client) == before + 1


@pytest.mark.parametrize("cached", [True, False], ids=["cached", "not-cached"])
def test_revocation_marker_and_event_are_honoured_once_the_answer_is_held(api, user_tokens, redis_client, cached):
    """A token the workers hold in memory (cached) or not: refused once the auth server would answer
    the revocation (held REVOCATION_MEMORY_WINDOW + 0.05 s), on every worker."""
    token = user_tokens("read")["access_token"]
    if cached:
        for _ in range(8):  # every worker, most likely
            assert api.get("/posts/", token).status_code == 200
    publish_revocation(redis_client, sha256(token))
    time.sleep(0.15)
    for _ in range(8):
        response = api.get("/posts/", token)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


def test_a_marker_alone_is_honoured_by_a_worker_that_does_not_hold_the_token(api, user_tokens, redis_client):
    token = user_tokens("read")["access_token"]
    redis_client.set(f"oauth2:revoked:{sha256(token)}", 1, ex=60)
    assert api.get("/posts/", token).status_code == 401
