"""The token cache (this worker's memory, then Redis), and the resource server's side of the revocation contract.

Redis db 0 is shared with the auth server, whose markers and channels (oauth2:*) are listed in
common/revocation.py. The API's own keys:

    posts_api:token:<sha256>       the cached RFC 7662 answer, signed (below). Active answers live until
                                   the token expires or TOKEN_CACHE_MAX_TTL; inactive ones
                                   TOKEN_CACHE_INACTIVE_TTL.
    posts_api:introspections       how many introspection calls the API made (cache misses): a metric.

Keys hold the token's SHA-256, never the token. Three rules make the cache safe:

- It is trusted only while fresh: until W seconds after the newest heartbeat's T that this worker's
  listener received, W being the heartbeat's own window (the auth server's REVOCATION_FRESHNESS)
  or this API's REVOCATION_FRESHNESS if smaller. A stalled or restarted Redis, a dead relay or a
  broken subscription all stop the heartbeats, and the worker then introspects every token (a
  revocation the auth server committed is never missed). Within the window every lookup reads the
  cached answer and the revocation marker in one round trip; a marker wins.
- It cannot be forged: each entry carries an HMAC-SHA256, under TOKEN_CACHE_KEY (which only the API
  holds), of the token's digest and the answer. An entry without a valid one is ignored, and so is
  an active answer past its `exp` (a genuine entry put back after the token expired).

- Each worker keeps the active answers it checked in memory (an LRU of TOKEN_MEMORY_SIZE, each
  until its token's `exp`) and answers from there only until M seconds after the newest heartbeat
  (the heartbeat's memory window, or this API's TOKEN_MEMORY_WINDOW if smaller), and only while it
  can prove its listener saw every revocation event: events and heartbeats are numbered in one
  sequence, and a new subscription, a gap or an unnumbered event empties the memory. An answer is
  kept only if no event arrived while it was being fetched (the event might have been its token's).
  The auth server holds each revocation's answer for M, so no worker still accepts the token then.

After a Redis error the request path leaves Redis alone until the next heartbeat proves it answers
again, so a stalled Redis costs a worker one REDIS_TIMEOUT, not one per request.
"""

import hashlib
import hmac
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

import redis
from django.conf import settings

from common.cache import redis_client
from common.revocation import (HEARTBEAT_CHANNEL, REVOCATIONS_CHANNEL, REVOKED_PREFIX, parse_heartbeat,
                               parse_revocation_event)
from posts.metrics import (CACHE_BYPASS, CACHE_HIT, CACHE_MEMORY, CACHE_MISS, REVOCATION_EVENTS_RECEIVED,
                           REVOCATION_LAG, TOKEN_CACHE_DURATION, TOKEN_MEMORY_EMPTIED)

CACHE_PREFIX = "posts_api:token:"
INTROSPECTIONS_COUNTER = "posts_api:introspections"
INACTIVE = {"active": False}
# The fields of an introspection answer the API uses; nothing else is cached.
CACHED_FIELDS = ("active", "scope", "exp", "client_id", "username", "sub", "aud")

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Monotonic time until which this worker may trust the cache (the listener moves it forward).
_fresh_until = 0.0
# False from a Redis error on the request path until the next heartbeat.
_redis_answers = True

# This worker's memory: (expiry, what the caller made of an active answer) by digest, least recently
# used first.
_memory: OrderedDict[str, tuple[float, object]] = OrderedDict()
# Held by whoever changes the memory or the two counts below (request threads and the listener).
_memory_lock = threading.Lock()
# Monotonic time until which the memory may answer (the listener moves it forward).
_memory_until = 0.0
# Bumped each time the memory is emptied, and with each revocation event: an answer fetched while
# either moved is not kept.
_emptied = 0
_events = 0
# The newest sequence number the listener saw on its current subscription (None: none yet).
_sequence: int | None = None


def check(digest: str, ask: Callable[[], dict], shape: Callable[[dict], T]) -> T | None:
    """What `shape` makes of the token's introspection answer if it is active, None if not: from this
    worker's memory (which keeps what `shape` made), else Redis, else `ask()` (the auth server).
    Raises what `ask` raises."""
    kept = recall(digest)
    if kept is not None:
        CACHE_MEMORY.inc()
        return kept
    mark = (_emptied, _events)
    found = lookup(digest)
    if found is None:
        found = ask()
        remember(digest, found)
    if not found.get("active"):
        return None
    shaped = shape(found)
    if "exp" in found:
        memorize(digest, shaped, found["exp"], mark)
    return shaped


