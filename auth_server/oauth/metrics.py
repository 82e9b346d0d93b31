"""The auth server's own Prometheus metrics (observability/metrics.yml; common/metrics.py says how
they are served). Each is counted where its audit event, or its answer, is made."""

from prometheus_client import Counter

TOKENS_ISSUED = Counter("oauth_tokens_issued", "Access tokens issued by the token endpoint.",
                        ["grant_type", "client_type"])
TOKEN_ERRORS = Counter("oauth_token_errors", "Token endpoint answers with an OAuth error, by error code.", ["error"])
CLIENT_AUTHENTICATION_FAILURES = Counter(
    "oauth_client_authentication_failures", "Failed client authentications, by endpoint.", ["endpoint"])
TOKENS_REVOKED = Counter("oauth_tokens_revoked", "Access tokens ended early, by reason.", ["reason"])
REVOCATION_EVENTS = Counter(
    "oauth_revocation_events", "Revocation markers and events sent to Redis after the commit, by outcome.",
    ["outcome"])
LOGINS = Counter("oauth_logins", "Sign-in attempts, by outcome.", ["outcome"])
LOGIN_LOCKOUTS = Counter("oauth_login_lockouts", "Sign-in attempts refused by a lock.")
DEVICE_CODES = Counter("oauth_device_codes", "Device authorization codes (RFC 8628), by event.", ["event"])

_issued = {}


def token_issued(grant_type: str, client_type: str):
    """Count a token issued (the token endpoint's hot path: each series is looked up once)."""
    if (series := _issued.get((grant_type, client_type))) is None:
        series = _issued[grant_type, client_type] = TOKENS_ISSUED.labels(grant_type, client_type)
    series.inc()


# The endpoints that authenticate clients, by URL name (oauth2_validators._audit_client_failure).
CLIENT_AUTHENTICATION_ENDPOINTS = {"token": "token", "introspect": "introspect", "revoke-token": "revoke",
                                   "device-authorization": "device_authorization"}
