"""The stack as a whole: every service is up behind nginx and the basic flows work end to end."""

import pytest
import requests

from stack import flows


@pytest.mark.e2e
def test_discovery_through_nginx(stack):
    r = requests.get(f"{stack.url}/o/.well-known/openid-configuration")
    assert r.status_code == 200
    assert r.json()["issuer"] == f"{stack.url}/o"


@pytest.mark.e2e
def test_authorization_code_flow_with_demo_user(stack):
    session = flows.login(stack.url, stack.env["DEMO_USERNAME"], stack.env["DEMO_PASSWORD"])
    tokens = flows.authorization_code_tokens(stack.url, session, flows.demo_client(stack))
    assert tokens["token_type"] == "Bearer"
    assert tokens["refresh_token"] and tokens["id_token"]


@pytest.mark.e2e
def test_client_credentials(stack):
    r = flows.client_credentials_token(stack.url, flows.loadtest_client(stack), scope="read write")
    assert r.status_code == 200, r.text
    assert set(r.json()["scope"].split()) == {"read", "write"}
