"""The interop suite: the stack driven by requests_oauth2client, a client library the project uses
nowhere else, configured from discovery alone, the way a newcomer's client would be.

The library does the protocol (PKCE, state, nonce, iss, ID-token checks against the JWKS); the only
hand-written part is the person in the browser: signing in and answering the consent and device
pages, by posting their forms with a requests session.
"""

import pytest
import requests
from requests_oauth2client import ClientSecretBasic, OAuth2Client

from stack import flows


@pytest.fixture(scope="session")
def issuer(stack) -> str:
    return f"{stack.url}/o"


@pytest.fixture(scope="session")
def new_client(stack, issuer):
    """An OAuth2Client for `client_id`, its endpoints and keys read from OpenID Connect discovery.

    With a secret it authenticates with HTTP Basic; without one it is a public client. The local
    and Compose stacks speak plain http, which the library refuses unless told it is `testing`.
    """

    def make(client_id: str, client_secret: str | None = None, **kwargs) -> OAuth2Client:
        auth = ClientSecretBasic(client_id, client_secret) if client_secret else client_id
        return OAuth2Client.from_discovery_endpoint(issuer=issuer, auth=auth, testing=issuer.startswith("http://"),
                                                    **kwargs)

    return make


@pytest.fixture(scope="session")
def demo_client(stack, new_client) -> OAuth2Client:
    """The consumer demo's client: confidential, authorization code + PKCE, OpenID Connect."""
    e = stack.env
    return new_client(e["DEMO_CLIENT_ID"], e["DEMO_CLIENT_SECRET"], redirect_uri=f"{stack.url}/callback/")


@pytest.fixture(scope="session")
def resource_server(stack, new_client) -> OAuth2Client:
    """The posts API's client, the one allowed to introspect."""
    return new_client(stack.env["API_CLIENT_ID"], stack.env["API_CLIENT_SECRET"])


@pytest.fixture
def browser(stack) -> requests.Session:
    """The demo user's browser, signed in at the auth server."""
    return flows.login(stack.url, stack.env["DEMO_USERNAME"], stack.env["DEMO_PASSWORD"])


@pytest.fixture
def sign_in(browser):
    """Run `authorization_request` (the library's) through the browser, allow it, and return the
    library's validated AuthorizationResponse (state and iss checked)."""

    def run(authorization_request):
        page = browser.get(str(authorization_request.uri), allow_redirects=False)
        assert page.status_code == 200, (page.status_code, page.text[:300])
        redirect = flows.submit_form(browser, page, {}, submit="allow", allow_redirects=False)
        assert redirect.status_code in (302, 303), (redirect.status_code, redirect.text[:300])
        return authorization_request.validate_callback(redirect.headers["Location"])

    return run
