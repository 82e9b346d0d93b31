"""The whole walkthrough in headless Chromium through nginx, as a person clicks it.

A screenshot of each step goes to artifacts/screenshots/<test name>/. The browser runs under the
strict CSP nginx sends: any inline script or style the pages tried to use would be reported here.
"""

import secrets

import pytest
from playwright.sync_api import expect


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    yield page
    context.close()
    csp = [p for p in problems if "Content Security Policy" in p]
    assert not csp, f"the pages break the CSP: {csp}"


def result(page):
    return page.locator("#result")


def sign_in(page, stack):
    page.wait_for_url("**/accounts/login/**")
    page.locator("#id_username").fill(stack.env["DEMO_USERNAME"])
    page.locator("#id_password").fill(stack.env["DEMO_PASSWORD"])


@pytest.mark.e2e
def test_walkthrough_from_home_page_to_logout(page, stack, screenshot):
    title = f"Walkthrough post {secrets.token_hex(4)}"

    # Step 1: the home page, scopes (profile left unticked), then the authorization URL explained.
    page.goto(f"{stack.url}/")
    expect(page.get_by_role("heading", name="Follow one sign-in from start to finish")).to_be_visible()
    stylesheet = page.locator("link[rel=stylesheet]")
    expect(stylesheet).to_have_attribute("href", "/static/consumer_demo/walkthrough/demo.css")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != "rgba(0, 0, 0, 0)", "no stylesheet"
    screenshot(page, "home")
    page.get_by_role("button", name="Prepare the authorization request").click()
    expect(page.get_by_role("heading", name="The address the demo is about to open")).to_be_visible()
    for parameter in ("client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge_method"):
        expect(page.locator("table.params th", has_text=parameter).first).to_be_visible()
    screenshot(page, "authorization-request")

    # Step 2: sign in and consent at the auth server; deny once, then allow.
    page.locator("#open-auth-server").click()
    sign_in(page, stack)
    screenshot(page, "auth-server-login")
    page.locator("button[type=submit]").click()
    page.wait_for_url("**/o/authorize/**")
    screenshot(page, "auth-server-consent")
    page.locator("button[name=cancel]").click()
    expect(page.get_by_role("heading", name="You denied access")).to_be_visible()
    screenshot(page, "consent-denied")
    page.get_by_role("link", name="Start again").click()
    page.get_by_role("button", name="Prepare the authorization request").click()
    page.locator("#open-auth-server").click()
    page.wait_for_url("**/o/authorize/**")
    page.locator("button[name=allow]").click()

    # Steps 3 and 4: the callback, the token exchange and the verified ID token.
    page.wait_for_url("**/callback/**")
    expect(page.get_by_role("heading", name="The auth server sent you back with a code")).to_be_visible()
    expect(page.locator("#step-4")).to_contain_text("Authorization: Basic ••••••••")
    expect(page.locator("#step-4")).to_contain_text(f"{stack.url}/o")
    expect(page.locator("ul.checks")).to_contain_text("nonce")
    screenshot(page, "callback-and-tokens")

    # Step 5: create a post, see it listed by the API, and a 403 for the scope not granted.
    page.get_by_role("link", name="Continue: call the API →").click()
    page.locator("#title").fill(title)
    page.get_by_role("button", name="Create the post").click()
    expect(result(page)).to_contain_text("201")
    screenshot(page, "post-created")
    page.get_by_role("button", name="List posts").click()
    expect(result(page).locator("ol.posts")).to_contain_text(title)
    screenshot(page, "posts-listed")
    page.get_by_role("button", name="Who am I?").click()
    expect(result(page)).to_contain_text("403 Forbidden")
    expect(result(page)).to_contain_text('needs the scope "profile"')
    screenshot(page, "scope-not-granted-403")

    # Step 6: refresh (rotation); the spent refresh token is refused and takes its family down with it.
    page.get_by_role("link", name="Continue: refresh, revoke, log out →").click()
    page.get_by_role("button", name="Refresh the tokens").click()
    expect(result(page)).to_contain_text("New tokens, without signing in again")
    expect(result(page)).to_contain_text("rotated")
    screenshot(page, "refreshed")
    page.get_by_role("button", name="Try the old refresh token").click()
    expect(result(page)).to_contain_text("Refused as it should be: invalid_grant")
    expect(result(page)).to_contain_text("also revoked the whole family")
    screenshot(page, "old-refresh-token-refused")

    # Sign in again (the auth server remembers you), then revoke: the API answers 401.
    page.get_by_role("link", name="Start").click()
    page.get_by_role("button", name="Prepare the authorization request").click()
    page.locator("#open-auth-server").click()
    page.locator("button[name=allow]").click()
    page.wait_for_url("**/callback/**")
    page.goto(f"{stack.url}/tokens/")
    page.get_by_role("button", name="Call the API with the access token").click()
    expect(result(page)).to_contain_text("The API answered 200")
    page.get_by_role("button", name="Revoke the access token").click()
    expect(result(page)).to_contain_text("Access token revoked")
    page.get_by_role("button", name="Call the API with the access token").click()
    expect(result(page)).to_contain_text("401 Unauthorized")
    expect(result(page)).to_contain_text('error="invalid_token"')
    screenshot(page, "revoked-api-401")
    page.get_by_role("button", name="Log out everywhere").click()
    page.wait_for_url("**/o/logout/**")
    screenshot(page, "auth-server-logout")
    page.locator("button[name=allow]").click()
    page.wait_for_url(f"{stack.url}/?state=*")
    expect(page.locator("#signed-out")).to_contain_text("You are signed out")
    screenshot(page, "signed-out")

    # The auth server's session is over too: a new sign-in asks for the password again.
    page.get_by_role("button", name="Prepare the authorization request").click()
    page.locator("#open-auth-server").click()
    page.wait_for_url("**/accounts/login/**")

    # The timeline has every exchange, with the client secret nowhere in it.
    page.goto(f"{stack.url}/timeline/")
    expect(page.locator("details.exchange")).not_to_have_count(0)
    assert stack.env["DEMO_CLIENT_SECRET"] not in page.content()
    screenshot(page, "timeline")


@pytest.mark.e2e
def test_walkthrough_on_a_phone_and_a_reloaded_callback(chromium, stack, screenshot):
    """The pages reflow on a narrow screen (nothing wider than it), and reloading the callback, which
    sends the spent code again, is explained."""
    context = chromium.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(f"{stack.url}/")
        screenshot(page, "phone-home")
        page.get_by_role("button", name="Prepare the authorization request").click()
        screenshot(page, "phone-authorization-request")
        page.locator("#open-auth-server").click()
        sign_in(page, stack)
        page.locator("button[type=submit]").click()
        page.locator("button[name=allow]").click()
        page.wait_for_url("**/callback/**")
        expect(page.get_by_role("heading", name="The auth server sent you back with a code")).to_be_visible()
        screenshot(page, "phone-callback-and-tokens")

        page.reload()
        expect(page.get_by_role("heading", name="This callback was already used")).to_be_visible()
        expect(page.locator("main")).to_contain_text("error=invalid_grant")
        screenshot(page, "phone-callback-reloaded")
        page.goto(f"{stack.url}/posts/")
        page.get_by_role("button", name="List posts").click()
        expect(result(page)).to_contain_text("401 Unauthorized")
        screenshot(page, "phone-api-refuses-after-replay")

        for path in ("/", "/login/", "/posts/", "/tokens/", "/timeline/"):
            page.goto(f"{stack.url}{path}")
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, f"{path} is wider than the phone"
    finally:
        context.close()
