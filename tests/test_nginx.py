"""nginx, the one entry point: headers it sets, limits it enforces, errors it answers itself."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from stack.local import LocalStack


@pytest.mark.e2e
@pytest.mark.parametrize("path", ["/", "/api/public/", "/accounts/login/", "/o/.well-known/openid-configuration"])
def test_security_headers_on_every_service(stack, path):
    r = requests.get(f"{stack.url}{path}")
    assert r.status_code == 200
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "nginx/" not in r.headers.get("Server", "")


@pytest.mark.e2e
def test_request_id_is_assigned_by_nginx_not_the_client(stack):
    r = requests.get(f"{stack.url}/api/public/", headers={"X-Request-ID": "client-chosen"})
    assert r.headers["X-Request-ID"] != "client-chosen"
    assert len(r.headers["X-Request-ID"]) == 32


@pytest.mark.e2e
def test_oversized_token_request_gets_oauth_error_json(stack):
    r = requests.post(f"{stack.url}/o/token/", data={"grant_type": "client_credentials", "junk": "x" * 40_000})
    assert r.status_code == 413
    assert r.json()["error"] == "invalid_request"


@pytest.mark.e2e
def test_oversized_api_request_gets_json(stack):
    r = requests.post(f"{stack.url}/api/posts/", data="x" * 300_000, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.json()["error"] == "invalid_request"


@pytest.mark.e2e
@pytest.mark.parametrize("path", ["/o/token/", "/accounts/login/"])
def test_credential_endpoints_are_rate_limited_with_429(stack, path):
    # Far more requests than rate + burst, at once, from one address.
    def hit(_):
        return requests.post(f"{stack.url}{path}", data={"grant_type": "unknown"})

    with ThreadPoolExecutor(32) as pool:
        responses = list(pool.map(hit, range(600)))
    limited = [r for r in responses if r.status_code == 429]
    assert limited, "no request was rate-limited"
    if path.startswith("/o/"):  # clients get OAuth error JSON, people a page
        assert limited[0].json()["error"] == "rate_limited"
    else:
        assert limited[0].headers["Content-Type"].startswith("text/html")
        assert "Too many sign-in attempts" in limited[0].text
    # The API is not behind that limit.
    assert requests.get(f"{stack.url}/api/public/").status_code == 200


def test_api_process_down_gives_json_503_not_html_502(stack):
    if not isinstance(stack, LocalStack):
        pytest.skip("stops a process of the local stack")
    stack.stop_service("resource_api")
    try:
        r = requests.get(f"{stack.url}/api/posts/")
        assert r.status_code == 503
        assert "temporarily unavailable" in r.json()["detail"]
    finally:
        stack.start_service("resource_api")
    assert requests.get(f"{stack.url}/api/public/").status_code == 200
