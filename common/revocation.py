"""The revocation contract between the auth server and resource servers (its Redis names and digest).

    oauth2:revoked:<sha256>        marker "1", kept until the token would have expired (at least 1 s)
    oauth2:revocations             channel: <sha256> of each revoked token, published with its marker
    oauth2:revocations:heartbeat   channel: "T W", published by the auth server's relay only once every
                                   revocation committed before Unix time T has its marker in Redis; W
                                   is how long after T a resource server may trust its cache
    oauth2:revocations:epoch       the Redis run_id into which the relay last copied every live marker

<sha256> is `token_digest(token)`, never the token. The auth server writes all of these; resource
servers read the markers and subscribe to the channels. docs/architecture.md, "Revocation-event
contract", has the guarantee they make together.
"""

import hashlib

REVOKED_PREFIX = "oauth2:revoked:"
REVOCATIONS_CHANNEL = "oauth2:revocations"
HEARTBEAT_CHANNEL = "oauth2:revocations:heartbeat"
RELAY_EPOCH_KEY = "oauth2:revocations:epoch"


def token_digest(token: str) -> str:
    """Lowercase hex SHA-256 of a token: what Redis and the logs hold, as DOT's `token_checksum`."""
    return hashlib.sha256(token.encode()).hexdigest()
