"""Discovery: the OpenID Connect and RFC 8414 documents are one, and say exactly what the server does.

Each advertised endpoint answers, each advertised grant type, response type, PKCE method and client
authentication method works, and the ones left out are refused.
"""

import time
from urllib.parse import urlencode

import pytest
import requests

from stack import flows

UNADVERTISED_GRANTS = ["password", "implicit", "urn:ietf:params:oauth:grant-type:jwt-bearer",
                       "urn:ietf:params:oauth:grant-type:token-exchange", "urn:ietf:params:oauth:grant-type:saml2-bearer"]


@pytest.fixture(scope="module")
def documents(stack):
    answers = [requests.get(f"{stack.url}{path}") for path in
               ("/o/.well-known/openid-configuration", "/.well-known/oauth-authorization-server/o")]
    for answer in answers:
        assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/json"
    return [answer.json() for answer in answers]


@pytest.fixture(scope="module")
def metadata(documents):
    return documents[0]


@pytest.fixture(scope="module")
def demo_session(stack):
    return flows.login(stack.url, stack.env["DEMO_USERNAME"], stack.env["DEMO_PASSWORD"])


@pytest.mark.e2e
def test_both_documents_are_the_same(documents):
    oidc, oauth = documents
    assert oidc == oauth


@pytest.mark.e2e
def test_what_the_document_says(stack, metadata):
    issuer = f"{stack.url}/o"
    assert metadata["issuer"] == issuer
    assert {k: v for k, v in metadata.items() if k.endswith("_endpoint") or k == "jwks_uri"} == {
        "authorization_endpoint": f"{issuer}/authorize/",
        "token_endpoint": f"{issuer}/token/",
        "device_authorization_endpoint": f"{issuer}/device-authorization/",
        "revocation_endpoint": f"{issuer}/revoke_token/",
        "introspection_endpoint": f"{issuer}/introspect/",
        "userinfo_endpoint": f"{issuer}/userinfo/",
        "end_session_endpoint": f"{issuer}/logout/",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
    }
    assert metadata["grant_types_supported"] == ["authorization_code", "client_credentials", "refresh_token",
                                                 flows.DEVICE_GRANT]
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["id_token_signing_alg_values_supported"] == ["RS256"]
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert metadata["introspection_endpoint_auth_methods_supported"] == ["client_secret_basic"]
    assert set(metadata["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post",
                                                                      "none"}
    assert "introspection" not in metadata["scopes_supported"]  # only for clients that list it
    assert {"sub", "preferred_username", "email"} <= set(metadata["claims_supported"])


@pytest.mark.e2e
def test_each_endpoint_answers(stack, metadata, demo_session):
    """None is missing (404) or broken (5xx): each refuses an empty request in its own way."""
    answers = {
        "authorization_endpoint": demo_session.get(metadata["authorization_endpoint"]),
        "token_endpoint": requests.post(metadata["token_endpoint"]),
        "device_authorization_endpoint": requests.post(metadata["device_authorization_endpoint"]),
        "revocation_endpoint": requests.post(metadata["revocation_endpoint"]),
        "introspection_endpoint": requests.post(metadata["introspection_endpoint"]),
        "userinfo_endpoint": requests.get(metadata["userinfo_endpoint"]),
        "end_session_endpoint": requests.get(metadata["end_session_endpoint"]),
        "jwks_uri": requests.get(metadata["jwks_uri"]),
    }
    statuses = {name: answer.status_code for name, answer in answers.items()}
    assert statuses == {
        "authorization_endpoint": 400, "token_endpoint": 400, "device_authorization_endpoint": 400,
        "revocation_endpoint": 400, "introspection_endpoint": 401, "userinfo_endpoint": 401,
        "end_session_endpoint": 200, "jwks_uri": 200,
    }, statuses
    for name in ("token_endpoint", "device_authorization_endpoint", "introspection_endpoint"):
        assert answers[name].json()["error"] in ("invalid_request", "invalid_client", "unsupported_grant_type")


# ---- grant types ------------------------------------------------------------------------------------
@pytest.mark.e2e
def test_each_advertised_grant_type_works(stack, metadata, demo_session):
    token_endpoint = metadata["token_endpoint"]
    worked = set()
    tokens = flows.authorization_code_tokens(stack.url, demo_session, flows.demo_client(stack))
    worked.add("authorization_code")
    if flows.refresh(stack.url, flows.demo_client(stack), tokens["refresh_token"]).status_code == 200:
        worked.add("refresh_token")
    if flows.client_credentials_token(stack.url, flows.loadtest_client(stack)).status_code == 200:
        worked.add("client_credentials")
    device = stack.env["DEVICE_CLIENT_ID"]
    started = flows.device_authorization(stack.url, device).json()
    flows.answer_device(demo_session, flows.enter_user_code(demo_session, stack.url, started["user_code"]))
    time.sleep(started["interval"] + 0.2)
    if flows.poll(stack.url, device, started["device_code"]).status_code == 200:
        worked.add(flows.DEVICE_GRANT)
    assert token_endpoint == f"{stack.url}/o/token/"
    assert worked == set(metadata["grant_types_supported"])


@pytest.mark.e2e
@pytest.mark.parametrize("grant_type", UNADVERTISED_GRANTS)
def test_an_unadvertised_grant_type_is_refused(stack, metadata, grant_type):
    assert grant_type not in metadata["grant_types_supported"]
    answer = requests.post(metadata["token_endpoint"], auth=flows.demo_client(stack).auth,
                           data={"grant_type": grant_type, "username": "demo", "password": "x", "assertion": "x"})
    assert answer.status_code == 400 and answer.json()["error"] == "unsupported_grant_type"


# ---- the authorization endpoint ---------------------------------------------------------------------
@pytest.mark.e2e
@pytest.mark.parametrize("response_type", ["token", "id_token", "id_token token", "code id_token", "code token"])
def test_an_unadvertised_response_type_is_refused(stack, metadata, demo_session, response_type):
    request = flows.AuthorizationRequest(flows.demo_client(stack))
    answer = demo_session.get(f"{metadata['authorization_endpoint']}?{urlencode(request.params(response_type=response_type))}",
                              allow_redirects=False)
    params = flows.code_from(answer)
    assert params["error"] == "unsupported_response_type" and "code" not in params
    assert "#" not in answer.headers["Location"]  # nothing in a fragment, where tokens would go


@pytest.mark.e2e
def test_only_s256_is_accepted(stack, demo_session):
    request = flows.AuthorizationRequest(flows.demo_client(stack), challenge_method="plain")
    params = flows.code_from(flows.authorize(demo_session, stack.url, request))
    assert params["error"] == "invalid_request" and "code" not in params


@pytest.mark.e2e
def test_iss_is_in_every_authorization_response(stack, metadata, demo_session):
    request = flows.AuthorizationRequest(flows.demo_client(stack))
    assert flows.code_from(flows.authorize(demo_session, stack.url, request))["iss"] == metadata["issuer"]
    denied = flows.code_from(flows.authorize(demo_session, stack.url, request, allow=False))
    assert denied["error"] == "access_denied" and denied["iss"] == metadata["issuer"]


@pytest.mark.e2e
def test_id_tokens_use_the_advertised_algorithm(stack, metadata, demo_session):
    import base64
    import json

    tokens = flows.authorization_code_tokens(stack.url, demo_session, flows.demo_client(stack))
    header = json.loads(base64.urlsafe_b64decode(tokens["id_token"].split(".")[0] + "=="))
    assert header["alg"] in metadata["id_token_signing_alg_values_supported"]
    keys = requests.get(metadata["jwks_uri"]).json()["keys"]
    assert {key["alg"] for key in keys} <= set(metadata["id_token_signing_alg_values_supported"])
    assert header["kid"] in {key["kid"] for key in keys}


# ---- client authentication --------------------------------------------------------------------------
@pytest.mark.e2e
def test_token_endpoint_auth_methods(stack, metadata):
    client = flows.loadtest_client(stack)
    basic = requests.post(metadata["token_endpoint"], auth=client.auth, data={"grant_type": "client_credentials"})
    post = requests.post(metadata["token_endpoint"], data={
        "grant_type": "client_credentials", "client_id": client.client_id, "client_secret": client.client_secret})
    assert basic.status_code == post.status_code == 200
    # "none" is the device client's (the device test polls with its client_id alone); a confidential
    # client without its secret is refused.
    none = requests.post(metadata["token_endpoint"], data={"grant_type": "client_credentials",
                                                           "client_id": client.client_id})
    assert none.status_code == 401 and none.json()["error"] == "invalid_client"


@pytest.mark.e2e
def test_revocation_endpoint_auth_methods(stack, metadata):
    client = flows.loadtest_client(stack)

    def token():
        return flows.client_credentials_token(stack.url, client).json()["access_token"]

    basic = requests.post(metadata["revocation_endpoint"], auth=client.auth, data={"token": token()})
    post = requests.post(metadata["revocation_endpoint"], data={
        "token": token(), "client_id": client.client_id, "client_secret": client.client_secret})
    none = requests.post(metadata["revocation_endpoint"], data={"token": token(), "client_id": client.client_id})
    assert (basic.status_code, post.status_code, none.status_code) == (200, 200, 401)
    # "none": a public client names itself.
    public = requests.post(metadata["revocation_endpoint"],
                           data={"token": "whatever", "client_id": stack.env["DEVICE_CLIENT_ID"]})
    assert public.status_code == 200


@pytest.mark.e2e
def test_introspection_takes_http_basic_only(stack, metadata):
    api = (stack.env["API_CLIENT_ID"], stack.env["API_CLIENT_SECRET"])
    token = flows.client_credentials_token(stack.url, flows.loadtest_client(stack)).json()["access_token"]
    basic = requests.post(metadata["introspection_endpoint"], auth=api, data={"token": token})
    assert basic.status_code == 200 and basic.json()["active"] is True
    post = requests.post(metadata["introspection_endpoint"],
                         data={"token": token, "client_id": api[0], "client_secret": api[1]})
    assert post.status_code == 401
