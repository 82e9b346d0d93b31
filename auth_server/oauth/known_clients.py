"""Client rows that each worker remembers for client-credentials token requests, checked when used.

Such a request is two statements: the client's SELECT and the token's INSERT. Within
`remembered()`, each worker answers the SELECT from memory, with the row's version (Postgres's
`xmin`, new with every UPDATE of the row). A remembered row is trusted only this far:

- It may only say yes. A request it would refuse (wrong secret, grant type or scope not allowed)
  is decided again on the row as stored now (oauth2_validators.py).
- Its yes is checked when the token is stored: the INSERT stores it only if the client's row still
  has that version, and raises `ClientChanged` if not (`AccessTokenManager.insert`). The token view
  then forgets the row and runs the request again on the stored one (views.py).

So no token is issued on a row that is no longer the stored one (a reset secret, a narrowed
client, a deleted client), and no request is refused because of one. Memory is per process and
needs no invalidation: a changed row is noticed by the next request that uses it.
"""

import contextlib
import contextvars
import copy
import time

from oauth.models import Application

# Memory only saves a query; correctness does not depend on these. A row is read again after this
# long, and a worker never holds more rows than this.
REMEMBER_SECONDS = 300
MAX_REMEMBERED = 1000

_rows: dict[str, tuple[float, Application]] = {}
# Within `remembered()`: the ids of the clients this request was answered about from memory.
_served = contextvars.ContextVar("known_clients_served", default=None)


@contextlib.contextmanager
def remembered():
    """Within the block, `load()` answers from this worker's memory."""
    token = _served.set(set())
    try:
        yield
    finally:
        _served.reset(token)


def load(client_id: str) -> Application | None:
    """The client with this id, or None; remembered within `remembered()`, read from Postgres otherwise."""
    served = _served.get()
    if served is None:
        return Application.objects.by_client_id(client_id)
    now = time.monotonic()
    remembered_until, client = _rows.get(client_id, (0.0, None))
    if remembered_until >= now:
        served.add(client_id)
    else:
        client = Application.objects.by_client_id(client_id, versioned=True)
        if client is None:
            return None  # an unknown id is asked again each time: it may be registered any moment
        if len(_rows) >= MAX_REMEMBERED:
            _rows.clear()
        _rows[client_id] = (now + REMEMBER_SECONDS, client)
    # Each request gets its own copy: DOT and oauthlib may set attributes on the client they use.
    return copy.copy(client)


def forget(client_id: str | None) -> bool:
    """Drop the row remembered for this client id.

    True if this request was answered from that row: what it decided must be decided again.
    """
    _rows.pop(client_id, None)
    served = _served.get()
    if served is None or client_id not in served:
        return False
    served.discard(client_id)
    return True
