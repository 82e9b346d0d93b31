"""The revocation contract between the auth server and resource servers (its Redis names and digest).

    oauth2:revoked:<sha256>        marker "1", kept until the token would have expired (at least 1 s)
    oauth2:revocations:seq         how many revocation events were ever published (INCR with each)
    oauth2:revocations             channel: "<sha256> <T> <N>" for each revoked token, published in one
                                   script with its marker and the INCR that numbered it N. T is the Unix
                                   time (seconds, with a fraction) at which the auth server saw the
                                   revocation commit (the relay, publishing one whose marker Redis
                                   lacked: when its row was written). Listeners also take "<sha256>"
                                   and "<sha256> <T>" (unnumbered: the memory is emptied).
    oauth2:revocations:heartbeat   channel: "T W M N", published by the auth server's relay only once every
                                   revocation committed before Unix time T has its marker in Redis and
                                   its event published; N is the sequence number of the newest event
                                   then. W is how long after T a resource server may trust its Redis
                                   cache, M how long it may trust what its workers keep in memory.
    oauth2:revocations:epoch       the Redis run_id into which the relay last copied every live marker

Events and heartbeats go out in sequence order on one channel pair: a subscriber that has seen event
N - 1, then sees event N or a heartbeat saying N - 1, has missed nothing.

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
SEQUENCE_KEY = "oauth2:revocations:seq"


def token_digest(token: str) -> str:
    """Lowercase hex SHA-256 of a token: what Redis and the logs hold, as DOT's `token_checksum`."""
    return hashlib.sha256(token.encode()).hexdigest()


_EVENT = re.compile(r"^([0-9a-f]{64})(?: ([0-9]+(?:\.[0-9]+)?))?(?: ([0-9]+))?$")


def revocation_event(digest: str, committed: float) -> str:
    """The start of the message published on REVOCATIONS_CHANNEL for a revocation committed at Unix
    time `committed`; the script that publishes it appends the sequence number."""
    return f"{digest} {committed:.6f}"


def parse_revocation_event(data: str) -> tuple[str, float | None, int | None] | None:
    """(digest, commit time or None, sequence number or None) of a revocation event; None if it is not one."""
    match = _EVENT.match(data)
    if not match:
        return None
    digest, committed, number = match.groups()
    return digest, float(committed) if committed else None, int(number) if number else None


def parse_heartbeat(data: str) -> tuple[float, float, float | None, int | None] | None:
    """(T, W, M or None, N or None) of a heartbeat ("T W" from an older relay: no memory window); None if
    it is not one."""
    fields = data.split()
    try:
        if len(fields) == 2:
            return float(fields[0]), float(fields[1]), None, None
        if len(fields) == 4:
            return float(fields[0]), float(fields[1]), float(fields[2]), int(fields[3])
    except ValueError:
        pass
    return None
