"""Revocation: every resource server refuses an access token as soon as its revocation is answered.

The contract with resource servers, its Redis keys and channels, is common/revocation.py
(the guarantee: docs/architecture.md, "Revocation-event contract"): a marker per revoked token, an
event on a channel, and the relay's heartbeats. A resource server trusts what it cached in Redis only
until REVOCATION_FRESHNESS seconds after the newest heartbeat's T (then it asks the auth server instead),
and what its workers keep in memory until REVOCATION_MEMORY_WINDOW after it, with no event missed.

How a revocation gets there, whatever Redis does meanwhile:
1. The transaction that ends the token also writes a `Revocation` row (oauth.models): durable.
2. After the commit, the request sets the marker and publishes the numbered event, in one script.
3. The answer is held (RevocationReasonMiddleware) until no resource server can still trust a
   heartbeat from before the commit: REVOCATION_MEMORY_WINDOW when Redis took the marker (workers
   that answer from memory have dropped the token by then), REVOCATION_FRESHNESS when it did not
   (heartbeats newer than the commit come only after the relay copied the row). A token replaced by
   refresh rotation is not held for: its client already has the new one.
4. The relay (`manage.py revocation_relay`, `relay_forever` below) copies rows not yet copied, with
   their events, and all live markers again when Redis restarted or lost its data, then heartbeats.

The hooks sit on the model, not on the views: every way a token can die early (the revocation
endpoint, refresh rotation and reuse, code replay, logout, the authorized-tokens page, the admin,
cascades from a deleted user or application, a plain ORM delete) ends in an AccessToken row being
deleted, or its expiry moved into the past. Tokens that had already expired are skipped with one
comparison, so `cleartokens` deleting millions of expired rows writes and publishes nothing.
"""

import contextvars
import functools
import hashlib
import logging
import math
import time
from contextlib import contextmanager

import redis
from django.conf import settings
from django.db import DatabaseError, InterfaceError, connection, transaction
from django.utils import timezone

from common.cache import redis_client
from common.revocation import (HEARTBEAT_CHANNEL, RELAY_EPOCH_KEY, REVOCATIONS_CHANNEL, REVOKED_PREFIX, SEQUENCE_KEY,
                               revocation_event)
from oauth.audit import audit
from oauth.metrics import REVOCATION_EVENTS, TOKENS_REVOKED

# Slack added to a held answer's wait: the most the relay's clock may run ahead of an API host's
# (on one host they share a clock; NTP keeps a cluster's nodes within a few milliseconds).
WAIT_MARGIN = 0.05
# Reasons whose answers are not held (step 3 above).
NOT_HELD = {"refresh_token_rotated"}

# Scripts, so that a marker, its sequence number and its event are one step Redis takes whole or not
# at all. `#!lua` declares them writers: Redis then refuses them outright when it refuses writes.
REVOKE_SCRIPT = """#!lua
redis.call('SET', KEYS[1], '1', 'EX', ARGV[1])
local n = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[2], ARGV[3] .. ' ' .. n)
return n
"""
# KEYS: the sequence, the epoch, then one marker per row; ARGV: the two channels, the heartbeat's
# "T W M", the run_id to record as the epoch ("" for none), then per marker its TTL and its event
# ("": set the marker only). An event goes out only with a marker Redis lacked: REVOKE_SCRIPT
# published one with each marker it set. The heartbeat goes last, so it never goes out without them.
RELAY_SCRIPT = """#!lua
for i = 3, #KEYS do
  local event = ARGV[4 + 2 * (i - 2)]
  local lacked = event ~= '' and redis.call('EXISTS', KEYS[i]) == 0
  redis.call('SET', KEYS[i], '1', 'EX', ARGV[3 + 2 * (i - 2)])
  if lacked then
    redis.call('PUBLISH', ARGV[1], event .. ' ' .. redis.call('INCR', KEYS[1]))
  end
end
if ARGV[4] ~= '' then redis.call('SET', KEYS[2], ARGV[4]) end
redis.call('PUBLISH', ARGV[2], ARGV[3] .. ' ' .. (redis.call('GET', KEYS[1]) or '0'))
"""
RELAY_SCRIPT_SHA = hashlib.sha1(RELAY_SCRIPT.encode()).hexdigest()

logger = logging.getLogger(__name__)

