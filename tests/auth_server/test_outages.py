"""Postgres or Redis down: the auth server answers 503 + Retry-After (JSON for clients, a page for
people), never Django's 500, and recovers by itself. Each test restores what it stopped in `finally`."""

import pytest
import requests

from stack import flows


@pytest.fixture
def before_the_outage(stack, demo, user_session, issue):
    """A signed-in browser session and user tokens, both made while everything is up."""
    _, session = user_session
    return session, issue(session)


def assert_json_503(response):
    assert response.status_code == 503, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"] == "temporarily_unavailable" and response.json()["error_description"]
    assert int(response.headers["Retry-After"]) > 0


def assert_page_503(response):
    assert response.status_code == 503, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"].startswith("text/html")
    assert "Temporarily unavailable" in response.text and 'href="/static/auth_server/oauth/site.css"' in response.text
    assert int(response.headers["Retry-After"]) > 0


def test_database_down_is_503_for_clients_and_people_and_recovers(stack, demo, before_the_outage):
    session, tokens = before_the_outage
    loadtest = flows.loadtest_client(stack)
    api = (stack.env["API_CLIENT_ID"], stack.env["API_CLIENT_SECRET"])
    browser = requests.Session()
    login_page = browser.get(f"{stack.url}/accounts/login/")  # its form, fetched before
    stack.stop_postgres()
    try:
        assert_json_503(flows.client_credentials_token(stack.url, loadtest))
        assert_json_503(flows.refresh(stack.url, demo, tokens["refresh_token"]))
        assert_json_503(requests.post(f"{stack.url}/o/introspect/", data={"token": tokens["access_token"]}, auth=api))
        assert_json_503(requests.post(f"{stack.url}/o/revoke_token/", data={"token": tokens["access_token"]},
                                      auth=demo.auth))
        assert_json_503(requests.get(f"{stack.url}/o/userinfo/",
                                     headers={"Authorization": f"Bearer {tokens['access_token']}"}))
        request = flows.AuthorizationRequest(demo)
        assert_page_503(session.get(f"{stack.url}/o/authorize/", params=request.params(), allow_redirects=False))
        assert_page_503(session.get(f"{stack.url}/o/authorized_tokens/"))
        assert_page_503(session.get(f"{stack.url}/admin/"))
        login = flows.submit_form(browser, login_page, {"username": "someone", "password": "x"})
        assert_page_503(login)
        assert "database unavailable" in stack.log("auth_server").read_text()
    finally:
        stack.start_postgres()
    assert flows.client_credentials_token(stack.url, loadtest).status_code == 200
    assert flows.refresh(stack.url, demo, tokens["refresh_token"]).status_code == 200
    assert session.get(f"{stack.url}/o/authorized_tokens/").status_code == 200


def test_redis_down_tokens_and_revocation_still_work(stack, demo, before_the_outage):
    """The auth server needs Redis only to announce revocations, and a revocation stands without it."""
    session, tokens = before_the_outage
    stack.stop_redis()
    try:
        assert flows.client_credentials_token(stack.url, flows.loadtest_client(stack)).status_code == 200
        r = requests.post(f"{stack.url}/o/revoke_token/", data={"token": tokens["access_token"]}, auth=demo.auth)
        assert r.status_code == 200
        assert session.get(f"{stack.url}/o/authorized_tokens/").status_code == 200
    finally:
        stack.start_redis()
    assert requests.get(f"{stack.url}/o/userinfo/",
                        headers={"Authorization": f"Bearer {tokens['access_token']}"}).status_code == 401
