"""The revocation contract between the auth server and resource servers (its Redis names and digest).

    oauth2:revoked:<sha256>        marker "1", kept until the token would have expired (at least 1 s)
    oauth2:revocations             channel: "<sha256> <T>" for each revoked token, published with its
                                   marker: T is the Unix time (seconds, with a fraction) at which the
                                   auth server saw the revocation commit. Listeners also take a bare
                                   "<sha256>" (no time: nothing to measure the lag from).
    oauth2:revocations:heartbeat   channel: "T W", published by the auth server's relay only once every
                                   revocation committed before Unix time T has its marker in Redis; W
                                   is how long after T a resource server may trust its cache
    oauth2:revocations:epoch       the Redis run_id into which the relay last copied every live marker

<sha256> is `token_digest(token)`, never the token. The auth server writes all of these; resource
servers read the markers and subscribe to the channels. docs/architecture.md, "Revocation-event
contract", has the guarantee they make together.
"""

import hashlib
import re

REVOKED_PREFIX = "oauth2:revoked:"
REVOCATIONS_CHANNEL = "oauth2:revocations"
HEARTBEAT_CHANNEL = "oauth2:revocations:heartbeat"
RELAY_EPOCH_KEY = "oauth2:revocations:epoch"


def token_digest(token: str) -> str:
    """Lowercase hex SHA-256 of a token: what Redis and the logs hold, as DOT's `token_checksum`."""
    return hashlib.sha256(token.encode()).hexdigest()


_EVENT = re.compile(r"^([0-9a-f]{64})(?: ([0-9]+(?:\.[0-9]+)?))?$")


def revocation_event(digest: str, committed: float) -> str:
    """The message published on REVOCATIONS_CHANNEL for a revocation committed at Unix time `committed`."""
    return f"{digest} {committed:.6f}"


def parse_revocation_event(data: str) -> tuple[str, float | None] | None:
    """(digest, commit time or None) of a revocation event; None if it is not one."""
    match = _EVENT.match(data)
    if not match:
        return None
    digest, committed = match.groups()
    return digest, float(committed) if committed else None
