"""The consumer demo's fixtures: a visitor driving the demo over HTTP, and a headless Chromium.

Both go through nginx (stack.url) and need only stack.url and stack.env, so the tests that use
nothing else are marked e2e and also run against the Compose stack.
"""

import re
from html import unescape
from pathlib import Path

import pytest
import requests

from stack import flows
from stack.harness import ARTIFACTS

SCREENSHOTS = ARTIFACTS / "screenshots"
# Debian's chromium, never a downloaded browser; no network access beyond the stack.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def heading(page: requests.Response) -> str:
    """The page's <h1>, as a person reads it."""
    found = re.search(r"<h1>(.*?)</h1>", page.text, re.S)
    return unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip() if found else ""


def text_of(page: requests.Response) -> str:
    """The visible text of a page, tags removed and whitespace collapsed, for phrase checks."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", page.text)).split())


class Visitor:
    """One person's browser, as plain HTTP: cookies for the demo and the auth server (same host)."""

    def __init__(self, stack):
        self.url = stack.url
        self.env = stack.env
        self.http = requests.Session()

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.http.get(path if path.startswith("http") else self.url + path, **kwargs)

    def post(self, path: str, data: dict | None = None, **kwargs) -> requests.Response:
        """A form post to the demo, with the CSRF token its pages carry."""
        token = self.http.cookies.get("demo_csrftoken") or self._csrf_cookie()
        return self.http.post(self.url + path, data={"csrfmiddlewaretoken": token, **(data or {})}, **kwargs)

    def _csrf_cookie(self) -> str:
        self.get("/")
        return self.http.cookies["demo_csrftoken"]

    def start(self, scopes=("read", "write")) -> str:
        """Step 1: choose scopes; returns the authorization URL the demo offers to open."""
        page = self.post("/start/", {"scope": list(scopes)})
        assert page.status_code == 200 and page.url == f"{self.url}/authorize/", page.status_code
        return unescape(re.search(r'id="open-auth-server" href="([^"]+)"', page.text).group(1))

    def consent(self, authorization_url: str, allow: bool = True) -> str:
        """Step 2: sign in if the auth server asks, answer the consent page; returns the callback URL."""
        page = self.get(authorization_url)
        if "/accounts/login/" in page.url:
            page = flows.submit_form(self.http, page, {"username": self.env["DEMO_USERNAME"],
                                                       "password": self.env["DEMO_PASSWORD"]})
        redirect = flows.submit_form(self.http, page, {}, submit="allow" if allow else None, allow_redirects=False)
        assert redirect.status_code in (302, 303), (redirect.status_code, redirect.text[:300])
        location = redirect.headers["Location"]
        assert location.startswith(f"{self.url}/callback/"), location
        return location

    def callback_url(self, scopes=("read", "write"), allow: bool = True) -> str:
        """Steps 1 and 2 for a signed-in visitor: the callback URL, not yet visited."""
        return self.consent(self.start(scopes), allow)

    def signed_in(self, scopes=("read", "write")) -> requests.Response:
        """Steps 1 to 4: the callback page."""
        page = self.get(self.callback_url(scopes))
        assert page.status_code == 200, (page.status_code, heading(page))
        return page


@pytest.fixture
def visitor(stack) -> Visitor:
    return Visitor(stack)


# Module scope: Playwright's sync API keeps an event loop running while it is open, and Django's ORM
# (the auth_orm fixture of later tests) refuses to run under one.
@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def screenshot(request):
    """shot(page, name): a full-page screenshot in artifacts/screenshots/<test>/<nn>-<name>.png."""
    folder = SCREENSHOTS / request.node.name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    taken = []

    def shot(page, name: str) -> Path:
        path = folder / f"{len(taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        taken.append(path)
        return path

    return shot
