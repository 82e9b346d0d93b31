"""The interactive API docs at /api/docs (Swagger UI, posts/docs.py) in a real browser, under nginx's
strict CSP: the page loads from this origin alone, and a reader signs in and calls the API from it."""

import pytest
import requests

CHROMIUM = "/usr/bin/chromium"
playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        yield browser
        browser.close()


@pytest.fixture
def context(browser):
    """A browser context that records what would go wrong for a reader: CSP violations, script
    errors and failed requests, in every window it opens."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    context.problems = []

    def watch(page):
        page.on("console", lambda m: "Content Security Policy" in m.text and context.problems.append(m.text))
        page.on("pageerror", lambda error: context.problems.append(str(error)))
        page.on("requestfailed", lambda r: context.problems.append(f"failed: {r.url}"))

    context.on("page", watch)
    yield context
    context.close()


def test_docs_page_loads_under_the_csp_with_local_assets(stack, context):
    page = context.new_page()
    requested = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(f"{stack.url}/api/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "Posts API" in page.locator(".swagger-ui .info .title").inner_text()
    assert page.locator(".opblock").count() >= 7  # every operation is listed
    assert page.locator("button.authorize").is_visible()
    assert all(url.startswith(stack.url) for url in requested), [u for u in requested if not u.startswith(stack.url)]
    csp = requests.get(f"{stack.url}/api/docs").headers["Content-Security-Policy"]
    assert csp.startswith("default-src 'self'") and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert context.problems == []


def test_reader_signs_in_with_pkce_and_calls_the_api(stack, context):
    page = context.new_page()
    page.goto(f"{stack.url}/api/docs")
    page.click("button.authorize")
    code_flow = page.locator(".auth-container").filter(has_text="authorizationCode with PKCE")
    assert code_flow.locator("#client_id_authorizationCode").input_value() == "posts-api-docs"
    assert code_flow.locator("#read-authorizationCode-checkbox-OAuth2").is_checked()
    with context.expect_page() as opened:
        code_flow.locator("button.authorize").click()
    popup = opened.value
    popup.fill("#id_username", stack.env["DEMO_USERNAME"])
    popup.fill("#id_password", stack.env["DEMO_PASSWORD"])
    popup.click("button[type=submit]")
    assert "Posts API docs" in popup.locator("h1").inner_text()
    popup.click("button[name=allow]")
    popup.wait_for_event("close")

    # Signed in: Swagger UI exchanged the code (with its PKCE verifier) and offers to log out.
    code_flow.get_by_role("button", name="Remove authorization").wait_for()
    page.click("button.close-modal")
    operation = page.locator(".opblock").filter(has_text="/api/posts/").filter(has_text="List posts").first
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    operation.locator("button.execute").click()
    status = operation.locator(".live-responses-table tr.response .response-col_status").first
    status.wait_for()
    assert status.inner_text().strip() == "200"
    assert context.problems == []


def test_redirect_page_opened_on_its_own_says_what_it_is(stack, context):
    page = context.new_page()
    page.goto(f"{stack.url}/api/docs/oauth2-redirect?code=x&state=y")
    assert "Open the API docs at /api/docs" in page.locator("#message").inner_text()
    assert context.problems == []


def test_openapi_document_declares_the_oauth2_flows(stack):
    document = requests.get(f"{stack.url}/api/openapi.json").json()
    scheme = document["components"]["securitySchemes"]["OAuth2"]
    assert scheme["type"] == "oauth2"
    code = scheme["flows"]["authorizationCode"]
    assert code["authorizationUrl"] == f"{stack.url}/o/authorize/" and code["tokenUrl"] == f"{stack.url}/o/token/"
    assert set(code["scopes"]) == set(scheme["flows"]["clientCredentials"]["scopes"]) == {"read", "write", "profile"}
    assert "/api/docs" in requests.get(f"{stack.url}/api/").json()["docs"]
