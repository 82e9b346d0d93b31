"""Revocation events: resource servers learn at once that an access token stopped being valid.

Contract (docs/auth-server.md, "Revocation events"): after the transaction commits,
    SET oauth2:revoked:<sha256> 1 EX <seconds the token had left, at least 1>
    PUBLISH oauth2:revocations <sha256>
where <sha256> is the lowercase hex SHA-256 of the token (DOT's `token_checksum`), never the token.

The hooks sit on the model, not on the views: every way a token can die early (the revocation
endpoint, refresh rotation and reuse, code replay, logout, the authorized-tokens page, the admin,
cascades from a deleted user or application, a plain ORM delete) ends in an AccessToken row being
deleted, or its expiry moved into the past. Tokens that had already expired are skipped with one
comparison, so `cleartokens` deleting millions of expired rows publishes nothing.
"""

import contextvars
import functools
import logging
import math
from contextlib import contextmanager

import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from oauth.audit import audit

CHANNEL = "oauth2:revocations"
KEY_PREFIX = "oauth2:revoked:"

logger = logging.getLogger(__name__)

# Why tokens are being revoked in the current request or command, for the audit log.
_reason = contextvars.ContextVar("revocation_reason", default="deleted")


@contextmanager
def revocation_reason(reason: str):
    token = _reason.set(reason)
    try:
        yield
    finally:
        _reason.reset(token)


@functools.cache
def _redis() -> redis.Redis:
    # Short timeouts: a Redis outage must not hold up the revocation that has already committed.
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)


def publish(checksum: str, expires, reason: str, **fields):
    """Announce one revoked access token (called after commit)."""
    ttl = max(1, math.ceil((expires - timezone.now()).total_seconds()))
    audit("token_revoked", reason=reason, token_sha256=checksum, **fields)
    try:
        # The key first: a subscriber that checks it on the message always finds it.
        with _redis().pipeline(transaction=False) as pipe:
            pipe.set(KEY_PREFIX + checksum, 1, ex=ttl)
            pipe.publish(CHANNEL, checksum)
            pipe.execute()
    except redis.RedisError:
        # The token is revoked in the database either way; resource servers then notice it when
        # their cached introspection result expires. Logged so operators see the gap.
        logger.exception("revocation event not published", extra={"event": {"token_sha256": checksum}})


def announce(token, expires):
    """Schedule the event for `token`, which would have lived until `expires`, unless that has passed."""
    if expires <= timezone.now():
        return
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
    """Names the revocation reason after the view that handles the request."""

    REASONS = {
        "oauth2_provider:revoke-token": "revocation_endpoint",
        "oauth2_provider:authorized-token-delete": "revoked_by_user",
        "oauth2_provider:rp-initiated-logout": "logout",
        "oauth2_provider:delete": "application_deleted",
    }

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _reason.set(_reason.get())
        try:
            return self.get_response(request)
        finally:
            _reason.reset(token)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match.namespace == "admin":
            _reason.set("admin")
        elif reason := self.REASONS.get(match.view_name):
            _reason.set(reason)
