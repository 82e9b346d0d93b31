"""Every page of the auth server: one stylesheet, no inline script or style (CSP default-src 'self')."""

import re
from urllib.parse import urlencode

import pytest
import requests

from stack import flows

STYLESHEET = "/static/auth_server/oauth/site.css"
INLINE = re.compile(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=", re.IGNORECASE)


def assert_clean_page(response):
    assert response.status_code == 200, (response.url, response.status_code)
    assert f'href="{STYLESHEET}"' in response.text, response.url
    assert not INLINE.search(response.text), (response.url, INLINE.search(response.text).group(0))


@pytest.mark.e2e
def test_stylesheet_is_served(stack):
    r = requests.get(f"{stack.url}{STYLESHEET}")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/css")


def test_user_pages(stack, demo, developer_session, issue, auth_orm):
    user, session = developer_session
    assert_clean_page(requests.get(f"{stack.url}/accounts/login/"))
    consent = session.get(f"{stack.url}/o/authorize/?{urlencode(flows.AuthorizationRequest(demo).params())}")
    assert_clean_page(consent)
    error = session.get(f"{stack.url}/o/authorize/?{urlencode(flows.AuthorizationRequest(demo).params(client_id='x'))}")
    assert error.status_code == 400 and f'href="{STYLESHEET}"' in error.text and not INLINE.search(error.text)
    tokens = issue(session)
    for path in ("/o/authorized_tokens/", "/o/applications/", "/o/applications/register/", "/accounts/logout/"):
        assert_clean_page(session.get(f"{stack.url}{path}"))
    from oauth2_provider.models import get_access_token_model
    pk = get_access_token_model().objects.filter(user=user).first().pk
    assert_clean_page(session.get(f"{stack.url}/o/authorized_tokens/{pk}/delete/"))
    app = get_access_token_model().objects.get(pk=pk).application_id
    assert_clean_page(session.get(f"{stack.url}/o/authorized_tokens/app/{app}/revoke/"))
    logout = session.get(f"{stack.url}/o/logout/?{urlencode({'id_token_hint': tokens['id_token']})}")
    assert_clean_page(logout)


def test_signing_out(stack, user_session):
    _, session = user_session
    page = session.get(f"{stack.url}/accounts/logout/")
    done = flows.submit_form(session, page, {}, allow_redirects=False)
    assert done.status_code == 303
    assert "/accounts/login/" in session.get(f"{stack.url}/o/authorized_tokens/").url


@pytest.mark.e2e
def test_admin_uses_the_same_stylesheet(stack):
    admin = flows.login(stack.url, stack.env["ADMIN_USERNAME"], stack.env["ADMIN_PASSWORD"])
    for path in ("/admin/", "/admin/oauth/application/", "/admin/oauth/accesstoken/"):
        page = admin.get(f"{stack.url}{path}")
        assert page.status_code == 200 and f'href="{STYLESHEET}"' in page.text


@pytest.mark.e2e
def test_login_failure_is_a_readable_page(stack):
    session = requests.Session()
    page = session.get(f"{stack.url}/accounts/login/")
    r = flows.submit_form(session, page, {"username": stack.env["DEMO_USERNAME"], "password": "wrong"})
    assert r.status_code == 200 and "didn't match" in r.text


@pytest.mark.e2e
def test_csrf_failure_is_the_sites_own_refusal_page(stack):
    # A sign-in form posted without its CSRF token (a forged cross-site request, or an expired form).
    r = requests.post(f"{stack.url}/accounts/login/", data={"username": "x", "password": "y"})
    assert r.status_code == 403
    assert "You're not allowed to do this" in r.text
    assert f'href="{STYLESHEET}"' in r.text
    assert not INLINE.search(r.text)


def form_action(response) -> str:
    csp = response.headers["Content-Security-Policy"]
    return next(d for d in csp.split("; ") if d.startswith("form-action "))


def test_pages_whose_form_leads_to_a_client_allow_its_origin_as_form_action(stack, user_session, other_origin_client):
    """Consent, sign-in on the way to a client, logout prompt: their forms' answers redirect to the
    client's registered origin, so the page's CSP names it. Only there, and nothing unregistered."""
    _, session = user_session
    client = other_origin_client(post_logout_redirect_uris=stack.url.replace("localhost", "127.0.0.1") + "/")
    origin = stack.url.replace("localhost", "127.0.0.1")
    request = flows.AuthorizationRequest(client, scope="openid read")
    authorize_path = f"/o/authorize/?{urlencode(request.params())}"

    assert form_action(session.get(f"{stack.url}{authorize_path}")) == f"form-action 'self' {origin}"
    login = requests.get(f"{stack.url}/accounts/login/", params={"next": authorize_path})
    assert form_action(login) == f"form-action 'self' {origin}"
    unregistered = authorize_path.replace("127.0.0.1", "evil.example")
    assert form_action(requests.get(f"{stack.url}/accounts/login/", params={"next": unregistered})) == \
        "form-action 'self'"
    assert form_action(requests.get(f"{stack.url}/accounts/login/")) == "form-action 'self'"
    for next_path in (f"/o/authorize/?client_id={client.client_id}",  # its only redirect URI, the default
                      "/o/authorize/?client_id=%00", "/o/authorize/?client_id=unknown", "https://evil.example/"):
        login = requests.get(f"{stack.url}/accounts/login/", params={"next": next_path})
        expected = f"form-action 'self' {origin}" if "client_id=" + client.client_id in next_path else "form-action 'self'"
        assert login.status_code == 200 and form_action(login) == expected, next_path

    code = flows.code_from(flows.authorize(session, stack.url, request))["code"]
    id_token = flows.exchange_code(stack.url, request, code).json()["id_token"]
    logout = session.get(f"{stack.url}/o/logout/", params={"id_token_hint": id_token,
                                                           "post_logout_redirect_uri": f"{origin}/"})
    assert logout.status_code == 200 and form_action(logout) == f"form-action 'self' {origin}"
    assert "X-CSP-Form-Action" not in logout.headers  # nginx keeps it to itself


def test_sign_in_on_the_way_to_a_client_with_several_redirect_uris(stack, auth_orm, other_origin_client):
    from oauth2_provider.models import get_application_model

    client = other_origin_client()
    get_application_model().objects.filter(client_id=client.client_id).update(
        redirect_uris=f"{client.redirect_uri} https://elsewhere.example/cb")
    login = requests.get(f"{stack.url}/accounts/login/", params={"next": f"/o/authorize/?client_id={client.client_id}"})
    assert login.status_code == 200 and form_action(login) == "form-action 'self'"  # which one is for DOT to say
