"""Each worker's memory of checked tokens (posts/token_cache.py): when it may answer, and every way it
must fall back to Redis and the auth server. The listener's side is driven here by calling what it
calls on each message; the end-to-end suite does it with real Redis, relay and workers."""

import time

import pytest
from django.test import override_settings

from posts import token_cache

A, B, C = "a" * 64, "b" * 64, "c" * 64


def active(exp_in: float = 300) -> dict:
    return {"active": True, "scope": "read", "client_id": "c", "sub": "1", "username": "u",
            "exp": int(time.time() + exp_in)}


def beat(number: int, window: float = 0.2, at: float | None = None):
    token_cache.heard_heartbeat(time.time() if at is None else at, 1.0, window, number)


def keep(digest: str, answer: dict | None = None):
    """Check a token whose introspection answers `answer`, as a request does (Redis is not running
    here: the lookup fails and the answer comes from `ask`)."""
    answer = answer or active()
    return token_cache.check(digest, lambda: answer, lambda found: found["sub"])


@pytest.fixture(autouse=True)
def fresh_subscription():
    """As the listener is after it subscribed: memory empty, no number seen, nothing trusted."""
    token_cache.subscribed()
    token_cache._distrust()
    yield
    token_cache.subscribed()
    token_cache._distrust()


def test_the_memory_answers_only_after_a_numbered_heartbeat_and_for_its_window():
    keep(A)
    assert token_cache.recall(A) is None  # no heartbeat yet
    beat(5)
    assert token_cache.recall(A) == "1"
    time.sleep(0.25)
    assert token_cache.recall(A) is None  # the next heartbeat is late: fall back


def test_the_window_is_capped_by_this_apis_setting():
    with override_settings(TOKEN_MEMORY_WINDOW=0.05):
        keep(A)
        beat(1, window=10)
        time.sleep(0.08)
        assert token_cache.recall(A) is None


def test_a_heartbeat_from_the_future_buys_no_more_than_the_window():
    keep(A)
    beat(1, at=time.time() + 3600)
    time.sleep(0.25)
    assert token_cache.recall(A) is None


def test_a_relay_that_does_not_number_its_events_never_opens_the_memory():
    keep(A)
    token_cache.heard_heartbeat(time.time(), 1.0)
    assert token_cache.fresh() and token_cache.recall(A) is None


def test_a_revocation_event_forgets_its_token_and_only_it():
    beat(7)
    keep(A), keep(B)
    token_cache.heard_event(A, 8)
    assert token_cache.recall(A) is None and token_cache.recall(B)


def test_a_gap_in_the_events_numbers_empties_the_memory():
    beat(7)
    keep(A)
    token_cache.heard_event(B, 9)  # event 8 never arrived: it may have been A's
    assert token_cache.recall(A) is None
    beat(9)  # the gap is behind it: the memory may fill and answer again
    keep(A)
    assert token_cache.recall(A)


def test_a_heartbeat_numbering_an_event_this_worker_missed_empties_the_memory():
    beat(7)
    keep(A)
    beat(8)
    assert token_cache.recall(A) is None


def test_an_unnumbered_event_empties_the_memory():
    beat(7)
    keep(A)
    token_cache.heard_event(B, None)
    assert token_cache.recall(A) is None


def test_a_new_subscription_empties_the_memory_and_waits_for_a_heartbeat():
    beat(7)
    keep(A)
    token_cache.subscribed()
    assert token_cache.recall(A) is None
    keep(A)
    assert token_cache.recall(A) is None
    beat(42)  # any number: the first on this subscription
    assert token_cache.recall(A)


def test_an_answer_fetched_while_an_event_arrived_is_not_kept():
    beat(7)
    mark = (token_cache._emptied, token_cache._events)
    token_cache.heard_event(A, 8)  # while A was being looked up in Redis or introspected
    token_cache.memorize(A, "1", time.time() + 300, mark)
    assert token_cache.recall(A) is None


def test_an_answer_fetched_while_the_memory_was_emptied_is_not_kept():
    beat(7)
    mark = (token_cache._emptied, token_cache._events)
    token_cache.subscribed()
    beat(1)
    token_cache.memorize(A, "1", time.time() + 300, mark)
    assert token_cache.recall(A) is None


def test_only_active_answers_are_kept():
    beat(1)
    assert keep(A, {"active": False}) is None
    assert token_cache.recall(A) is None


def test_an_expired_token_is_not_answered_from_memory():
    beat(1)
    keep(A, active(exp_in=1))
    assert token_cache.recall(A)
    time.sleep(1.1)
    token_cache.heard_heartbeat(time.time(), 1.0, 0.2, 1)
    assert token_cache.recall(A) is None


def test_the_memory_holds_at_most_its_size_and_drops_the_least_recently_used():
    beat(1)
    with override_settings(TOKEN_MEMORY_SIZE=2):
        keep(A), keep(B)
        assert token_cache.recall(A)  # A used: B is now the least recent
        keep(C)
        assert len(token_cache._memory) == 2
        assert token_cache.recall(B) is None and token_cache.recall(A) and token_cache.recall(C)


def test_size_zero_turns_the_memory_off():
    beat(1)
    with override_settings(TOKEN_MEMORY_SIZE=0):
        keep(A)
    assert token_cache.recall(A) is None


def test_an_answer_from_memory_asks_nobody_and_is_what_was_made_of_it():
    beat(1)
    asked = []
    first = token_cache.check(A, lambda: asked.append(A) or active(), lambda found: [found["sub"]])
    again = token_cache.check(A, lambda: asked.append(A) or active(), lambda found: [found["sub"]])
    assert asked == [A] and again is first
