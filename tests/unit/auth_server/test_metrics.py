"""The auth server's own metrics (oauth/metrics.py) move once per event they count. Where the event
needs Postgres or Redis, the test calls the code that counts it with what it is given there."""

import contextvars
import datetime
import time

from django.contrib.auth import get_user_model
from django.test import RequestFactory
from django.utils import timezone
from oauth2_provider.models import get_application_model
from oauthlib.common import Request as OAuthlibRequest

from oauth import audit, hot_path, login_guard, revocation
from oauth.oauth2_validators import OAuth2Validator
from oauth.views import TokenView
from tests.unit.metrics import Delta

Application = get_application_model()


def test_a_token_issued_is_counted_by_grant_and_client_type(monkeypatch):
    monkeypatch.setattr(hot_path.RememberedClients, "save_bearer_token", lambda *args, **kwargs: None)
    request = OAuthlibRequest("http://testserver/o/token/")
    request.grant_type, request.user = "client_credentials", None
    request.client = Application(client_id="c", client_type=Application.CLIENT_CONFIDENTIAL)
    with Delta("oauth_tokens_issued_total", grant_type="client_credentials", client_type="confidential") as issued:
        OAuth2Validator().save_bearer_token({"access_token": "a", "scope": "read"}, request)
    assert issued.value == 1


def test_a_token_endpoint_error_is_counted_by_its_code():
    request = RequestFactory().post("/o/token/", {"grant_type": "no_such_grant"})
    with Delta("oauth_token_errors_total", error="unsupported_grant_type") as errors:
        response = TokenView.as_view()(request)
    assert response.status_code == 400 and errors.value == 1


def test_an_error_code_outside_the_standard_ones_is_counted_as_other(monkeypatch):
    from django.http import HttpResponse

    monkeypatch.setattr(hot_path.TokenView, "post",
                        lambda self, request: HttpResponse(b'{"error": "x-made-up"}', status=400))
    with Delta("oauth_token_errors_total", error="other") as other:
        TokenView.as_view()(RequestFactory().post("/o/token/"))
    assert other.value == 1


def test_client_authentication_failures_are_counted_by_endpoint():
    for path, endpoint in (("/o/token/", "token"), ("/o/introspect/", "introspect"),
                           ("/o/revoke_token/", "revoke")):
        with Delta("oauth_client_authentication_failures_total", endpoint=endpoint) as failures:
            OAuth2Validator()._audit_client_failure(OAuthlibRequest(f"http://testserver{path}"))
        assert failures.value == 1, path


def fake_redis(sent: list):
    """A client whose revocation script records what it would publish (the script itself runs in
    Redis in the end-to-end suite)."""
    class Client:
        def register_script(self, script):
            def run(keys, args):
                ttl, channel, event = args
                sent.append((channel, f"{event} {len(sent) + 1}"))
            return run

    return lambda: Client()


def test_a_revocation_is_counted_by_reason_and_its_event_carries_the_commit_time(monkeypatch):
    sent = []
    monkeypatch.setattr(revocation, "redis_client", fake_redis(sent))
    expires = timezone.now() + datetime.timedelta(minutes=5)
    with Delta("oauth_tokens_revoked_total", reason="logout") as revoked, \
            Delta("oauth_revocation_events_total", outcome="published") as published:
        before = time.time()
        contextvars.copy_context().run(revocation.publish, "a" * 64, expires, "logout")
    assert revoked.value == 1 and published.value == 1
    [(channel, message)] = sent
    digest, committed, number = message.split(" ")
    assert channel == "oauth2:revocations" and digest == "a" * 64 and number == "1"
    assert before <= float(committed) <= time.time()


def test_a_revocation_redis_did_not_take_is_counted_as_failed():
    # Nothing listens on this process's REDIS_URL (tests/unit): the real client fails.
    expires = timezone.now() + datetime.timedelta(minutes=5)
    with Delta("oauth_revocation_events_total", outcome="failed") as failed, \
            Delta("oauth_tokens_revoked_total", reason="admin") as revoked:
        contextvars.copy_context().run(revocation.publish, "b" * 64, expires, "admin")
    assert failed.value == 1 and revoked.value == 1


def test_sign_ins_and_lockouts_are_counted():
    user = get_user_model()(username="alice", pk=7)
    with Delta("oauth_logins_total", outcome="succeeded") as succeeded:
        audit._login_succeeded(None, None, user)
    with Delta("oauth_logins_total", outcome="failed") as failed:
        audit._login_failed(None, {"username": "alice"})
    with Delta("oauth_login_lockouts_total") as lockouts:
        login_guard.user_locked_out(None, None, "alice", "192.0.2.1")
    assert (succeeded.value, failed.value, lockouts.value) == (1, 1, 1)