# Why tokens are being revoked in the current request or command, for the audit log.
_reason = contextvars.ContextVar("revocation_reason", default="deleted")
# Monotonic time until which the current request's answer must wait (step 3 above).
_answer_not_before = contextvars.ContextVar("revocation_answer_not_before", default=0.0)
# Whether Redis refused a marker during the current request.
_redis_failed = contextvars.ContextVar("revocation_redis_failed", default=False)


@contextmanager
def revocation_reason(reason: str):
    token = _reason.set(reason)
    try:
        yield
    finally:
        _reason.reset(token)


def marker_ttl(expires) -> int:
    return max(1, math.ceil((expires - timezone.now()).total_seconds()))


def _hold_answer(until: float):
    _answer_not_before.set(max(_answer_not_before.get(), until))


def publish(checksum: str, expires, reason: str, **fields):
    """Set the marker and announce one revoked access token (called after the commit: its time is the
    revocation's commit time in the event)."""
    committed = time.time()
    audit("token_revoked", reason=reason, token_sha256=checksum, **fields)
    TOKENS_REVOKED.labels(reason).inc()
    started = time.monotonic()
    if _redis_failed.get():
        # Redis already failed for this request: do not pay its timeout again. The wait covers this
        # token too (pushed back in case it was committed after the first).
        _hold_answer(started + settings.REVOCATION_FRESHNESS + WAIT_MARGIN)
        REVOCATION_EVENTS.labels("failed").inc()
        return
    try:
        # The process's one pool (its timeout: REVOCATION_REDIS_TIMEOUT, no retries): a stalled Redis
        # costs a revocation a bounded wait.
        redis_client().register_script(REVOKE_SCRIPT)(
            keys=[REVOKED_PREFIX + checksum, SEQUENCE_KEY],
            args=[marker_ttl(expires), REVOCATIONS_CHANNEL, revocation_event(checksum, committed)])
        REVOCATION_EVENTS.labels("published").inc()
        if reason not in NOT_HELD and settings.REVOCATION_MEMORY_WINDOW:
            _hold_answer(started + settings.REVOCATION_MEMORY_WINDOW + WAIT_MARGIN)
    except redis.RedisError:
        REVOCATION_EVENTS.labels("failed").inc()
        # The revocation is durable (its Revocation row); the relay copies it once Redis answers.
        logger.exception("revocation marker not set, the answer waits for the caches to lapse",
                         extra={"token_sha256": checksum})
        _redis_failed.set(True)
        _hold_answer(started + settings.REVOCATION_FRESHNESS + WAIT_MARGIN)


def announce(token, expires):
    """Record that `token`, which would have lived until `expires`, ended early (inside its transaction)."""
    if expires <= timezone.now():
        return
    from oauth.models import Revocation

    Revocation.objects.create(token_checksum=token.token_checksum, expires=expires)
    transaction.on_commit(functools.partial(
        publish, token.token_checksum, expires, _reason.get(),
        application_id=token.application_id, user_id=token.user_id,
    ))


def access_token_deleted(sender, instance, **kwargs):
    announce(instance, instance.expires)


def access_token_saved(sender, instance, created, **kwargs):
    # An expiry moved into the past (e.g. edited in the admin) ends the token as surely as a delete.
    loaded = getattr(instance, "_loaded_expires", None)
    if not created and loaded and instance.expires <= timezone.now() < loaded:
        announce(instance, loaded)
    instance._loaded_expires = instance.expires


def user_saved(sender, instance, created, **kwargs):
    """A deactivated user's tokens are revoked: they must not outlive the account."""
    if created or instance.is_active:
        return
    from oauth2_provider.models import get_access_token_model, revoke_access_token

    with revocation_reason("user_deactivated"):
        for access_token in get_access_token_model().objects.filter(user=instance):
            revoke_access_token(access_token)


class RevocationReasonMiddleware:
    """Names the revocation reason after the view, and holds the answer while caches may still be stale."""

    REASONS = {
        "oauth2_provider:revoke-token": "revocation_endpoint",
        "oauth2_provider:authorized-token-delete": "revoked_by_user",
        "oauth2_provider:authorized-app-revoke": "revoked_by_user",
        "oauth2_provider:rp-initiated-logout": "logout",
        "oauth2_provider:delete": "application_deleted",
    }

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        reason, not_before, failed = _reason.set(_reason.get()), _answer_not_before.set(0.0), _redis_failed.set(False)
        try:
            response = self.get_response(request)
            # Not answered before every resource server has stopped trusting what it cached.
            delay = _answer_not_before.get() - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            return response
        finally:
            _reason.reset(reason)
            _answer_not_before.reset(not_before)
            _redis_failed.reset(failed)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match.namespace == "admin":
            _reason.set("admin")
        elif reason := self.REASONS.get(match.view_name):
            _reason.set(reason)


