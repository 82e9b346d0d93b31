"""Fixtures of the authorization-server tests: users of their own, tokens, Redis events, audit lines."""

import base64
import hashlib
import json
import secrets
import time
from typing import NamedTuple

import pytest
import redis

from stack import flows

REVOCATION_CHANNEL = "oauth2:revocations"


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@pytest.fixture(scope="session")
def demo(stack) -> flows.Client:
    return flows.demo_client(stack)


@pytest.fixture
def new_user(auth_orm):
    """A user of this test only, so revoking their tokens or signing them out touches no other test."""
    from django.contrib.auth import get_user_model

    def create(**fields):
        username, password = f"user-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
        user = get_user_model().objects.create_user(username, password=password, **fields)
        return user, password

    return create


@pytest.fixture
def other_origin_client(stack, auth_orm):
    """A confidential code-flow client whose redirect URI is on another origin than this server's
    (127.0.0.1 instead of localhost; the consumer demo answers there too)."""
    from oauth2_provider.models import get_application_model

    def create(skip_authorization=False, post_logout_redirect_uris=""):
        redirect_uri = stack.url.replace("localhost", "127.0.0.1") + "/callback/"
        secret = secrets.token_urlsafe(48)
        app = get_application_model().objects.create(
            name=f"other origin {secrets.token_hex(3)}", client_type="confidential", client_secret=secret,
            authorization_grant_type="authorization-code", redirect_uris=redirect_uri, algorithm="RS256",
            skip_authorization=skip_authorization, post_logout_redirect_uris=post_logout_redirect_uris,
        )
        return flows.Client(app.client_id, secret, redirect_uri)

    return create


@pytest.fixture
def user_session(stack, new_user):
    """(user, logged-in browser session) for a fresh user."""
    user, password = new_user()
    return user, flows.login(stack.url, user.username, password)


@pytest.fixture
def developer_session(stack, new_user):
    """(user, logged-in session) for a fresh user allowed to register clients (`oauth.add_application`)."""
    from django.contrib.auth.models import Permission

    user, password = new_user()
    user.user_permissions.add(Permission.objects.get(content_type__app_label="oauth", codename="add_application"))
    return user, flows.login(stack.url, user.username, password)


@pytest.fixture
def issue(stack, demo):
    """Tokens for a logged-in session through the demo client (authorization code + PKCE)."""
    def tokens(session, scope="openid profile read write") -> dict:
        return flows.authorization_code_tokens(stack.url, session, demo, scope=scope)
    return tokens


class RevocationEvents:
    """Listens on the revocation channel; `expect(token)` checks the message ("<sha256> <commit time>",
    common/revocation.py) and the key of one token."""

    def __init__(self, redis_url: str):
        self.redis = redis.Redis.from_url(redis_url, decode_responses=True)
        self.pubsub = self.redis.pubsub()
        self.pubsub.subscribe(REVOCATION_CHANNEL)
        # Redis confirms the subscription: from then on no message can be missed.
        assert self.pubsub.get_message(timeout=5)["type"] == "subscribe"
        self.received: list[str] = []  # digests
        self.messages: list[str] = []

    def expect(self, access_token: str, timeout: float = 5.0):
        checksum = sha256(access_token)
        deadline = time.monotonic() + timeout
        while checksum not in self.received and time.monotonic() < deadline:
            message = self.pubsub.get_message(timeout=0.2)
            if message and message["type"] == "message":
                self.messages.append(message["data"])
                self.received.append(message["data"].split(" ")[0])
        assert checksum in self.received, f"no revocation event for the token; got {self.messages}"
        assert not any(access_token in m for m in self.messages), "the token itself must never be published"
        committed = float(self.messages[self.received.index(checksum)].split(" ")[1])
        assert time.time() - 10 < committed <= time.time(), f"the event's commit time is not now: {committed}"
        ttl = self.redis.ttl(f"oauth2:revoked:{checksum}")
        assert 1 <= ttl <= 300, f"oauth2:revoked:<sha256> should expire with the token, TTL is {ttl}"

    def close(self):
        self.pubsub.close()
        self.redis.close()


@pytest.fixture
def revocation_events(stack):
    events = RevocationEvents(stack.redis_url())
    yield events
    events.close()


class AuditLog:
    """The JSON lines the auth server wrote since this object was created."""

    def __init__(self, path):
        self.path = path
        self.offset = path.stat().st_size

    def events(self, name: str | None = None, wait: float = 3.0) -> list[dict]:
        deadline = time.monotonic() + wait
        while True:
            with self.path.open() as f:
                f.seek(self.offset)
                lines = [json.loads(line) for line in f if line.startswith("{")]
            found = [e for e in lines if name is None or e.get("event") == name or e.get("message") == name]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.1)


@pytest.fixture
def audit_log(stack):
    return AuditLog(stack.log("auth_server"))


# ---- statements the token endpoint runs, watched in this process (Django's test client) ----------
class Statement(NamedTuple):
    verb: str
    table: str | None
    in_transaction: bool
    sql: str


@pytest.fixture
def statements(auth_orm):
    """Every statement run in the block: its verb, its table, whether inside a transaction, its SQL."""
    from django.db import connection

    seen = []

    def record(execute, sql, params, many, context):
        words = sql.split()
        table = next((words[i + 1].strip('"') for i, word in enumerate(words[:-1])
                      if word in ("FROM", "INTO", "UPDATE")), None)
        seen.append(Statement(words[0], table, connection.in_atomic_block, sql))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield seen


@pytest.fixture
def post_token(auth_orm):
    """POST /o/token/ in this process (Django's test client), authenticated as `client` with HTTP Basic."""
    from django.test import Client

    def post(data: dict, client: flows.Client):
        basic = base64.b64encode(f"{client.client_id}:{client.client_secret}".encode()).decode()
        return Client(HTTP_HOST="localhost").post("/o/token/", data, HTTP_AUTHORIZATION=f"Basic {basic}")

    return post