def recall(digest: str):
    """What this worker keeps for a token, while the memory may answer and the token lives.

    No lock: a revocation event the listener handles after the trust check below came after a
    heartbeat the check already relied on, so its token's revocation was answered later still.
    """
    if time.monotonic() >= _memory_until:
        return None
    entry = _memory.get(digest)
    if entry is None or entry[0] <= time.time():
        return None
    try:
        _memory.move_to_end(digest)
    except KeyError:
        pass  # forgotten meanwhile
    return entry[1]


def memorize(digest: str, kept, expires: float, mark: tuple[int, int]):
    """Keep what was made of an active answer fetched since `mark`, until `expires` (Unix time),
    unless the memory was emptied or an event came since."""
    if settings.TOKEN_MEMORY_SIZE <= 0:
        return
    with _memory_lock:
        if (_emptied, _events) != mark:
            return
        _memory[digest] = (expires, kept)
        _memory.move_to_end(digest)
        if len(_memory) > settings.TOKEN_MEMORY_SIZE:
            _memory.popitem(last=False)


def _forget(digest: str):
    global _events
    with _memory_lock:
        _events += 1
        _memory.pop(digest, None)


def _empty_memory(why: str):
    global _emptied, _memory_until
    with _memory_lock:
        _memory.clear()
        _emptied += 1
        _memory_until = 0.0
    TOKEN_MEMORY_EMPTIED.labels(why).inc()


def fresh() -> bool:
    """Whether this worker has seen every revocation up to a moment less than the heartbeat window ago."""
    return time.monotonic() < _fresh_until


def _distrust(redis_failed: bool = False):
    """Redis is not trusted until the next heartbeat (the memory, which rests on the listener alone,
    is emptied when the listener loses its subscription)."""
    global _fresh_until, _redis_answers
    _fresh_until = 0.0
    if redis_failed:
        _redis_answers = False


def heard_heartbeat(beat: float, window: float, memory_window: float | None = None, number: int | None = None):
    """A heartbeat at wall-clock time `beat`: Redis is trusted until `beat` + the window (never from the
    future), the memory until `beat` + the memory window if the heartbeat's number is the newest
    event's this listener saw (a gap empties the memory first).

    Kept on the monotonic clock, so a wall clock stepped back later cannot stretch the trust.
    """
    global _fresh_until, _redis_answers, _memory_until, _sequence
    now, monotonic = time.time(), time.monotonic()

    def trusted_until(window: float, cap: float) -> float:
        return monotonic + min(beat, now) + min(window, cap) - now

    _fresh_until = max(_fresh_until, trusted_until(window, settings.REVOCATION_FRESHNESS))
    _redis_answers = True
    if memory_window is None or number is None:
        return  # a relay that does not number its events: nothing proves the memory complete
    if _sequence is not None and number != _sequence:
        _empty_memory("sequence_gap")
    _sequence = number
    memory_until = trusted_until(memory_window, settings.TOKEN_MEMORY_WINDOW)
    with _memory_lock:
        _memory_until = max(_memory_until, memory_until)


def heard_event(digest: str, number: int | None):
    """A revocation event: the token is forgotten, and a gap in the numbers empties the memory."""
    global _sequence
    if number is None or _sequence is not None and number != _sequence + 1:
        _empty_memory("sequence_gap")
    if number is not None:
        _sequence = number
    _forget(digest)
    drop(digest)


def subscribed():
    """A new subscription: what came before it may have been missed."""
    global _sequence
    _empty_memory("subscribed")
    _sequence = None


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
        if heartbeat := parse_heartbeat(data):
            heard_heartbeat(*heartbeat)
        else:
            logger.warning("malformed revocation heartbeat ignored: %r", data[:40])
    elif event := parse_revocation_event(data):
        REVOCATION_EVENTS_RECEIVED.inc()
        digest, committed, number = event
        heard_event(digest, number)
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
                subscribed()
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
            _empty_memory("subscription_lost")
            if not broken:
                logger.warning("revocation listener lost its subscription; the cache is bypassed until "
                               "the next heartbeat: %r", exc)
                broken = True
            time.sleep(reconnect_delay)
