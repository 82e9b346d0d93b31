"""The token cache's logic (posts/token_cache.py): entries only this API can write, lifetimes, and
trust that ends with the heartbeat. Redis itself is the end-to-end suite's (tests/resource_api)."""

import time

import pytest
from django.conf import settings
from django.test import override_settings

from posts import token_cache


def active(exp_in: float) -> dict:
    return {"active": True, "scope": "read", "client_id": "c", "sub": "1", "username": "u",
            "exp": int(time.time() + exp_in)}


def test_an_entry_opens_with_its_own_digest_only():
    answer = active(60)
    entry = token_cache.seal("a" * 64, answer)
    assert token_cache.unseal("a" * 64, entry) == answer
    assert token_cache.unseal("b" * 64, entry) is None  # moved to another token's key


def test_a_changed_entry_is_refused():
    entry = token_cache.seal("a" * 64, active(60))
    mac, _, payload = entry.partition(b".")
    assert token_cache.unseal("a" * 64, mac + b"." + payload.replace(b'"read"', b'"write"')) is None


def test_an_entry_sealed_with_another_key_is_refused():
    entry = token_cache.seal("a" * 64, active(60))
    with override_settings(TOKEN_CACHE_KEY=b"k" * 32):
        assert token_cache.unseal("a" * 64, entry) is None


def test_entries_hold_only_the_fields_the_api_uses():
    sealed = token_cache.seal("a" * 64, {**active(60), "extra": "<script>"})
    assert b"extra" not in sealed


def test_lifetimes():
    assert 55 <= token_cache._ttl(active(60)) <= 60
    assert token_cache._ttl(active(10 ** 6)) == settings.TOKEN_CACHE_MAX_TTL
    assert token_cache._ttl(active(-5)) <= 0  # an expired token is not cached
    assert token_cache._ttl({"active": False}) == settings.TOKEN_CACHE_INACTIVE_TTL


@pytest.fixture
def untrusted():
    token_cache._distrust()
    yield
    token_cache._distrust()


def test_trust_lasts_the_heartbeat_window_and_no_longer(untrusted):
    assert not token_cache.fresh()
    token_cache.heard_heartbeat(time.time(), 0.2)
    assert token_cache.fresh()
    time.sleep(0.25)
    assert not token_cache.fresh()


def test_a_heartbeat_from_the_future_buys_no_more_than_the_window(untrusted):
    token_cache.heard_heartbeat(time.time() + 3600, 0.2)
    time.sleep(0.25)
    assert not token_cache.fresh()


def test_the_window_is_capped_by_this_apis_freshness(untrusted):
    with override_settings(REVOCATION_FRESHNESS=0.1):
        token_cache.heard_heartbeat(time.time(), 60)
        time.sleep(0.15)
        assert not token_cache.fresh()


def test_a_redis_error_ends_trust_and_redis_use_until_the_next_heartbeat(untrusted):
    token_cache.heard_heartbeat(time.time(), 1)
    token_cache._distrust(redis_failed=True)
    assert not token_cache.fresh() and not token_cache._redis_answers
    token_cache.heard_heartbeat(time.time(), 1)
    assert token_cache.fresh() and token_cache._redis_answers
