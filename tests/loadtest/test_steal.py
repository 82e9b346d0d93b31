"""The CPU steal reading that the load-test and bench reports carry (loadtest/steal.py)."""

import os
import time

from loadtest import steal


def test_cpu_times_count_every_cpu_tick_and_steal_is_a_share_of_them():
    before, started = steal.cpu_times(), time.monotonic()
    time.sleep(0.5)
    after, elapsed = steal.cpu_times(), time.monotonic() - started

    # All CPUs together advance CLK_TCK ticks per second each: the fields were read as /proc/stat has them.
    ticks = os.cpu_count() * elapsed * os.sysconf("SC_CLK_TCK")
    assert 0.8 * ticks <= after[1] - before[1] <= 1.2 * ticks
    assert 0 <= after[0] - before[0] <= after[1] - before[1]
    assert 0 <= steal.steal_percent(before) <= 100
    assert steal.steal_percent(None) is None and steal.describe(None) == "unknown"
    assert steal.describe(0.4) == "0.4 %" and "neighbours" in steal.describe(12.0)
