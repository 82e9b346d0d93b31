"""The containers' entrypoint (`python -m common.entrypoint CMD...`): wait until the database and
Redis accept connections, then run the command.

Compose already orders start-up by health checks; this covers a container restarted on its own, or
started with `docker run`, while a dependency is still coming up. Hosts come from DATABASE_URL and
REDIS_URL, whichever the service has (or their files, DATABASE_URL_FILE and REDIS_URL_FILE).
"""

import os
import socket
import sys
import time
from urllib.parse import urlsplit

from common.environment import value

DEFAULT_PORTS = {"postgres": 5432, "postgresql": 5432, "redis": 6379}


def wait_for(name: str, timeout: float):
    url = urlsplit(value(name))
    address = (url.hostname, url.port or DEFAULT_PORTS[url.scheme])
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(address, timeout=2).close()
            return
        except OSError as exc:
            if time.monotonic() > deadline:
                sys.exit(f"entrypoint: {name} ({address[0]}:{address[1]}) unreachable after {timeout:.0f}s: {exc}")
            time.sleep(0.5)


if __name__ == "__main__":
    for name in ("DATABASE_URL", "REDIS_URL"):
        if value(name):
            wait_for(name, float(os.environ.get("WAIT_FOR_TIMEOUT", "60")))
    os.execvp(sys.argv[1], sys.argv[1:])
