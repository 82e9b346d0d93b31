"""Small helpers shared by the posts-API tests."""

import hashlib
import time

import psutil

CACHE_PREFIX = "posts_api:token:"
INTROSPECTIONS_COUNTER = "posts_api:introspections"
HEARTBEAT_CHANNEL = "oauth2:revocations:heartbeat"


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


def publish_revocation(redis_client, digest: str) -> int:
    """What the auth server's revocation script does (the marker, the next sequence number, the
    numbered event), as its Redis user could; returns how many subscribers heard the event. A relay
    heartbeat landing in between only makes the workers empty their memory."""
    number = redis_client.incr("oauth2:revocations:seq")
    redis_client.set(f"oauth2:revoked:{digest}", 1, ex=60)
    return redis_client.publish("oauth2:revocations", f"{digest} {time.time():.6f} {number}")


def heartbeats_reach_every_worker(stack, redis_client, timeout: float = 10.0) -> bool:
    """Wait until every API worker is subscribed and two more revocation heartbeats were published.

    A worker trusts the Redis cache only after a heartbeat (docs/posts-api.md); after this, all do.
    """
    workers = len(api_workers(stack))
    if not wait_until(lambda: redis_client.pubsub_numsub(HEARTBEAT_CHANNEL)[0][1] >= workers, timeout=timeout):
        return False
    with redis_client.pubsub(ignore_subscribe_messages=True) as pubsub:
        pubsub.subscribe(HEARTBEAT_CHANNEL)
        heard, deadline = 0, time.monotonic() + timeout
        while heard < 2 and time.monotonic() < deadline:
            if pubsub.get_message(timeout=0.2):
                heard += 1
    time.sleep(0.05)  # the workers' listeners handle the same message
    return heard >= 2
