"""Each API worker's memory of the tokens it checked, end to end with the real relay, Redis and
workers: it answers while heartbeats prove it has every revocation, and in each way it must, it
falls back to Redis and the auth server and the revoked token is refused.

The revocations below that bypass the auth server are written as its Redis user could (a marker, a
sequence number, an event): what a lost message, a skipped number or a missed heartbeat looks like
to the workers. Each test restores what it stopped in `finally`, so the session's stack stays whole.
"""

import os
import shutil
import signal
import time

import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.resource_api.helpers import api_workers, heartbeats_reach_every_worker, publish_revocation, sha256
from tests.resource_api.test_cache_trust import REVOKED_PREFIX, relay_stopped, revoke

# The auth server's REVOCATION_MEMORY_WINDOW plus its clock margin: how long it holds a revocation's answer.
HELD = 0.15


def memory_answers(stack) -> float:
    text = requests.get(stack.metrics_url("resource_api"), timeout=5).text
    return sum(s.value for family in text_string_to_metric_families(text) for s in family.samples
               if s.name == "oauth_token_cache_lookups_total" and s.labels.get("result") == "memory")


def warm(api, token: str, requests_: int = 24):
    """Enough requests that every worker has checked the token (and keeps it in memory)."""
    for _ in range(requests_):
        assert api.get("/posts/", token).status_code == 200


def refused(api, token: str, requests_: int = 12) -> list[int]:
    """Statuses that were not a refusal, over enough requests to reach every worker."""
    return [status for status in (api.get("/posts/", token).status_code for _ in range(requests_)) if status != 401]


def mark_revoked(redis_client, token: str):
    """The marker alone, with no event: what a worker sees of a revocation whose event it missed."""
    redis_client.set(REVOKED_PREFIX + sha256(token), 1, ex=60)


def test_checked_tokens_are_answered_from_memory(api, stack, user_tokens, redis_client):
    assert heartbeats_reach_every_worker(stack, redis_client)
    token = user_tokens("read")["access_token"]
    before = memory_answers(stack)
    warm(api, token, 40)
    # Each worker's first check of the token reads Redis or asks the auth server; the rest need neither.
    assert memory_answers(stack) - before >= 40 - 2 * len(api_workers(stack))


def test_a_revocation_answered_is_refused_by_every_worker(api, stack, user_tokens, redis_client):
    assert heartbeats_reach_every_worker(stack, redis_client)
    token = user_tokens("read")["access_token"]
    warm(api, token)
    took = revoke(stack, token)
    assert took >= HELD, "answered before every worker's memory had to have let the token go"
    assert refused(api, token) == []


def test_without_heartbeats_the_memory_stops_answering(api, stack, user_tokens, redis_client):
    assert heartbeats_reach_every_worker(stack, redis_client)
    token = user_tokens("read")["access_token"]
    warm(api, token)
    with relay_stopped(stack):
        mark_revoked(redis_client, token)
        time.sleep(HELD)
        # Redis (still trusted for REVOCATION_FRESHNESS, 1 s) has the marker; memory must not answer.
        assert refused(api, token) == []


def test_a_skipped_sequence_number_empties_every_workers_memory(api, stack, user_tokens, redis_client):
    """An event numbered N was never delivered: the next event or heartbeat says N, and the workers
    that saw only N - 1 must distrust everything they hold."""
    assert heartbeats_reach_every_worker(stack, redis_client)
    token, other = (user_tokens("read")["access_token"] for _ in range(2))
    warm(api, token)
    mark_revoked(redis_client, token)
    redis_client.incr("oauth2:revocations:seq")  # number N, published to nobody
    publish_revocation(redis_client, sha256(other))  # N + 1
    time.sleep(HELD)
    assert refused(api, token) == []


def test_a_lost_subscription_empties_the_memory(api, stack, user_tokens, redis_client):
    """Listeners cut off from Redis miss what is published meanwhile; resubscribed, they start empty."""
    assert heartbeats_reach_every_worker(stack, redis_client)
    token = user_tokens("read")["access_token"]
    warm(api, token)
    assert redis_client.client_kill_filter(_type="pubsub") >= len(api_workers(stack))
    # Published while no listener is subscribed: numbered in sequence, yet nobody hears it.
    assert publish_revocation(redis_client, sha256(token)) == 0
    assert heartbeats_reach_every_worker(stack, redis_client)
    assert refused(api, token) == []


def test_a_revocation_while_redis_restarts_empty_is_refused_from_memory_too(api, stack, user_tokens, redis_client):
    assert heartbeats_reach_every_worker(stack, redis_client)
    token = user_tokens("read")["access_token"]
    warm(api, token)
    stack.stop_redis()
    try:
        revoke(stack, token)  # Redis down: the marker waits in Postgres for the relay
    finally:
        shutil.rmtree(stack.state / "redis" / "appendonlydir", ignore_errors=True)
        stack.start_redis()
    assert heartbeats_reach_every_worker(stack, redis_client)
    assert refused(api, token) == []


def test_a_worker_paused_through_a_revocation_refuses_the_token_at_once(api, stack, user_tokens, redis_client):
    """SIGSTOP every API worker, revoke, SIGCONT: the first request after it must be refused, though
    the worker's listener has not yet read what was published while it slept."""
    assert heartbeats_reach_every_worker(stack, redis_client)
    token = user_tokens("read")["access_token"]
    warm(api, token)
    workers = [worker.pid for worker in api_workers(stack)]
    for pid in workers:
        os.kill(pid, signal.SIGSTOP)
    try:
        revoke(stack, token)
    finally:
        for pid in workers:
            os.kill(pid, signal.SIGCONT)
    assert api.get("/posts/", token).status_code == 401
    assert refused(api, token) == []


def test_an_expired_token_is_not_answered_from_memory(api, stack, user_tokens, redis_client, auth_orm):
    from datetime import timedelta

    from django.utils import timezone
    from oauth2_provider.models import get_access_token_model

    assert heartbeats_reach_every_worker(stack, redis_client)
    token = user_tokens("read")["access_token"]
    get_access_token_model().objects.filter(token_checksum=sha256(token)).update(
        expires=timezone.now() + timedelta(seconds=3))
    warm(api, token)
    time.sleep(3.5)
    assert refused(api, token) == []
