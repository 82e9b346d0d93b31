"""Requests at a fixed rate per locust user, each user at its own random phase.

Locust's `constant_throughput` keeps the phase a user had when it started. Users started together
(the bench starts all of its users at once) then all send in the same instant, once per period, and
the stack answers bursts instead of a steady rate: at 424 req/s that way, p50 was 30-31 ms, against
3-4 ms with random phases on the same stack (docs/performance.md).
"""

import random
import time


def paced(requests_per_second: float):
    """A locust `wait_time`: one request per period, the first at a random moment of the period.

    Each request is due one period after the previous one was due, not after its answer came, so
    slow answers do not lower the rate: a user that fell behind sends at once until it is due again.
    """
    if requests_per_second <= 0:
        raise ValueError("requests_per_second must be positive")
    period = 1 / requests_per_second

    def wait_time(user) -> float:
        now = time.monotonic()
        due = getattr(user, "_paced_due", None)
        due = now + random.uniform(0, period) if due is None else due + period
        user._paced_due = due
        return max(0.0, due - now)

    return wait_time
