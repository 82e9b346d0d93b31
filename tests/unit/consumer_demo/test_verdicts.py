"""The plain-language verdicts on the API's answers (walkthrough/explain.py), from RFC 6750 challenges."""

import time

import pytest
import requests

from walkthrough.explain import api_verdict, bearer_challenge


def answer(status: int, reason: str = "", **headers) -> requests.Response:
    response = requests.Response()
    response.status_code, response.reason = status, reason
    response.headers.update({name.replace("_", "-"): value for name, value in headers.items()})
    return response


def test_challenge_parameters_are_read():
    response = answer(403, WWW_Authenticate='Bearer error="insufficient_scope", scope="write"')
    assert bearer_challenge(response) == {"error": "insufficient_scope", "scope": "write"}
    assert bearer_challenge(answer(401)) == {}


@pytest.mark.parametrize("status, expect_refusal, tone", [(200, False, "ok"), (201, True, "bad")])
def test_acceptance_is_good_only_when_expected(status, expect_refusal, tone):
    assert api_verdict(answer(status, "OK"), {}, expect_refusal=expect_refusal).tone == tone


@pytest.mark.parametrize("tokens, cause", [
    ({"revoked": True}, "You revoked this access token"),
    ({"family_revoked": "a reused refresh token"}, "after a reused refresh token"),
    ({"expires_at": time.time() - 5}, "expired at"),
    ({}, "no longer vouches"),
])
def test_a_refusal_says_why(tokens, cause):
    verdict = api_verdict(answer(401, "Unauthorized", WWW_Authenticate='Bearer error="invalid_token"'), tokens)
    assert verdict.tone == "bad" and 'error="invalid_token"' in verdict.text[0]
    assert cause in verdict.text[1]


def test_a_missing_scope_names_it():
    verdict = api_verdict(answer(403, WWW_Authenticate='Bearer error="insufficient_scope", scope="write"'),
                          {"scope_list": ["read"]})
    assert verdict.tone == "expected" and '"write"' in verdict.text[0] and '"read"' in verdict.text[0]


def test_an_outage_is_not_blamed_on_the_token():
    verdict = api_verdict(answer(503, Retry_After="2"), {})
    assert verdict.title.startswith("503") and "retry after 2 s" in verdict.text[0]
