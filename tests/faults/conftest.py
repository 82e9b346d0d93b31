"""The fault suite's report: answers per status code for each fault, printed and kept in artifacts/."""

import secrets
from collections import Counter

import pytest

from stack import flows
from stack.harness import ARTIFACTS

# (fault, Load, recovery seconds or None), appended by test_faults.py
RESULTS: list = []
KINDS = ("token", "read", "write", "revoke", "revoked")


@pytest.fixture(scope="module")
def user_tokens(stack, _auth_django):
    """Tokens of a user of the fault suite's own, so that its many posts are nobody else's."""
    from django.contrib.auth import get_user_model
    from django.db import connections

    connections.close_all()  # a test before may have restarted Postgres
    password = secrets.token_urlsafe(16)
    user = get_user_model().objects.create_user(f"faults-{secrets.token_hex(4)}", password=password)
    session = flows.login(stack.url, user.get_username(), password)
    client = flows.demo_client(stack)
    return lambda scope="profile read write": flows.authorization_code_tokens(stack.url, session, client, scope=scope)


def table() -> str:
    lines = ["| fault | " + " | ".join(KINDS) + " | acknowledged writes lost | revoked tokens accepted | "
             "other 5xx | recovery |",
             "| --- |" + " --- |" * (len(KINDS) + 4)]
    for name, load, recovery in RESULTS:
        cells = []
        for kind in KINDS:
            statuses = Counter({status: n for (k, status), n in load.counts.items() if k == kind})
            cells.append(" ".join(f"{status}×{n}" for status, n in sorted(statuses.items(), key=str)) or "-")
        accepted = sum("revoked token accepted" in v for v in load.violations)
        others = len(load.violations) - accepted
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {len(load.lost)} | "
                     f"{accepted} | {others} | {f'{recovery:.1f} s' if recovery is not None else 'none'} |")
    return "\n".join(lines)


def pytest_terminal_summary(terminalreporter):
    if not RESULTS:
        return
    report = table()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "faults.md").write_text(report + "\n")
    terminalreporter.section("fault suite: answers per status code")
    terminalreporter.write_line(report)
