"""The sign-in and consent pages in a real browser (Debian's chromium), under nginx's CSP and headers."""

import re
import secrets
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


def contrast_ratio(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio of two computed CSS colours ("rgb(r, g, b)" or "rgba(...)")."""
    def luminance(colour: str) -> float:
        r, g, b = (int(float(c)) / 255 for c in re.findall(r"[\d.]+", colour)[:3])
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


# The colour of an element's text and of the first non-transparent background behind it.
COLOURS = """el => {
  let back = el;
  while (back && ["transparent", "rgba(0, 0, 0, 0)"].includes(getComputedStyle(back).backgroundColor)) {
    back = back.parentElement;
  }
  return [getComputedStyle(el).color, back ? getComputedStyle(back).backgroundColor : "rgb(255, 255, 255)"];
}"""


def test_contrast_ratio_is_computed_as_wcag_says():
    assert round(contrast_ratio("rgb(0, 0, 0)", "rgb(255, 255, 255)"), 2) == 21.0
    assert round(contrast_ratio("rgb(47, 91, 211)", "rgb(29, 36, 51)"), 2) == 2.63  # the header's old title link


@pytest.mark.e2e
def test_admin_header_passes_wcag_aa_contrast(stack, page):
    page.goto(f"{stack.url}/admin/")
    page.fill("#id_username", stack.env["ADMIN_USERNAME"])
    page.fill("#id_password", stack.env["ADMIN_PASSWORD"])
    page.click("input[type=submit]")
    page.wait_for_url(f"{stack.url}/admin/")
    for selector in ("#site-name a", "#user-tools", "#user-tools strong", "#user-tools a", "#logout-form button",
                     ".module caption a", "#content h1"):
        foreground, background = page.eval_on_selector(selector, COLOURS)
        ratio = contrast_ratio(foreground, background)
        assert ratio >= 4.5, f"{selector}: {foreground} on {background} is {ratio:.2f}:1, WCAG AA needs 4.5:1"
    assert page.problems == []


@pytest.mark.e2e
def test_secret_page_copy_buttons_work_under_the_csp(stack, browser):
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    problems = []
    page.on("console", lambda m: "Content Security Policy" in m.text and problems.append(m.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    try:
        page.goto(f"{stack.url}/accounts/login/?next=/o/applications/register/")
        page.fill("#id_username", stack.env["ADMIN_USERNAME"])
        page.fill("#id_password", stack.env["ADMIN_PASSWORD"])
        page.click("button[type=submit]")
        page.wait_for_url("**/o/applications/register/")
        page.fill("#id_name", f"Copy test {secrets.token_hex(3)}")
        page.fill("#id_redirect_uris", "https://app.example/cb")
        page.click("button[type=submit]")
        page.wait_for_selector(".next-steps")
        secret = page.locator("code.secret").inner_text()
        button = page.locator("code.secret + button[data-copy]")
        button.click()
        playwright_api.expect(button).to_have_text("Copied")  # the clipboard write resolves after the click
        assert page.evaluate("navigator.clipboard.readText()") == secret
        assert problems == []
    finally:
        context.close()
