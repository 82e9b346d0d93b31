"""Every page of the auth server: one stylesheet, no inline script or style (CSP default-src 'self')."""

import re
from urllib.parse import urlencode

import pytest
import requests

from tests import flows

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
