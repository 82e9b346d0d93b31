"""The API's own metrics (posts/metrics.py) move once per event they count. Redis and the auth
server are not running here: their failures are real; their answers are stood in for where needed."""

import time

import pytest
from django.test import RequestFactory

from posts import auth, introspection, token_cache
from posts.auth import BearerError, OAuth2, TokenInfo
from tests.unit.metrics import Delta

DIGEST = "c" * 64


@pytest.fixture
def trusted():
    token_cache.heard_heartbeat(time.time(), 1.0)
    yield
    token_cache._distrust()


def redis_answering(monkeypatch, cached, revoked):
    class Client:
        def mget(self, *keys):
            return [cached, revoked]

    monkeypatch.setattr(token_cache, "redis_client", Client)


def test_a_lookup_without_fresh_heartbeats_is_a_bypass():
    token_cache._distrust()
    with Delta("oauth_token_cache_lookups_total", result="bypass") as bypass:
        assert token_cache.lookup(DIGEST) is None
    assert bypass.value == 1


def test_a_lookup_redis_fails_is_a_bypass(trusted):
    with Delta("oauth_token_cache_lookups_total", result="bypass") as bypass:
        assert token_cache.lookup(DIGEST) is None
    assert bypass.value == 1


def test_each_redis_read_is_timed_failed_ones_included_and_a_bypass_reads_nothing(trusted, monkeypatch):
    with Delta("oauth_token_cache_duration_seconds_count") as timed:
        token_cache.lookup(DIGEST)  # Redis is not running here: the read fails
    assert timed.value == 1
    token_cache.heard_heartbeat(time.time(), 1.0)  # trusted again, as the next heartbeat would
    with Delta("oauth_token_cache_duration_seconds_count") as timed:
        redis_answering(monkeypatch, None, None)
        token_cache.lookup(DIGEST)
    assert timed.value == 1
    token_cache._distrust()
    with Delta("oauth_token_cache_duration_seconds_count") as timed:
        token_cache.lookup(DIGEST)
    assert timed.value == 0


def test_a_cached_answer_or_a_marker_is_a_hit_and_nothing_usable_a_miss(trusted, monkeypatch):
    answer = {"active": True, "scope": "read", "client_id": "c", "exp": int(time.time() + 60)}
    with Delta("oauth_token_cache_lookups_total", result="hit") as hits:
        redis_answering(monkeypatch, token_cache.seal(DIGEST, answer), None)
        assert token_cache.lookup(DIGEST) == answer
        redis_answering(monkeypatch, None, b"1")
        assert token_cache.lookup(DIGEST) == token_cache.INACTIVE
    assert hits.value == 2
    with Delta("oauth_token_cache_lookups_total", result="miss") as misses:
        redis_answering(monkeypatch, None, None)
        assert token_cache.lookup(DIGEST) is None
        redis_answering(monkeypatch, token_cache.seal("d" * 64, answer), None)  # not this token's entry
        assert token_cache.lookup(DIGEST) is None
    assert misses.value == 2


def test_an_introspection_the_auth_server_does_not_answer_is_failed_and_timed():
    # Nothing listens on this process's AUTH_INTERNAL_URL (tests/unit).
    with Delta("oauth_introspections_total", result="failed") as failed, \
            Delta("oauth_introspection_duration_seconds_count") as timed:
        with pytest.raises(introspection.AuthServerUnavailable):
            introspection.introspect("t")
    assert failed.value == 1 and timed.value == 1


@pytest.mark.parametrize("active, result", [(True, "active"), (False, "inactive")])
def test_introspections_are_counted_by_answer(monkeypatch, active, result):
    monkeypatch.setattr(introspection, "_introspect", lambda token: {"active": active})
    with Delta("oauth_introspections_total", result=result) as counted, \
            Delta("oauth_introspection_duration_seconds_count") as timed:
        introspection.introspect("t")
    assert counted.value == 1 and timed.value == 1


def event(data: str) -> dict:
    return {"type": "message", "channel": b"oauth2:revocations", "data": data.encode()}


def test_an_event_with_its_commit_time_is_received_and_its_lag_observed():
    with Delta("oauth_revocation_events_received_total") as received, \
            Delta("oauth_revocation_lag_seconds_count") as lags, \
            Delta("oauth_revocation_lag_seconds_sum") as lag, \
            Delta("oauth_revocation_lag_seconds_bucket", le="0.25") as fast, \
            Delta("oauth_revocation_lag_seconds_bucket", le="1.0") as within_a_second:
        token_cache._handle(event(f"{DIGEST} {time.time() - 0.5:.6f}"))
    assert received.value == 1 and lags.value == 1
    assert 0.5 <= lag.value < 0.9
    assert fast.value == 0 and within_a_second.value == 1


def test_an_event_of_the_old_form_is_received_without_a_lag():
    with Delta("oauth_revocation_events_received_total") as received, \
            Delta("oauth_revocation_lag_seconds_count") as lags:
        token_cache._handle(event(DIGEST))
        token_cache._handle(event("not an event"))
    assert received.value == 1 and lags.value == 0


def api_request(header=None):
    return RequestFactory().get("/api/posts/", **({"HTTP_AUTHORIZATION": header} if header else {}))


class Resolved(OAuth2):
    def resolve(self, token):
        return TokenInfo(scopes=frozenset({"read"}), client_id="c", user_id="1", username="u", expires_at=0)


@pytest.mark.parametrize("guard, header, error, scope", [
    (OAuth2("write"), None, "missing_token", "write"),
    (OAuth2("read"), "Bearer !", "invalid_request", "read"),
    (OAuth2(optional=True), "Bearer !", "invalid_request", "none"),
    (Resolved("profile"), "Bearer abc", "insufficient_scope", "profile"),
])
def test_refusals_are_counted_by_error_and_the_scope_needed(guard, header, error, scope):
    with Delta("oauth_api_bearer_errors_total", error=error, required_scope=scope) as refused:
        with pytest.raises(BearerError):
            guard(api_request(header))
    assert refused.value == 1


def test_an_accepted_token_is_not_counted():
    with Delta("oauth_api_bearer_errors_total", error="insufficient_scope", required_scope="read") as refused:
        assert Resolved("read")(api_request("Bearer abc")).client_id == "c"
    assert refused.value == 0


# ---- requests (common/metrics.py, django-prometheus), through the service's whole middleware stack ----
def test_answers_are_counted_per_view_with_bounded_labels_and_probes_left_out():
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    with Delta("django_http_responses_total_by_status_view_method_total",
               status="404", view="<unnamed view>", method="GET") as not_found, \
            Delta("django_http_requests_latency_seconds_by_view_method_count",
                  view="<unnamed view>", method="GET") as timed, \
            Delta("django_http_responses_total_by_status_view_method_total",
                  status="404", view="<unnamed view>", method="<invalid method>") as invalid:
        client.get("/no-such-page/")
        client.generic("BREW", "/no-such-page/")
    assert not_found.value == 1 and timed.value == 1 and invalid.value == 1
    with Delta("django_http_responses_total_by_status_view_method_total",
               status="200", view="<unnamed view>", method="GET") as probes:
        assert client.get("/healthz").status_code == 200
    assert probes.value == 0


def test_latency_buckets_are_the_contracts():
    from django.test import Client
    from prometheus_client import REGISTRY

    Client(HTTP_HOST="localhost").get("/no-such-page/")
    bounds = {float(s.labels["le"]) for metric in REGISTRY.collect()
              if metric.name == "django_http_requests_latency_seconds_by_view_method"
              for s in metric.samples if s.name.endswith("_bucket")}
    assert bounds == {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, float("inf")}
