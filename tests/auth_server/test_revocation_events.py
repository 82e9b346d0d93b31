"""The revocation-event contract (docs/architecture.md): every way an access token dies early is recorded
in its transaction and announced on Redis (message + marker) once committed."""

import secrets
import time
from datetime import timedelta
from urllib.parse import urlencode

import pytest
import redis
import requests

from stack import flows
from tests.auth_server.conftest import sha256
from tests.resource_api.helpers import wait_until


def access_token_row(auth_orm, token):
    from oauth2_provider.models import get_access_token_model

    return get_access_token_model().objects.get(token_checksum=sha256(token))


def test_revocation_endpoint_publishes(stack, demo, user_session, issue, revocation_events):
    _, session = user_session
    tokens = issue(session)
    r = requests.post(f"{stack.url}/o/revoke_token/", data={"token": tokens["access_token"]}, auth=demo.auth)
    assert r.status_code == 200
    revocation_events.expect(tokens["access_token"])


def test_refresh_token_reuse_publishes_for_the_whole_family(stack, demo, user_session, issue, revocation_events):
    _, session = user_session
    first = issue(session)
    second = flows.refresh(stack.url, demo, first["refresh_token"]).json()
    revocation_events.expect(first["access_token"])  # rotation ended the first access token
    assert flows.refresh(stack.url, demo, first["refresh_token"]).status_code == 400  # reuse
    revocation_events.expect(second["access_token"])


def test_code_replay_publishes(stack, demo, user_session, revocation_events):
    _, session = user_session
    request = flows.AuthorizationRequest(demo)
    code = flows.code_from(flows.authorize(session, stack.url, request))["code"]
    tokens = flows.exchange_code(stack.url, request, code).json()
    assert flows.exchange_code(stack.url, request, code).status_code == 400
    revocation_events.expect(tokens["access_token"])


