"""Audit events: JSON lines in the auth server's log, each with the request id nginx assigned."""

import requests

from stack import flows
from tests.auth_server.conftest import sha256


def one(audit_log, name, **fields):
    events = [e for e in audit_log.events(name) if all(e.get(k) == v for k, v in fields.items())]
    assert len(events) == 1, (name, fields, audit_log.events())
    return events[0]


def test_login_success_and_failure(stack, new_user, audit_log):
    user, password = new_user()
    session = requests.Session()
    page = session.get(f"{stack.url}/accounts/login/")
    failed = flows.submit_form(session, page, {"username": user.username, "password": "wrong"})
    assert one(audit_log, "login_failed", user=user.username)["request_id"] == failed.headers["X-Request-ID"]
    assert "wrong" not in user.username and all("wrong" not in str(e) for e in audit_log.events())

    done = flows.submit_form(session, page, {"username": user.username, "password": password}, allow_redirects=False)
    assert one(audit_log, "login_succeeded", user=user.username)["request_id"] == done.headers["X-Request-ID"]


def test_consent_and_token_issued(stack, demo, user_session, audit_log):
    user, session = user_session
    request = flows.AuthorizationRequest(demo, scope="openid read")
    denied = flows.authorize(session, stack.url, request, allow=False)
    event = one(audit_log, "consent_denied", user=user.username)
    assert event["client_id"] == demo.client_id and event["request_id"] == denied.headers["X-Request-ID"]

    granted = flows.authorize(session, stack.url, request)
    assert one(audit_log, "consent_granted", user=user.username)["request_id"] == granted.headers["X-Request-ID"]
    response = flows.exchange_code(stack.url, request, flows.code_from(granted)["code"])
    tokens = response.json()
    issued = one(audit_log, "token_issued", user=user.username)
    assert issued | {"time": None} == issued | {
        "time": None, "grant": "authorization_code", "client_id": demo.client_id, "scopes": "openid read",
        "token_sha256": sha256(tokens["access_token"]), "request_id": response.headers["X-Request-ID"],
    }
    assert tokens["access_token"] not in str(audit_log.events())


def test_client_credentials_token_issued(stack, audit_log):
    client = flows.loadtest_client(stack)
    response = flows.client_credentials_token(stack.url, client, scope="read")
    event = one(audit_log, "token_issued", client_id=client.client_id)
    assert event["grant"] == "client_credentials" and event["user"] is None and event["scopes"] == "read"
    assert event["request_id"] == response.headers["X-Request-ID"]


def test_token_revoked_with_reason(stack, demo, user_session, issue, audit_log):
    _, session = user_session
    tokens = issue(session)
    response = requests.post(f"{stack.url}/o/revoke_token/", data={"token": tokens["access_token"]}, auth=demo.auth)
    event = one(audit_log, "token_revoked", token_sha256=sha256(tokens["access_token"]))
    assert event["reason"] == "revocation_endpoint" and event["request_id"] == response.headers["X-Request-ID"]


def test_token_revoked_by_reuse_says_so(stack, demo, user_session, issue, audit_log):
    _, session = user_session
    first = issue(session)
    second = flows.refresh(stack.url, demo, first["refresh_token"]).json()
    flows.refresh(stack.url, demo, first["refresh_token"])
    assert one(audit_log, "token_revoked", token_sha256=sha256(first["access_token"]))["reason"] == \
        "refresh_token_rotated"
    assert one(audit_log, "token_revoked", token_sha256=sha256(second["access_token"]))["reason"] == \
        "refresh_token_reuse"


def test_client_authentication_failure(stack, demo, audit_log):
    response = requests.post(f"{stack.url}/o/token/", auth=(demo.client_id, "not-the-secret"),
                             data={"grant_type": "client_credentials"})
    assert response.status_code == 401
    event = one(audit_log, "client_authentication_failed", client_id=demo.client_id)
    assert event["request_id"] == response.headers["X-Request-ID"]
    assert "not-the-secret" not in str(audit_log.events())


def test_every_application_log_line_carries_the_request_id(stack, audit_log):
    response = requests.post(f"{stack.url}/o/token/", data={"grant_type": "nonsense"})
    lines = audit_log.events()
    assert lines and all(line["request_id"] == response.headers["X-Request-ID"] for line in lines)


def test_client_sent_request_id_is_replaced_by_nginx(stack, audit_log):
    """nginx assigns the id; a client can't plant one in the logs (forwarded headers are sanitized)."""
    response = requests.post(f"{stack.url}/o/token/", data={"grant_type": "client_credentials"},
                             auth=("someone", "wrong"), headers={"X-Request-ID": "planted-by-client"})
    event = one(audit_log, "client_authentication_failed", client_id="someone")
    assert event["request_id"] == response.headers["X-Request-ID"] != "planted-by-client"
