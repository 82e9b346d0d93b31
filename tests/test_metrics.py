"""Each service's /metrics, served by its gunicorn master on its own port (loopback on the local
stack), merges the samples of all its workers, dead ones included; nginx never serves it."""

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest
import redis
import requests
from prometheus_client.parser import text_string_to_metric_families

from stack import flows
from stack.local import LocalStack
from tests.resource_api.helpers import wait_until


def samples(stack, service: str) -> list:
    text = requests.get(stack.metrics_url(service), timeout=5).text
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def total(stack, service: str, name: str, **labels) -> float:
    return sum(s.value for s in samples(stack, service)
               if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


@pytest.mark.e2e
@pytest.mark.parametrize("path", ["/metrics", "/metrics/", "/o/metrics", "/api/metrics"])
def test_metrics_are_not_served_through_nginx(stack, path):
    r = requests.get(f"{stack.url}{path}")
    assert r.status_code == 404
    assert "django_http" not in r.text and "oauth_" not in r.text


@pytest.fixture
def local(stack) -> LocalStack:
    if not isinstance(stack, LocalStack):
        pytest.skip("reads the local stack's metrics ports")
    return stack


RESPONSES = "django_http_responses_total_by_status_view_method_total"


def test_metrics_merge_every_worker_of_a_service_those_replaced_included(local):
    api = f"{local.service_url('resource_api')}/api/public/"
    before = total(local, "resource_api", RESPONSES, status="200", method="GET")

    def call(_):
        # A connection each, so that the requests spread over the workers.
        return requests.get(api, headers={"Host": "localhost", "Connection": "close"}, timeout=10).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(call, range(40))) == {200}
    assert total(local, "resource_api", RESPONSES, status="200", method="GET") - before == 40

    # Every worker that served them is replaced: what they counted stays in the sum.
    master = psutil.Process(local.pid("resource_api"))
    old = {worker.pid for worker in master.children()}
    assert len(old) >= 2, "the test stack runs several workers per service"
    for pid in old:
        os.kill(pid, signal.SIGTERM)
    assert wait_until(lambda: len({w.pid for w in master.children()} - old) == len(old), 30), "no new workers"
    assert wait_until(lambda: call(0) == 200, 30)
    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(call, range(19))) == {200}
    assert total(local, "resource_api", RESPONSES, status="200", method="GET") - before == 40 + 1 + 19
    # Probes are not users' traffic.
    assert not [s for s in samples(local, "resource_api") if s.name == RESPONSES and s.labels["view"] == "<unnamed view>"
                and s.labels["status"] == "200"]


