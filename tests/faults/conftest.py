"""The fault suite's report: answers per status code for each fault, printed and kept in artifacts/."""

from collections import Counter

from tests.conftest import ARTIFACTS
from tests.resource_api.conftest import user_tokens, demo_session, api  # noqa: F401  (fixtures)

# (fault, Load, recovery seconds or None), appended by test_faults.py
RESULTS: list = []
KINDS = ("token", "read", "write", "revoke", "revoked")


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
