"""The token endpoint's hot path (auth_server/oauth/hot_path.py) against DOT's own path.

Each departure from DOT is compared here with what DOT's code does, so that a DOT or Django upgrade
that changes DOT's result fails a test. The statements are watched in this process, with Django's
test client against the stack's database, so that each one can be seen with whether it ran inside
a transaction.
"""

import hashlib
import json
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from stack import flows


def test_client_lookup_returns_what_the_orm_returns(stack, auth_orm):
    from django.db import connection
    from oauth2_provider.models import get_application_model

    Application = get_application_model()
    client_id = stack.env["LOADTEST_CLIENT_ID"]
    fast, orm = Application.objects.by_client_id(client_id), Application.objects.get(client_id=client_id)
    # Field by field, types included: a field whose database value needs converting (a JSON field,
    # say) would come back raw from the hand-built query, and show here.
    for field in Application._meta.concrete_fields:
        expected = getattr(orm, field.attname)
        assert getattr(fast, field.attname) == expected, field.name
        assert type(getattr(fast, field.attname)) is type(expected), field.name
    assert (fast._state.db, fast._state.adding) == (orm._state.db, False)
    assert Application.objects.by_client_id("no-such-client") is None
    assert fast.row_version is None
    # The row version is Postgres's xmin, which the conditional INSERT compares.
    with connection.cursor() as cursor:
        cursor.execute("SELECT xmin::text FROM oauth_application WHERE client_id = %s", [client_id])
        assert Application.objects.by_client_id(client_id, versioned=True).row_version == cursor.fetchone()[0]


def test_client_credentials_token_is_one_insert_once_the_client_is_remembered(stack, statements, post_token):
    from oauth2_provider.models import get_access_token_model, get_application_model

    from oauth import hot_path

    client = flows.loadtest_client(stack)
    hot_path.forget(client.client_id)  # whatever an earlier test left in this process's memory
    grant = {"grant_type": "client_credentials", "scope": "read"}

    assert post_token(grant, client).status_code == 200
    # The client's SELECT, then the INSERT that stores the token only if the client's row is unchanged;
    # both prebuilt (not the ORM's `get()` and `save()`), neither in a transaction.
    select_client, insert_if_unchanged = (get_application_model().objects._select_by_client_id,
                                          get_access_token_model().objects._insert_if_client_unchanged_sql)
    assert [(s.verb, s.table, s.in_transaction, s.sql) for s in statements] == [
        ("SELECT", "oauth_application", False, select_client),
        ("INSERT", "oauth_accesstoken", False, insert_if_unchanged)]
    statements.clear()

    # Remembered: one statement per token.
    assert post_token(grant, client).status_code == 200
    assert [(s.verb, s.table, s.in_transaction, s.sql) for s in statements] == [
        ("INSERT", "oauth_accesstoken", False, insert_if_unchanged)]


