"""Small helpers shared by the posts-API tests."""

import hashlib
import time

import psutil

CACHE_PREFIX = "posts_api:token:"
INTROSPECTIONS_COUNTER = "posts_api:introspections"


def sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def introspections(redis_client) -> int:
    """How many introspection calls the API has made (it counts them in Redis)."""
    return int(redis_client.get(INTROSPECTIONS_COUNTER) or 0)


def api_workers(stack) -> list[psutil.Process]:
    return psutil.Process(stack.pid("resource_api")).children()


def wait_until(condition, timeout: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()
