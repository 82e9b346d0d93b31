"""OAuth flows driven over HTTP through nginx, as a browser and a client would: the tests and the
load tests (loadtest/locustfile.py) both drive the stack with these.

PKCE values and state come from Authlib; the HTML forms (login, consent) are read with the
standard library's parser and submitted the way a browser submits them.
"""

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urljoin, urlparse

import requests
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge


class _Forms(HTMLParser):
    """Collects every <form>: its action and its named inputs (the submit buttons separately)."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action") or "", "id": a.get("id"), "fields": {}, "submits": {}})
        elif tag in ("input", "button", "textarea", "select") and self.forms and a.get("name"):
            kind = (a.get("type") or "").lower()
            target = self.forms[-1]["submits" if kind == "submit" else "fields"]
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            target[a["name"]] = a.get("value") or ""


def forms(html: str) -> list[dict]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def submit_form(session: requests.Session, page: requests.Response, values: dict, submit: str | None = None,
                form_index: int = -1, **kwargs) -> requests.Response:
    """Fill the page's form with `values`, press the submit button named `submit`, return the response."""
    form = forms(page.text)[form_index]
    data = {**form["fields"], **values}
    if submit:
        data[submit] = form["submits"].get(submit, "")
    return session.post(urljoin(page.url, form["action"]), data=data, headers={"Referer": page.url}, **kwargs)


@dataclass
class Client:
    client_id: str
    client_secret: str | None
    redirect_uri: str = ""

    @property
    def auth(self):
        return (self.client_id, self.client_secret) if self.client_secret else None


@dataclass
class AuthorizationRequest:
    """Everything a client keeps between sending the user away and getting the code back."""

    client: Client
    scope: str = "openid profile read write"
    state: str = field(default_factory=lambda: generate_token(32))
    nonce: str = field(default_factory=lambda: generate_token(32))
    code_verifier: str = field(default_factory=lambda: generate_token(64))
    challenge_method: str | None = "S256"

    def params(self, **overrides) -> dict:
        p = {
            "response_type": "code",
            "client_id": self.client.client_id,
            "redirect_uri": self.client.redirect_uri,
            "scope": self.scope,
            "state": self.state,
            "nonce": self.nonce,
        }
        if self.challenge_method == "S256":
            p |= {"code_challenge": create_s256_code_challenge(self.code_verifier), "code_challenge_method": "S256"}
        elif self.challenge_method == "plain":
            p |= {"code_challenge": self.code_verifier, "code_challenge_method": "plain"}
        return {k: v for k, v in (p | overrides).items() if v is not None}


def login(base_url: str, username: str, password: str) -> requests.Session:
    """A browser session logged in at the auth server."""
    session = requests.Session()
    page = session.get(f"{base_url}/accounts/login/")
    page.raise_for_status()
    done = submit_form(session, page, {"username": username, "password": password})
    assert done.ok and "/accounts/login/" not in done.url, f"login failed: {done.status_code} {done.url}"
    return session


def authorize(session: requests.Session, base_url: str, request: AuthorizationRequest, allow: bool = True,
              **overrides) -> requests.Response:
    """Open the authorization URL and answer the consent page; return the redirect (not followed)."""
    page = session.get(f"{base_url}/o/authorize/?{urlencode(request.params(**overrides))}", allow_redirects=False)
    if page.status_code != 200 or not forms(page.text):
        return page  # an error page, or an immediate redirect
    return submit_form(session, page, {}, submit="allow" if allow else None, allow_redirects=False)


def code_from(redirect: requests.Response) -> dict:
    """The query parameters of the redirect back to the client (code, state, iss or error)."""
    assert redirect.status_code in (302, 303), f"expected a redirect, got {redirect.status_code}: {redirect.text[:500]}"
    return {k: v[0] for k, v in parse_qs(urlparse(redirect.headers["Location"]).query).items()}


def exchange_code(base_url: str, request: AuthorizationRequest, code: str, **overrides) -> requests.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": request.client.redirect_uri,
        "code_verifier": request.code_verifier,
        "client_id": request.client.client_id,
    } | overrides
    return requests.post(f"{base_url}/o/token/", data={k: v for k, v in data.items() if v is not None},
                         auth=request.client.auth)


def authorization_code_tokens(base_url: str, session: requests.Session, client: Client,
                              scope: str = "openid profile read write") -> dict:
    """The whole authorization-code + PKCE flow for a logged-in session; returns the token response."""
    request = AuthorizationRequest(client, scope=scope)
    params = code_from(authorize(session, base_url, request))
    assert params.get("state") == request.state, params
    response = exchange_code(base_url, request, params["code"])
    assert response.status_code == 200, response.text
    return response.json()


def refresh(base_url: str, client: Client, refresh_token: str) -> requests.Response:
    return requests.post(f"{base_url}/o/token/", data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                         auth=client.auth)


def client_credentials_token(base_url: str, client: Client, scope: str = "read") -> requests.Response:
    return requests.post(f"{base_url}/o/token/", data={"grant_type": "client_credentials", "scope": scope},
                         auth=client.auth)


def demo_client(stack) -> Client:
    e = stack.env
    return Client(e["DEMO_CLIENT_ID"], e["DEMO_CLIENT_SECRET"], demo_redirect_uri(stack))


def demo_redirect_uri(stack) -> str:
    """Where the demo client is registered to receive codes: derived from PUBLIC_URL (stack/wiring.yaml)."""
    return f"{stack.url}/callback/"


def loadtest_client(stack) -> Client:
    return Client(stack.env["LOADTEST_CLIENT_ID"], stack.env["LOADTEST_CLIENT_SECRET"])


# ---- device authorization grant (RFC 8628) ------------------------------------------------------
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def device_client(stack) -> Client:
    return Client(stack.env["DEVICE_CLIENT_ID"], None)


def device_authorization(base_url: str, client_id: str, scope: str | None = "read") -> requests.Response:
    data = {"client_id": client_id} | ({"scope": scope} if scope else {})
    return requests.post(f"{base_url}/o/device-authorization/", data=data)


def poll(base_url: str, client_id: str, device_code: str, **kwargs) -> requests.Response:
    return requests.post(f"{base_url}/o/token/", data={
        "grant_type": DEVICE_GRANT, "device_code": device_code, "client_id": client_id}, **kwargs)


def enter_user_code(session: requests.Session, base_url: str, user_code: str) -> requests.Response:
    """Type the code on the verification page; returns the confirmation page (or the refusal)."""
    page = session.get(f"{base_url}/o/device/")
    return submit_form(session, page, {"user_code": user_code})


def answer_device(session: requests.Session, confirmation: requests.Response, allow: bool = True) -> requests.Response:
    return submit_form(session, confirmation, {}, submit="allow" if allow else "deny")
