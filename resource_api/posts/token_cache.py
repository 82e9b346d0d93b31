"""The introspection cache, and the resource server's side of the revocation contract.

Redis db 0 is shared with the auth server, whose markers and channels (oauth2:*) are listed in
common/revocation.py. The API's own keys:

    posts_api:token:<sha256>       the cached RFC 7662 answer, signed (below). Active answers live until
                                   the token expires or TOKEN_CACHE_MAX_TTL; inactive ones
                                   TOKEN_CACHE_INACTIVE_TTL.
    posts_api:introspections       how many introspection calls the API made (cache misses): a metric.

Keys hold the token's SHA-256, never the token. Two rules make the cache safe:

- It is trusted only while fresh: until W seconds after the newest heartbeat's T that this worker's
  listener received, W being the heartbeat's own window (the auth server's REVOCATION_FRESHNESS)
  or this API's REVOCATION_FRESHNESS if smaller. A stalled or restarted Redis, a dead relay or a
  broken subscription all stop the heartbeats, and the worker then introspects every token (a
  revocation the auth server committed is never missed). Within the window every lookup reads the
  cached answer and the revocation marker in one round trip; a marker wins.
- It cannot be forged: each entry carries an HMAC-SHA256, under TOKEN_CACHE_KEY (which only the API
  holds), of the token's digest and the answer. An entry without a valid one is ignored, and so is
  an active answer past its `exp` (a genuine entry put back after the token expired).

After a Redis error the request path leaves Redis alone until the next heartbeat proves it answers
again, so a stalled Redis costs a worker one REDIS_TIMEOUT, not one per request.
"""

import hashlib
import hmac
import json
import logging
import threading
import time

import redis
from django.conf import settings

from common.cache import redis_client
from common.revocation import HEARTBEAT_CHANNEL, REVOCATIONS_CHANNEL, REVOKED_PREFIX, parse_revocation_event
from posts.metrics import (CACHE_BYPASS, CACHE_HIT, CACHE_MISS, REVOCATION_EVENTS_RECEIVED, REVOCATION_LAG,
                           TOKEN_CACHE_DURATION)

CACHE_PREFIX = "posts_api:token:"
INTROSPECTIONS_COUNTER = "posts_api:introspections"
INACTIVE = {"active": False}
# The fields of an introspection answer the API uses; nothing else is cached.
CACHED_FIELDS = ("active", "scope", "exp", "client_id", "username", "sub", "aud")

logger = logging.getLogger(__name__)

# Monotonic time until which this worker may trust the cache (the listener moves it forward).
_fresh_until = 0.0
# False from a Redis error on the request path until the next heartbeat.
_redis_answers = True


def fresh() -> bool:
    """Whether this worker has seen every revocation up to a moment less than the heartbeat window ago."""
    return time.monotonic() < _fresh_until


def _distrust(redis_failed: bool = False):
    global _fresh_until, _redis_answers
    _fresh_until = 0.0
    if redis_failed:
        _redis_answers = False


def heard_heartbeat(beat: float, window: float):
    """A heartbeat at wall-clock time `beat`: trusted until `beat` + the window (never from the future).

    Kept on the monotonic clock, so a wall clock stepped back later cannot stretch the trust.
    """
    global _fresh_until, _redis_answers
    now = time.time()
    remaining = min(beat, now) + min(window, settings.REVOCATION_FRESHNESS) - now
    _fresh_until = max(_fresh_until, time.monotonic() + remaining)
    _redis_answers = True


def _mac(digest: str, payload: bytes) -> bytes:
    return hmac.new(settings.TOKEN_CACHE_KEY, digest.encode() + b"\n" + payload, hashlib.sha256).hexdigest().encode()


def seal(digest: str, answer: dict) -> bytes:
    """The cache entry for `answer`: its MAC, a dot, the JSON of the fields the API uses."""
    payload = json.dumps({k: answer[k] for k in CACHED_FIELDS if k in answer}, separators=(",", ":")).encode()
    return _mac(digest, payload) + b"." + payload


def unseal(digest: str, entry: bytes) -> dict | None:
    """The answer in a cache entry, or None if its MAC is not ours for this digest."""
    mac, _, payload = entry.partition(b".")
    if not hmac.compare_digest(mac, _mac(digest, payload)):
        logger.warning("token cache entry with an invalid MAC ignored (forged or corrupt)",
                       extra={"token_sha256": digest})
        return None
    return json.loads(payload)