# ---- the relay -------------------------------------------------------------------------------------

def relay_once(client: redis.Redis) -> int:
    """Copy what Redis lacks, then heartbeat, in one script. Returns how many markers were set.

    WATCH holds one connection from the epoch check to EXEC: a Redis that restarted in between breaks
    it (or changed the epoch), and EXEC then fails. The script (RELAY_SCRIPT) heartbeats last, so a
    write Redis refuses stops it before the heartbeat. Rows not copied before get their event too
    (their request's own may never have gone out); every heartbeat carries the newest event's number.
    """
    from oauth.models import Revocation

    # Every revocation committed before this moment is visible to the query below (it starts later).
    beat = math.floor(time.time() * 1000) / 1000
    # The epoch key holds the Redis run_id into which every live revocation was copied. A different
    # run_id (Redis restarted, perhaps from an older snapshot) or none (its data was lost) means: copy
    # them all again before the next heartbeat.
    with client.pipeline() as pipe:
        pipe.watch(RELAY_EPOCH_KEY)
        run_id = pipe.info("server")["run_id"]
        epoch = pipe.get(RELAY_EPOCH_KEY)
        copy_all = epoch is None or epoch.decode() != run_id
        live = Revocation.objects.filter(expires__gt=timezone.now())
        rows = list((live if copy_all else live.filter(relayed=False))
                    .values_list("id", "token_checksum", "expires", "relayed", "created"))
        pipe.multi()
        markers = []
        for _, checksum, expires, relayed, created in rows:
            markers += [marker_ttl(expires), "" if relayed else revocation_event(checksum, created.timestamp())]
        # The windows travel with the heartbeat, so the API cannot trust it longer than answers are held.
        heartbeat = f"{beat:.3f} {settings.REVOCATION_FRESHNESS} {settings.REVOCATION_MEMORY_WINDOW}"
        keys = [SEQUENCE_KEY, RELAY_EPOCH_KEY, *(REVOKED_PREFIX + row[1] for row in rows)]
        # By its digest alone: a script object would ask Redis whether it has it on every round.
        pipe.evalsha(RELAY_SCRIPT_SHA, len(keys), *keys,
                     REVOCATIONS_CHANNEL, HEARTBEAT_CHANNEL, heartbeat, run_id if copy_all else "", *markers)
        try:
            pipe.execute()
        except redis.exceptions.NoScriptError:
            client.script_load(RELAY_SCRIPT)  # a new or flushed Redis: the next round runs it
            raise
    unrelayed = [row[0] for row in rows if not row[3]]
    for start in range(0, len(unrelayed), 5000):  # bounded statements, however many were copied
        Revocation.objects.filter(id__in=unrelayed[start:start + 5000]).update(relayed=True)
    return len(rows)


def forget_expired(batch: int = 5000) -> int:
    """Delete revocation rows whose tokens would have expired by now."""
    from oauth.models import Revocation

    ids = Revocation.objects.filter(expires__lte=timezone.now()).values_list("id", flat=True)[:batch]
    return Revocation.objects.filter(id__in=list(ids)).delete()[0]


def relay_forever(interval: float, cleanup_every: float = 60.0):
    """The revocation relay's loop (`manage.py revocation_relay`); no heartbeat while anything fails."""
    failing, next_cleanup = False, 0.0
    while True:
        started = time.monotonic()
        try:
            connection.close_if_unusable_or_obsolete()
            copied = relay_once(redis_client())
            if copied or failing:
                logger.info("revocation relay: %d marker(s) copied, heartbeating", copied)
            failing = False
            if started >= next_cleanup:
                forget_expired()
                next_cleanup = started + cleanup_every
        except (redis.RedisError, DatabaseError, InterfaceError) as exc:
            if not failing:
                logger.warning("revocation relay stopped heartbeating: %r", exc)
            failing = True
            redis_client().connection_pool.disconnect()
            connection.close()
        time.sleep(max(0.0, interval - (time.monotonic() - started)))
