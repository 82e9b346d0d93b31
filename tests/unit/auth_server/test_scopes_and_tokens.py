"""Scopes per client (oauth/scopes.py) and token values (oauth/hot_path.py), without a database."""

import re

from django.conf import settings
from oauth2_provider.models import get_application_model

from oauth.hot_path import random_token
from oauth.scopes import ApplicationScopes

Application = get_application_model()
ALL = list(settings.OAUTH2_PROVIDER["SCOPES"])


def test_a_client_without_a_list_gets_every_scope_but_the_restricted():
    scopes = ApplicationScopes().get_available_scopes(Application(allowed_scopes=""))
    assert "introspection" not in scopes and set(scopes) == set(ALL) - settings.RESTRICTED_SCOPES


def test_a_client_gets_only_its_list_restricted_scopes_included():
    application = Application(allowed_scopes="introspection read")
    assert ApplicationScopes().get_available_scopes(application) == ["read", "introspection"]


def test_default_scopes_are_those_the_client_may_have():
    assert ApplicationScopes().get_default_scopes(Application(allowed_scopes="write profile")) == ["profile", "write"]
    assert ApplicationScopes().get_default_scopes(Application(allowed_scopes="read write")) == ["read"]


def test_token_values_are_256_random_bits_url_safe():
    values = {random_token(None) for _ in range(100)}
    assert len(values) == 100
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", value) for value in values)
