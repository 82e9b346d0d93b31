"""The fast layer: each service's logic tested in this process, with its own settings, no stack.

One Django per process, so each service's tests run in a process of their own:
`make test-fast` (seconds), and `tests/test_unit.py` runs them within `make test`. The settings are
the ones the local stack would give the service (stack/local.py), so they are tested as run; nothing
is started and nothing connects: tests that need Postgres, Redis or HTTP are end-to-end tests.
"""

import os
import sys
import tempfile
from pathlib import Path

from stack.envfile import generated_values
from stack.local import ROOT, LocalStack, Ports

SERVICES = ("auth_server", "resource_api", "consumer_demo")


def configure(service: str):
    """Set up `service`'s Django in this process, with the settings a fresh local stack gives it."""
    ports = Ports.free()
    stack = LocalStack(Path(tempfile.mkdtemp(prefix="oauth-unit-")), generated_values(ports.public), ports)
    os.environ.update(stack.service_settings(service))
    sys.path.insert(0, str(ROOT / service))
    import django

    django.setup()
