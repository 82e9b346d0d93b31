"""The introspection cache and its invalidation: the only code that knows these Redis keys.

Redis db 0 is shared with the auth server (contract 2 in docs/architecture.md):

    posts_api:token:<sha256>   the cached RFC 7662 answer (JSON). Active answers live until the token
                               expires or TOKEN_CACHE_MAX_TTL, whichever comes first; inactive ones
                               TOKEN_CACHE_INACTIVE_TTL.
    oauth2:revoked:<sha256>    set by the auth server when a token ends before its expiry.
    oauth2:revocations         channel on which the auth server publishes the same <sha256>.
    posts_api:introspections   how many introspection calls the API made (cache misses): a metric.

Keys hold the token's SHA-256, never the token. Every lookup reads the cached answer and the
revocation marker in one round trip, so a revoked token is refused by every worker as soon as the
marker is set; each worker also listens on the channel and drops the cached answer, and after its
subscription was interrupted it drops every cached answer (it may have missed events).
When Redis is unreachable every operation here logs and gives up, and callers introspect instead.
"""

import functools
import hashlib
import json
import logging
import re
import threading
import time

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

CACHE_PREFIX = "posts_api:token:"
REVOKED_PREFIX = "oauth2:revoked:"
REVOCATIONS_CHANNEL = "oauth2:revocations"
INTROSPECTIONS_COUNTER = "posts_api:introspections"
INACTIVE = {"active": False}
# The fields of an introspection answer the API uses; nothing else is cached.
CACHED_FIELDS = ("active", "scope", "exp", "client_id", "username", "sub", "aud")
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")

logger = logging.getLogger(__name__)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@functools.cache
def _redis() -> redis.Redis:
    # One pool per worker process (created on first use, after gunicorn forked). No retries: when
    # Redis is down the request goes on without it rather than waiting.
    return redis.Redis.from_url(
        settings.REDIS_URL,
        socket_timeout=settings.REDIS_TIMEOUT,
        socket_connect_timeout=settings.REDIS_TIMEOUT,
        retry=Retry(NoBackoff(), 0),
    )


def lookup(digest: str) -> dict | None:
    """The cached answer for a token, INACTIVE if it was revoked, None if unknown or Redis is down."""
    try:
        cached, revoked = _redis().mget(CACHE_PREFIX + digest, REVOKED_PREFIX + digest)
    except redis.RedisError as exc:
        logger.warning("token cache unavailable, introspecting instead: %r", exc)
        return None
    if revoked:
        return INACTIVE
    return json.loads(cached) if cached else None


def remember(digest: str, answer: dict):
    """Cache a fresh introspection answer and count the introspection call."""
    ttl = _ttl(answer)
    try:
        pipe = _redis().pipeline(transaction=False)
        if ttl > 0:
            pipe.set(CACHE_PREFIX + digest, json.dumps({k: answer[k] for k in CACHED_FIELDS if k in answer}), ex=ttl)
        pipe.incr(INTROSPECTIONS_COUNTER)
        pipe.execute()
    except redis.RedisError as exc:
        logger.warning("token cache unavailable, answer not cached: %r", exc)


def _ttl(answer: dict) -> int:
    if not answer.get("active"):
        return settings.TOKEN_CACHE_INACTIVE_TTL
    remaining = int(answer.get("exp", 0) - time.time())
    return min(remaining, settings.TOKEN_CACHE_MAX_TTL)


def drop(digest: str):
    try:
        _redis().delete(CACHE_PREFIX + digest)
    except redis.RedisError as exc:
        logger.warning("could not drop a revoked token's cache entry: %r", exc)


def start_revocation_listener() -> threading.Thread:
    """Subscribe this worker to revocation events (called once per gunicorn worker)."""
    thread = threading.Thread(target=_listen_forever, name="revocation-listener", daemon=True)
    thread.start()
    return thread


def drop_all():
    """Forget every cached answer: after a gap in the event stream some revocations may be missed."""
    client = _redis()
    for batch in _batched(client.scan_iter(match=CACHE_PREFIX + "*", count=1000), 1000):
        client.unlink(*batch)


def _batched(iterable, size):
    batch = []
    for item in iterable:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _listen_forever(reconnect_delay: float = 0.5):
    client = redis.Redis.from_url(settings.REDIS_URL, socket_keepalive=True,
                                  socket_connect_timeout=settings.REDIS_TIMEOUT)
    disconnected = False
    while True:
        try:
            with client.pubsub() as pubsub:
                pubsub.subscribe(REVOCATIONS_CHANNEL)
                if disconnected:
                    # Events published while this worker was not subscribed are lost. The markers
                    # cover them unless Redis was down when the auth server wrote them, and a Redis
                    # restarted from disk would still hold the cached answers: forget them all.
                    drop_all()
                    disconnected = False
                logger.info("listening for revocation events on %s", REVOCATIONS_CHANNEL)
                for message in pubsub.listen():
                    if message["type"] == "message":
                        digest = message["data"].decode(errors="replace")
                        if _SHA256_HEX.match(digest):
                            drop(digest)
        except redis.RedisError as exc:
            if not disconnected:
                logger.warning("revocation listener disconnected, reconnecting: %r", exc)
                disconnected = True
            time.sleep(reconnect_delay)
