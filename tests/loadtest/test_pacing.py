"""Paced locust users (loadtest/pacing.py): a fixed rate, each user at its own random phase."""

import types

import pytest

from loadtest import pacing


@pytest.fixture
def clock(monkeypatch):
    now = types.SimpleNamespace(value=1000.0)
    monkeypatch.setattr(pacing.time, "monotonic", lambda: now.value)
    return now


def test_users_start_at_scattered_phases_then_keep_one_request_per_period(clock):
    wait_time = pacing.paced(10)  # a period of 0.1 s
    users = [types.SimpleNamespace() for _ in range(200)]

    first_waits = [wait_time(user) for user in users]
    assert all(0 <= wait <= 0.1 for wait in first_waits)
    # Started in the same instant, the users do not send in the same instant: no burst.
    assert len({round(wait, 4) for wait in first_waits}) > 150
    assert max(first_waits) - min(first_waits) > 0.08

    user, first = users[0], first_waits[0]
    clock.value += first + 0.03  # the request sent when due took 30 ms
    assert wait_time(user) == pytest.approx(0.07)  # due one period after the last one was due


def test_a_user_that_fell_behind_catches_up_without_lowering_the_rate(clock):
    wait_time, user = pacing.paced(10), types.SimpleNamespace()
    clock.value += wait_time(user)
    clock.value += 0.35  # a slow answer: three more requests are overdue
    assert [wait_time(user) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert wait_time(user) == pytest.approx(0.05)


def test_a_rate_must_be_positive():
    with pytest.raises(ValueError):
        pacing.paced(0)
