"""The pages where clients are registered (self-service and admin), the Connected apps page and the
sign-in page, as this deployment's policy wants them."""

import re
import secrets
from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest
import requests

from stack import flows

SECRET_ON_PAGE = re.compile(r'<code class="secret">([^<]+)</code>')


class _Choices(HTMLParser):
    """Each choice field's options (radio, checkbox, select) and which ones are selected."""

    def __init__(self):
        super().__init__()
        self.options, self.selected, self._select = {}, {}, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select:
            self.options.setdefault(self._select, []).append(a.get("value", ""))
            if "selected" in a:
                self.selected.setdefault(self._select, []).append(a.get("value", ""))
        elif tag == "input" and a.get("type") in ("radio", "checkbox"):
            self.options.setdefault(a["name"], []).append(a.get("value", ""))
            if "checked" in a:
                self.selected.setdefault(a["name"], []).append(a.get("value", ""))

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def choices(html: str) -> _Choices:
    parser = _Choices()
    parser.feed(html)
    return parser


@pytest.fixture(scope="module")
def admin_session(stack):
    return flows.login(stack.url, stack.env["ADMIN_USERNAME"], stack.env["ADMIN_PASSWORD"])


def register(stack, session, **fields):
    page = session.get(f"{stack.url}/o/applications/register/")
    values = {"name": f"Service {secrets.token_hex(4)}", "client_type": "confidential",
              "authorization_grant_type": "authorization-code", "redirect_uris": "https://app.example/cb",
              "post_logout_redirect_uris": "", "algorithm": "RS256"} | fields
    return page, flows.submit_form(session, page, values)


# ---- what the forms offer ------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["self-service", "admin"])
def test_forms_offer_only_what_the_server_accepts_and_start_from_its_defaults(stack, developer_session,
                                                                               admin_session, where):
    session, path = ((developer_session[1], "/o/applications/register/") if where == "self-service"
                     else (admin_session, "/admin/oauth/application/add/"))
    page = session.get(f"{stack.url}{path}")
    assert page.status_code == 200
    found = choices(page.text)
    assert sorted(found.options["authorization_grant_type"]) == ["authorization-code", "client-credentials",
                                                                 "urn:ietf:params:oauth:grant-type:device_code"]
    assert sorted(found.options["client_type"]) == ["confidential", "public"]
    assert sorted(found.options["algorithm"]) == ["", "RS256"]
    assert found.selected == {"client_type": ["confidential"], "authorization_grant_type": ["authorization-code"],
                              "algorithm": ["RS256"]}
    scopes = {"openid", "profile", "email", "read", "write"} | ({"introspection"} if where == "admin" else set())
    assert set(found.options["allowed_scopes"]) == scopes
    fields = flows.forms(page.text)[-1]["fields"]
    assert "client_secret" not in fields and "hash_client_secret" not in fields
    assert "Users see this name on the sign-in and consent pages" in page.text
    assert "proves itself with PKCE alone" in page.text


def test_registration_stores_the_scopes_and_shows_the_next_steps(stack, auth_orm, developer_session):
    from oauth2_provider.models import get_application_model

    user, session = developer_session
    page = session.get(f"{stack.url}/o/applications/register/")
    name = f"Scoped {secrets.token_hex(4)}"
    form = flows.forms(page.text)[-1]
    data = {**form["fields"], "name": name, "redirect_uris": "https://app.example/cb",
            "allowed_scopes": ["openid", "read"], **choices(page.text).selected}
    done = session.post(f"{stack.url}/o/applications/register/", data=data, headers={"Referer": page.url})
    assert done.status_code == 200, done.text[:2000]
    app = get_application_model().objects.get(name=name)
    assert app.allowed_scopes == "openid read" and app.algorithm == "RS256"
    issuer = f"{stack.url}/o"
    assert f"<code>{issuer}</code>" in done.text
    assert f"<code>{issuer}/.well-known/openid-configuration</code>" in done.text
    assert f"<code>{app.client_id}</code>" in done.text and SECRET_ON_PAGE.search(done.text)
    assert done.text.count("data-copy") == 4 and '<script src="/static/auth_server/oauth/copy.js">' in done.text
    # The client can use what it was given, and nothing else.
    request = flows.AuthorizationRequest(flows.Client(app.client_id, None, "https://app.example/cb"), scope="write")
    refused = flows.code_from(flows.authorize(session, stack.url, request))
    assert refused["error"] == "invalid_scope"


def test_a_public_client_gets_no_secret_and_no_client_credentials(stack, auth_orm, developer_session):
    _, session = developer_session
    _, done = register(stack, session, client_type="public")
    assert done.status_code == 200 and not SECRET_ON_PAGE.search(done.text) and "Client ID" in done.text
    _, refused = register(stack, session, client_type="public", authorization_grant_type="client-credentials")
    assert refused.status_code == 200 and "Client credentials need a confidential application" in refused.text