def test_token_insert_stores_what_the_orm_stores(stack, auth_orm):
    import hashlib
    import secrets

    from django.db.models import Model
    from django.db.models.signals import post_save, pre_save
    from django.utils import timezone
    from oauth2_provider.models import get_access_token_model, get_application_model, set_token_value

    AccessToken = get_access_token_model()
    application = get_application_model().objects.get(client_id=stack.env["LOADTEST_CLIENT_ID"])
    signals, expires = [], timezone.now()

    def receiver(signal, sender, instance, **kwargs):
        signals.append((signal, instance.pk, kwargs.get("created")))

    def new_token():
        # As DOT builds each token it issues (the value stored as its checksum only, RFC 9700).
        token = AccessToken(user=None, scope="read write", expires=expires, application=application,
                            resource=["https://api.example/"])
        set_token_value(token, secrets.token_urlsafe(32))
        return token, token._raw_token

    pre_save.connect(receiver, sender=AccessToken)
    post_save.connect(receiver, sender=AccessToken)
    try:
        fast, fast_value = new_token()
        fast.save()  # the prebuilt INSERT
        orm, orm_value = new_token()
        Model.save(orm)  # Django's own
    finally:
        pre_save.disconnect(receiver, sender=AccessToken)
        post_save.disconnect(receiver, sender=AccessToken)

    # The same signals, in the same order, with the new row's id and created=True.
    assert signals == [(pre_save, None, None), (post_save, fast.pk, True),
                       (pre_save, None, None), (post_save, orm.pk, True)]
    assert fast.pk and not fast._state.adding and fast._state.db == "default"
    # Each row is found by its value's checksum, as introspection finds it.
    fast_row = AccessToken.objects.get(token_checksum=hashlib.sha256(fast_value.encode()).hexdigest())
    orm_row = AccessToken.objects.get(token_checksum=hashlib.sha256(orm_value.encode()).hexdigest())
    assert (fast_row.pk, orm_row.pk) == (fast.pk, orm.pk)
    # Column by column, types included; the values that must differ are the ones made per row.
    for field in AccessToken._meta.concrete_fields:
        fast_column, orm_column = getattr(fast_row, field.attname), getattr(orm_row, field.attname)
        assert type(fast_column) is type(orm_column), field.name
        if field.name in ("id", "token_checksum"):
            assert fast_column != orm_column, field.name
        elif field.name in ("created", "updated"):
            assert abs(fast_column - orm_column).total_seconds() < 5, field.name
        else:
            assert fast_column == orm_column, field.name
    # An existing token still saves through the ORM, as an UPDATE.
    fast_row.scope = "read"
    fast_row.save()
    assert AccessToken.objects.get(pk=fast.pk).scope == "read"
    AccessToken.objects.filter(pk__in=[fast.pk, orm.pk]).delete()


def stored_columns(token_value: str) -> dict:
    """The stored access token's columns, without those made per row (id, value, checksum), and its
    expiry in seconds from now (each path computes it at its own moment)."""
    import hashlib

    from django.forms.models import model_to_dict
    from django.utils import timezone
    from oauth2_provider.models import get_access_token_model

    row = get_access_token_model().objects.get(token_checksum=hashlib.sha256(token_value.encode()).hexdigest())
    columns = {k: v for k, v in model_to_dict(row).items() if k not in ("id", "token", "token_checksum")}
    return {**columns, "expires": round((columns["expires"] - timezone.now()).total_seconds(), -1)}


def test_client_credentials_save_stores_what_dots_transaction_stores(stack, auth_orm, statements):
    """Departure 4: no transaction around a client-credentials token's one INSERT."""
    import secrets

    from oauth2_provider.models import get_application_model
    from oauth2_provider.oauth2_validators import OAuth2Validator as DOTValidator
    from oauthlib.common import Request

    from oauth.oauth2_validators import OAuth2Validator

    application = get_application_model().objects.get(client_id=stack.env["LOADTEST_CLIENT_ID"])

    def save(validator) -> str:
        request = Request("http://localhost/o/token/", http_method="POST")
        request.client, request.user, request.grant_type = application, None, "client_credentials"
        request.scopes, request.refresh_token = ["read"], None
        value = secrets.token_urlsafe(32)
        validator.save_bearer_token({"access_token": value, "expires_in": 300, "token_type": "Bearer",
                                     "scope": "read"}, request)
        return value

    statements.clear()
    ours = save(OAuth2Validator())
    assert [(s.verb, s.in_transaction) for s in statements] == [("INSERT", False)], statements
    statements.clear()
    dots = save(DOTValidator())
    assert ("INSERT", True) in [(s.verb, s.in_transaction) for s in statements]
    assert stored_columns(ours) == stored_columns(dots)