def lookup(digest: str) -> dict | None:
    """The cached answer for a token, INACTIVE if it was revoked, None if unknown or not to be trusted."""
    if not fresh():
        CACHE_BYPASS.inc()
        return None
    started = time.perf_counter()
    try:
        # The worker's one pool (its timeout: REDIS_TIMEOUT, no retries): when Redis is slow the
        # request goes on without it rather than waiting.
        cached, revoked = redis_client().mget(CACHE_PREFIX + digest, REVOKED_PREFIX + digest)
    except redis.RedisError as exc:
        # Until the next heartbeat proves Redis well, no request waits on it again.
        _distrust(redis_failed=True)
        logger.warning("token cache unavailable, introspecting instead: %r", exc)
        CACHE_BYPASS.inc()
        return None
    finally:
        TOKEN_CACHE_DURATION.observe(time.perf_counter() - started)
    if revoked:
        CACHE_HIT.inc()
        return INACTIVE
    answer = unseal(digest, cached) if cached else None
    if answer and answer.get("active") and answer.get("exp", 0) <= time.time():
        answer = None  # a genuine entry outliving its token: only a writer to Redis keeps one so long
    (CACHE_MISS if answer is None else CACHE_HIT).inc()
    return answer


def remember(digest: str, answer: dict):
    """Cache a fresh introspection answer (while Redis is trusted) and count the introspection call."""
    if not _redis_answers:
        return
    ttl = _ttl(answer)
    try:
        pipe = redis_client().pipeline(transaction=False)
        if ttl > 0 and fresh():
            pipe.set(CACHE_PREFIX + digest, seal(digest, answer), ex=ttl)
        pipe.incr(INTROSPECTIONS_COUNTER)
        pipe.execute()
    except redis.RedisError as exc:
        _distrust(redis_failed=True)
        logger.warning("token cache unavailable, answer not cached: %r", exc)


def _ttl(answer: dict) -> int:
    if not answer.get("active"):
        return settings.TOKEN_CACHE_INACTIVE_TTL
    remaining = int(answer.get("exp", 0) - time.time())
    return min(remaining, settings.TOKEN_CACHE_MAX_TTL)


def drop(digest: str):
    try:
        redis_client().delete(CACHE_PREFIX + digest)
    except redis.RedisError as exc:
        logger.warning("could not drop a revoked token's cache entry: %r", exc)


def start_revocation_listener() -> threading.Thread:
    """Subscribe this worker to revocation events and heartbeats (called once per gunicorn worker)."""
    thread = threading.Thread(target=_listen_forever, name="revocation-listener", daemon=True)
    thread.start()
    return thread


def _handle(message: dict):
    if message["type"] != "message":
        return
    data = message["data"].decode(errors="replace")
    if message["channel"] == HEARTBEAT_CHANNEL.encode():
        try:
            beat, window = map(float, data.split())
        except ValueError:
            logger.warning("malformed revocation heartbeat ignored: %r", data[:40])
        else:
            heard_heartbeat(beat, window)
    elif event := parse_revocation_event(data):
        REVOCATION_EVENTS_RECEIVED.inc()
        digest, committed = event
        drop(digest)
        if committed is not None:
            # Clocks of two hosts: never negative, however they disagree.
            REVOCATION_LAG.observe(max(0.0, time.time() - committed))


def _listen_forever(reconnect_delay: float = 0.2):
    window = settings.REVOCATION_FRESHNESS
    broken = False
    while True:
        try:
            # A connection of the worker's pool, held for the subscription; waiting for a message is
            # bounded by `window` below, not by the pool's (shorter) reply timeout.
            with redis_client().pubsub(ignore_subscribe_messages=True) as pubsub:
                pubsub.subscribe(REVOCATIONS_CHANNEL, HEARTBEAT_CHANNEL)
                if broken:
                    logger.info("revocation listener subscribed again")
                    broken = False
                heard = time.monotonic()
                while True:
                    message = pubsub.get_message(timeout=window)
                    if message is not None:
                        heard = time.monotonic()
                        _handle(message)
                    elif time.monotonic() - heard > 2 * window:
                        # Silence: a stalled connection, or no relay. A new connection tells which.
                        raise redis.TimeoutError("no heartbeat for two REVOCATION_FRESHNESS windows")
        except redis.RedisError as exc:
            _distrust()
            if not broken:
                logger.warning("revocation listener lost its subscription; the cache is bypassed until "
                               "the next heartbeat: %r", exc)
                broken = True
            time.sleep(reconnect_delay)
