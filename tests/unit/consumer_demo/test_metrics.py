"""The walkthrough's steps are counted (walkthrough/metrics.py) by step and outcome."""

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from tests.unit.metrics import Delta
from walkthrough import views
from walkthrough.problems import Problem


def post(path: str, session: dict | None = None):
    request = RequestFactory().post(path)
    request.session = session if session is not None else {}
    return request


@pytest.mark.parametrize("tone, outcome", [("ok", "completed"), ("expected", "completed"), ("bad", "failed")])
def test_an_action_counts_as_its_verdict_says(tone, outcome):
    @views.counted("tokens", actions=("revoke-refresh",))
    def view(request, action):
        request.session["result"] = {"page": "tokens", "tone": tone}
        return HttpResponse()

    with Delta("oauth_demo_walkthrough_steps_total", step="tokens_revoke_refresh", outcome=outcome) as steps:
        view(post("/tokens/revoke-refresh/"), action="revoke-refresh")
    assert steps.value == 1


def test_a_step_that_raises_is_failed_and_an_unknown_action_is_not_a_step():
    request = post("/posts/list/")  # no tokens in the session: the page says so
    with Delta("oauth_demo_walkthrough_steps_total", step="posts_list", outcome="failed") as failed:
        with pytest.raises(Problem):
            views.posts_action(request, action="list")
    assert failed.value == 1
    with Delta("oauth_demo_walkthrough_steps_total", step="posts_nonsense", outcome="failed") as unknown:
        with pytest.raises(Problem):
            views.posts_action(post("/posts/nonsense/"), action="nonsense")
    assert unknown.value == 0


def test_signing_out_is_a_completed_step():
    with Delta("oauth_demo_walkthrough_steps_total", step="logout", outcome="completed") as done:
        assert views.logout(post("/logout/")).status_code == 303
    assert done.value == 1


def test_a_refused_callback_is_a_failed_sign_in():
    request = RequestFactory(HTTP_HOST="localhost").get("/callback/?state=forged&code=x")
    request.session = {}
    with Delta("oauth_demo_walkthrough_steps_total", step="sign_in", outcome="failed") as failed:
        with pytest.raises(Problem):
            views.callback(request)
    assert failed.value == 1
