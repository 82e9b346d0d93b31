"""Remembered client rows never decide against the stored row (oauth/hot_path.py).

Through the stack, each change below is made after the client's row was remembered by the workers
that answered it, and every request after the change must get what the stored row says. In this
process, the statements show the mechanism: the INSERT that finds the row changed stores nothing
and the request runs again on the stored row.
"""

import secrets
from concurrent.futures import ThreadPoolExecutor

import pytest

from stack import flows

# Concurrent requests, so that both gunicorn workers (each with its own memory) answer some.
CONCURRENT = 8


def ask(stack, client: flows.Client, scope: str = "read") -> list:
    """(status, error) of CONCURRENT client-credentials requests at once."""
    def one(_):
        response = flows.client_credentials_token(stack.url, client, scope)
        return response.status_code, response.json().get("error")

    with ThreadPoolExecutor(CONCURRENT) as pool:
        return list(pool.map(one, range(CONCURRENT)))


def everyone(status: int, error: str | None = None) -> list:
    return [(status, error)] * CONCURRENT


@pytest.fixture
def new_client(auth_orm):
    """A client-credentials client of this test only: (its row, its credentials)."""
    from oauth2_provider.models import get_application_model

    secret = secrets.token_urlsafe(48)
    app = get_application_model().objects.create(
        name="known-clients test", client_type="confidential", authorization_grant_type="client-credentials",
        client_secret=secret, allowed_scopes="read write",
    )
    yield app, flows.Client(app.client_id, secret)
    get_application_model().objects.filter(pk=app.pk).delete()


def tokens_of(app) -> int:
    from oauth2_provider.models import get_access_token_model

    return get_access_token_model().objects.filter(application_id=app.pk).count()


def reset_secret(app) -> flows.Client:
    new_secret = secrets.token_urlsafe(48)
    app.client_secret = new_secret
    app.save()
    return flows.Client(app.client_id, new_secret)


def test_a_reset_secret_works_at_once(stack, new_client):
    app, client = new_client
    assert ask(stack, client) == everyone(200)

    assert ask(stack, reset_secret(app)) == everyone(200)  # the remembered row said no: asked again
    assert ask(stack, client) == everyone(401, "invalid_client")


def test_the_old_secret_stops_at_once(stack, new_client):
    app, client = new_client
    assert ask(stack, client) == everyone(200)
    issued = tokens_of(app)

    new_client = reset_secret(app)
    assert ask(stack, client) == everyone(401, "invalid_client")  # the remembered row said yes: not stored
    assert tokens_of(app) == issued
    assert ask(stack, new_client) == everyone(200)


def test_a_deleted_client_gets_nothing(stack, new_client):
    app, client = new_client
    assert ask(stack, client) == everyone(200)

    app.delete()

    assert ask(stack, client) == everyone(401, "invalid_client")


def test_a_narrowed_client_gets_only_what_it_may_now(stack, new_client):
    app, client = new_client
    assert ask(stack, client, "write") == everyone(200)
    issued = tokens_of(app)

    app.allowed_scopes = "read"
    app.save()
    assert ask(stack, client, "write") == everyone(400, "invalid_scope")
    assert tokens_of(app) == issued
    assert ask(stack, client, "read") == everyone(200)

    app.authorization_grant_type = "authorization-code"
    app.redirect_uris = "http://localhost/known-clients/"
    app.save()
    assert ask(stack, client, "read") == everyone(400, "unauthorized_client")


def test_a_widened_client_gets_what_it_may_now(stack, new_client):
    app, client = new_client
    app.allowed_scopes = "read"
    app.save()
    assert ask(stack, client, "write") == everyone(400, "invalid_scope")  # remembered, saying no

    app.allowed_scopes = "read write"
    app.save()
    assert ask(stack, client, "write") == everyone(200)

    app.authorization_grant_type = "authorization-code"
    app.redirect_uris = "http://localhost/known-clients/"
    app.save()
    assert ask(stack, client) == everyone(400, "unauthorized_client")  # remembered, saying no
    app.authorization_grant_type = "client-credentials"
    app.save()
    assert ask(stack, client) == everyone(200)


def test_a_changed_row_stores_nothing_and_the_request_runs_again(stack, new_client, statements, post_token):
    from oauth2_provider.models import get_access_token_model, get_application_model

    app, client = new_client
    grant = {"grant_type": "client_credentials", "scope": "read"}
    assert post_token(grant, client).status_code == 200  # remembered in this process
    issued = tokens_of(app)
    # A change that decides nothing, made without `save()`: the row version changes all the same.
    get_application_model().objects.filter(pk=app.pk).update(name="renamed")
    statements.clear()

    response = post_token(grant, client)

    assert response.status_code == 200, response.content
    plain_insert = get_access_token_model().objects._insert_sql
    insert_if_unchanged = get_access_token_model().objects._insert_if_client_unchanged_sql
    assert [(s.verb, s.sql) for s in statements] == [
        ("INSERT", insert_if_unchanged),  # finds the row changed: stores nothing
        ("SELECT", get_application_model().objects._select_by_client_id),  # the stored row
        ("INSERT", plain_insert)]
    assert tokens_of(app) == issued + 1
    # The next request remembers the row as it is now.
    statements.clear()
    assert post_token(grant, client).status_code == 200
    assert [(s.verb, s.sql) for s in statements] == [("SELECT", get_application_model().objects._select_by_client_id),
                                                     ("INSERT", insert_if_unchanged)]
