"""The demo's pages over HTTP through nginx: each step, and what a visitor can cause along the way."""

import re
import secrets
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest

from stack import flows
from tests.consumer_demo.conftest import heading, text_of

SCOPES = ("openid", "profile", "email", "read", "write")


def query(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.mark.e2e
def test_home_page_offers_the_scopes_with_one_static_stylesheet(visitor):
    page = visitor.get("/")
    assert page.status_code == 200
    for scope in SCOPES:
        assert f"<code>{scope}</code>" in page.text
    # nginx's CSP allows no inline script or style: the pages must not need any.
    assert "<script" not in page.text and "style=" not in page.text and "<style" not in page.text
    css = visitor.get("/static/consumer_demo/walkthrough/demo.css")
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")


@pytest.mark.e2e
def test_authorization_request_carries_pkce_state_and_nonce_fresh_each_time(visitor, stack):
    first, second = visitor.start(), visitor.start()
    parts, params = urlsplit(first), query(first)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{stack.url}/o/authorize/"
    assert params["response_type"] == "code"
    assert params["client_id"] == stack.env["DEMO_CLIENT_ID"]
    assert params["redirect_uri"] == flows.demo_redirect_uri(stack)
    assert params["scope"] == "openid read write"
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
    for name in ("state", "nonce", "code_challenge"):
        assert params[name] != query(second)[name], name
    page = visitor.get("/authorize/")
    for name in params:
        assert f"<code>{name}</code>" in page.text, f"{name} is not explained"


@pytest.mark.e2e
def test_callback_exchanges_the_code_and_verifies_the_id_token(visitor, stack):
    page = visitor.signed_in()
    text = text_of(page)
    assert "Authorization: Basic ••••••••" in text
    assert "code_verifier=" in text and "grant_type=authorization_code" in text
    assert "✓ The signature: RS256" in text
    assert f"iss {stack.url}/o" in text and f"aud {stack.env['DEMO_CLIENT_ID']}" in text
    timeline = visitor.get("/timeline/")
    labels = ("Authorization request", "At the auth server: you sign in", "At the auth server: the consent page, "
              "you allow access", "Redirect back to the demo", "Token request: authorization code", "JWKS")
    positions = [timeline.text.find(label) for label in labels]
    assert -1 not in positions and positions == sorted(positions), list(zip(labels, positions))
    # Shortened values read as they are shown elsewhere ("2XAmlLPo…K8nU"), not percent-encoded.
    assert "%E2%80%A6" not in timeline.text and "%E2%80%A2" not in timeline.text
    callback = re.search(r'<span class="url">([^<]*/callback/\?[^<]*)</span>', timeline.text).group(1)
    code = query(unescape(callback))["code"]
    assert "…" in code and len(code) == 13
    for shown in (page, timeline):
        assert stack.env["DEMO_CLIENT_SECRET"] not in shown.text


@pytest.mark.e2e
def test_denied_consent_is_explained(visitor):
    page = visitor.get(visitor.callback_url(allow=False))
    assert page.status_code == 403
    assert heading(page) == "You denied access"
    assert "error=access_denied" in text_of(page)


@pytest.mark.e2e
def test_reloaded_callback_replays_the_code_and_says_what_happened(visitor):
    url = visitor.callback_url()
    assert visitor.get(url).status_code == 200
    again = visitor.get(url)
    assert again.status_code == 400
    assert heading(again) == "This callback was already used"
    text = text_of(again)
    assert "error=invalid_grant" in text
    # RFC 9700: the auth server revokes what it issued from a replayed code; the demo checks and says so.
    assert "also revoked the tokens it had issued from that code" in text
    api = text_of(visitor.post("/posts/list/"))
    assert "401 Unauthorized" in api and "with the rest of its family, after a replayed code" in api


@pytest.mark.e2e
def test_tampered_state_or_issuer_is_refused_before_the_code_is_sent(visitor):
    url = visitor.callback_url()
    page = visitor.get(url.replace("state=", "state=forged", 1))
    assert (page.status_code, heading(page)) == (400, "Refused: the state does not match")
    assert "/o/token/" not in page.text
    page = visitor.get(url.replace("iss=http", "iss=https", 1))
    assert (page.status_code, heading(page)) == (400, "Refused: the code comes from another issuer")
    assert "/o/token/" not in page.text
    assert visitor.get(url).status_code == 200, "the genuine callback still works: the code was never spent"


@pytest.mark.e2e
def test_what_a_visitor_can_stumble_on_is_explained(visitor):
    for path in ("/posts/", "/tokens/", "/login/"):
        page = visitor.get(path)
        assert (page.status_code, heading(page)) == (403, "Sign in first"), path
    page = visitor.post("/tokens/refresh/")
    assert (page.status_code, heading(page)) == (403, "Sign in first")
    page = visitor.get("/callback/?code=abc&state=def")
    assert (page.status_code, heading(page)) == (400, "Refused: the state does not match")
    page = visitor.http.post(f"{visitor.url}/start/", data={"scope": "read"})  # no CSRF token
    assert (page.status_code, heading(page)) == (403, "This form has expired")
    page = visitor.get("/logout/")
    assert (page.status_code, heading(page)) == (405, "This address belongs to a button")
    page = visitor.get("/no-such-page/")
    assert (page.status_code, heading(page)) == (404, "There is no such page")


@pytest.mark.e2e
def test_posts_api_create_list_and_a_scope_not_granted(visitor):
    visitor.signed_in(("read", "write"))
    title = f"View test {secrets.token_hex(4)}"
    created = visitor.post("/posts/create/", {"title": title, "body": "Written by the test suite."})
    assert created.url.endswith("/posts/#result")
    assert "The API answered 201" in text_of(created)
    listed = visitor.post("/posts/list/")
    assert "The API answered 200" in text_of(listed) and f"<h4>{title}</h4>" in listed.text
    me = visitor.post("/posts/me/")
    assert "403 Forbidden: the token lacks a scope" in text_of(me)
    assert 'needs the scope "profile"' in text_of(me)
    too_long = visitor.post("/posts/create/", {"title": "x" * 201, "body": "too long a title"})
    assert "400 Bad Request" in text_of(too_long)


@pytest.mark.e2e
def test_profile_scope_granted_lets_the_api_say_who_you_are(visitor, stack):
    visitor.signed_in(("profile",))
    me = visitor.post("/posts/me/")
    assert "The API answered 200" in text_of(me)
    assert stack.env["DEMO_USERNAME"] in me.text
    assert "403 Forbidden" in text_of(visitor.post("/posts/list/")), "read was not granted"


@pytest.mark.e2e
def test_refresh_rotates_and_the_spent_refresh_token_revokes_its_family(visitor):
    visitor.signed_in()
    refreshed = text_of(visitor.post("/tokens/refresh/"))
    assert "New tokens, without signing in again" in refreshed and ": rotated." in refreshed
    reused = text_of(visitor.post("/tokens/reuse/"))
    assert "Refused as it should be: invalid_grant" in reused
    assert "also revoked the whole family" in reused
    assert "401 Unauthorized" in text_of(visitor.post("/tokens/call/"))


@pytest.mark.e2e
def test_revoked_access_token_is_refused_by_the_api(visitor):
    visitor.signed_in()
    assert "The API answered 200" in text_of(visitor.post("/tokens/call/"))
    assert "Access token revoked, and its refresh token with it" in text_of(visitor.post("/tokens/revoke/"))
    called = text_of(visitor.post("/tokens/call/"))
    assert "401 Unauthorized" in called and 'error="invalid_token"' in called
    assert "You revoked this access token" in called
    # As the page says: the refresh token went with it.
    assert "The auth server refused the refresh token: invalid_grant" in text_of(visitor.post("/tokens/refresh/"))


@pytest.mark.e2e
def test_revoking_the_refresh_token_ends_the_access_token_too(visitor):
    visitor.signed_in()
    page = text_of(visitor.get("/tokens/"))
    assert "Its refresh token goes with it" in page and "Revoke the refresh token" in page
    revoked = text_of(visitor.post("/tokens/revoke-refresh/"))
    assert "Refresh token revoked, and the access token with it" in revoked
    assert "token_type_hint=refresh_token" in revoked
    assert "401 Unauthorized" in text_of(visitor.post("/tokens/call/"))
    assert "The auth server refused the refresh token: invalid_grant" in text_of(visitor.post("/tokens/refresh/"))
    assert visitor.post("/tokens/no-such-action/").status_code == 404


@pytest.mark.e2e
def test_logout_forgets_the_tokens_and_sends_the_browser_to_end_the_session(visitor, stack):
    visitor.signed_in()
    response = visitor.post("/logout/", allow_redirects=False)
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith(f"{stack.url}/o/logout/?")
    params = query(location)
    assert params["post_logout_redirect_uri"] == f"{stack.url}/"
    assert params["client_id"] == stack.env["DEMO_CLIENT_ID"]
    assert params["id_token_hint"].count(".") == 2 and params["state"]
    assert heading(visitor.get("/tokens/")) == "Sign in first"
    back = visitor.get(f"/?state={params['state']}")
    assert "You are signed out." in text_of(back)
