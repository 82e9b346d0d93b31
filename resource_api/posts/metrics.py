"""The posts API's own Prometheus metrics (observability/metrics.yml; common/metrics.py says how
they are served)."""

from prometheus_client import Counter, Histogram

TOKEN_CACHE_LOOKUPS = Counter("oauth_token_cache_lookups", "Bearer tokens checked, by where the answer came from.",
                              ["result"])
# Every API request counts one of these: their series, looked up once (labels() takes a lock).
CACHE_MEMORY, CACHE_HIT, CACHE_MISS, CACHE_BYPASS = (TOKEN_CACHE_LOOKUPS.labels(result)
                                                     for result in ("memory", "hit", "miss", "bypass"))
TOKEN_MEMORY_EMPTIED = Counter("oauth_token_memory_emptied", "Times a worker emptied its memory of checked tokens, "
                               "by why: it could not prove it had seen every revocation.", ["reason"])
TOKEN_CACHE_DURATION = Histogram(
    "oauth_token_cache_duration_seconds",
    "Time of each Redis read of a token's cached answer and revocation marker, failed ones included.",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, float("inf")))
INTROSPECTIONS = Counter("oauth_introspections", "Introspection calls to the auth server, by result.", ["result"])
INTROSPECTION_DURATION = Histogram(
    "oauth_introspection_duration_seconds", "Time of each introspection call, failed ones included.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, float("inf")))
REVOCATION_EVENTS_RECEIVED = Counter(
    "oauth_revocation_events_received", "Revocation events this worker's listener received.")
REVOCATION_LAG = Histogram(
    "oauth_revocation_lag_seconds",
    "Seconds from the auth server's commit of a revocation to this worker dropping the token's cached answer.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, float("inf")))
BEARER_ERRORS = Counter("oauth_api_bearer_errors", "API answers refusing the bearer token, by error and scope needed.",
                        ["error", "required_scope"])
