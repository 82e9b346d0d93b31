"""RFC 7662 token introspection at the auth server, as the API's own confidential client."""

import functools
import logging
import time

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter

from posts.metrics import INTROSPECTION_DURATION, INTROSPECTIONS

logger = logging.getLogger(__name__)


class AuthServerUnavailable(Exception):
    """The auth server could not say whether a token is valid (down, slow or misbehaving)."""


@functools.cache
def _session() -> requests.Session:
    # One keep-alive connection pool per worker: no TCP handshake per cache miss.
    session = requests.Session()
    session.auth = (settings.INTROSPECTION_CLIENT_ID, settings.INTROSPECTION_CLIENT_SECRET)
    session.mount("http://", HTTPAdapter(pool_maxsize=8, max_retries=0))
    session.mount("https://", HTTPAdapter(pool_maxsize=8, max_retries=0))
    return session


def introspect(token: str) -> dict:
    """The auth server's answer for `token` ({"active": false} or its claims)."""
    started = time.perf_counter()
    try:
        answer = _introspect(token)
    except AuthServerUnavailable:
        INTROSPECTIONS.labels("failed").inc()
        raise
    finally:
        INTROSPECTION_DURATION.observe(time.perf_counter() - started)
    INTROSPECTIONS.labels("active" if answer["active"] else "inactive").inc()
    return answer


def _introspect(token: str) -> dict:
    try:
        response = _session().post(
            f"{settings.AUTH_INTERNAL_URL}/o/introspect/", data={"token": token},
            timeout=(settings.INTROSPECTION_CONNECT_TIMEOUT, settings.INTROSPECTION_READ_TIMEOUT),
        )
    except requests.RequestException as exc:
        logger.error("introspection failed: %r", exc)
        raise AuthServerUnavailable from exc
    if response.status_code != 200:
        # 401/403 here mean the API's own client credentials are wrong: an operator's problem, not the caller's.
        logger.error("introspection answered %s: %s", response.status_code, response.text[:200])
        raise AuthServerUnavailable
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or not isinstance(answer.get("active"), bool):
        logger.error("introspection answer is not RFC 7662: %s", response.text[:200])
        raise AuthServerUnavailable
    return answer
