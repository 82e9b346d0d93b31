"""The API's system checks (posts/checks.py)."""

import pytest
from django.core import checks
from django.test import override_settings


def errors() -> set[str]:
    return {m.id for m in checks.run_checks() if m.level >= checks.ERROR and m.id.startswith("posts.")}


def test_this_configuration_passes():
    assert errors() == set()


@pytest.mark.parametrize("changes, error", [
    ({"TOKEN_CACHE_KEY": b"short"}, "posts.E001"),
    ({"REVOCATION_FRESHNESS": 0}, "posts.E002"),
    ({"REVOCATION_FRESHNESS": 60}, "posts.E002"),
    ({"TOKEN_CACHE_MAX_TTL": 0}, "posts.E003"),
    ({"TOKEN_MEMORY_SIZE": -1}, "posts.E004"),
    ({"TOKEN_MEMORY_WINDOW": 5}, "posts.E004"),
])
def test_each_check_refuses_what_it_names(changes, error):
    with override_settings(**changes):
        assert error in errors()
