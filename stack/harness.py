"""What the test harness gives every stack it starts, local (tests/conftest.py) or Compose
(stack/compose_ci.py), and where it leaves what a failed run needs."""

from stack.local import ROOT

# Logs, screenshots and reports of test runs (git-ignored; CI keeps the folder).
ARTIFACTS = ROOT / "artifacts"

# Test stacks use rate limits high enough for the suite (which signs in far more often than a
# person) and low enough for a burst to reach them.
TEST_OVERRIDES = {"AUTH_RATE_LIMIT": "100r/s", "AUTH_RATE_BURST": "150",
                  "SIGN_IN_RATE_LIMIT": "10r/s", "SIGN_IN_RATE_BURST": "20",
                  # Devices poll every second, not five; every test connects from one address.
                  "DEVICE_FLOW_INTERVAL": "1", "DEVICE_CODE_FAILURE_ADDRESS_LIMIT": "1000"}