def test_a_token_and_its_revocation_move_the_auth_servers_and_the_apis_metrics(local):
    client = flows.loadtest_client(local)
    issued = dict(grant_type="client_credentials", client_type="confidential")
    before = {
        "issued": total(local, "auth_server", "oauth_tokens_issued_total", **issued),
        "invalid_client": total(local, "auth_server", "oauth_token_errors_total", error="invalid_client"),
        "revoked": total(local, "auth_server", "oauth_tokens_revoked_total", reason="revocation_endpoint"),
        "published": total(local, "auth_server", "oauth_revocation_events_total", outcome="published"),
        "received": total(local, "resource_api", "oauth_revocation_events_received_total"),
        "lags": total(local, "resource_api", "oauth_revocation_lag_seconds_count"),
        "within_a_second": total(local, "resource_api", "oauth_revocation_lag_seconds_bucket", le="1.0"),
        "token_view": total(local, "auth_server", "django_http_requests_latency_seconds_by_view_method_count",
                            view="oauth2_provider:token", method="POST"),
        "sql": total(local, "auth_server", "django_db_query_duration_seconds_count", alias="default",
                     vendor="postgresql"),
    }
    # Every API worker listens (a worker that is between two subscriptions misses events, by design:
    # it distrusts its cache until the next heartbeat).
    workers = len(psutil.Process(local.pid("resource_api")).children())
    with redis.Redis.from_url(local.redis_url()) as admin:
        assert wait_until(lambda: admin.pubsub_numsub("oauth2:revocations")[0][1] == workers, 30), \
            f"not every API worker subscribed: {admin.pubsub_numsub('oauth2:revocations')}"
    token = flows.client_credentials_token(local.url, client).json()["access_token"]
    assert requests.post(f"{local.url}/o/token/", data={"grant_type": "client_credentials"},
                         auth=(client.client_id, "wrong")).status_code == 401
    assert requests.post(f"{local.url}/o/revoke_token/", data={"token": token}, auth=client.auth).status_code == 200

    assert total(local, "auth_server", "oauth_tokens_issued_total", **issued) - before["issued"] == 1
    assert total(local, "auth_server", "oauth_token_errors_total", error="invalid_client") - before["invalid_client"] == 1
    assert total(local, "auth_server", "oauth_tokens_revoked_total", reason="revocation_endpoint") - before["revoked"] == 1
    assert total(local, "auth_server", "oauth_revocation_events_total", outcome="published") - before["published"] == 1
    assert total(local, "auth_server", "django_http_requests_latency_seconds_by_view_method_count",
                 view="oauth2_provider:token", method="POST") - before["token_view"] == 2
    # At least the token's INSERT and the revocation's statements.
    assert total(local, "auth_server", "django_db_query_duration_seconds_count", alias="default",
                 vendor="postgresql") - before["sql"] >= 3
    # Every API worker hears the event and drops the token, each observing the lag.
    lags = lambda: total(local, "resource_api", "oauth_revocation_lag_seconds_count") - before["lags"]  # noqa: E731
    assert wait_until(lambda: lags() == workers, 10), f"{lags()} lags observed by {workers} workers"
    assert total(local, "resource_api", "oauth_revocation_events_received_total") - before["received"] == workers
    assert total(local, "resource_api", "oauth_revocation_lag_seconds_bucket", le="1.0") \
        - before["within_a_second"] == workers


@pytest.mark.parametrize("allow, event", [(True, "approved"), (False, "denied")])
def test_device_codes_issued_and_answered_are_counted(local, allow, event):
    def device_codes(name):
        return total(local, "auth_server", "oauth_device_codes_total", event=name)

    before = {name: device_codes(name) for name in ("issued", event)}
    started = flows.device_authorization(local.url, flows.device_client(local).client_id).json()
    assert device_codes("issued") - before["issued"] == 1
    session = flows.login(local.url, local.env["DEMO_USERNAME"], local.env["DEMO_PASSWORD"])
    confirmation = flows.enter_user_code(session, local.url, started["user_code"])
    assert flows.answer_device(session, confirmation, allow=allow).status_code == 200
    assert device_codes(event) - before[event] == 1


def test_walkthrough_steps_and_the_apis_refusals_are_counted(local):
    from tests.consumer_demo.conftest import Visitor

    def steps(step, outcome):
        return total(local, "consumer_demo", "oauth_demo_walkthrough_steps_total", step=step, outcome=outcome)

    counted = [("sign_in", "completed"), ("posts_create", "completed"), ("posts_me", "completed"),
               ("posts_create", "failed")]
    before = {key: steps(*key) for key in counted}
    refused = dict(error="insufficient_scope", required_scope="profile")
    refusals = total(local, "resource_api", "oauth_api_bearer_errors_total", **refused)
    visitor = Visitor(local)
    visitor.signed_in(("read", "write"))
    visitor.post("/posts/create/", {"title": "Counted", "body": "By the metrics test."})
    visitor.post("/posts/me/")  # 403: the refusal the step sets out to show
    visitor.post("/posts/create/", {"title": "x" * 201, "body": "too long a title"})  # 400: failed
    assert {key: steps(*key) - before[key] for key in counted} == {key: 1 for key in counted}
    assert total(local, "resource_api", "oauth_api_bearer_errors_total", **refused) - refusals == 1
