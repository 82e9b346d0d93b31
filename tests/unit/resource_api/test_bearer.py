"""RFC 6750 parsing and challenges (posts/auth.py), without a request ever leaving this process."""

import pytest
from django.test import RequestFactory

from posts.auth import BearerError, TokenInfo, bearer_token


@pytest.mark.parametrize("error, expected", [
    (BearerError(401), "Bearer"),
    (BearerError(401, "invalid_token", "the token is not active"),
     'Bearer error="invalid_token", error_description="the token is not active"'),
    (BearerError(403, "insufficient_scope", "needs write", scope="write"),
     'Bearer error="insufficient_scope", error_description="needs write", scope="write"'),
])
def test_challenges(error, expected):
    assert error.challenge == expected


def test_bodies_name_the_error_only_when_there_is_one():
    assert BearerError(401).body == {"detail": "a bearer token is required"}
    assert BearerError(401, "invalid_token", "gone").body == {"error": "invalid_token", "detail": "gone"}


def request(header: str | None = None, query: str = ""):
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    return RequestFactory().get(f"/api/posts/{query}", **extra)


@pytest.mark.parametrize("header, token", [
    (None, None), ("Basic dXNlcjpwdw==", None), ("Bearer abc.DEF-_~+/==", "abc.DEF-_~+/=="), ("bearer  tok ", "tok"),
])
def test_tokens_are_read_from_the_header(header, token):
    assert bearer_token(request(header)) == token


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Bearer a b", "Bearer <script>", "Bearer tok\x00"])
def test_malformed_headers_are_invalid_requests(header):
    with pytest.raises(BearerError) as raised:
        bearer_token(request(header))
    assert (raised.value.status, raised.value.error) == (400, "invalid_request")


def test_a_token_in_the_query_is_refused():
    with pytest.raises(BearerError) as raised:
        bearer_token(request("Bearer tok", query="?access_token=tok"))
    assert (raised.value.status, raised.value.error) == (400, "invalid_request")


def test_resource_bound_tokens_are_valid_under_their_resource_only():
    bound = TokenInfo(frozenset({"read"}), "client", None, None, 0, ("http://localhost:8080/api/",))
    assert bound.valid_for("http://localhost:8080/api/posts/")
    assert not bound.valid_for("http://localhost:8080/apiary/")
    assert TokenInfo(frozenset(), "client", None, None, 0).valid_for("http://anywhere/")