@pytest.mark.parametrize("values, message", [
    ({"allowed_scopes": "introspection"}, "Select a valid choice"),  # restricted: the admin's to give
    ({"allowed_scopes": "<script>"}, "Select a valid choice"),
    ({"algorithm": "HS256"}, "Select a valid choice"),
    ({"client_type": "trusted"}, "Select a valid choice"),
    ({"authorization_grant_type": "password"}, "Select a valid choice"),
    ({"redirect_uris": "javascript:alert(1)"}, "invalid_scheme"),
    ({"name": "x\x00y"}, None),
])
def test_bad_input_on_the_registration_form_gets_a_readable_page(stack, auth_orm, developer_session, values, message):
    from oauth2_provider.models import get_application_model

    user, session = developer_session
    _, done = register(stack, session, **values)
    assert done.status_code in (200, 400) and done.headers["Content-Type"].startswith("text/html")
    if message:
        assert message in done.text
    assert "<script>" not in done.text
    assert not get_application_model().objects.filter(user=user).exists()


def test_editing_on_the_self_service_page_keeps_an_admin_granted_scope(stack, auth_orm, developer_session):
    from oauth2_provider.models import get_application_model

    user, session = developer_session
    app = get_application_model().objects.create(
        name=f"Resource server {secrets.token_hex(3)}", user=user, client_type="confidential",
        authorization_grant_type="client-credentials", allowed_scopes="introspection read")
    page = session.get(f"{stack.url}/o/applications/{app.pk}/update/")
    assert choices(page.text).selected["allowed_scopes"] == ["read"]
    done = flows.submit_form(session, page, {**choices(page.text).selected, "allowed_scopes": "write"},
                             allow_redirects=False)
    assert done.status_code == 303, done.text[:1000]
    app.refresh_from_db()
    assert app.allowed_scopes == "write introspection"


# ---- Connected apps ------------------------------------------------------------------------------
def test_connected_apps_lists_each_application_once_and_revokes_all_its_tokens(
        stack, auth_orm, demo, user_session, issue):
    user, session = user_session
    first, second = issue(session, scope="openid read"), issue(session, scope="openid profile write")
    page = session.get(f"{stack.url}/o/authorized_tokens/")
    assert page.text.count("<strong>Consumer demo</strong>") == 1
    for description in ("Read posts on your behalf", "See your username and name",
                        "Create, change and delete posts on your behalf"):
        assert page.text.count(description) == 1, description
    assert "last used" in page.text

    revoke = re.search(r'href="(/o/authorized_tokens/app/\d+/revoke/)"', page.text).group(1)
    confirm = session.get(f"{stack.url}{revoke}")
    assert confirm.status_code == 200 and "Revoke access of Consumer demo?" in confirm.text
    done = flows.submit_form(session, confirm, {}, allow_redirects=False)
    assert done.status_code == 303 and done.headers["Location"] == "/o/authorized_tokens/"

    for tokens in (first, second):  # every access token refused at once, every refresh token dead
        me = requests.get(f"{stack.url}/api/public/", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert me.status_code == 401
        assert flows.refresh(stack.url, demo, tokens["refresh_token"]).status_code == 400
    assert "No application has access to your account." in session.get(f"{stack.url}/o/authorized_tokens/").text


@pytest.mark.parametrize("path", ["app/999999999/revoke/", f"app/{2**70}/revoke/", "app/x/revoke/", "app/-1/revoke/"])
def test_revoking_an_app_without_access_gets_a_readable_page(stack, user_session, path):
    _, session = user_session
    page = session.get(f"{stack.url}/o/authorized_tokens/{path}")
    assert page.status_code == 404 and page.headers["Content-Type"].startswith("text/html")
    assert 'href="/static/auth_server/oauth/site.css"' in page.text


def test_one_cannot_revoke_for_someone_else(stack, auth_orm, new_user, user_session, issue):
    _, victim = user_session
    tokens = issue(victim, scope="read")
    page = victim.get(f"{stack.url}/o/authorized_tokens/")
    revoke = re.search(r'href="(/o/authorized_tokens/app/\d+/revoke/)"', page.text).group(1)
    other, password = new_user()
    attacker = flows.login(stack.url, other.username, password)
    confirm = attacker.get(f"{stack.url}{revoke}")
    assert confirm.status_code == 404
    posted = attacker.post(f"{stack.url}{revoke}", data={"csrfmiddlewaretoken": attacker.cookies["csrftoken"]},
                           headers={"Referer": f"{stack.url}{revoke}"})
    assert posted.status_code == 404
    me = requests.get(f"{stack.url}/api/posts/", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200


# ---- sign-in names the application ---------------------------------------------------------------
@pytest.mark.e2e
def test_sign_in_page_names_the_application_that_asked(stack, demo):
    authorize = f"/o/authorize/?{urlencode(flows.AuthorizationRequest(demo).params())}"
    page = requests.get(f"{stack.url}/accounts/login/", params={"next": authorize})
    assert "to continue to <strong>Consumer demo</strong>" in page.text
    for next_url in ("/o/authorize/?client_id=unknown", "/o/authorize/?client_id=%3Cb%3E", "https://evil.example/",
                     "/o/authorize/?client_id=a%00b"):
        other = requests.get(f"{stack.url}/accounts/login/", params={"next": next_url})
        assert other.status_code == 200 and "to continue to" not in other.text and "<b>" not in other.text
