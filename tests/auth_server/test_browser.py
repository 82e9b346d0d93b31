"""The sign-in and consent pages in a real browser (Debian's chromium), under nginx's CSP and headers."""

from urllib.parse import parse_qs, urlencode, urlparse

import pytest

from stack import flows

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
AUTH_SERVER_PATHS = ("/o/", "/accounts/", "/admin/", "/static/auth_server/")


@pytest.fixture(scope="module")
def browser():
    # Playwright's sync API runs an event loop in this thread, beside which Django's ORM (the
    # auth_orm fixture) refuses to run unless told that nothing here is async.
    with pytest.MonkeyPatch.context() as patch, playwright_api.sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    page = context.new_page()
    # What the user would see go wrong here: CSP violations and failed requests to this server
    # (the callback and the favicon belong to the consumer demo).
    page.problems = []
    page.on("console", lambda m: "Content Security Policy" in m.text and page.problems.append(m.text))
    page.on("response", lambda r: r.status >= 400 and urlparse(r.url).path.startswith(AUTH_SERVER_PATHS)
            and page.problems.append(f"{r.status} {r.url}"))
    yield page
    context.close()


@pytest.mark.e2e
def test_sign_in_and_consent(stack, demo, page):
    """Forms POST with the Origin the browser sends (nginx's no-referrer would make it "null")."""
    request = flows.AuthorizationRequest(demo, scope="openid profile read")

    page.goto(f"{stack.url}/o/authorize/?{urlencode(request.params())}")
    assert page.locator("h1").inner_text() == "Sign in"
    page.fill("#id_username", stack.env["DEMO_USERNAME"])
    page.fill("#id_password", stack.env["DEMO_PASSWORD"])
    page.click("button[type=submit]")

    assert "Consumer demo" in page.locator("h1").inner_text()
    assert page.locator(".scopes li").all_inner_texts() == [
        "Confirm who you are (sign you in)", "See your username and name", "Read posts on your behalf"]
    page.click("button[name=allow]")

    page.wait_for_url(lambda url: url.startswith(demo.redirect_uri))
    params = parse_qs(urlparse(page.url).query)
    assert params["state"] == [request.state] and params["code"]
    assert page.problems == []


@pytest.mark.e2e
def test_admin_sign_in(stack, page):
    page.goto(f"{stack.url}/admin/")
    page.fill("#id_username", stack.env["ADMIN_USERNAME"])
    page.fill("#id_password", stack.env["ADMIN_PASSWORD"])
    page.click("input[type=submit]")
    page.wait_for_url(f"{stack.url}/admin/")
    assert "Auth server admin" in page.locator("#site-name").inner_text()


# nginx's CSP has form-action 'self', and Chromium applies it to the redirects that answer a form
# too: the sign-in and consent forms' answers lead to the client, here on another origin.
def test_consent_for_a_client_on_another_origin(stack, page, other_origin_client):
    client = other_origin_client()
    request = flows.AuthorizationRequest(client, scope="openid read")
    page.goto(f"{stack.url}/o/authorize/?{urlencode(request.params())}")
    page.fill("#id_username", stack.env["DEMO_USERNAME"])
    page.fill("#id_password", stack.env["DEMO_PASSWORD"])
    page.click("button[type=submit]")
    page.wait_for_url("**/o/authorize/**")
    page.click("button[name=allow]")

    page.wait_for_url(lambda url: url.startswith(client.redirect_uri))
    params = parse_qs(urlparse(page.url).query)
    assert params["state"] == [request.state] and params["code"]
    assert page.problems == []


def test_sign_in_for_a_client_on_another_origin_that_skips_consent(stack, page, other_origin_client):
    client = other_origin_client(skip_authorization=True)
    request = flows.AuthorizationRequest(client, scope="openid read")
    page.goto(f"{stack.url}/o/authorize/?{urlencode(request.params())}")
    page.fill("#id_username", stack.env["DEMO_USERNAME"])
    page.fill("#id_password", stack.env["DEMO_PASSWORD"])
    page.click("button[type=submit]")  # -> 303 to /o/authorize/ -> 302 to the client

    page.wait_for_url(lambda url: url.startswith(client.redirect_uri))
    assert parse_qs(urlparse(page.url).query)["state"] == [request.state]
    assert page.problems == []
