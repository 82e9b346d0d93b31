"""The implementation checked against its own OpenAPI document (/api/openapi.json) by schemathesis."""

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings

pytestmark = pytest.mark.e2e


def test_document_declares_oauth2_and_the_scope_of_each_operation(stack):
    document = requests.get(f"{stack.url}/api/openapi.json").json()
    flows = document["components"]["securitySchemes"]["OAuth2"]["flows"]
    assert flows["authorizationCode"]["tokenUrl"] == f"{stack.url}/o/token/"
    assert set(flows["clientCredentials"]["scopes"]) == {"read", "write", "profile"}
    security = {(method.upper(), path): op.get("security") for path, ops in document["paths"].items()
                for method, op in ops.items()}
    assert security == {
        ("GET", "/api/posts/"): [{"OAuth2": ["read"]}],
        ("POST", "/api/posts/"): [{"OAuth2": ["write"]}],
        ("GET", "/api/posts/{post_id}/"): [{"OAuth2": ["read"]}],
        ("PATCH", "/api/posts/{post_id}/"): [{"OAuth2": ["write"]}],
        ("DELETE", "/api/posts/{post_id}/"): [{"OAuth2": ["write"]}],
        ("GET", "/api/me/"): [{"OAuth2": ["profile"]}],
        ("GET", "/api/public/"): [{}, {"OAuth2": []}],
    }


def test_api_conforms_to_its_openapi_document(stack, demo_token):
    # schemathesis' own pytest plugin does not run under pytest 9 yet, so each operation's Hypothesis
    # strategy is driven here; the checks are schemathesis' defaults.
    schema = schemathesis.openapi.from_url(f"{stack.url}/api/openapi.json")
    headers = {"Authorization": f"Bearer {demo_token}"}
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def conforms(case):
            case.call_and_validate(headers=headers)

        conforms()