def test_rp_initiated_logout_publishes(stack, demo, user_session, issue, revocation_events):
    _, session = user_session
    tokens = issue(session)
    params = {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": f"{stack.url}/"}
    page = session.get(f"{stack.url}/o/logout/?{urlencode(params)}")
    done = flows.submit_form(session, page, {}, submit="allow", allow_redirects=False)
    assert done.status_code == 303 and done.headers["Location"] == f"{stack.url}/"
    revocation_events.expect(tokens["access_token"])


def test_user_revoking_on_authorized_tokens_page_publishes(stack, auth_orm, user_session, issue, revocation_events):
    _, session = user_session
    tokens = issue(session)
    app = access_token_row(auth_orm, tokens["access_token"]).application_id
    listing = session.get(f"{stack.url}/o/authorized_tokens/")
    assert f"/o/authorized_tokens/app/{app}/revoke/" in listing.text
    page = session.get(f"{stack.url}/o/authorized_tokens/app/{app}/revoke/")
    done = flows.submit_form(session, page, {}, allow_redirects=False)
    assert done.status_code == 303
    revocation_events.expect(tokens["access_token"])


def test_admin_revoking_publishes(stack, auth_orm, user_session, issue, revocation_events):
    _, session = user_session
    tokens = issue(session)
    pk = access_token_row(auth_orm, tokens["access_token"]).pk
    admin = flows.login(stack.url, stack.env["ADMIN_USERNAME"], stack.env["ADMIN_PASSWORD"])
    changelist = f"{stack.url}/admin/oauth/accesstoken/"
    admin.get(changelist).raise_for_status()
    r = admin.post(changelist, data={"csrfmiddlewaretoken": admin.cookies["csrftoken"], "action": "revoke_tokens",
                                     "_selected_action": str(pk), "index": "0"}, allow_redirects=False)
    assert r.status_code in (302, 303), r.text[:300]
    revocation_events.expect(tokens["access_token"])


def test_plain_orm_delete_publishes(auth_orm, user_session, issue, revocation_events):
    _, session = user_session
    tokens = issue(session)
    access_token_row(auth_orm, tokens["access_token"]).delete()
    revocation_events.expect(tokens["access_token"])


def test_deleting_the_application_publishes(stack, auth_orm, user_session, revocation_events):
    from oauth2_provider.models import get_application_model

    user, session = user_session
    app = get_application_model().objects.create(
        name="short-lived", user=user, client_type="confidential", authorization_grant_type="client-credentials",
        client_secret=(secret := secrets.token_urlsafe(48)),
    )
    token = flows.client_credentials_token(stack.url, flows.Client(app.client_id, secret)).json()["access_token"]
    app.delete()
    revocation_events.expect(token)


def test_deactivating_a_user_publishes(auth_orm, user_session, issue, revocation_events):
    user, session = user_session
    tokens = issue(session)
    user.is_active = False
    user.save()
    revocation_events.expect(tokens["access_token"])


def test_moving_the_expiry_into_the_past_publishes(auth_orm, user_session, issue, revocation_events):
    from django.utils import timezone

    _, session = user_session
    tokens = issue(session)
    row = access_token_row(auth_orm, tokens["access_token"])
    row.expires = timezone.now() - timedelta(seconds=1)
    row.save()
    revocation_events.expect(tokens["access_token"])


def test_expired_tokens_are_deleted_without_events(auth_orm, user_session, issue, revocation_events):
    """cleartokens deletes expired rows by the million: those publish nothing (nor cost a Redis call)."""
    from django.utils import timezone
    from oauth2_provider.models import get_access_token_model

    _, session = user_session
    tokens = issue(session)
    rows = get_access_token_model().objects.filter(token_checksum=sha256(tokens["access_token"]))
    rows.update(expires=timezone.now() - timedelta(seconds=1))  # a queryset update sends no signal
    rows.delete()
    time.sleep(0.5)
    assert not revocation_events.pubsub.get_message(timeout=0.5)


def test_revocation_stands_when_redis_is_down(stack, demo, user_session, issue, audit_log):
    """Redis is for speed only: without it the revocation still commits and answers 200, never 500, but
    only once resource servers have stopped trusting their caches (REVOCATION_FRESHNESS, 1 s); once
    Redis is back the relay sets the marker the request could not set."""
    _, session = user_session
    tokens = issue(session)
    stack.stop_redis()
    try:
        started = time.monotonic()
        r = requests.post(f"{stack.url}/o/revoke_token/", data={"token": tokens["access_token"]}, auth=demo.auth)
        assert r.status_code == 200
        assert time.monotonic() - started >= 1.0
        assert audit_log.events("revocation marker not set, the answer waits for the caches to lapse")
    finally:
        stack.start_redis()
    answer = requests.post(f"{stack.url}/o/introspect/", data={"token": tokens["access_token"]},
                           auth=(stack.env["API_CLIENT_ID"], stack.env["API_CLIENT_SECRET"]))
    assert answer.json() == {"active": False}
    marker = f"oauth2:revoked:{sha256(tokens['access_token'])}"
    client = redis.Redis.from_url(stack.redis_url())
    assert wait_until(lambda: client.exists(marker), timeout=5), "the relay did not copy the revocation"
    assert 1 <= client.ttl(marker) <= 300


def test_every_revocation_is_recorded_in_its_transaction(auth_orm, user_session, issue):
    """The durable record the relay works from: written with the deletion, gone with its rollback."""
    from django.db import transaction
    from oauth.models import Revocation

    _, session = user_session
    kept, rolled_back = issue(session), issue(session)
    with pytest.raises(RuntimeError), transaction.atomic():
        access_token_row(auth_orm, rolled_back["access_token"]).delete()
        assert Revocation.objects.filter(token_checksum=sha256(rolled_back["access_token"])).exists()
        raise RuntimeError("roll back")
    assert not Revocation.objects.filter(token_checksum=sha256(rolled_back["access_token"])).exists()
    access_token_row(auth_orm, kept["access_token"]).delete()
    row = Revocation.objects.get(token_checksum=sha256(kept["access_token"]))
    assert wait_until(lambda: Revocation.objects.get(pk=row.pk).relayed, timeout=5)


def test_no_heartbeat_while_redis_refuses_the_markers(stack, user_session, issue, auth_orm):
    """Redis full (or unable to write its disk) still publishes: the relay's markers and heartbeat
    go in one transaction, so a heartbeat never claims a marker Redis refused."""
    from oauth.models import Revocation

    _, session = user_session
    admin = redis.Redis.from_url(stack.redis_url())
    with admin.pubsub(ignore_subscribe_messages=True) as heartbeats:
        heartbeats.subscribe("oauth2:revocations:heartbeat")
        assert wait_until(lambda: heartbeats.get_message(timeout=0.2), timeout=5), "no relay heartbeat"
        admin.config_set("maxmemory", 1)
        try:
            tokens = issue(session)
            access_token_row(auth_orm, tokens["access_token"]).delete()  # a revocation to copy
            time.sleep(0.3)
            while heartbeats.get_message(timeout=0.05):  # published before the refusal
                pass
            deadline, heard = time.monotonic() + 1.0, []
            while time.monotonic() < deadline:
                if message := heartbeats.get_message(timeout=0.1):
                    heard.append(message["data"])
            assert not heard, f"heartbeats while Redis refused writes: {heard[:3]}"
            assert not Revocation.objects.get(token_checksum=sha256(tokens["access_token"])).relayed
        finally:
            admin.config_set("maxmemory", 0)
        assert wait_until(lambda: heartbeats.get_message(timeout=0.2), timeout=5), "the relay did not resume"
    assert admin.exists(f"oauth2:revoked:{sha256(tokens['access_token'])}")
    admin.close()
