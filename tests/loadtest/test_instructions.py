"""`make bench-instructions` counts what it claims: the same per-request figure however many are counted."""

from loadtest.instructions import count
from stack.local import ROOT


def test_instruction_counts_are_per_request_and_repeatable(stack):
    env = stack.service_env("auth_server", bootstrap=True)  # with the load-test client

    fewer, more = count(ROOT / "auth_server", env, 20), count(ROOT / "auth_server", env, 60)

    # A token request is a few million instructions (2.6 at the time of writing); the count of 20
    # and of 60 requests, divided by each, agree as closely as a counter should (noise shows here).
    assert 1 < fewer < 10, fewer
    assert abs(fewer - more) / more < 0.02, (fewer, more)
