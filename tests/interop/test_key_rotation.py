"""Key rotation as an independent OpenID Connect client library sees it (requests_oauth2client):
an ID token issued before a rotation still validates through the JWKS published after it."""

import pytest
from requests_oauth2client import InvalidIdToken, OAuth2Client

from stack import flows
from tests.oidc_keys import oidc_keys, published_kids

pytestmark = pytest.mark.e2e


@pytest.fixture
def relying_party(stack):
    """A client of the library configured from discovery alone; each call fetches the JWKS anew,
    as a relying party does when it meets a kid it doesn't know."""
    def client() -> OAuth2Client:
        # testing=True: the test stack speaks plain http, which the library refuses otherwise.
        return OAuth2Client.from_discovery_endpoint(
            issuer=f"{stack.url}/o", client_id=stack.env["DEMO_CLIENT_ID"],
            client_secret=stack.env["DEMO_CLIENT_SECRET"], testing=True)

    return client


@pytest.fixture
def signed_in(stack):
    """The demo user, signed in at the auth server in a browser-like session."""
    return flows.login(stack.url, stack.env["DEMO_USERNAME"], stack.env["DEMO_PASSWORD"])


@pytest.fixture
def original_key_restored(stack):
    """Other tests' clients keep the JWKS they fetched: the stack ends signing with the key it began with."""
    [original] = published_kids(stack)
    yield
    if published_kids(stack)[0] != original:
        oidc_keys(stack, "activate", original)
    oidc_keys(stack, "retire", "--all")
    assert published_kids(stack) == [original]


def sign_in(stack, client: OAuth2Client, session):
    """Authorization code + PKCE, driven by the library; the user consents in `session`."""
    request = client.authorization_request(scope="openid profile", redirect_uri=f"{stack.url}/callback/")
    page = session.get(str(request.uri), allow_redirects=False)
    assert page.status_code == 200, page.text[:300]
    answer = flows.submit_form(session, page, {}, submit="allow", allow_redirects=False)
    response = request.validate_callback(answer.headers["Location"])
    return response, client.authorization_code(response, validate=False)


def test_id_token_from_before_a_rotation_validates_through_the_jwks_after_it(
        stack, relying_party, signed_in, original_key_restored):
    client = relying_party()
    response, before = sign_in(stack, client, signed_in)
    before.validate_id_token(client, response)
    old_kid = before.id_token.kid

    oidc_keys(stack, "rotate")

    after_rotation = relying_party()
    assert old_kid in [key.kid for key in after_rotation.authorization_server_jwks.jwks]
    before.validate_id_token(after_rotation, response)  # raises if it no longer validates

    response, fresh = sign_in(stack, after_rotation, signed_in)
    fresh.validate_id_token(after_rotation, response)
    assert fresh.id_token.kid != old_kid and fresh.id_token.kid == published_kids(stack)[0]

    oidc_keys(stack, "activate", old_kid)
    oidc_keys(stack, "retire", "--all")
    with pytest.raises(InvalidIdToken, match="no key"):
        fresh.validate_id_token(relying_party(), response)
