"""How long a revocation's answer waits (oauth/revocation.py): until no API worker can still answer
from a memory that holds the token, or, when Redis did not take the marker, from its Redis cache."""

import contextvars
import datetime
import time

import pytest
from django.test import override_settings
from django.utils import timezone

from oauth import revocation
from tests.unit.auth_server.test_metrics import fake_redis


def held_for(reason: str, redis=None, monkeypatch=None) -> float:
    """Seconds from the publish to the moment the request's answer may go out."""
    if redis is not None:
        monkeypatch.setattr(revocation, "redis_client", redis)

    def run():
        started = time.monotonic()
        revocation.publish("a" * 64, timezone.now() + datetime.timedelta(minutes=5), reason)
        return revocation._answer_not_before.get() - started

    return contextvars.copy_context().run(run)


def test_a_published_revocation_waits_out_the_memory_window(monkeypatch):
    held = held_for("revocation_endpoint", fake_redis([]), monkeypatch)
    assert revocation.WAIT_MARGIN + 0.1 <= held < revocation.WAIT_MARGIN + 0.11


@override_settings(REVOCATION_MEMORY_WINDOW=0)
def test_without_a_memory_window_nothing_waits(monkeypatch):
    assert held_for("revocation_endpoint", fake_redis([]), monkeypatch) < 0


def test_a_token_replaced_by_refresh_rotation_does_not_wait(monkeypatch):
    assert held_for("refresh_token_rotated", fake_redis([]), monkeypatch) < 0


@pytest.mark.parametrize("reason", ["revocation_endpoint", "refresh_token_rotated"])
def test_a_revocation_redis_did_not_take_waits_out_the_redis_window(reason):
    # Nothing listens on this process's REDIS_URL (tests/unit): the real client fails.
    held = held_for(reason)
    assert 1.0 + revocation.WAIT_MARGIN <= held < 1.0 + revocation.WAIT_MARGIN + 0.01