def test_token_view_answers_what_dots_view_answers(stack, auth_orm):
    """Departure 5: the answer goes out without DOT's read-back, unless `app_authorized` has a receiver."""
    import base64

    from django.test import RequestFactory
    from oauth2_provider import views as dot_views
    from oauth2_provider.signals import app_authorized

    from oauth.views import TokenView

    client = flows.loadtest_client(stack)
    basic = base64.b64encode(f"{client.client_id}:{client.client_secret}".encode()).decode()

    def answer(view):
        request = RequestFactory().post("/o/token/", {"grant_type": "client_credentials", "scope": "read"},
                                        HTTP_AUTHORIZATION=f"Basic {basic}", HTTP_HOST="localhost")
        return view(request)

    ours, dots = answer(TokenView.as_view()), answer(dot_views.TokenView.as_view())
    assert ours.status_code == dots.status_code == 200
    for header in ("Content-Type", "Cache-Control", "Pragma"):
        assert ours.get(header) == dots.get(header), header
    ours_body, dots_body = json.loads(ours.content), json.loads(dots.content)
    assert ours_body.keys() == dots_body.keys()
    assert {k: v for k, v in ours_body.items() if k != "access_token"} == \
           {k: v for k, v in dots_body.items() if k != "access_token"}
    assert stored_columns(ours_body["access_token"]) == stored_columns(dots_body["access_token"])

    # With a receiver, the view takes DOT's path and the receiver gets the stored token, as from DOT's.
    received = []

    def receiver(sender, request, token, **kwargs):
        received.append(token)

    app_authorized.connect(receiver)
    try:
        ours, dots = answer(TokenView.as_view()), answer(dot_views.TokenView.as_view())
    finally:
        app_authorized.disconnect(receiver)
    assert [token.token_checksum for token in received] == [
        hashlib.sha256(json.loads(r.content)["access_token"].encode()).hexdigest() for r in (ours, dots)]


def test_tokens_are_256_random_bits(stack):
    client = flows.loadtest_client(stack)
    tokens = {flows.client_credentials_token(stack.url, client).json()["access_token"] for _ in range(3)}
    assert len(tokens) == 3
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", token) for token in tokens), tokens


def test_refresh_still_writes_its_rows_in_one_transaction(stack, statements, post_token):
    client = flows.demo_client(stack)
    session = flows.login(stack.url, stack.env["DEMO_USERNAME"], stack.env["DEMO_PASSWORD"])
    tokens = flows.authorization_code_tokens(stack.url, session, client)
    statements.clear()

    response = post_token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, client)

    assert response.status_code == 200, response.content
    assert response.json()["refresh_token"] != tokens["refresh_token"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", response.json()["refresh_token"])
    writes = [statement for statement in statements if statement.verb in ("INSERT", "UPDATE", "DELETE")]
    # Rotation: the old access token goes, the old refresh token is marked, a new pair is stored.
    assert {statement.table for statement in writes} >= {"oauth_accesstoken", "oauth_refreshtoken"}
    assert all(statement.in_transaction for statement in writes), writes


# ---- the connection health check (common/postgresql/base.py) --------------------------------------
def test_health_check_sees_a_connection_that_postgres_ended(auth_orm):
    from django.db import connection, connections

    connection.ensure_connection()
    assert connection.is_usable()
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])
    finally:
        other.close()
    time.sleep(0.2)  # Postgres's goodbye crosses the loopback

    assert not connection.is_usable()
    connection.close()
    connection.ensure_connection()
    assert connection.is_usable()


def test_every_worker_connection_recovers_from_a_postgres_restart(stack):
    client = flows.loadtest_client(stack)

    def tokens(count=48):
        # 16 at once keep every gunicorn thread, each with its own connection, busy.
        with ThreadPoolExecutor(16) as pool:
            return Counter(pool.map(lambda _: flows.client_credentials_token(stack.url, client).status_code,
                                    range(count)))

    assert tokens() == {200: 48}
    stack.stop_postgres()
    stack.start_postgres()
    assert tokens() == {200: 48}
